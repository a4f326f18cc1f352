/**
 * Comparing a recorded frame with a live one, sans-IO. Both are flattened to `path → value` and the
 * values that differ from session to session are left out: what the packet table marks as a time or a
 * secret, the ids that tie a reply to its request by field (msg_id, UIDL, id_request), the
 * DEFAULT_IGNORE patterns below, and whatever `--ignore` adds. The header's seq is never compared:
 * replies are correlated with their requests instead.
 */
import { frameLayout, type DecodedFrame } from '../protocol/codec.js';
import type { Fields, Layout } from '../protocol/fields.js';
import { PACKETS, requestFieldOf, type PacketDef } from '../protocol/packets/index.js';

/**
 * Volatile values the table cannot mark, because they sit inside a field: a pattern per line, in the
 * `--ignore` syntax.
 */
export const DEFAULT_IGNORE: readonly string[] = [
  // The fraction of the server's clock (its seconds are a time field).
  'HELLO_ACK.serverTimeNs',
  // The address the server saw the client connect from.
  'USER_INFO.info.client.endpoint',
  // The stored message: its Date header and MIME boundary are the storing time (the boundary shows in
  // the content type of a multipart one). The text as a whole is not compared; its parsed sender,
  // flags, subject, other headers and parts are.
  'OFFLINE_MESSAGE_ACK.message',
  'OFFLINE_MESSAGE_ACK.date',
  'OFFLINE_MESSAGE_ACK.boundary',
  'OFFLINE_MESSAGE_ACK.headers.content-type',
  // The server's clock in search results.
  'ANKETA_INFO.serverTime',
  // Session cookies a client picks for itself.
  'uaSession',
  'replacedUaSession',
];

export interface FieldDiff {
  /** `status`, `contacts.1.nick`, `info.MRIM.NICKNAME`; `type` when the packet type differs. */
  path: string;
  /** As shown: strings quoted, constants with their names; undefined when absent on that side. */
  expected?: string;
  actual?: string;
}

export class IgnoreError extends Error {}

interface Pattern {
  /** Packets it applies to; every packet when undefined. */
  packets?: RegExp;
  path: RegExp;
}

const globToRegex = (glob: string, one: string): string => glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join(one);

/**
 * `[PACKET.]path`: a path of names matches wherever it occurs in a field path; `*` is any one name or
 * index. A first name that names packet types (`USER_STATUS`, `MESSAGE*`) limits it to them; any other
 * is part of the path (`MRIM.NICKNAME`, a USER_INFO key).
 */
function parsePattern(text: string): Pattern {
  const t = text.trim();
  if (!t || /^\.|\.$|\.\./.test(t)) throw new IgnoreError(`--ignore: "${text}" is not a field name or path (e.g. msgId, USER_STATUS.userAgent, contacts.*.status)`);
  const [first, ...rest] = t.split('.');
  const packets = /^[A-Z0-9_*]+$/.test(first) ? new RegExp(`^${globToRegex(first, '.*')}$`) : undefined;
  if (packets && (PACKETS as readonly PacketDef[]).some((p) => packets.test(p.name))) {
    if (!rest.length) throw new IgnoreError(`--ignore: "${text}" names packets but no field of them (e.g. ${first}.status)`);
    return { packets, path: new RegExp(`\\.${globToRegex(rest.join('.'), '[^.]+')}\\.`) };
  }
  return { path: new RegExp(`\\.${globToRegex(t, '[^.]+')}\\.`) };
}

/** `--ignore` values (repeatable, comma-separated) as patterns, checked. */
export function parseIgnore(values: readonly string[]): string[] {
  const out = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  for (const p of out) parsePattern(p);
  return out;
}

/** For each packet, the fields that tie a reply to its request by value (reply rules `by: 'field'`). */
const CORRELATION_IDS = new Map<string, Set<string>>();
for (const def of PACKETS as readonly PacketDef[]) {
  const rule = def.reply;
  if (rule?.by !== 'field') continue;
  const add = (packet: string, name: string) => CORRELATION_IDS.set(packet, (CORRELATION_IDS.get(packet) ?? new Set()).add(name));
  add(def.name, rule.field);
  for (const request of rule.requests) {
    const field = requestFieldOf(rule, request);
    if (field) add(request, field);
  }
}

/** Paths (`*` for list indices) of the frame's fields the table marks as a time or a secret, nested records included. */
function markedPaths(layout: Layout, fields: Fields, prefix: string, out: string[]): void {
  for (const spec of layout) {
    const path = prefix + spec.name;
    if (spec.secret || spec.type.time) out.push(path);
    // Records described by masks (CONTACT_LIST2): one layout for every record of a list.
    const described = spec.type.recordLayouts?.(fields);
    if (described) {
      for (const [key, records] of Object.entries(described)) markedPaths(records, {}, `${prefix}${key}.*.`, out);
    } else if (spec.type.layout) {
      const value = fields[spec.name];
      const list = Array.isArray(value);
      markedPaths(spec.type.layout, ((list ? value[0] : value) ?? {}) as Fields, list ? `${path}.*.` : `${path}.`, out);
    }
  }
}

function volatilePatterns(frame: DecodedFrame): Pattern[] {
  const names: string[] = [...(CORRELATION_IDS.get(frame.type) ?? [])];
  markedPaths(frameLayout(frame), frame.fields, '', names);
  return names.map((n) => ({ path: new RegExp(`^\\.${globToRegex(n, '[^.]+')}\\.`) }));
}

/** A list of `{key, value}` records (USER_INFO) is keyed by its keys, so an inserted pair shifts nothing. */
function isKeyValueList(v: unknown[]): v is { key: string; value: unknown }[] {
  return v.length > 0 && v.every((x) => x && typeof x === 'object' && !Array.isArray(x) && typeof (x as Fields).key === 'string' && Object.keys(x).length === 2 && 'value' in x);
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return v.toString();
  return String(v);
}

function flatten(value: unknown, path: string, out: Map<string, string>): void {
  if (Array.isArray(value)) {
    if (value.length === 0) out.set(path, '[]');
    else if (isKeyValueList(value)) for (const kv of value) flatten(kv.value, `${path}.${kv.key}`, out);
    else value.forEach((v, i) => flatten(v, `${path}.${i}`, out));
  } else if (value && typeof value === 'object') {
    const entries = Object.entries(value as Fields);
    if (entries.length === 0 && path) out.set(path, '{}');
    for (const [k, v] of entries) flatten(v, path ? `${path}.${k}` : k, out);
  } else {
    out.set(path, show(value));
  }
}

/** The outermost record holding `path` that the other side lacks entirely (`contacts.1` of `contacts.1.nick`). */
function wholeRecord(path: string, has: Map<string, string>, lacks: Map<string, string>): string | undefined {
  const segments = path.split('.');
  for (let n = 1; n < segments.length; n++) {
    const prefix = segments.slice(0, n).join('.');
    if (lacks.has(prefix) || [...lacks.keys()].some((p) => p.startsWith(`${prefix}.`))) continue;
    return [...has.keys()].filter((p) => p.startsWith(`${prefix}.`)).length > 1 ? prefix : undefined;
  }
  return undefined;
}

export class Comparer {
  /** Every `--ignore` pattern in effect: the defaults, then the user's. */
  readonly ignored: readonly string[];
  private readonly patterns: Pattern[];
  private readonly extra: readonly string[];
  private readonly used = new Set<Pattern>();

  constructor(extra: readonly string[] = []) {
    this.extra = extra;
    this.ignored = [...DEFAULT_IGNORE, ...extra];
    this.patterns = this.ignored.map(parsePattern);
  }

  /** The user's patterns that left out no value so far: most likely misspelt. */
  get unused(): string[] {
    return this.extra.filter((_, i) => !this.used.has(this.patterns[DEFAULT_IGNORE.length + i]));
  }

  /** The frame's compared values: `path → shown value`, volatile ones left out; top-level constants named. */
  values(frame: DecodedFrame): Map<string, string> {
    const flat = new Map<string, string>();
    flatten(frame.fields, '', flat);
    const masks = [...volatilePatterns(frame), ...this.patterns.filter((p) => !p.packets || p.packets.test(frame.type))];
    const layout = frameLayout(frame);
    const out = new Map<string, string>();
    for (const [path, value] of flat) {
      const mask = masks.find((m) => m.path.test(`.${path}.`));
      if (mask) {
        this.used.add(mask);
        continue;
      }
      const described = layout.find((s) => s.name === path)?.type.describe?.(frame.fields[path]);
      out.set(path, described ?? value);
    }
    return out;
  }

  /**
   * What differs between a recorded frame and a live one: the packet type, then each field; a record
   * only one side has (a contact more, a search row less) is one difference, shown in short.
   */
  diff(expected: DecodedFrame, actual: DecodedFrame): FieldDiff[] {
    const diffs: FieldDiff[] = [];
    if (expected.type !== actual.type) diffs.push({ path: 'type', expected: expected.type, actual: actual.type });
    const a = this.values(expected);
    const b = this.values(actual);
    const done = new Set<string>();
    for (const path of new Set([...a.keys(), ...b.keys()])) {
      if (done.has(path) || a.get(path) === b.get(path)) continue;
      const [has, lacks] = a.has(path) ? [a, b] : [b, a];
      const record = lacks.has(path) ? undefined : wholeRecord(path, has, lacks);
      if (record) {
        const inside = [...has.keys()].filter((p) => p.startsWith(`${record}.`));
        for (const p of inside) done.add(p);
        const shown = `{${inside.map((p) => `${p.slice(record.length + 1)}=${has.get(p)}`).join(' ')}}`;
        diffs.push(has === a ? { path: record, expected: shown } : { path: record, actual: shown });
        continue;
      }
      diffs.push({ path, ...(a.has(path) ? { expected: a.get(path) } : {}), ...(b.has(path) ? { actual: b.get(path) } : {}) });
    }
    return diffs;
  }

  /** A short view of a frame's compared fields, for frames that have no counterpart. */
  summary(frame: DecodedFrame, width = 72): string {
    let text = '';
    for (const [path, value] of this.values(frame)) {
      const item = `${path}=${value}`;
      if (text.length + item.length + 1 > width) return `${text} …`.trim();
      text = text ? `${text} ${item}` : item;
    }
    return text;
  }
}

/**
 * Display filters: one language for `decode`, `proxy`, `stats` and the web view (grammar in
 * filter-syntax.ts). Names are checked when the filter is compiled — an unknown packet, field or
 * constant is an error naming the nearest known one — so a typo never silently shows nothing.
 *
 *   type == MESSAGE* and text contains "привет"      status == AWAY      flags & UNICODE
 *   latency > 100ms    proto >= 1.21    conn = 3-5    t < 5s    time >= 12:00:01    not type = PING
 */
import { frameLayout, type DecodedFrame } from '../protocol/codec.js';
import type { FieldSpec, Layout } from '../protocol/fields.js';
import { parseProto } from '../protocol/header.js';
import { CONTACT_COLUMNS, GROUP_COLUMNS, GROUP_MASK, PACKETS, contactMaskFor, maskSpecs, packetByName, type PacketDef } from '../protocol/packets/index.js';
import { EVENT_KINDS as ALL_KINDS, type TapEvent } from '../tap/events.js';
import { maskFields } from '../tap/mask.js';
import { FilterError, parseFilterSyntax, type FilterNode, type Operator } from './filter-syntax.js';

export { FilterError } from './filter-syntax.js';

/** Properties every event has (or lacks); any other name is a decoded field of a frame. */
export const FILTER_KEYS = ['type', 'dir', 'conn', 'login', 'seq', 'proto', 'time', 't', 'latency', 'reply', 'size', 'warnings', 'addon'] as const;
type Key = (typeof FILTER_KEYS)[number];

export const FILTER_SYNTAX =
  'FIELD OP VALUE terms joined by and/or/not and parentheses (side by side: and); ' +
  'OP is == (or =), !=, <, <=, >, >=, & (bits), contains, matches; ' +
  'fields: type (LOGIN2, MESSAGE*, 0x1008, OPEN, CLOSE…), dir, conn (3, 3-5), login, seq, proto (1.21), ' +
  'time (12:00:01), t (5s since the first event), latency (100ms), reply, size, warnings, addon (modified, dropped, injected), or any decoded field ' +
  '(text, to, status == AWAY, flags & UNICODE…); VALUES a,b match either; * and ? are wildcards';

export type EventFilter = (ev: TapEvent) => boolean;

/** Events other than frames are filtered by their kind, written as a type: `type == OPEN`. */
const EVENT_KINDS = ALL_KINDS.filter((k) => k !== 'frame').map((k) => k.toUpperCase());
const DIRS: Record<string, 'c2s' | 's2c'> = { c2s: 'c2s', client: 'c2s', 'c→s': 'c2s', s2c: 's2c', server: 's2c', 's→c': 's2c' };

// ---------------------------------------------------------------------------------------------------
// What the table knows: every field name, and the constant names of number fields

const DEFS = PACKETS as readonly PacketDef[];

function collectSpecs(layout: Layout, into: Map<string, FieldSpec[]>): void {
  for (const spec of layout) {
    if (!spec.spread) into.set(spec.name, [...(into.get(spec.name) ?? []), spec]);
    for (const key of spec.type.keys ?? []) if (!into.has(key)) into.set(key, []);
    if (spec.type.layout) collectSpecs(spec.type.layout, into);
    for (const nested of Object.values(spec.type.recordLayouts?.({}) ?? {})) collectSpecs(nested, into);
  }
}
const SPECS_BY_NAME = new Map<string, FieldSpec[]>();
for (const def of DEFS) {
  for (const layout of def.variants?.map((v) => v.layout) ?? [def.layout ?? []]) collectSpecs(layout, SPECS_BY_NAME);
  collectSpecs(def.derived ?? [], SPECS_BY_NAME);
}
// Contact list columns come from masks, not from a fixed layout: the widest mask names them all.
collectSpecs(maskSpecs(contactMaskFor(Infinity), CONTACT_COLUMNS), SPECS_BY_NAME);
collectSpecs(maskSpecs(GROUP_MASK, GROUP_COLUMNS), SPECS_BY_NAME);

const TYPE_NAMES = [...DEFS.flatMap((d) => [d.name, ...(d.aliases ?? [])]), ...EVENT_KINDS];

/** The nearest of `known` to `word`, when one is near enough to be what was meant. */
function nearest(word: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

const didYouMean = (word: string, known: Iterable<string>) => {
  const guess = nearest(word, known);
  return guess ? ` (did you mean ${guess}?)` : '';
};

// ---------------------------------------------------------------------------------------------------
// Values

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

const isGlob = (v: string) => /[*?]/.test(v);

function parseNumber(text: string): number | undefined {
  return /^(0x[0-9a-f]+|\d+(\.\d+)?)$/i.test(text) ? Number(text) : undefined;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `100ms`, `5s`, `2m`; a bare number is in `unit` (ms for latencies, s for relative time). */
function parseDuration(text: string, unitMs: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/i.exec(text);
  if (!m) throw new FilterError(`"${text}" is not a duration (e.g. 250ms, 5s, 2m)`);
  return Number(m[1]) * (m[2] ? DURATION_UNITS[m[2].toLowerCase()] : unitMs);
}

/** `12:00:01[.250]` as milliseconds into the (local) day, or an ISO date-time as epoch milliseconds. */
function parseClock(text: string): { ofDay: boolean; ms: number } {
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(text);
  if (m) return { ofDay: true, ms: ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3] ?? 0)) * 1000 + Number((m[4] ?? '0').padEnd(3, '0')) };
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new FilterError(`"${text}" is not a time (HH:MM[:SS[.mmm]] or an ISO date-time)`);
  return { ofDay: false, ms: t };
}

function compareNumbers(op: Operator, a: number, b: number): boolean {
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    default:
      return false;
  }
}

const ORDERED: readonly Operator[] = ['>', '>=', '<', '<='];

/** `a,b,c`: any of them; `!=` holds when none does. */
function anyOf<T>(values: string, op: Operator, one: (v: string) => (x: T) => boolean): (x: T) => boolean {
  const tests = values.split(',').map((v) => v.trim()).filter(Boolean).map(one);
  if (!tests.length) throw new FilterError('empty value');
  return op === '!=' ? (x) => !tests.some((t) => t(x)) : (x) => tests.some((t) => t(x));
}

/** A predicate over a number: a literal, a range `3-5` (for ==/!=) or a list. */
function numberTest(field: string, op: Operator, value: string, parse: (v: string) => number = (v) => needNumber(field, v)): (n: number) => boolean {
  if (ORDERED.includes(op)) {
    const b = parse(value);
    return (n) => compareNumbers(op, n, b);
  }
  if (op !== '==' && op !== '!=') throw new FilterError(`${field} takes ==, !=, <, <=, >, >=, not ${op}`);
  return anyOf(value, op, (v) => {
    const range = /^(\d+)-(\d+)$/.exec(v);
    if (range) {
      const [lo, hi] = [Number(range[1]), Number(range[2])];
      if (lo > hi) throw new FilterError(`${field} range ${v} is empty (write it low-high, e.g. ${hi}-${lo})`);
      return (n: number) => n >= lo && n <= hi;
    }
    const b = parse(v);
    return (n: number) => n === b;
  });
}

function needNumber(field: string, v: string): number {
  const n = parseNumber(v);
  if (n === undefined) throw new FilterError(`${field} takes a number, not "${v}"`);
  return n;
}

/** String tests: == with wildcards, contains, matches — all without regard to case. */
function stringTest(field: string, op: Operator, value: string, quoted: boolean): (s: string) => boolean {
  if (op === 'contains') {
    const needle = value.toLowerCase();
    return (s) => s.toLowerCase().includes(needle);
  }
  if (op === 'matches') {
    let re: RegExp;
    try {
      re = new RegExp(value, 'i');
    } catch (e) {
      throw new FilterError(`${field} matches: ${(e as SyntaxError).message}`);
    }
    return (s) => re.test(s);
  }
  if (op !== '==' && op !== '!=') throw new FilterError(`${field} is text: use ==, !=, contains or matches, not ${op}`);
  const one = (v: string) => {
    const re = !quoted && isGlob(v) ? globToRegExp(v) : undefined;
    const lower = v.toLowerCase();
    return (s: string) => (re ? re.test(s) : s.toLowerCase() === lower);
  };
  return quoted ? (op === '!=' ? (s) => !one(value)(s) : one(value)) : anyOf(value, op, one);
}

// ---------------------------------------------------------------------------------------------------
// Event properties

interface Scope {
  /** Time of the first event this filter saw: `t` counts from it. */
  start?: number;
}

type Test = (ev: TapEvent, scope: Scope) => boolean;

const frameOf = (ev: TapEvent) => (ev.event.kind === 'frame' ? ev.event : undefined);
const timeOf = (ev: TapEvent): number | undefined => ev.event.time;

function typeTest(op: Operator, value: string, quoted: boolean): Test {
  if (op !== '==' && op !== '!=') throw new FilterError(`type takes == or !=, not ${op}`);
  const test = anyOf<TapEvent>(value, op, (v) => {
    const code = parseNumber(v);
    if (code !== undefined) return (ev) => frameOf(ev)?.frame.msg === code;
    if (quoted || !isGlob(v)) {
      const def = packetByName(v);
      if (def) return (ev) => frameOf(ev)?.frame.msg === def.code;
      const kind = EVENT_KINDS.find((k) => k === v.toUpperCase());
      if (kind) return (ev) => ev.event.kind.toUpperCase() === kind;
      if (/^UNKNOWN\(0x[0-9a-f]+\)$/i.test(v)) return (ev) => frameOf(ev)?.frame.type.toLowerCase() === v.toLowerCase();
      throw new FilterError(`unknown packet type "${v}"${didYouMean(v, TYPE_NAMES)} (see: mrimtap packets)`);
    }
    const re = globToRegExp(v);
    if (!TYPE_NAMES.some((n) => re.test(n)) && !re.test('UNKNOWN(0x0000)')) throw new FilterError(`no packet type matches "${v}"${didYouMean(v.replace(/[*?]/g, ''), TYPE_NAMES)}`);
    return (ev) => re.test(frameOf(ev)?.frame.type ?? ev.event.kind.toUpperCase());
  });
  // `!=` of any-of is already "none of them"; every event has a type.
  return test;
}

function keyTest(key: Key, op: Operator | undefined, value: string | undefined, quoted: boolean): Test {
  if (op === undefined || value === undefined) {
    // A bare key: the event has it.
    return (ev, scope) => {
      const v = keyValue(key, ev, scope);
      return v !== undefined && v !== 0;
    };
  }
  switch (key) {
    case 'type':
      return typeTest(op, value, quoted);
    case 'dir': {
      const t = anyOf<string>(value, op === '!=' ? '!=' : '==', (v) => {
        const dir = DIRS[v.toLowerCase()];
        if (!dir || (op !== '==' && op !== '!=')) throw new FilterError(`dir takes == or != c2s (client) or s2c (server), not ${op} ${v}`);
        return (d) => d === dir;
      });
      return (ev) => ('dir' in ev.event && ev.event.dir !== undefined ? t(ev.event.dir) : op === '!=');
    }
    case 'conn':
    case 'seq':
    case 'size':
    case 'warnings':
      return numeric(key, numberTest(key, op, value));
    case 'latency':
      return numeric(key, numberTest(key, op, value, (v) => parseDuration(v, 1)));
    case 't':
      return numeric(key, numberTest(key, op, value, (v) => parseDuration(v, 1000)));
    case 'proto': {
      const parse = (v: string) => {
        try {
          return parseProto(v);
        } catch (e) {
          throw new FilterError(`proto: ${(e as Error).message}`);
        }
      };
      return numeric(key, numberTest(key, op, value, parse));
    }
    case 'time': {
      if (op === '&' || op === 'contains' || op === 'matches') throw new FilterError(`time takes ==, !=, <, <=, >, >=, not ${op}`);
      const at = parseClock(value);
      return (ev) => {
        const t = timeOf(ev);
        if (t === undefined) return false;
        const d = new Date(t);
        const ms = at.ofDay ? ((d.getHours() * 60 + d.getMinutes()) * 60 + d.getSeconds()) * 1000 + d.getMilliseconds() : t;
        // A clock without milliseconds means the whole second.
        return compareNumbers(op, at.ofDay && !value.includes('.') && (op === '==' || op === '!=') ? ms - (ms % 1000) : ms, at.ms);
      };
    }
    case 'login':
    case 'reply':
    case 'addon': {
      const t = stringTest(key, op, value, quoted);
      return (ev, scope) => {
        const v = keyValue(key, ev, scope);
        return typeof v === 'string' ? t(v) : op === '!=';
      };
    }
  }
}

function numeric(key: Key, test: (n: number) => boolean): Test {
  return (ev, scope) => {
    const v = keyValue(key, ev, scope);
    return typeof v === 'number' && test(v);
  };
}

function keyValue(key: Key, ev: TapEvent, scope: Scope): string | number | undefined {
  const f = frameOf(ev);
  switch (key) {
    case 'type':
      return f ? f.frame.type : ev.event.kind.toUpperCase();
    case 'dir':
      return 'dir' in ev.event ? ev.event.dir : undefined;
    case 'conn':
      return ev.conn;
    case 'login':
      return ev.login;
    case 'seq':
      return f?.frame.seq;
    case 'proto':
      return f ? parseProto(f.frame.proto) : undefined;
    case 'time':
      return timeOf(ev);
    case 't': {
      const t = timeOf(ev);
      return t === undefined || scope.start === undefined ? undefined : t - scope.start;
    }
    case 'latency':
      return f?.replyTo?.latencyMs;
    case 'reply':
      return f?.replyTo?.type;
    case 'size':
      return f?.raw.length;
    case 'warnings':
      return f?.frame.warnings.length;
    case 'addon':
      return ev.addon?.action;
  }
}

// ---------------------------------------------------------------------------------------------------
// Decoded fields

/** The values at a dotted path (`contacts.email`): through arrays, every element's. */
function valuesAt(frame: DecodedFrame, path: string[]): unknown[] {
  let values: unknown[] = [frame.fields];
  for (const seg of path) {
    values = values.flatMap((v) => (Array.isArray(v) ? v : [v])).flatMap((v) => (v && typeof v === 'object' && seg in v ? [(v as Record<string, unknown>)[seg]] : []));
  }
  return values.flatMap((v) => (Array.isArray(v) && v.every((x) => typeof x !== 'object') ? v : [v]));
}

/** The declaration of the field at a path in this frame's layout, for its constant names. */
function specAt(frame: DecodedFrame, path: string[]): FieldSpec | undefined {
  let layout: Layout | undefined = frameLayout(frame);
  let spec: FieldSpec | undefined;
  for (const seg of path) {
    if (!layout) return undefined;
    spec = layout.find((s) => s.name === seg);
    if (!spec) {
      const records: Layout | undefined = layout.find((s) => s.spread)?.type.recordLayouts?.(frame.fields)?.[seg];
      if (records) {
        layout = records;
        continue;
      }
      return undefined;
    }
    layout = spec.type.layout;
  }
  return spec;
}

/**
 * A number field's constant: the value a name stands for in this field's table, or a literal. `strict`:
 * a name no table of the field has is a mistake.
 */
function constantTest(field: string, op: Operator, value: string, strict: boolean): (n: number, spec: FieldSpec | undefined) => boolean {
  const literal = (v: string) => parseNumber(v);
  const known = (SPECS_BY_NAME.get(field) ?? []).flatMap((s) => [...Object.values(s.type.names?.values ?? {}), ...(s.type.names?.flags ?? []).map(([, n]) => n)]);
  const check = (name: string) => {
    if (strict && literal(name) === undefined && !known.some((k) => k.toUpperCase() === name.toUpperCase())) {
      throw new FilterError(`${field} has no constant "${name}"${didYouMean(name, known)}`);
    }
  };
  const valueOf = (name: string, spec: FieldSpec | undefined): number | undefined => {
    const n = literal(name);
    if (n !== undefined) return n;
    const values = spec?.type.names?.values ?? {};
    const hit = Object.entries(values).find(([, v]) => v.toUpperCase() === name.toUpperCase());
    if (hit) return Number(hit[0]);
    return spec?.type.names?.flags?.find(([, v]) => v.toUpperCase() === name.toUpperCase())?.[0];
  };
  if (op === '&') {
    const names = value.split('|').map((v) => v.trim());
    names.forEach(check);
    return (n, spec) => names.some((name) => {
      const bit = valueOf(name, spec);
      return bit !== undefined && (n & bit) >>> 0 !== 0;
    });
  }
  if (ORDERED.includes(op) || op === '==' || op === '!=') {
    const parts = value.split(',').map((v) => v.trim());
    parts.forEach(check);
    const eq = (n: number, spec: FieldSpec | undefined) => parts.some((p) => valueOf(p, spec) === n);
    if (op === '==') return eq;
    if (op === '!=') return (n, spec) => !eq(n, spec);
    return (n, spec) => {
      const b = valueOf(value, spec);
      return b !== undefined && compareNumbers(op, n, b);
    };
  }
  throw new FilterError(`${field} is a number: use ==, !=, <, <=, >, >= or &, not ${op}`);
}

function fieldTest(name: string, op: Operator | undefined, value: string | undefined, quoted: boolean): Test {
  const path = name.split('.');
  for (const seg of path) {
    if (!SPECS_BY_NAME.has(seg)) throw new FilterError(`unknown field "${seg}"${didYouMean(seg, [...FILTER_KEYS, ...SPECS_BY_NAME.keys()])}`);
  }
  const last = path[path.length - 1];
  const specs = SPECS_BY_NAME.get(last) ?? [];
  const isNumber = (s: FieldSpec) => ['UL', 'BYTE'].includes(s.type.wire);
  // Some names are a number in one packet and text in another (`status`): both readings are tried.
  const numeric = specs.length > 0 && specs.every(isNumber);
  const maybeNumber = specs.some(isNumber);
  if (op === '&' && !maybeNumber) throw new FilterError(`${name} is not a number: & tests bits of numbers`);
  if (op === undefined || value === undefined) {
    return (ev) => {
      const f = frameOf(ev);
      return !!f && valuesAt(f.frame, path).some((v) => v !== undefined && v !== '' && v !== 0 && !(Array.isArray(v) && v.length === 0));
    };
  }
  // A bare word for a field that is a number somewhere must be one of its constants; quoted, it is text.
  const number = maybeNumber ? constantTest(last, op, value, numeric || !quoted) : undefined;
  const text = !numeric && op !== '&' ? stringTest(last, op, value, quoted) : undefined;
  return (ev) => {
    const f = frameOf(ev);
    if (!f) return false;
    const values = valuesAt(f.frame, path);
    if (values.length === 0) return false;
    const spec = maybeNumber ? specAt(f.frame, path) : undefined;
    const hit = (v: unknown) => (typeof v === 'number' ? (number?.(v, spec) ?? false) : text ? text(typeof v === 'string' ? v : JSON.stringify(v)) : false);
    // `!=` holds when no value equals; the others when any value matches.
    return op === '!=' ? values.every(hit) : values.some(hit);
  };
}

// ---------------------------------------------------------------------------------------------------

function compile(node: FilterNode): Test {
  switch (node.kind) {
    case 'and': {
      const [l, r] = [compile(node.left), compile(node.right)];
      return (ev, s) => l(ev, s) && r(ev, s);
    }
    case 'or': {
      const [l, r] = [compile(node.left), compile(node.right)];
      return (ev, s) => l(ev, s) || r(ev, s);
    }
    case 'not': {
      const inner = compile(node.operand);
      return (ev, s) => !inner(ev, s);
    }
    case 'test': {
      const key = node.field.toLowerCase();
      if ((FILTER_KEYS as readonly string[]).includes(key)) return keyTest(key as Key, node.op, node.value, !!node.quoted);
      return fieldTest(node.field, node.op, node.value, !!node.quoted);
    }
  }
}

/** Compiles a filter expression; an empty one lets everything through. Throws FilterError on a mistake. */
export function parseFilter(expr: string | undefined): EventFilter {
  const tree = parseFilterSyntax(expr ?? '');
  if (!tree) return () => true;
  const test = compile(tree);
  const scope: Scope = {};
  return (ev) => {
    scope.start ??= timeOf(ev);
    return test(ev, scope);
  };
}

/**
 * `--fields type,seq,text`: the values of filter fields for one event, as columns (like `tshark -T
 * fields -e`): empty where the event has none, several values joined by `,`, tabs and line breaks
 * escaped so that a row stays one line; secrets masked unless `showSecrets`. An unknown name is a FilterError naming the nearest.
 */
export function fieldColumns(names: readonly string[], opts: { clock: (ms: number) => string; showSecrets?: boolean }): (ev: TapEvent) => string[] {
  const { clock } = opts;
  const scope: Scope = {};
  const columns = names.map((name): ((ev: TapEvent) => unknown[]) => {
    const key = name.toLowerCase();
    if (key === 'time') return (ev) => (ev.event.time === undefined ? [] : [clock(ev.event.time).trim()]);
    if ((FILTER_KEYS as readonly string[]).includes(key)) return (ev) => [keyValue(key as Key, ev, scope)];
    const path = name.split('.');
    for (const seg of path) {
      if (!SPECS_BY_NAME.has(seg)) throw new FilterError(`unknown field "${seg}"${didYouMean(seg, [...FILTER_KEYS, ...SPECS_BY_NAME.keys()])}`);
    }
    return (ev) => {
      const f = frameOf(ev);
      return f ? valuesAt(opts.showSecrets ? f.frame : { ...f.frame, fields: maskFields(f.frame) }, path) : [];
    };
  });
  const cell = (v: unknown) => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v)).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
  return (ev) => {
    scope.start ??= timeOf(ev);
    return columns.map((column) => column(ev).filter((v) => v !== undefined).map(cell).join(','));
  };
}

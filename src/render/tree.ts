/**
 * A decoded frame as the packet table orders and names it: its fields in layout order (records of
 * spread fields, then decode-only annotations), each value described with its constant names and
 * secrets masked, and — for the web view's hexdump — the bytes each field was read from. The listing
 * (text.ts) prints the same fields in the same order.
 */
import { decodeFrame, frameLayout, type DecodedFrame } from '../protocol/codec.js';
import type { FieldSpec, Fields, Layout } from '../protocol/fields.js';
import { HEADER_SIZE, HEADER_SPANS, headerField } from '../protocol/header.js';
import { maskFields } from '../tap/mask.js';
import { packetByCode } from '../protocol/packets/index.js';

const MAX_VALUE = 400;
/** A value in a one-line summary is cut here, so one long text does not hide the other fields. */
const MAX_SUMMARY_VALUE = 80;

/** A string as the listing shows it: quoted when it would not read unambiguously bare, cut when long. */
export function showString(s: string, max = MAX_VALUE): string {
  const cut = s.length > max ? s.slice(0, max) + `… (${s.length} chars)` : s;
  return s === '' || /^\s|\s$|[\x00-\x1f"]/.test(cut) ? JSON.stringify(cut) : cut;
}

/** A decoded value in words: numbers with their constant names (`ONLINE (0x1)`), strings shown, lists inline. */
export function describeValue(spec: FieldSpec | undefined, value: unknown, max = MAX_VALUE): string {
  if (typeof value === 'number') return spec?.type.describe?.(value) ?? String(value);
  if (typeof value === 'string') return spec?.type.describe?.(value) ?? showString(value, max);
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object')) return `[${value.map((v) => describeValue(undefined, v, max)).join(', ')}]`;
  return JSON.stringify(value);
}

/** One top-level entry of a frame's fields. */
export interface TopField {
  name: string;
  value: unknown;
  /** Its declaration, for fields of the layout. */
  spec?: FieldSpec;
  /** For the records of a spread field (CONTACT_LIST2 groups, contacts): their layout. */
  layout?: Layout;
  /** Not a field of the layout: a decode-only annotation (unpacked RTF, parsed offline message). */
  derived?: true;
  /** The span key of the bytes it was read from (a spread field's records share the field's). */
  spanKey: string;
}

/** The frame's fields (`fields`: the frame's, or a masked copy) in the order the listing shows them. */
export function topFields(frame: DecodedFrame, fields: Fields): TopField[] {
  const out: TopField[] = [];
  const shown = new Set<string>();
  for (const spec of frameLayout(frame)) {
    if (spec.spread) {
      // The keys a spread field adds, in its order; those holding records with their records' layout.
      const records = spec.type.recordLayouts?.(fields) ?? {};
      for (const key of spec.type.keys ?? Object.keys(records)) {
        if (fields[key] === undefined) continue;
        shown.add(key);
        out.push({ name: key, value: fields[key], spec: spec.type.layout?.find((s) => s.name === key), layout: records[key], spanKey: spec.name });
      }
      continue;
    }
    if (!(spec.name in fields) || shown.has(spec.name)) continue;
    shown.add(spec.name);
    out.push({ name: spec.name, value: fields[spec.name], spec, spanKey: spec.name });
  }
  // Decode-only annotations, with their declarations for the names of the constants in them.
  const derived = packetByCode(frame.msg)?.derived;
  for (const [name, value] of Object.entries(fields)) {
    if (!shown.has(name)) out.push({ name, value, derived: true, spanKey: name, spec: derived?.find((s) => s.name === name) });
  }
  return out;
}

/** A field of the tree: a value (`text`), or a record or list of records (`children`). */
export interface FieldNode {
  name: string;
  /** The value as the listing shows it; absent for records and lists of records. */
  text?: string;
  /** Records in a list. */
  count?: number;
  children?: FieldNode[];
  /** Bytes of the frame the field was read from, `[start, end)`. */
  span?: [number, number];
  /** `span` is the enclosing field's: the codec does not report this one's own bytes. */
  within?: true;
  derived?: true;
}

type Spans = Record<string, [number, number]>;

function spanOf(spans: Spans, key: string, inherited: [number, number] | undefined): Pick<FieldNode, 'span' | 'within'> {
  const own = spans[key];
  if (own) return { span: [own[0], own[1]] };
  return inherited ? { span: [inherited[0], inherited[1]], within: true } : {};
}

function recordNode(name: string, record: Fields, layout: Layout | undefined, key: string, spans: Spans, inherited: [number, number] | undefined): FieldNode {
  const at = spanOf(spans, key, inherited);
  const children = Object.entries(record)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => fieldNode(k, v, layout?.find((s) => s.name === k), undefined, `${key}.${k}`, spans, at.span));
  return { name, ...at, children };
}

function fieldNode(name: string, value: unknown, spec: FieldSpec | undefined, layout: Layout | undefined, key: string, spans: Spans, inherited: [number, number] | undefined): FieldNode {
  const at = spanOf(spans, key, inherited);
  if (Array.isArray(value) && value.some((v) => v && typeof v === 'object')) {
    const itemLayout = layout ?? spec?.type.layout;
    return { name, ...at, count: value.length, children: value.map((item, i) => recordNode(`[${i}]`, item as Fields, itemLayout, `${key}.${i}`, spans, at.span)) };
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) return recordNode(name, value as Fields, spec?.type.layout, key, spans, inherited);
  return { name, ...at, text: describeValue(spec, value) };
}

export interface FrameTree {
  /** The 44-byte header, field by field. */
  header: FieldNode[];
  /** The payload's fields, then the bytes after the last one. */
  fields: FieldNode[];
}

function headerNodes(raw: Buffer, frame: DecodedFrame): FieldNode[] {
  if (raw.length < HEADER_SIZE) return [];
  const span = (name: keyof typeof HEADER_SPANS): [number, number] => [HEADER_SPANS[name][0], HEADER_SPANS[name][1]];
  const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
  return [
    { name: 'magic', text: hex(headerField(raw, 'magic')), span: span('magic') },
    { name: 'proto', text: `${frame.proto} (${hex(headerField(raw, 'proto'))})`, span: span('proto') },
    { name: 'seq', text: String(frame.seq), span: span('seq') },
    { name: 'msg', text: `${frame.type} (0x${frame.msg.toString(16)})`, span: span('msg') },
    { name: 'dlen', text: String(frame.dlen), span: span('dlen') },
    { name: 'from', text: String(frame.from), span: span('from') },
    { name: 'fromPort', text: String(frame.fromPort), span: span('fromPort') },
    { name: 'reserved', text: frame.reserved, span: span('reserved') },
  ];
}

/**
 * The frame decoded from `raw` as a tree with the bytes of every field (read again with spans, as the
 * session decoded it). Secrets are masked unless `showSecrets`: the caller masks the hexdump alike.
 */
export function frameTree(raw: Buffer, frame: DecodedFrame, opts: { showSecrets?: boolean } = {}): FrameTree {
  const spans = decodeFrame(raw, { dir: frame.dir, minor: frame.minor, spans: true }).spans ?? {};
  const fields = opts.showSecrets ? frame.fields : maskFields(frame, { encoding: true });
  const nodes = topFields(frame, fields).map((f) => ({ ...fieldNode(f.name, f.value, f.spec, f.layout, f.spanKey, spans, undefined), ...(f.derived ? { derived: true as const } : {}) }));
  if (frame.trailing) {
    const end = HEADER_SIZE + Math.min(frame.dlen, raw.length - HEADER_SIZE);
    nodes.push({ name: 'trailing', text: frame.trailing, span: [end - frame.trailing.length / 2, end] });
  }
  return { header: headerNodes(raw, frame), fields: nodes };
}

/** The frame's fields on one line, for a packet list: `to=bob@mail.ru text=Привет…` (records counted, annotations left out). */
export function frameSummary(frame: DecodedFrame, opts: { showSecrets?: boolean } = {}): string {
  const fields = opts.showSecrets ? frame.fields : maskFields(frame, { encoding: true });
  return topFields(frame, fields)
    .filter((f) => !f.derived)
    .map(({ name, value, spec }) => {
      if (Array.isArray(value) && value.some((v) => v && typeof v === 'object')) return `${name}=(${value.length})`;
      if (value && typeof value === 'object' && !Array.isArray(value)) return `${name}={…}`;
      return `${name}=${describeValue(spec, value, MAX_SUMMARY_VALUE)}`;
    })
    .join(' ');
}

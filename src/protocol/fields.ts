/**
 * The field vocabulary of the declarative packet table. A field is declared once (name, wire type,
 * presence condition, names for its constants); decoding, encoding, pretty-printing and the generated
 * packet documentation all read that one declaration.
 */
import { PayloadReader, PayloadWriter } from './buffer.js';
import { nameFlags, type FlagNames, type ValueNames } from './constants.js';
import { encodeString, type Encoding } from './text.js';
import type { EncodingRule } from './text-fields.js';

export type Direction = 'c2s' | 's2c';
export type Fields = Record<string, unknown>;

export interface FieldContext {
  /** Protocol minor version that governs layouts and encodings (the client's, reference §0). */
  minor: number;
  dir: Direction;
  /** The record being read or written: earlier siblings decide later fields (flags → text encoding). */
  fields: Fields;
  /** Top-level packet fields, for nested records whose layout depends on the packet. */
  root: Fields;
  /** Encodings that differ from what the field's rule would choose, by field path. */
  enc: Record<string, Encoding>;
  /** Something is wrong with the bytes. */
  warnings: string[];
  /** Something worth knowing that is not wrong: a known peer quirk, a fallback the reference prescribes. */
  notes: string[];
  /** When asked for: where each decoded field's bytes lie in the frame, by field path. */
  spans?: FieldSpans;
  /** In a lazy decode: counts the texts left as bytes (LazyText), as they decode with nothing to report. */
  lazy?: { texts: number };
}

/** Byte ranges `[start, end)` in the frame, by field path; `frame` is the buffer the offsets count from. */
export interface FieldSpans {
  frame: Buffer;
  ranges: Record<string, [number, number]>;
}

/** Returned by a decoder when the payload ended inside the field. */
export const TRUNCATED = Symbol('truncated');

/**
 * A field type's wire form as data, for decoders generated in other languages (the Wireshark
 * dissector). Types written by hand for one packet (CONTACT_LIST2 records, statistics) have none.
 */
export type WireShape =
  | { kind: 'ul'; opts: UlOptions }
  | { kind: 'byte' | 'u64' | 'lps-bytes' | 'rest' }
  | { kind: 'fixed'; size: number }
  /** Text: an LPS, a NUL-terminated string, or a CLPS list of LPS; `rule` picks the encoding. */
  | { kind: 'lps-text' | 'cstring' | 'clps' }
  /** Records: inside an LPS, repeated to the end, or after a UL count; `layout` describes each. */
  | { kind: 'record' | 'repeat' | 'counted' };

export interface FieldType<T = unknown> {
  /** Wire form for documentation, e.g. `UL`, `LPS text`. */
  readonly wire: string;
  /** The wire form as data, where the type is one of the vocabulary's. */
  readonly shape?: WireShape;
  decode(r: PayloadReader, c: FieldContext, path: string): T | typeof TRUNCATED;
  encode(w: PayloadWriter, value: T, c: FieldContext, path: string): void;
  /** What an absent value encodes as. */
  readonly empty: T;
  /** Human annotation of a decoded value (constant names); `undefined` when the value speaks for itself. */
  describe?(value: T): string | undefined;
  /** A unix time (rendered as a date; a replay does not compare it, clocks differ). */
  readonly time?: boolean;
  /** For string types (and string lists): the rule that picks the encoding (the renderer names it, e.g. MD5 vs plaintext). */
  readonly rule?: EncodingRule;
  /** For numbers: the names of their values or bits (filters accept `status == AWAY`, `flags & UNICODE`). */
  readonly names?: { values?: ValueNames; flags?: FlagNames };
  /** For record types: the layout of each record, so renderers can describe nested fields. */
  readonly layout?: Layout;
  /** For spread types: the keys they add to the record; none of them given means the field is absent. */
  readonly keys?: readonly string[];
  /** For spread types: the layout of the records under each key they add (CONTACT_LIST2 groups/contacts). */
  recordLayouts?(fields: Fields): Record<string, Layout>;
  /** Reads zero bytes as a valid value (a list of nothing, no raw bytes) instead of a missing field. */
  readonly acceptsEmpty?: boolean;
}

export interface FieldSpec<N extends string = string, T = any> {
  name: N;
  type: FieldType<T>;
  /** Presence condition (protocol version, flags decoded earlier). */
  when?: (c: FieldContext) => boolean;
  /** May be missing at the end of the payload without a warning. */
  optional?: boolean;
  /** Masked in logs unless secrets are asked for; replaced by `redact` (passwords, cookies, session keys). */
  secret?: boolean;
  /**
   * What users wrote to each other, replaced by `redact --messages`: a text, packed RTF, or an offline
   * mail (RFC822-like, rewritten keeping its sender, date and flags).
   */
  content?: 'text' | 'rtf' | 'mail';
  /** The field's value is an object whose keys are merged into the parent record. */
  spread?: boolean;
  /** What the encoder writes when the value is not given, computed from the record (counts, masks). */
  default?: (c: FieldContext) => unknown;
  doc?: string;
}

export type Layout = readonly FieldSpec[];

// The record a layout describes, as a type: each field's name with the value type of its FieldType;
// a spread field contributes the keys of its object instead. Every key is optional, as in the encoder,
// which writes an absent field as its type's empty value.
type SpreadSpec = FieldSpec & { spread: true };
type ValueOf<S> = S extends FieldSpec<string, infer T> ? T : never;
type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
type SpreadFields<L extends Layout> = [Extract<L[number], SpreadSpec>] extends [never]
  ? unknown
  : UnionToIntersection<Partial<ValueOf<Extract<L[number], SpreadSpec>>>>;
export type LayoutFields<L extends Layout> = {
  [S in Exclude<L[number], SpreadSpec> as S['name']]?: ValueOf<S>;
} & SpreadFields<L>;

const hex32 = (v: number) => `0x${(v >>> 0).toString(16)}`;

// ---------------------------------------------------------------------------------------------------
// Decoding and encoding a list of fields

/**
 * Reads a layout's fields into `c.fields`. Each layout is read by a function made for it on its first
 * use: the loop over specs, written out, gives every field's decode call and store one target (the
 * loop's calls see every field type of the table and cost most of a small frame's decode).
 */
export function decodeFields(specs: Layout, r: PayloadReader, c: FieldContext, prefix = ''): Fields {
  return (readers.get(specs) ?? compileReader(specs))(r, c, prefix);
}

type LayoutReader = (r: PayloadReader, c: FieldContext, prefix: string) => Fields;
/** By layout: the table's layouts are made once, at load, so there is one reader for each. */
const readers = new WeakMap<Layout, LayoutReader>();

function compileReader(specs: Layout): LayoutReader {
  const steps = specs.map((spec, i) => {
    // The name as a literal: a store by a constant key is a property store, not a keyed one.
    const name = JSON.stringify(spec.name);
    const store = spec.spread ? `if (v && typeof v === 'object') Object.assign(out, v); else out[${name}] = v;` : `out[${name}] = v;`;
    const atEnd = spec.optional ? `break f${i};` : spec.type.acceptsEmpty ? '' : `c.warnings.push('truncated: field "' + path + '" missing (payload ended)'); return out;`;
    return `f${i}: {
      ${spec.when ? `if (!w${i}(c)) break f${i};` : ''}
      const path = prefix + ${name};
      ${atEnd ? `if (r.atEnd) { ${atEnd} }` : ''}
      const start = r.pos;
      const v = t${i}.decode(r, c, path);
      if (v === TRUNCATED) { c.warnings.push('truncated: field "' + path + '" runs past the end of the payload'); return out; }
      if (c.spans) recordSpan(c.spans, path, r, start);
      ${store}
    }`;
  });
  const locals = specs.map((spec, i) => `const t${i} = S[${i}].type${spec.when ? `, w${i} = S[${i}].when` : ''};`).join('\n');
  const make = new Function('S', 'TRUNCATED', 'recordSpan', `${locals}\nreturn function readLayout(r, c, prefix) {\nconst out = c.fields;\n${steps.join('\n')}\nreturn out;\n};`);
  const reader = make(specs, TRUNCATED, recordSpan) as LayoutReader;
  readers.set(specs, reader);
  return reader;
}

export function encodeFields(specs: Layout, w: PayloadWriter, c: FieldContext, prefix = ''): void {
  for (const spec of specs) {
    if (spec.when && !spec.when(c)) continue;
    const value = spec.spread ? spreadValue(spec.type, c.fields) : (c.fields[spec.name] ?? spec.default?.(c));
    if (value === undefined && spec.optional) continue;
    spec.type.encode(w, value === undefined ? spec.type.empty : value, c, prefix + spec.name);
  }
}

/** Nested readers read subarrays of the frame, so their offsets are found through the shared memory. */
function recordSpan(spans: FieldSpans, path: string, r: PayloadReader, start: number): void {
  if (r.buf.buffer !== spans.frame.buffer) return;
  const base = r.buf.byteOffset - spans.frame.byteOffset;
  spans.ranges[path] = [base + start, base + r.pos];
}

/** A spread field's value is the record itself, unless the record holds none of the field's keys. */
function spreadValue(type: FieldType, fields: Fields): Fields | undefined {
  return !type.keys || type.keys.some((k) => fields[k] !== undefined) ? fields : undefined;
}

/** A packet's context: a top-level record is its own root; encodings, warnings and notes start empty unless given. */
export function fieldContext(minor: number, dir: Direction, fields: Fields, enc: Record<string, Encoding> = {}, warnings: string[] = [], notes: string[] = []): FieldContext {
  return { minor, dir, fields, root: fields, enc, warnings, notes };
}

/** The direction a packet is read in when none is given: a server packet's, otherwise the client's. */
export const usualDir = (dir: 'c2s' | 's2c' | 'both'): Direction => (dir === 's2c' ? 's2c' : 'c2s');

/** Context for a nested record, sharing encodings and warnings with its packet. */
export function childContext(c: FieldContext, fields: Fields): FieldContext {
  return { ...c, fields };
}

// ---------------------------------------------------------------------------------------------------
// Scalars

export interface UlOptions {
  values?: ValueNames;
  flags?: FlagNames;
  /** Render as a unix time. */
  time?: boolean;
  hex?: boolean;
}

export function ulType(opts: UlOptions = {}): FieldType<number> {
  return {
    wire: 'UL',
    shape: { kind: 'ul', opts },
    empty: 0,
    ...(opts.values || opts.flags ? { names: { values: opts.values, flags: opts.flags } } : {}),
    ...(opts.time ? { time: true } : {}),
    decode: (r) => r.ul() ?? TRUNCATED,
    encode: (w, v) => void w.ul(Number(v)),
    describe(v) {
      if (opts.values) return `${opts.values[v] ?? 'unknown'} (${hex32(v)})`;
      if (opts.flags) return v === 0 ? '0' : `${nameFlags(opts.flags, v).join('|')} (${hex32(v)})`;
      if (opts.time) return v === 0 ? '0' : `${new Date(v * 1000).toISOString()} (${v})`;
      if (opts.hex) return hex32(v);
      return undefined;
    },
  };
}

export const byteType: FieldType<number> = {
  wire: 'BYTE',
  shape: { kind: 'byte' },
  empty: 0,
  decode: (r) => r.byte() ?? TRUNCATED,
  encode: (w, v) => void w.byte(Number(v)),
};

/** U64 as a decimal string (JSON has no 64-bit integers). */
export const u64Type: FieldType<string> = {
  wire: 'U64',
  shape: { kind: 'u64' },
  empty: '0',
  decode: (r) => {
    const v = r.u64();
    return v === undefined ? TRUNCATED : v.toString();
  },
  encode: (w, v) => void w.u64(BigInt(v)),
};

/** Fixed-size opaque bytes as hex (UIDL, GUID). */
export function fixedBytes(size: number, wire: string): FieldType<string> {
  return {
    wire,
    shape: { kind: 'fixed', size },
    empty: '00'.repeat(size),
    decode: (r) => r.hex(size) ?? TRUNCATED,
    encode: (w, v) => {
      const b = encodeString(String(v), 'hex');
      const fixed = Buffer.alloc(size);
      b.copy(fixed, 0, 0, size);
      w.bytes(fixed);
    },
  };
}

export const uidlType = fixedBytes(8, 'UIDL');
export const guidType = fixedBytes(16, 'GUID');

// ---------------------------------------------------------------------------------------------------
// Bytes (text field types are in text-fields.ts)

/** Reads an LPS and reports a length prefix beyond the payload; shared by every LPS-based type. */
export function readLps(r: PayloadReader, c: FieldContext, path: string): Buffer | typeof TRUNCATED {
  const b = r.lps();
  if (b === undefined) return TRUNCATED;
  if (!Buffer.isBuffer(b)) {
    c.warnings.push(`truncated LPS "${path}": length ${b.truncated} but only ${b.available} bytes left`);
    return TRUNCATED;
  }
  return b;
}

/** LPS of opaque bytes, as hex. */
export const lpsBytesType: FieldType<string> = {
  wire: 'LPS bytes',
  shape: { kind: 'lps-bytes' },
  empty: '',
  decode(r, c, path) {
    const b = readLps(r, c, path);
    return b === TRUNCATED ? b : b.toString('hex');
  },
  encode: (w, v) => void w.lps(encodeString(String(v), 'hex')),
};

// ---------------------------------------------------------------------------------------------------
// Composite

/** Whatever is left of the payload, as hex: layouts the reference marks [UNKNOWN]. */
export const restType: FieldType<string> = {
  wire: 'bytes…',
  shape: { kind: 'rest' },
  empty: '',
  acceptsEmpty: true,
  decode: (r) => r.rest().toString('hex'),
  encode: (w, v) => void w.bytes(encodeString(String(v), 'hex')),
};

/**
 * An LPS whose content is a record of its own. Bytes after the record's last field are kept in
 * `trailing` (hex) so the record re-encodes exactly.
 */
export function lpsRecordType<const L extends Layout>(layout: L | ((c: FieldContext) => Layout), wire = 'LPS{…}'): FieldType<LayoutFields<L> & { trailing?: string }> {
  const resolve = (c: FieldContext) => (typeof layout === 'function' ? layout(c) : layout);
  // The record type is what the layout declares; the walk itself sees plain records.
  const type: FieldType<any> = {
    wire,
    // A record whose layout the packet decides is dissected elsewhere as plain bytes.
    shape: typeof layout === 'function' ? { kind: 'lps-bytes' } : { kind: 'record' },
    empty: {},
    layout: typeof layout === 'function' ? undefined : layout,
    decode(r, c, path) {
      const b = readLps(r, c, path);
      if (b === TRUNCATED) return b;
      const inner = new PayloadReader(b);
      const record: Fields = {};
      const cc = childContext(c, record);
      decodeFields(resolve(cc), inner, cc, `${path}.`);
      if (!inner.atEnd) {
        c.warnings.push(`"${path}": ${inner.remaining} bytes after its last field kept as trailing`);
        record.trailing = inner.rest().toString('hex');
      }
      return record;
    },
    encode(w, v, c, path) {
      const record = (v ?? {}) as Fields;
      const inner = new PayloadWriter();
      const cc = childContext(c, record);
      encodeFields(resolve(cc), inner, cc, `${path}.`);
      if (typeof record.trailing === 'string') inner.bytes(Buffer.from(record.trailing, 'hex'));
      w.lps(inner.finish());
    },
  };
  return type;
}

/**
 * The shape of a decode-only annotation (what a packet's `derive` adds): never on the wire, declared
 * with the field vocabulary only so the listing names the constants inside it.
 */
export function annotationType(layout: Layout): FieldType<Fields> {
  return { wire: 'derived', empty: {}, layout, decode: () => TRUNCATED, encode: () => undefined };
}

/** Annotations with nothing to name inside them, by name only. */
export const annotations = (...names: string[]): Layout => names.map((name) => field(name, annotationType([])));

/**
 * Records repeated until the end of the payload (USER_INFO pairs, WP_REQUEST criteria). A record that
 * cannot be read whole stops the list; its bytes are left for the packet's trailing-bytes warning.
 */
export function repeatType<const L extends Layout>(layout: L, wire = 'repeated'): FieldType<LayoutFields<L>[]> {
  // The record type is what the layout declares; the walk itself sees plain records.
  const type: FieldType<any> = {
    wire,
    shape: { kind: 'repeat' },
    empty: [],
    layout,
    acceptsEmpty: true,
    decode(r, c, path) {
      const items: Fields[] = [];
      while (!r.atEnd) {
        const start = r.pos;
        const record: Fields = {};
        // Private warning and note lists: a record cut short is not an error, it ends the list.
        const probe: FieldContext = { ...c, fields: record, warnings: [], notes: [] };
        decodeFields(layout, r, probe, `${path}.${items.length}.`);
        if (probe.warnings.some((w) => w.startsWith('truncated'))) {
          r.pos = start;
          break;
        }
        c.warnings.push(...probe.warnings);
        c.notes.push(...probe.notes);
        items.push(record);
      }
      return items;
    },
    encode(w, v, c, path) {
      (Array.isArray(v) ? v : []).forEach((item: Fields, i) =>
        encodeFields(layout, w, childContext(c, item), `${path}.${i}.`),
      );
    },
  };
  return type;
}

/** `UL count` followed by that many records (CAPABILITIES). */
export function countedType<const L extends Layout>(layout: L, wire = 'UL count + records'): FieldType<LayoutFields<L>[]> {
  // The record type is what the layout declares; the walk itself sees plain records.
  const type: FieldType<any> = {
    wire,
    shape: { kind: 'counted' },
    empty: [],
    layout,
    decode(r, c, path) {
      const count = r.ul();
      if (count === undefined) return TRUNCATED;
      const items: Fields[] = [];
      for (let i = 0; i < count && !r.atEnd; i++) {
        const record: Fields = {};
        const warned = c.warnings.length;
        decodeFields(layout, r, childContext(c, record), `${path}.${i}.`);
        items.push(record);
        // A record cut short consumed what was left; the count must not drive further (empty) reads.
        if (c.warnings.slice(warned).some((w) => w.startsWith('truncated'))) break;
      }
      if (items.length < count) c.warnings.push(`"${path}" announces ${count} records but holds ${items.length}`);
      return items;
    },
    encode(w, v, c, path) {
      const items = Array.isArray(v) ? (v as Fields[]) : [];
      w.ul(items.length);
      items.forEach((item, i) => encodeFields(layout, w, childContext(c, item), `${path}.${i}.`));
    },
  };
  return type;
}

// ---------------------------------------------------------------------------------------------------
// Declaration helpers, so the packet table reads like the reference's tables

type Extra = Omit<FieldSpec, 'name' | 'type' | 'spread'>;

/**
 * Every key a field declaration may have, in one order: declarations made from it share one shape, so
 * the encoding loop's reads of them (several per field) are not lookups among many shapes.
 */
const SPEC_KEYS: Record<keyof FieldSpec, undefined> = {
  name: undefined,
  type: undefined,
  when: undefined,
  optional: undefined,
  secret: undefined,
  content: undefined,
  spread: undefined,
  default: undefined,
  doc: undefined,
};

export const ul = <const N extends string>(name: N, opts: UlOptions & Extra = {}): FieldSpec<N, number> => {
  const { values, flags, time, hex, ...extra } = opts;
  return { ...SPEC_KEYS, name, type: ulType({ values, flags, time, hex }), ...extra };
};
export const field = <const N extends string, T>(name: N, type: FieldType<T>, extra: Extra = {}): FieldSpec<N, T> => ({ ...SPEC_KEYS, name, type, ...extra });
/** A field whose object value is merged into the record (its keys are the record's). */
export const spread = <const N extends string, T extends object>(name: N, type: FieldType<T>, extra: Extra = {}): FieldSpec<N, T> & { spread: true } => ({
  ...SPEC_KEYS,
  name,
  type,
  ...extra,
  spread: true,
});
export const since =
  (minor: number) =>
  (c: FieldContext): boolean =>
    c.minor >= minor;

/**
 * The field vocabulary of the declarative packet table. A field is declared once (name, wire type,
 * presence condition, names for its constants); decoding, encoding, pretty-printing and the generated
 * packet documentation all read that one declaration.
 */
import { PayloadReader, PayloadWriter } from './buffer.js';
import { nameFlags, type FlagNames, type ValueNames } from './constants.js';
import { LazyText, decodeString, encodeString, missingFromCp1251, plainText, type Encoding } from './text.js';

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
  /**
   * In a lazy decode: text that decodes with nothing to report is left as its bytes (a LazyText);
   * `texts` counts them, so a frame with none gets its fields as they are.
   */
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

export function decodeFields(specs: Layout, r: PayloadReader, c: FieldContext, prefix = ''): Fields {
  const out: Fields = c.fields;
  for (const spec of specs) {
    if (spec.when && !spec.when(c)) continue;
    const path = prefix + spec.name;
    if (r.atEnd) {
      if (spec.optional) continue;
      if (!spec.type.acceptsEmpty) {
        c.warnings.push(`truncated: field "${path}" missing (payload ended)`);
        break;
      }
    }
    const start = r.pos;
    const value = spec.type.decode(r, c, path);
    if (value === TRUNCATED) {
      c.warnings.push(`truncated: field "${path}" runs past the end of the payload`);
      break;
    }
    if (c.spans) recordSpan(c.spans, path, r, start);
    if (spec.spread && value && typeof value === 'object') Object.assign(out, value);
    else out[spec.name] = value;
  }
  return out;
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
    decode: (r) => r.bytes(size)?.toString('hex') ?? TRUNCATED,
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
// Strings

/**
 * Chooses a string field's encoding. Called with the bytes when decoding (so heuristics for disputed
 * versions can look at them) and without when encoding.
 */
export type EncodingRule = ((c: FieldContext, bytes?: Buffer) => Encoding) & {
  /** Set when the encoding is the same whatever the context and the bytes (so ASCII text can be read in place). */
  readonly fixed?: Encoding;
  /**
   * Whether, in this context, the bytes can change the rule's choice; when they cannot, text is read in
   * place. Without it, they always can.
   */
  readonly bytesDecide?: (c: FieldContext) => boolean;
};

export const fixedEncoding = (e: Encoding): EncodingRule => Object.assign(() => e, { fixed: e });

/** A rule that looks at the bytes only where `bytesDecide` says so. */
export const encodingRule = (rule: (c: FieldContext, bytes?: Buffer) => Encoding, bytesDecide: (c: FieldContext) => boolean): EncodingRule =>
  Object.assign(rule, { bytesDecide });

/** The encoding a rule picks before the bytes are seen, when the bytes cannot change it. */
function choiceWithoutBytes(rule: EncodingRule, c: FieldContext): Encoding | undefined {
  return rule.fixed ?? (rule.bytesDecide && !rule.bytesDecide(c) ? rule(c) : undefined);
}

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

/**
 * A text field's value. In a lazy decode, text proven plain stays bytes: a LazyText, typed as the string
 * it stands for (the frame's `fields` turn every one into its string before anyone outside sees them);
 * `now` is for text the decode itself goes on with (ANKETA_INFO's column names key its rows).
 */
export function decodeText(bytes: Buffer, rule: EncodingRule, c: FieldContext, path: string, now = false): string {
  const wanted = rule(c, bytes);
  if (c.lazy && !now && plainText(bytes, 0, bytes.length, wanted)) {
    if (wanted !== rule(c)) c.enc[path] = wanted;
    return lazyText(c, new LazyText(bytes, 0, bytes.length, wanted));
  }
  const d = decodeString(bytes, wanted);
  if (d.warning) c.warnings.push(`invalid string bytes in "${path}": ${d.warning}`);
  if (d.note) c.notes.push(`"${path}": ${d.note}`);
  if (d.encoding !== rule(c)) c.enc[path] = d.encoding;
  return d.value;
}

function lazyText(c: FieldContext, text: LazyText): string {
  c.lazy!.texts++;
  return text as unknown as string;
}

/** Replaces, in place, every LazyText in a record (and the records and lists inside it) by its string. */
export function materialiseTexts(value: unknown): void {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (v instanceof LazyText) value[i] = v.value();
      else if (typeof v === 'object' && v !== null) materialiseTexts(v);
    }
  } else if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Fields;
    for (const k in record) {
      const v = record[k];
      if (v instanceof LazyText) record[k] = v.value();
      else if (typeof v === 'object' && v !== null) materialiseTexts(v);
    }
  }
}

/** Makes a top-level field's texts, in place, when it is read (its value or its descriptor). */
const READ_TEXTS: ProxyHandler<Fields> = {
  get(record, key, receiver) {
    if (typeof key === 'string') settleTexts(record, key);
    return Reflect.get(record, key, receiver);
  },
  getOwnPropertyDescriptor(record, key) {
    if (typeof key === 'string') settleTexts(record, key);
    return Reflect.getOwnPropertyDescriptor(record, key);
  },
};

function settleTexts(record: Fields, key: string): void {
  const v = record[key];
  if (v instanceof LazyText) record[key] = v.value();
  else if (typeof v === 'object' && v !== null) materialiseTexts(v);
}

/**
 * The fields of a lazy decode as everyone reads them: a record whose top-level fields have their
 * texts made on their first read (and kept), so reading a few (a packet's `derive`, the session's
 * login and reply rules) makes only theirs.
 */
export const readingTexts = (record: Fields): Fields => new Proxy(record, READ_TEXTS);

/** Encodes a text field; characters its encoding cannot carry (CP1251 lacks many) become "?" and a note. */
export function encodeText(value: unknown, rule: EncodingRule, c: FieldContext, path: string): Buffer {
  const text = String(value ?? '');
  const encoding = c.enc[path] ?? rule(c);
  if (encoding === 'cp1251') {
    const missing = missingFromCp1251(text);
    if (missing.length) c.notes.push(`"${path}": CP1251 has no ${missing.join(' ')}, sent as "?"`);
  }
  return encodeString(text, encoding);
}

export function textType(rule: EncodingRule, wire = 'LPS', describe?: (value: string) => string | undefined): FieldType<string> {
  return {
    wire,
    shape: { kind: 'lps-text' },
    empty: '',
    rule,
    ...(describe ? { describe } : {}),
    decode(r, c, path) {
      // Logins, URIs, user agents: ASCII nearly always; texts of 1.16+: plain UTF-16. Read straight off
      // the payload (what is not plain is read again below, with every check).
      const wanted = choiceWithoutBytes(rule, c);
      if (c.lazy && wanted) {
        const text = r.lazyLps(wanted);
        if (text) return lazyText(c, text);
      }
      const plain = wanted === 'cp1251' ? r.asciiLps() : wanted === 'utf16le' ? r.plainUtf16Lps() : undefined;
      if (plain !== undefined) return plain;
      const b = readLps(r, c, path);
      return b === TRUNCATED ? b : decodeText(b, rule, c, path);
    },
    encode(w, v, c, path) {
      w.lps(encodeText(v, rule, c, path));
    },
  };
}

/** NUL-terminated string (mask char `z`). */
export function cstringType(rule: EncodingRule): FieldType<string> {
  return {
    wire: 'z',
    shape: { kind: 'cstring' },
    empty: '',
    rule,
    decode(r, c, path) {
      const b = r.cstring();
      return b === undefined ? TRUNCATED : decodeText(b, rule, c, path);
    },
    encode(w, v, c, path) {
      w.cstring(encodeText(v, rule, c, path));
    },
  };
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

/** CLPS: an LPS holding `UL count` and that many LPS strings (reference §3.4). */
export function clpsType(rule: EncodingRule): FieldType<string[]> {
  return {
    wire: 'CLPS',
    shape: { kind: 'clps' },
    empty: [],
    rule,
    decode(r, c, path) {
      const outer = readLps(r, c, path);
      if (outer === TRUNCATED) return outer;
      const inner = new PayloadReader(outer);
      const count = inner.ul() ?? 0;
      // An empty LPS holds not even the count: read as no items, but it is not how an empty list is written.
      if (outer.length === 0) c.warnings.push(`CLPS "${path}" is empty (no item count)`);
      const items: string[] = [];
      for (let i = 0; i < count; i++) {
        const b = readLps(inner, c, `${path}.${i}`);
        if (b === TRUNCATED) {
          c.warnings.push(`CLPS "${path}" announces ${count} items but holds ${i}`);
          break;
        }
        items.push(decodeText(b, rule, c, `${path}.${i}`));
      }
      if (!inner.atEnd) c.warnings.push(`CLPS "${path}": ${inner.remaining} bytes after the last item ignored`);
      return items;
    },
    encode(w, v, c, path) {
      const inner = new PayloadWriter();
      const items = Array.isArray(v) ? v : [];
      inner.ul(items.length);
      items.forEach((item, i) => inner.lps(encodeText(item, rule, c, `${path}.${i}`)));
      w.lps(inner.finish());
    },
  };
}

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

export const ul = <const N extends string>(name: N, opts: UlOptions & Extra = {}): FieldSpec<N, number> => {
  const { values, flags, time, hex, ...extra } = opts;
  return { name, type: ulType({ values, flags, time, hex }), ...extra };
};
export const field = <const N extends string, T>(name: N, type: FieldType<T>, extra: Extra = {}): FieldSpec<N, T> => ({ name, type, ...extra });
/** A field whose object value is merged into the record (its keys are the record's). */
export const spread = <const N extends string, T extends object>(name: N, type: FieldType<T>, extra: Extra = {}): FieldSpec<N, T> & { spread: true } => ({
  name,
  type,
  ...extra,
  spread: true,
});
export const since =
  (minor: number) =>
  (c: FieldContext): boolean =>
    c.minor >= minor;

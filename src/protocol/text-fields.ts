/**
 * Text field types of the packet table: the rules that pick a string field's encoding, and LPS,
 * NUL-terminated and CLPS text. In a lazy decode (`strings: 'lazy'`) text whose bytes prove it decodes
 * with nothing to report is left as those bytes (a LazyText), made into its string when read.
 */
import { PayloadReader, PayloadWriter } from './buffer.js';
import { TRUNCATED, readLps, type FieldContext, type FieldType, type Fields } from './fields.js';
import { LazyText, decodeString, encodeString, missingFromCp1251, plainText, type Encoding } from './text.js';

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

/**
 * A text field's value; in a lazy decode, text proven plain is a LazyText typed as its string (the frame's
 * fields make it when read). `now`: text the decode goes on with (ANKETA_INFO's column names key its rows).
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
  // The encoding picked before the bytes are seen, when the bytes cannot change it: the rule's parts
  // read once, not on every decode (rules are functions of several shapes).
  const { fixed, bytesDecide } = rule;
  return {
    wire,
    shape: { kind: 'lps-text' },
    empty: '',
    rule,
    ...(describe ? { describe } : {}),
    decode(r, c, path) {
      // Logins, URIs, user agents: ASCII nearly always; texts of 1.16+: plain UTF-16. Read straight off
      // the payload (what is not plain is read again below, with every check).
      const wanted = fixed ?? (bytesDecide && !bytesDecide(c) ? rule(c) : undefined);
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
// A lazy decode's texts, made when read

/** Replaces, in place, every LazyText in a record (and the records and lists inside it) by its string. */
function materialiseTexts(value: unknown): void {
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

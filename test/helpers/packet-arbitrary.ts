/**
 * fast-check arbitraries that build packet fields from the packet table itself: the generator walks a
 * layout (FieldSpec → FieldType) and produces a value for every field the layout declares, so a packet
 * type added to the table is covered without being listed here. A field type it does not know makes
 * it throw, which fails the tests that use it.
 *
 * Strings fit the encoding the field's rule picks: CP1251 text is ASCII + Cyrillic; UTF-16LE text may
 * also hold characters outside CP1251 ("Ω ✓ 日本", surrogate pairs). Where a rule decides by looking at
 * the bytes (the heuristics for disputed fields), a value is kept only if the rule, shown its bytes,
 * picks the encoding it was written in — the values a real peer could send under that rule.
 */
import fc from 'fast-check';
import { PayloadWriter } from '../../src/protocol/buffer.js';
import { byteType, fieldContext, lpsBytesType, restType, u64Type, type Direction, type FieldContext, type FieldSpec, type FieldType, type Fields, type Layout } from '../../src/protocol/fields.js';
import type { EncodingRule } from '../../src/protocol/text-fields.js';
import { packRtf } from '../../src/protocol/formats.js';
import { encodeString, type Encoding } from '../../src/protocol/text.js';
import type { PacketDef, Variant } from '../../src/protocol/packets/index.js';

type Gen = fc.GeneratorValue;

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String.fromCharCode(from + i));
const CYRILLIC = [...range(0x410, 0x44f), 'Ё', 'ё'];
/** Printable ASCII and Cyrillic: encodable in CP1251, and never mistaken for UTF-16LE by the heuristics. */
const CP1251_CHARS = [...range(0x20, 0x7e), ...CYRILLIC, '№'];
/** Outside CP1251: only UTF-16LE (or UTF-8) can carry them. */
const EXOTIC = ['Ω', '✓', '日', '本', 'ß', '€', '😀', '𝄞'];

// Arbitrary factories are module-level with primitive arguments so fc.gen() can cache them.
const cp1251Text = () => fc.string({ unit: fc.constantFrom(...CP1251_CHARS), maxLength: 12 });
const unicodeText = () =>
  fc
    .array(fc.tuple(fc.constantFrom(...CP1251_CHARS), fc.option(fc.constantFrom(...EXOTIC), { freq: 3 })), { maxLength: 8 })
    .map((units) => units.map(([a, b]) => a + (b ?? '')).join(''));
const bytesHex = (size: number) => fc.uint8Array({ minLength: size, maxLength: size }).map((b) => Buffer.from(b).toString('hex'));
const anyBytesHex = () => fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b).toString('hex'));
/** Binary string fields (MD5 passwords, ids): mostly the 16 bytes of a digest. */
const binaryHex = () => fc.oneof(bytesHex(16), anyBytesHex());
const ulValue = () =>
  fc.oneof(
    { arbitrary: fc.constant(0), weight: 2 },
    { arbitrary: fc.integer({ min: 0, max: 9 }), weight: 3 },
    { arbitrary: fc.integer({ min: 0, max: 0xffffffff }), weight: 3 },
  );
const byteValue = () => fc.integer({ min: 0, max: 255 });
const u64Value = () => fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(String);
const count = () => fc.integer({ min: 0, max: 3 });
const coin = () => fc.boolean();
const oneOf = (choices: readonly string[]) => fc.constantFrom(...choices);

function textFor(encoding: Encoding): fc.Arbitrary<string> {
  switch (encoding) {
    case 'cp1251':
      return cp1251Text();
    case 'utf16le':
    case 'utf8':
      return unicodeText();
    case 'hex':
      return binaryHex();
    case 'latin1':
      return anyBytesHex().map((h) => Buffer.from(h, 'hex').toString('latin1'));
  }
}

/** A string the rule reads back in the encoding it picks for writing. */
export function generateText(g: Gen, rule: EncodingRule, c: FieldContext, path: string): string {
  const encoding = rule(c);
  for (let attempt = 0; attempt < 100; attempt++) {
    const value = g(textFor, encoding);
    if (rule(c, encodeString(value, encoding)) === encoding) return value;
  }
  throw new Error(`no ${encoding} value found that the rule of "${path}" reads back as ${encoding}`);
}

// ---------------------------------------------------------------------------------------------------
// Fields whose content is a format of its own, by name (the same name means the same thing in every
// packet): packed RTF, CONTACT_LIST2 masks.

const MASKS = ['uussuu', 'uussuus', 'uussuussssus', 'uussuussssusuuusss', 'uussuussssusuuussss', 'uussuussssusuuusssss', 'uussuussssusuuusssssu'];
const rtfValue = () => fc.oneof(fc.constant(' '), fc.constant(''), cp1251Text().map((t) => packRtf(`{\\rtf1 ${t}}`)));
const maskExtension = () => fc.string({ unit: fc.constantFrom('u', 's', 'z'), maxLength: 3 });

const CONTENT: Record<string, (g: Gen) => unknown> = {
  rtf: (g) => g(rtfValue),
  groupMask: (g) => 'us' + g(maskExtension),
  contactMask: (g) => g(oneOf, MASKS) + (g(coin) ? g(maskExtension) : ''),
};

// ---------------------------------------------------------------------------------------------------
// The layout walker

export interface GenerateOptions {
  /** Records repeated until the end of the payload must be whole: no optional field may be left out. */
  complete?: boolean;
}

function child(c: FieldContext, fields: Fields): FieldContext {
  return { ...c, fields };
}

/** Whether the encoder could stop at field `i`: every field after it that applies is optional. */
function canStopAt(layout: Layout, i: number, c: FieldContext): boolean {
  return layout.slice(i).every((s) => (s.when && !s.when(c)) || (s.optional && !s.default));
}

/** Fills `c.fields` with a value for every field of the layout, in order (later rules see earlier fields). */
export function generateRecord(g: Gen, layout: Layout, c: FieldContext, path = '', opts: GenerateOptions = {}): Fields {
  const record = c.fields;
  for (const [i, spec] of layout.entries()) {
    if (spec.when && !spec.when(c)) continue;
    const content = CONTENT[spec.name];
    // Counts and masks the encoder computes from the record.
    if (spec.default && !content) continue;
    const mayStop = !opts.complete && spec.optional && canStopAt(layout, i, c);
    if (mayStop && g(coin)) break;
    const value = content ? content(g) : generateValue(g, spec, c, path + spec.name);
    // An optional field that encodes to no bytes (an empty trailer) is the same frame as a missing one.
    if (mayStop && encodedLength(spec, value, c) === 0) break;
    if (spec.spread) Object.assign(record, value);
    else record[spec.name] = value;
  }
  return record;
}

function encodedLength(spec: FieldSpec, value: unknown, c: FieldContext): number {
  const w = new PayloadWriter();
  spec.type.encode(w, value, c, spec.name);
  return w.length;
}

function records(g: Gen, layout: Layout, c: FieldContext, path: string, opts: GenerateOptions = {}): Fields[] {
  const n = g(count);
  return Array.from({ length: n }, (_, i) => generateRecord(g, layout, child(c, {}), `${path}.${i}.`, opts));
}

const isFixedBytes = (t: FieldType) => typeof t.empty === 'string' && /^(00)+$/.test(t.empty);

/** Column names ANKETA_INFO results use (§11.2), text and non-text ones. */
const ANKETA_COLUMNS = ['Username', 'Domain', 'Flags', 'Nickname', 'FirstName', 'LastName', 'Sex', 'Birthday', 'Location', 'Phone', 'mrim_status', 'status_title', 'status_desc'];

const anketaColumns = () => fc.uniqueArray(fc.constantFrom(...ANKETA_COLUMNS), { maxLength: 5 });

export function generateValue(g: Gen, spec: FieldSpec, c: FieldContext, path: string): unknown {
  const t = spec.type;
  if (t === u64Type) return g(u64Value);
  if (t === byteType) return g(byteValue);
  if (t === lpsBytesType || t === restType) return g(anyBytesHex);
  if (t.wire === 'UL') return g(ulValue);
  if (isFixedBytes(t)) return g(bytesHex, (t.empty as string).length / 2);
  // Types whose records depend on their own content (checked before the generic record walk).
  if (t.wire === 'stats…') {
    // LOGIN2/LOGIN3 statistics entries: UL values (type 2) and strings (type 1, read by their bytes).
    return Array.from({ length: g(count) }, () =>
      g(coin) ? { id: g(ulValue), type: 2, value: g(ulValue) } : { id: g(ulValue), type: 1, value: g(cp1251Text) },
    );
  }
  if (t.wire === 'F × LPS names, rows × F × LPS') {
    // ANKETA_INFO: column names, then rows keyed by them. ASCII + Cyrillic values read back under
    // every reading of the disputed value encodings; the disputed forms are tested separately.
    const columns = g(anketaColumns);
    const rows = columns.length === 0 ? [] : Array.from({ length: g(count) }, () => Object.fromEntries(columns.map((col) => [col, g(cp1251Text)])));
    return { maxRows: g(ulValue), serverTime: g(ulValue), columns, rows };
  }
  if (t.recordLayouts) {
    // Records described by sibling fields (CONTACT_LIST2 masks): one list per key the type adds.
    const layouts = t.recordLayouts(c.fields);
    return Object.fromEntries(Object.entries(layouts).map(([key, layout]) => [key, records(g, layout, c, key, { complete: true })]));
  }
  if (t.layout) {
    // A list of records (until the end, or counted) or one LPS-wrapped record.
    if (Array.isArray(t.empty)) return records(g, t.layout, c, path, { complete: true });
    return generateRecord(g, t.layout, child(c, {}), `${path}.`);
  }
  if (t.rule && t.wire === 'CLPS') {
    const rule = t.rule;
    return Array.from({ length: g(count) }, (_, i) => generateText(g, rule, c, `${path}.${i}`));
  }
  if (t.rule) return generateText(g, t.rule, c, path);
  throw new Error(`no generator for field type "${t.wire}" (${path}): teach test/helpers/packet-arbitrary.ts about it`);
}

// ---------------------------------------------------------------------------------------------------
// Per packet

export interface PacketCase {
  def: PacketDef;
  minor: number;
  dir: Direction;
  variant?: Variant;
}

export function baseContext(minor: number, dir: Direction): FieldContext {
  return fieldContext(minor, dir, {});
}

/** Fields for one packet type as seen by one version and direction (and one wire form). */
export function fieldsArbitrary({ def, minor, dir, variant }: PacketCase): fc.Arbitrary<Fields> {
  const layout = variant?.layout ?? def.layout ?? [];
  return fc.gen().map((g) => generateRecord(g, layout, baseContext(minor, dir)));
}

/** The directions a packet travels in. */
export const directionsOf = (def: PacketDef): Direction[] => (def.dir === 'both' ? ['c2s', 's2c'] : [def.dir]);

/** Every (packet, minor, direction, wire form) combination. */
export function packetCases(def: PacketDef, minors: readonly number[]): PacketCase[] {
  const variants: (Variant | undefined)[] = def.variants ? [...def.variants] : [undefined];
  return minors.flatMap((minor) =>
    directionsOf(def).flatMap((dir) => variants.filter((v) => !v?.dir || v.dir === dir).map((variant) => ({ def, minor, dir, variant }))),
  );
}

/** Any packet of the table with fields, for building streams. */
export function anyPacketArbitrary(defs: readonly PacketDef[], minor: number): fc.Arbitrary<{ def: PacketDef; dir: Direction; fields: Fields }> {
  return fc
    .constantFrom(...defs.flatMap((def) => packetCases(def, [minor])))
    .chain((pc) => fieldsArbitrary(pc).map((fields) => ({ def: pc.def, dir: pc.dir, fields })));
}

/**
 * The decoded fields restricted to the keys of the generated ones, recursively: what the decoder adds
 * (derived annotations, contact ids, counts the encoder computed) is left out of the comparison.
 */
export function pickLike(actual: unknown, expected: unknown): unknown {
  if (Array.isArray(expected) && Array.isArray(actual)) return actual.map((a, i) => (i < expected.length ? pickLike(a, expected[i]) : a));
  if (isRecord(expected) && isRecord(actual)) {
    return Object.fromEntries(Object.keys(expected).map((k) => [k, k in actual ? pickLike(actual[k], expected[k]) : undefined]));
  }
  return actual;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

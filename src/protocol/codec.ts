/**
 * Decoding and encoding whole frames through the packet table. `decodeFrame` never throws: whatever it
 * cannot read becomes a warning, and what it could read is returned.
 */
import { PayloadReader, PayloadWriter } from './buffer.js';
import { decodeFields, encodeFields, fieldContext, usualDir, type Direction, type Fields, type Layout } from './fields.js';
import { readingTexts } from './text-fields.js';
import { HEADER_OFFSETS, HEADER_SIZE, MRIM_MAGIC, encodeHeader, formatProto, parseProto, protoMinor, reservedHex, ulAt } from './header.js';
import { layoutOf, packetByCode, packetByName, packetName, type FieldsOf, type PacketDef, type PacketFields, type PacketName } from './packets/index.js';
import type { Encoding } from './text.js';

export interface DecodedFrame {
  msg: number;
  /** Packet name from the table, or `UNKNOWN(0x....)`. */
  type: string;
  dir: Direction;
  /** Header protocol version as `major.minor`. */
  proto: string;
  /** Minor version the layout was chosen by (the session's, or the header's when unknown). */
  minor: number;
  seq: number;
  dlen: number;
  from: number;
  fromPort: number;
  /** Reserved header bytes as hex (often garbage from real clients; kept for re-encoding). */
  reserved: string;
  /** Which wire form, for packets that have several (USER_STATUS short/extended…). */
  variant?: string;
  fields: Fields;
  /** String encodings that differ from the field's rule, by field path, for byte-exact re-encoding. Empty: shared, frozen. */
  enc: Record<string, Encoding>;
  /** Payload bytes after the last field (hex), kept for re-encoding. */
  trailing?: string;
  /** What is wrong with the frame: a clean session of real peers has none. Empty: one shared frozen array. */
  warnings: string[];
  /** What is worth knowing but not wrong: known peer quirks, encoding fallbacks the reference prescribes. Empty: shared, frozen. */
  notes: string[];
  /** With `spans: true`: the bytes of each field in the frame, `[start, end)` by field path. */
  spans?: Record<string, [number, number]>;
}

/** A decoded frame of a known packet type, its fields typed by the table. */
export type FrameOf<N extends PacketName> = DecodedFrame & { type: N; fields: FieldsOf<N> };

export interface DecodeOptions {
  dir: Direction;
  /** Protocol minor version of the session (the client's); defaults to the frame header's. */
  minor?: number;
  /** Also report where each field's bytes are (hexdump highlighting, masking secrets in raw bytes). */
  spans?: boolean;
  /**
   * `lazy`: text fields are not made into strings while decoding, for a reader that mostly never looks
   * at them (a recorder). Their bytes are checked instead, and the frame is all a full decode gives —
   * type, lengths, warnings, notes, encodings — except that its texts are made when read: `fields` is then
   * a Proxy of the record that decodes each top-level field's texts on its first read (from the frame's
   * bytes, which must stay unchanged), so it reads, spreads and serialises as the full decode's (but
   * cannot be `structuredClone`d: clone `{ ...fields }`). Text whose check fails (bytes a full decode
   * warns about or reads in another encoding) is decoded at once, as by `full` (the default).
   */
  strings?: 'full' | 'lazy';
}

/**
 * Where a frame's warnings, notes and encodings are collected. Nearly every frame has none: its lists are
 * then the shared empty ones below, and the collectors serve the next frame (taken while in use, so a
 * decode inside a decode gets collectors of its own).
 */
interface Collectors {
  warnings: string[];
  notes: string[];
  enc: Record<string, Encoding>;
}
let spare: Collectors | undefined;
const NONE = Object.freeze([]) as unknown as string[];
const NO_ENC = Object.freeze({}) as Record<string, Encoding>;

/** Gives the frame what its collectors hold, and takes back for later frames what stayed empty. */
function handOver(out: DecodedFrame, k: Collectors): DecodedFrame {
  if (k.warnings.length) {
    out.warnings = k.warnings;
    k.warnings = [];
  }
  if (k.notes.length) {
    out.notes = k.notes;
    k.notes = [];
  }
  for (const _ in k.enc) {
    out.enc = k.enc;
    k.enc = {};
    break;
  }
  spare = k;
  return out;
}

export function decodeFrame(frame: Buffer, opts: DecodeOptions): DecodedFrame {
  if (frame.length < HEADER_SIZE) {
    return {
      msg: 0,
      type: 'TRUNCATED',
      dir: opts.dir,
      proto: '0.0',
      minor: opts.minor ?? 0,
      seq: 0,
      dlen: 0,
      from: 0,
      fromPort: 0,
      reserved: '',
      fields: { data: frame.toString('hex') },
      enc: NO_ENC,
      warnings: [`frame shorter than the 44-byte header (${frame.length} bytes)`],
      notes: NONE,
    };
  }
  const k = spare ?? { warnings: [], notes: [], enc: {} };
  spare = undefined;
  const { warnings, notes } = k;
  // Named offsets, not headerField: a load by a varying key is what a frame's header cost most; its
  // length checked, byte by byte.
  const magic = ulAt(frame, HEADER_OFFSETS.magic);
  if (magic !== MRIM_MAGIC) warnings.push(`bad magic 0x${magic.toString(16)}`);
  const proto = ulAt(frame, HEADER_OFFSETS.proto);
  const msg = ulAt(frame, HEADER_OFFSETS.msg);
  const dlen = ulAt(frame, HEADER_OFFSETS.dlen);
  const minor = opts.minor ?? protoMinor(proto);
  const available = frame.length - HEADER_SIZE;
  if (dlen > available) warnings.push(`length beyond payload: dlen ${dlen} but ${available} bytes present`);
  if (dlen < available) warnings.push(`${available - dlen} bytes after the frame's dlen ignored`);
  const payloadEnd = HEADER_SIZE + Math.min(dlen, available);

  const fields: Fields = {};
  const c = fieldContext(minor, opts.dir, fields, k.enc, warnings, notes);
  if (opts.spans) c.spans = { frame, ranges: {} };
  if (opts.strings === 'lazy') c.lazy = { texts: 0 };
  const def = packetByCode(msg);
  const out: DecodedFrame = {
    msg,
    type: def ? def.name : packetName(msg),
    dir: opts.dir,
    proto: formatProto(proto),
    minor,
    seq: ulAt(frame, HEADER_OFFSETS.seq),
    dlen,
    from: ulAt(frame, HEADER_OFFSETS.from),
    fromPort: ulAt(frame, HEADER_OFFSETS.fromPort),
    reserved: reservedHex(frame),
    fields,
    enc: NO_ENC,
    warnings: NONE,
    notes: NONE,
  };
  if (!def) {
    warnings.push(`unknown packet type 0x${msg.toString(16)}`);
    if (payloadEnd > HEADER_SIZE) fields.data = frame.toString('hex', HEADER_SIZE, payloadEnd);
    return handOver(out, k);
  }
  if (def.dir !== 'both' && def.dir !== opts.dir) {
    warnings.push(`${def.name} is a ${def.dir === 'c2s' ? 'client' : 'server'} packet but was sent by the ${opts.dir === 'c2s' ? 'client' : 'server'}`);
  }
  // Read in place: field offsets are the frame's own (spans need no translation).
  const r = new PayloadReader(frame, HEADER_SIZE, payloadEnd);
  const { variant, layout } = layoutOf(def, c, r);
  if (variant) out.variant = variant;
  decodeFields(layout, r, c);
  if (!r.atEnd) {
    const remaining = r.remaining;
    out.trailing = r.rest().toString('hex');
    const known = def.knownTrailing?.find((k) => k.bytes === out.trailing);
    if (known) notes.push(`${remaining} trailing bytes ignored (${known.by})`);
    else warnings.push(`${remaining} trailing bytes ignored`);
  }
  // Texts left as bytes are made when read, each top-level field's on its first read (derive's too).
  if (c.lazy?.texts) out.fields = readingTexts(fields);
  const derived = def.derive?.(out.fields, c);
  if (derived) Object.assign(fields, derived);
  if (c.spans) out.spans = c.spans.ranges;
  return handOver(out, k);
}

/** The field layout a decoded frame was read with: its packet's, in the wire form it was found in. */
export function frameLayout(d: DecodedFrame): Layout {
  const def = packetByCode(d.msg);
  return def?.variants?.find((v) => v.name === d.variant)?.layout ?? def?.layout ?? [];
}

export interface EncodeOptions {
  /** Header protocol version: a number (`0x10017`) or `"1.23"`. */
  proto: number | string;
  seq?: number;
  dir?: Direction;
  /** Minor version for layouts and encodings; defaults to the header's. */
  minor?: number;
  enc?: Record<string, Encoding>;
  /** Hex bytes appended after the last field. */
  trailing?: string;
  from?: number;
  fromPort?: number;
  /** Reserved header bytes (16, hex). */
  reserved?: string;
  /** Receives what the encoder notes: text its field's encoding could not carry. */
  notes?: string[];
}

/** A packet type outside the table, as `decodeFrame` names it. */
export type UnknownPacketName = `UNKNOWN(0x${string})`;

function resolveDef(type: string | number): PacketDef | undefined {
  return typeof type === 'number' ? packetByCode(type) : packetByName(type);
}

const declared = new WeakMap<PacketDef, Set<string>>();

/** The top-level keys a packet's layouts (every wire form) give a record. */
function declaredKeys(def: PacketDef): Set<string> {
  let keys = declared.get(def);
  if (!keys) {
    keys = new Set();
    for (const layout of def.variants?.map((v) => v.layout) ?? [def.layout ?? []]) {
      for (const spec of layout) for (const k of spec.spread ? (spec.type.keys ?? []) : [spec.name]) keys.add(k);
    }
    declared.set(def, keys);
  }
  return keys;
}

/** A key the layout does not declare would be silently dropped: it is a mistake, said at once. */
function checkKeys(def: PacketDef, fields: Fields): void {
  const keys = declaredKeys(def);
  const stray = Object.keys(fields).filter((k) => !keys.has(k));
  if (stray.length) {
    throw new Error(`${def.name} has no field${stray.length > 1 ? 's' : ''} ${stray.map((k) => `"${k}"`).join(', ')} (its fields: ${[...keys].join(', ') || 'none'})`);
  }
}

interface PayloadOptions {
  minor: number;
  dir?: Direction;
  enc?: Record<string, Encoding>;
  /** Receives what the encoder notes: text its field's encoding could not carry. */
  notes?: string[];
}

/** Encodes just the payload of a packet. Throws on an unknown packet name or field (a programming error). */
export function encodePayload<N extends PacketName>(type: N, fields: PacketFields<N>, opts: PayloadOptions): Buffer;
export function encodePayload(type: number | UnknownPacketName, fields: Fields, opts: PayloadOptions): Buffer;
export function encodePayload(type: string | number, fields: Fields, opts: PayloadOptions): Buffer {
  const def = resolveDef(type);
  const w = new PayloadWriter();
  if (!def) {
    if (typeof type === 'string' && !/^UNKNOWN\(0x[0-9a-f]+\)$/i.test(type)) throw new Error(`unknown packet type "${type}"`);
    if (typeof fields.data === 'string') w.bytes(Buffer.from(fields.data, 'hex'));
    return w.finish();
  }
  checkKeys(def, fields);
  const c = fieldContext(opts.minor, opts.dir ?? usualDir(def.dir), fields, { ...(opts.enc ?? {}) }, [], opts.notes ?? []);
  encodeFields(layoutOf(def, c).layout, w, c);
  return w.finish();
}

/** Builds a whole frame (header + payload) for any packet of the table. */
export function encodePacket<N extends PacketName>(type: N, fields: PacketFields<N> | undefined, opts: EncodeOptions): Buffer;
export function encodePacket(type: number | UnknownPacketName, fields: Fields, opts: EncodeOptions): Buffer;
export function encodePacket(type: string | number, fields: Fields = {}, opts: EncodeOptions): Buffer {
  const proto = typeof opts.proto === 'string' ? parseProto(opts.proto) : opts.proto;
  const msg = typeof type === 'number' ? type : (packetByName(type)?.code ?? unknownCode(type));
  let payload = encodePayload(msg, fields, { minor: opts.minor ?? protoMinor(proto), dir: opts.dir, enc: opts.enc, notes: opts.notes });
  if (opts.trailing) payload = Buffer.concat([payload, Buffer.from(opts.trailing, 'hex')]);
  const header = encodeHeader({
    proto,
    seq: opts.seq ?? 0,
    msg,
    dlen: payload.length,
    from: opts.from,
    fromPort: opts.fromPort,
    reserved: opts.reserved ? Buffer.from(opts.reserved, 'hex') : undefined,
  });
  return Buffer.concat([header, payload]);
}

function unknownCode(type: string): number {
  const m = /^UNKNOWN\((0x[0-9a-f]+)\)$/i.exec(type);
  if (!m) throw new Error(`unknown packet type "${type}"`);
  return Number(m[1]);
}

/** Re-encodes a decoded frame; for every well-formed frame the result equals the original bytes. */
export function reencode(d: DecodedFrame): Buffer {
  // The type names the packet (a decoded frame's is its msg's): an edited frame may have a new one.
  const def = packetByName(d.type) ?? packetByCode(d.msg);
  // Decode-only annotations (derived values) are not part of the wire form.
  const fields = def ? Object.fromEntries(Object.entries(d.fields).filter(([k]) => declaredKeys(def).has(k))) : d.fields;
  return encodePacket(def?.code ?? d.msg, fields, {
    proto: d.proto,
    seq: d.seq,
    dir: d.dir,
    minor: d.minor,
    enc: d.enc,
    trailing: d.trailing,
    from: d.from,
    fromPort: d.fromPort,
    reserved: d.reserved,
  });
}

/** The fixed 44-byte MRIM header (reference §3.1). All fields little-endian. */
export const MRIM_MAGIC = 0xdeadbeef;
export const MAGIC_BYTES = Buffer.from([0xef, 0xbe, 0xad, 0xde]);
export const HEADER_SIZE = 44;

export interface Header {
  /** (major << 16) | minor */
  proto: number;
  seq: number;
  msg: number;
  dlen: number;
  from: number;
  fromPort: number;
  /** 16 bytes that should be zero but real clients fill with garbage; kept for byte-exact re-encoding. */
  reserved: Buffer;
}

/** Where each UL of the header lies; the reserved bytes follow at 28. */
const OFFSETS = { magic: 0, proto: 4, seq: 8, msg: 12, dlen: 16, from: 20, fromPort: 24 } as const;
const RESERVED_OFFSET = 28;
/** Every field of the header and its byte offset, for decoders generated in other languages. */
export const HEADER_OFFSETS = { ...OFFSETS, reserved: RESERVED_OFFSET } as const;

export type HeaderNumber = keyof typeof OFFSETS;

/** Where each header field lies in a frame, `[start, end)` (the hexdump's highlighting of the header). */
export const HEADER_SPANS: Readonly<Record<HeaderNumber | 'reserved', readonly [number, number]>> = {
  ...(Object.fromEntries(Object.entries(OFFSETS).map(([name, at]) => [name, [at, at + 4]])) as Record<HeaderNumber, [number, number]>),
  reserved: [RESERVED_OFFSET, HEADER_SIZE],
};

/**
 * The UL at `at`, which the caller knows lies inside `buf`: byte by byte, as readUInt32LE's argument
 * checks cost more than the read (a frame's header and payload read a dozen).
 */
export function ulAt(buf: Buffer, at: number): number {
  return buf[at] + buf[at + 1] * 0x100 + buf[at + 2] * 0x10000 + buf[at + 3] * 0x1000000;
}

/** One number of a header, read in place: what framing and version learning need, without a copy. */
export function headerField(buf: Buffer, name: HeaderNumber, offset = 0): number {
  // Checked once, then read byte by byte (ulAt): version learning asks for every frame.
  const at = offset + OFFSETS[name];
  if (buf[at + 3] === undefined || at < 0) return buf.readUInt32LE(at); // out of range: its error
  return ulAt(buf, at);
}

/** A copy of a frame with one number of its header changed (replay renumbers recorded frames). */
export function withHeaderField(frame: Buffer, name: HeaderNumber, value: number): Buffer {
  const out = Buffer.from(frame);
  out.writeUInt32LE(value >>> 0, OFFSETS[name]);
  return out;
}

/** Reads a header; the caller has checked that 44 bytes are available. The magic is not validated here. */
export function decodeHeader(buf: Buffer, offset = 0): Header {
  return {
    proto: buf.readUInt32LE(offset + OFFSETS.proto),
    seq: buf.readUInt32LE(offset + OFFSETS.seq),
    msg: buf.readUInt32LE(offset + OFFSETS.msg),
    dlen: buf.readUInt32LE(offset + OFFSETS.dlen),
    from: buf.readUInt32LE(offset + OFFSETS.from),
    fromPort: buf.readUInt32LE(offset + OFFSETS.fromPort),
    reserved: Buffer.from(buf.subarray(offset + RESERVED_OFFSET, offset + HEADER_SIZE)),
  };
}

const ZERO_RESERVED = '0'.repeat(32);

/** The reserved bytes as hex, read in place; zero, as most peers send them, without building a string. */
export function reservedHex(frame: Buffer): string {
  for (let i = RESERVED_OFFSET; i < HEADER_SIZE; i++) if (frame[i] !== 0) return frame.toString('hex', RESERVED_OFFSET, HEADER_SIZE);
  return ZERO_RESERVED;
}

export function encodeHeader(h: Partial<Header> & Pick<Header, 'proto' | 'seq' | 'msg' | 'dlen'>): Buffer {
  const out = Buffer.alloc(HEADER_SIZE);
  out.writeUInt32LE(MRIM_MAGIC, 0);
  const put = (name: HeaderNumber, v: number) => out.writeUInt32LE(v >>> 0, OFFSETS[name]);
  put('proto', h.proto);
  put('seq', h.seq);
  put('msg', h.msg);
  put('dlen', h.dlen);
  put('from', h.from ?? 0);
  put('fromPort', h.fromPort ?? 0);
  if (h.reserved) h.reserved.copy(out, RESERVED_OFFSET, 0, 16);
  return out;
}

export function protoMajor(proto: number): number {
  return proto >>> 16;
}

export function protoMinor(proto: number): number {
  return proto & 0xffff;
}

export function makeProto(major: number, minor: number): number {
  return ((major << 16) | minor) >>> 0;
}

const PROTO_TEXT = new Map<number, string>();

/** `0x00010017` → `"1.23"` (the versions in use are few: each is written once). */
export function formatProto(proto: number): string {
  let text = PROTO_TEXT.get(proto);
  if (text === undefined) {
    text = `${protoMajor(proto)}.${protoMinor(proto)}`;
    // Garbage headers carry any number: only the real versions are kept.
    if (proto >>> 16 <= 1 && (proto & 0xffff) <= 64) PROTO_TEXT.set(proto, text);
  }
  return text;
}

/** `"1.23"` (or `"23"`, meaning 1.23) → `0x00010017`; throws a readable error otherwise. */
export function parseProto(text: string): number {
  const m = /^(?:(\d+)\.)?(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`invalid protocol version "${text}": expected MAJOR.MINOR, e.g. 1.8 or 1.23`);
  const major = m[1] === undefined ? 1 : Number(m[1]);
  const minor = Number(m[2]);
  if (major > 0xffff || minor > 0xffff) throw new Error(`invalid protocol version "${text}": out of range`);
  return makeProto(major, minor);
}

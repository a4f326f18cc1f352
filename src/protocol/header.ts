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

export function hasMagic(buf: Buffer, offset = 0): boolean {
  return buf.length - offset >= 4 && buf.readUInt32LE(offset) === MRIM_MAGIC;
}

/** Reads a header; the caller has checked that 44 bytes are available. The magic is not validated here. */
export function decodeHeader(buf: Buffer, offset = 0): Header {
  return {
    proto: buf.readUInt32LE(offset + 4),
    seq: buf.readUInt32LE(offset + 8),
    msg: buf.readUInt32LE(offset + 12),
    dlen: buf.readUInt32LE(offset + 16),
    from: buf.readUInt32LE(offset + 20),
    fromPort: buf.readUInt32LE(offset + 24),
    reserved: Buffer.from(buf.subarray(offset + 28, offset + 44)),
  };
}

export function encodeHeader(h: Partial<Header> & Pick<Header, 'proto' | 'seq' | 'msg' | 'dlen'>): Buffer {
  const out = Buffer.alloc(HEADER_SIZE);
  out.writeUInt32LE(MRIM_MAGIC, 0);
  out.writeUInt32LE(h.proto >>> 0, 4);
  out.writeUInt32LE(h.seq >>> 0, 8);
  out.writeUInt32LE(h.msg >>> 0, 12);
  out.writeUInt32LE(h.dlen >>> 0, 16);
  out.writeUInt32LE((h.from ?? 0) >>> 0, 20);
  out.writeUInt32LE((h.fromPort ?? 0) >>> 0, 24);
  if (h.reserved) h.reserved.copy(out, 28, 0, 16);
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

/** `0x00010017` → `"1.23"` */
export function formatProto(proto: number): string {
  return `${protoMajor(proto)}.${protoMinor(proto)}`;
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

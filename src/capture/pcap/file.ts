/** Capture file formats: libpcap (either byte order, µs or ns) and pcapng, read into timestamped link-layer frames. */

/** The input is not a capture file, or its file header / first pcapng block is damaged. */
export class CaptureFormatError extends Error {
  override readonly name = 'CaptureFormatError';
  constructor(
    readonly detail: string,
    readonly offset: number,
  ) {
    super(`${detail} (at file offset ${offset})`);
  }
}

export type CaptureFormat = 'pcap' | 'pcapng';

/** Damage found after the file header; packets before it are still returned. */
export interface CaptureWarning {
  offset: number;
  message: string;
}

interface CaptureRecord {
  /** File offset of the record header / block. */
  offset: number;
  /** Milliseconds since the Unix epoch, fractional. */
  time: number;
  linkType: number;
  /** Captured bytes; shorter than origLen when the snap length cut the packet. */
  data: Buffer;
  origLen: number;
}

interface CaptureRecords {
  format: CaptureFormat;
  records: CaptureRecord[];
  warnings: CaptureWarning[];
}

const PCAP_HEADER_LEN = 24;
const PCAP_RECORD_HEADER_LEN = 16;
/** libpcap's own upper bound; anything larger in a record header means the file is damaged. */
const MAX_SNAPLEN = 262144;
/** libpcap's magic as read little-endian: the file's byte order and time resolution. */
const PCAP_MAGICS = new Map([
  [0xa1b2c3d4, { littleEndian: true, nanoseconds: false }],
  [0xd4c3b2a1, { littleEndian: false, nanoseconds: false }],
  [0xa1b23c4d, { littleEndian: true, nanoseconds: true }],
  [0x4d3cb2a1, { littleEndian: false, nanoseconds: true }],
]);
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_IDB = 1;
const PCAPNG_SPB = 3;
const PCAPNG_EPB = 6;
const PCAPNG_BOM = 0x1a2b3c4d;

/** A view, not a copy: callers may pass any Uint8Array, and the readers need Buffer's integer reads. */
export function asBuffer(input: Uint8Array): Buffer {
  return Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
}

const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** Splits a capture into its packet records; damage after the file header becomes a warning, not an error. */
export function readCaptureRecords(input: Uint8Array): CaptureRecords {
  const buf = asBuffer(input);
  if (buf.length < 4) {
    throw new CaptureFormatError(`not a pcap or pcapng file: only ${buf.length} bytes`, 0);
  }
  const magic = buf.readUInt32LE(0);
  if (magic === PCAPNG_SHB) return readPcapng(buf);
  const pcap = PCAP_MAGICS.get(magic);
  if (pcap) return readPcap(buf, pcap.littleEndian, pcap.nanoseconds);
  throw new CaptureFormatError(`not a pcap or pcapng file: unknown magic bytes ${buf.subarray(0, 4).toString('hex')}`, 0);
}

/** Whether the first bytes of a file are a pcap or pcapng magic (for telling file types apart). */
export function hasCaptureMagic(head: Buffer): boolean {
  if (head.length < 4) return false;
  const magic = head.readUInt32LE(0);
  return magic === PCAPNG_SHB || PCAP_MAGICS.has(magic);
}

function readPcap(buf: Buffer, le: boolean, nano: boolean): CaptureRecords {
  if (buf.length < PCAP_HEADER_LEN) {
    throw new CaptureFormatError(
      `truncated pcap file header: ${buf.length} of ${PCAP_HEADER_LEN} bytes`,
      0,
    );
  }
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const snaplen = u32(16);
  // The upper bits of the link-type field carry FCS information, not the link type.
  const linkType = u32(20) & 0xffff;
  const maxCaplen = Math.max(snaplen, MAX_SNAPLEN);
  const records: CaptureRecord[] = [];
  const warnings: CaptureWarning[] = [];
  let off = PCAP_HEADER_LEN;
  while (off < buf.length) {
    const left = buf.length - off;
    if (left < PCAP_RECORD_HEADER_LEN) {
      warnings.push({
        offset: off,
        message: `truncated record header: ${left} of ${PCAP_RECORD_HEADER_LEN} bytes`,
      });
      break;
    }
    const sec = u32(off);
    const frac = u32(off + 4);
    const caplen = u32(off + 8);
    const origLen = u32(off + 12);
    // A real frame is never 0 bytes long; a zero or oversized length means the rest is not records.
    if (origLen === 0 || caplen > maxCaplen) {
      warnings.push({
        offset: off,
        message: `damaged record header (caplen ${caplen}, len ${origLen}); ignoring the remaining ${left} bytes`,
      });
      break;
    }
    if (caplen > left - PCAP_RECORD_HEADER_LEN) {
      warnings.push({
        offset: off,
        message: `truncated record: ${caplen} bytes captured but only ${left - PCAP_RECORD_HEADER_LEN} left in the file`,
      });
      break;
    }
    const start = off + PCAP_RECORD_HEADER_LEN;
    records.push({
      offset: off,
      time: sec * 1000 + (nano ? frac / 1e6 : frac / 1e3),
      linkType,
      data: buf.subarray(start, start + caplen),
      origLen,
    });
    off = start + caplen;
  }
  return { format: 'pcap', records, warnings };
}

interface PcapngInterface {
  linkType: number;
  snaplen: number;
  /** Timestamp units per second: 10^n or 2^n from if_tsresol (default 10^6). */
  unitsPerSecond: bigint;
  /** if_tsoffset, seconds added to every timestamp. */
  offsetSeconds: number;
}

function readPcapng(buf: Buffer): CaptureRecords {
  const records: CaptureRecord[] = [];
  const warnings: CaptureWarning[] = [];
  let le = true;
  let interfaces: PcapngInterface[] = [];
  let lastTime = 0;
  let off = 0;
  const u16 = (o: number): number => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  // Damage in the very first block means this is no usable pcapng file: an error, not a warning.
  const fail = (offset: number, message: string): void => {
    if (off === 0) throw new CaptureFormatError(message, offset);
    warnings.push({ offset, message });
  };

  while (off < buf.length) {
    const left = buf.length - off;
    if (left < 12) {
      fail(off, `truncated pcapng block header: ${left} of 12 bytes`);
      break;
    }
    // The SHB type reads the same in both byte orders; its byte-order magic sets the order.
    if (buf.readUInt32LE(off) === PCAPNG_SHB) {
      const bom = buf.readUInt32LE(off + 8);
      if (bom === PCAPNG_BOM) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else {
        fail(off + 8, `bad pcapng byte-order magic ${hex32(bom)}`);
        break;
      }
    }
    const type = u32(off);
    const len = u32(off + 4);
    if (len < 12 || len % 4 !== 0) {
      fail(off, `damaged pcapng block: type ${hex32(type)}, length ${len}`);
      break;
    }
    if (len > left) {
      fail(off, `truncated pcapng block: type ${hex32(type)}, length ${len} but only ${left} bytes left`);
      break;
    }
    if (u32(off + len - 4) !== len) {
      fail(off, `damaged pcapng block: trailing length ${u32(off + len - 4)} differs from ${len}`);
      break;
    }
    const body = off + 8;
    const bodyEnd = off + len - 4;

    if (type === PCAPNG_SHB) {
      if (bodyEnd - body < 16) {
        fail(off, `section header block too short (${len} bytes)`);
        break;
      }
      const major = u16(body + 4);
      if (major !== 1) {
        fail(body + 4, `unsupported pcapng version ${major}.${u16(body + 6)}`);
        break;
      }
      interfaces = [];
    } else if (type === PCAPNG_IDB) {
      if (bodyEnd - body < 8) {
        warnings.push({ offset: off, message: `interface description block too short (${len} bytes)` });
      } else {
        interfaces.push(readInterface(buf, body, bodyEnd, u16, u32, le));
      }
    } else if (type === PCAPNG_EPB) {
      const fields = bodyEnd - body >= 20;
      const iface = fields ? interfaces[u32(body)] : undefined;
      const caplen = fields ? u32(body + 12) : 0;
      if (!fields || caplen > bodyEnd - body - 20) {
        warnings.push({ offset: off, message: `enhanced packet block too short for its data (${len} bytes)` });
      } else if (!iface) {
        warnings.push({ offset: off, message: `packet for undeclared interface ${u32(body)}` });
      } else {
        lastTime = pcapngTime(u32(body + 4), u32(body + 8), iface);
        records.push({
          offset: off,
          time: lastTime,
          linkType: iface.linkType,
          data: buf.subarray(body + 20, body + 20 + caplen),
          origLen: u32(body + 16),
        });
      }
    } else if (type === PCAPNG_SPB) {
      const iface = interfaces[0];
      if (!iface || bodyEnd - body < 4) {
        warnings.push({ offset: off, message: 'simple packet block without interface 0 or too short' });
      } else {
        const origLen = u32(body);
        let caplen = Math.min(origLen, bodyEnd - body - 4);
        if (iface.snaplen > 0) caplen = Math.min(caplen, iface.snaplen);
        // An SPB has no timestamp; reusing the previous one keeps capture order meaningful.
        records.push({
          offset: off,
          time: lastTime,
          linkType: iface.linkType,
          data: buf.subarray(body + 4, body + 4 + caplen),
          origLen,
        });
      }
    }
    off += len;
  }
  return { format: 'pcapng', records, warnings };
}

function readInterface(
  buf: Buffer,
  body: number,
  end: number,
  u16: (o: number) => number,
  u32: (o: number) => number,
  le: boolean,
): PcapngInterface {
  const iface: PcapngInterface = {
    linkType: u16(body),
    snaplen: u32(body + 4),
    unitsPerSecond: 1_000_000n,
    offsetSeconds: 0,
  };
  let o = body + 8;
  while (o + 4 <= end) {
    const code = u16(o);
    const optLen = u16(o + 2);
    const value = o + 4;
    if (code === 0 || value + optLen > end) break;
    if (code === 9 && optLen >= 1) {
      const r = buf[value]!;
      // High bit set: negative power of two; otherwise negative power of ten.
      iface.unitsPerSecond = r & 0x80 ? 1n << BigInt(r & 0x7f) : 10n ** BigInt(r);
    } else if (code === 14 && optLen >= 8) {
      iface.offsetSeconds = Number(le ? buf.readBigInt64LE(value) : buf.readBigInt64BE(value));
    }
    o = value + ((optLen + 3) & ~3);
  }
  return iface;
}

function pcapngTime(high: number, low: number, iface: PcapngInterface): number {
  // 64-bit unit counts overflow a double at nanosecond resolution, so split them exactly first.
  const units = (BigInt(high) << 32n) | BigInt(low);
  const seconds = units / iface.unitsPerSecond;
  const frac = units % iface.unitsPerSecond;
  return (
    (Number(seconds) + iface.offsetSeconds) * 1000 +
    (Number(frac) * 1000) / Number(iface.unitsPerSecond)
  );
}

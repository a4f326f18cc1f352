/**
 * Writing pcapng: a section header, one raw-IP interface, and enhanced packet blocks holding IPv4 or
 * IPv6 packets with TCP segments built here (checksums included), so any pcap tool reads them as
 * ordinary TCP conversations.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { LINKTYPE, TCP_FLAG } from './packet.js';

const BLOCK = { SHB: 0x0a0d0d0a, IDB: 1, EPB: 6 } as const;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT = { END: 0, COMMENT: 1, SHB_USERAPPL: 4, IF_TSRESOL: 9 } as const;

function option(code: number, value: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16LE(code, 0);
  head.writeUInt16LE(value.length, 2);
  return Buffer.concat([head, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
}

function block(type: number, body: Buffer): Buffer {
  const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
  const len = padded.length + 12;
  const head = Buffer.alloc(8);
  head.writeUInt32LE(type, 0);
  head.writeUInt32LE(len, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(len, 0);
  return Buffer.concat([head, padded, tail]);
}

/** The start of a pcapng file: a little-endian section written by `application`, one raw-IP interface in µs. */
export function pcapngHeader(application: string): Buffer {
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeUInt16LE(0, 6);
  // Section length unknown (-1): the file is written as it goes.
  shb.fill(0xff, 8, 16);
  const idb = Buffer.alloc(8);
  idb.writeUInt16LE(LINKTYPE.RAW, 0);
  idb.writeUInt32LE(0, 4);
  return Buffer.concat([
    block(BLOCK.SHB, Buffer.concat([shb, option(OPT.SHB_USERAPPL, Buffer.from(application)), option(OPT.END, Buffer.alloc(0))])),
    block(BLOCK.IDB, Buffer.concat([idb, option(OPT.IF_TSRESOL, Buffer.from([6])), option(OPT.END, Buffer.alloc(0))])),
  ]);
}

/** One packet of interface 0 at `timeMs` (ms since the epoch), with an optional comment. */
export function packetBlock(timeMs: number, data: Buffer, comment?: string): Buffer {
  const units = BigInt(Math.round(timeMs * 1000));
  const head = Buffer.alloc(20);
  head.writeUInt32LE(0, 0);
  head.writeUInt32LE(Number(units >> 32n) >>> 0, 4);
  head.writeUInt32LE(Number(units & 0xffffffffn), 8);
  head.writeUInt32LE(data.length, 12);
  head.writeUInt32LE(data.length, 16);
  const padded = Buffer.concat([data, Buffer.alloc((4 - (data.length % 4)) % 4)]);
  const opts = comment ? Buffer.concat([option(OPT.COMMENT, Buffer.from(comment).subarray(0, 65000)), option(OPT.END, Buffer.alloc(0))]) : Buffer.alloc(0);
  return block(BLOCK.EPB, Buffer.concat([head, padded, opts]));
}

/** Bytes of an IP address: 4 for IPv4, 16 for IPv6 (an IPv4 one written as IPv4-mapped when `v6`). */
export function addressBytes(ip: string, v6: boolean): Buffer {
  if (isIPv4(ip)) {
    const v4 = Buffer.from(ip.split('.').map(Number));
    return v6 ? Buffer.concat([Buffer.alloc(10), Buffer.from([0xff, 0xff]), v4]) : v4;
  }
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  const [head, tail = ''] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const groups = (s: string | undefined): number[] => {
    if (!s) return [];
    const parts = s.split(':');
    const last = parts.at(-1)!;
    // An embedded IPv4 tail (::ffff:1.2.3.4) is two groups.
    if (last.includes('.')) {
      const b = last.split('.').map(Number);
      parts.splice(-1, 1, ((b[0]! << 8) | b[1]!).toString(16), ((b[2]! << 8) | b[3]!).toString(16));
    }
    return parts.map((g) => parseInt(g, 16));
  };
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = ip.includes('::') ? [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t] : h;
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

function checksum(parts: Buffer[]): number {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i + 1 < p.length; i += 2) sum += p.readUInt16BE(i);
    if (p.length % 2) sum += p[p.length - 1]! << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface SegmentSpec {
  src: Buffer;
  dst: Buffer;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  payload?: Buffer;
}

/** An IPv4 (4-byte addresses) or IPv6 packet carrying one TCP segment, checksums filled in. */
export function tcpPacket(s: SegmentSpec): Buffer {
  const payload = s.payload ?? Buffer.alloc(0);
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(s.sport, 0);
  tcp.writeUInt16BE(s.dport, 2);
  tcp.writeUInt32BE(s.seq >>> 0, 4);
  tcp.writeUInt32BE(s.flags & TCP_FLAG.ACK ? s.ack >>> 0 : 0, 8);
  tcp[12] = 5 << 4;
  tcp[13] = s.flags;
  tcp.writeUInt16BE(65535, 14);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(tcp.length + payload.length, 0);
  const v6 = s.src.length === 16;
  const pseudo = v6 ? [s.src, s.dst, length, Buffer.from([0, 0, 0, 6])] : [s.src, s.dst, Buffer.from([0, 6]), length.subarray(2)];
  tcp.writeUInt16BE(checksum([...pseudo, tcp, payload]), 16);
  if (v6) {
    const ip = Buffer.alloc(40);
    ip[0] = 0x60;
    ip.writeUInt16BE(tcp.length + payload.length, 4);
    ip[6] = 6;
    ip[7] = 64;
    s.src.copy(ip, 8);
    s.dst.copy(ip, 24);
    return Buffer.concat([ip, tcp, payload]);
  }
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + tcp.length + payload.length, 2);
  ip.writeUInt16BE(0x4000, 6);
  ip[8] = 64;
  ip[9] = 6;
  s.src.copy(ip, 12);
  s.dst.copy(ip, 16);
  ip.writeUInt16BE(checksum([ip]), 10);
  return Buffer.concat([ip, tcp, payload]);
}

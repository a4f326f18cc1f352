/**
 * Reader for libpcap and pcapng capture files with TCP stream reassembly.
 *
 * Layers, each usable on its own:
 *   readCaptureRecords  container (pcap / pcapng) -> link-layer frames with timestamps
 *   decodeTcpPacket     link layer + IPv4/IPv6 + TCP -> one TCP segment, or why it was ignored
 *   reassembleTcp       TCP segments -> connections with per-direction ordered payload chunks
 *   parseCapture        all three; readPcapFile is the same for a path
 * Everything except readPcapFile is pure and works on an in-memory buffer.
 * All times are milliseconds since the Unix epoch, fractional.
 */
import { readFile } from 'node:fs/promises';
import type { Direction } from '../../protocol/fields.js';
import { asBuffer, readCaptureRecords, type CaptureFormat, type CaptureWarning } from './file.js';

export { CaptureFormatError, type CaptureWarning } from './file.js';

export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export const TCP_FLAG = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

export interface Endpoint {
  addr: string;
  port: number;
}

export interface TcpSegment {
  time: number;
  src: Endpoint;
  dst: Endpoint;
  seq: number;
  ack: number;
  flags: number;
  /** Captured payload bytes. */
  payload: Buffer;
  /** Payload length according to the IP header; larger than payload.length if the capture was cut short. */
  payloadLength: number;
}

export type DecodedPacket = { tcp: TcpSegment } | { ignored: string };

export interface StreamChunk {
  dir: Direction;
  /**
   * Capture time at which these bytes became in-order: a segment's own time, or, for a segment
   * that arrived ahead of a hole, the time of the segment that filled the hole.
   */
  time: number;
  /**
   * Position of data[0] in this direction's byte stream: 0 is the first byte after the SYN, or the
   * first byte seen if the capture missed the SYN.
   */
  offset: number;
  data: Buffer;
}

export interface StreamGap {
  dir: Direction;
  /** Stream offset of the first missing byte. */
  offset: number;
  length: number;
  /** Capture time of the first data seen after the hole (or of the FIN that revealed it). */
  time: number;
}

export interface TcpConnection {
  /** 1-based, in order of each connection's first packet. */
  id: number;
  client: Endpoint;
  server: Endpoint;
  startTime: number;
  chunks: StreamChunk[];
  gaps: StreamGap[];
  /** 'rst' if either side reset, 'fin' once both sides sent FIN, otherwise 'open'. */
  closed: 'fin' | 'rst' | 'open';
}

export interface Capture {
  format: CaptureFormat;
  /** Packet records read from the file. */
  packets: number;
  tcpSegments: number;
  /** Packets that were not usable TCP, counted by reason (e.g. "udp", "non-ip", "ip-fragment"). */
  ignored: Record<string, number>;
  connections: TcpConnection[];
  warnings: CaptureWarning[];
}

// ---------------------------------------------------------------------------------------------
// Link layer, IP, TCP

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const IPPROTO_NAMES: Record<number, string> = { 1: 'icmp', 17: 'udp', 58: 'icmpv6' };

/** Returns the ethertype of the network-layer payload and where it starts, or why it is ignored. */
function networkLayer(linkType: number, f: Buffer): { ethertype: number; off: number } | string {
  switch (linkType) {
    case LINKTYPE.ETHERNET: {
      if (f.length < 14) return 'malformed';
      let off = 12;
      let type = f.readUInt16BE(off);
      // 802.1Q and 802.1ad tags sit between the MAC addresses and the real ethertype.
      while ((type === 0x8100 || type === 0x88a8) && off + 6 <= f.length) {
        off += 4;
        type = f.readUInt16BE(off);
      }
      return { ethertype: type, off: off + 2 };
    }
    case LINKTYPE.LINUX_SLL:
      return f.length < 16 ? 'malformed' : { ethertype: f.readUInt16BE(14), off: 16 };
    case LINKTYPE.LINUX_SLL2:
      return f.length < 20 ? 'malformed' : { ethertype: f.readUInt16BE(0), off: 20 };
    case LINKTYPE.RAW: {
      if (f.length < 1) return 'malformed';
      const version = f[0]! >> 4;
      if (version === 4) return { ethertype: ETHERTYPE_IPV4, off: 0 };
      if (version === 6) return { ethertype: ETHERTYPE_IPV6, off: 0 };
      return 'non-ip';
    }
    case LINKTYPE.IPV4:
      return { ethertype: ETHERTYPE_IPV4, off: 0 };
    case LINKTYPE.IPV6:
      return { ethertype: ETHERTYPE_IPV6, off: 0 };
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP: {
      if (f.length < 4) return 'malformed';
      // LOOP stores the address family big-endian; NULL stores it in the capturing host's order.
      let af = f.readUInt32BE(0);
      if (linkType === LINKTYPE.NULL && af > 0xffff) af = f.readUInt32LE(0);
      if (af === 2) return { ethertype: ETHERTYPE_IPV4, off: 4 };
      // AF_INET6 differs per OS: Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30.
      if (af === 10 || af === 24 || af === 28 || af === 30) return { ethertype: ETHERTYPE_IPV6, off: 4 };
      return 'non-ip';
    }
    default:
      return `link-type-${linkType}`;
  }
}

function formatIpv4(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952 text form: lowercase, longest run of two or more zero groups shortened to "::". */
function formatIpv6(b: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const text = (g: number[]): string => g.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return text(groups);
  return `${text(groups.slice(0, bestStart))}::${text(groups.slice(bestStart + bestLen))}`;
}

export function decodeTcpPacket(linkType: number, frame: Uint8Array, time: number): DecodedPacket {
  const f = asBuffer(frame);
  const net = networkLayer(linkType, f);
  if (typeof net === 'string') return { ignored: net };
  let { off } = net;
  let proto: number;
  let src: string;
  let dst: string;
  /** End of the IP payload according to the IP header (may lie beyond the captured bytes). */
  let declaredEnd: number;

  if (net.ethertype === ETHERTYPE_IPV4) {
    if (f.length < off + 20 || f[off]! >> 4 !== 4) return { ignored: 'malformed' };
    const ihl = (f[off]! & 0x0f) * 4;
    const total = f.readUInt16BE(off + 2);
    if (ihl < 20 || f.length < off + ihl) return { ignored: 'malformed' };
    if (f.readUInt16BE(off + 6) & 0x3fff) return { ignored: 'ip-fragment' };
    proto = f[off + 9]!;
    src = formatIpv4(f.subarray(off + 12, off + 16));
    dst = formatIpv4(f.subarray(off + 16, off + 20));
    // Total length 0 appears on hosts capturing before TCP segmentation offload; trust the capture then.
    if (total === 0) declaredEnd = f.length;
    else if (total < ihl) return { ignored: 'malformed' };
    else declaredEnd = off + total;
    off += ihl;
  } else if (net.ethertype === ETHERTYPE_IPV6) {
    if (f.length < off + 40 || f[off]! >> 4 !== 6) return { ignored: 'malformed' };
    const payloadLen = f.readUInt16BE(off + 4);
    proto = f[off + 6]!;
    src = formatIpv6(f.subarray(off + 8, off + 24));
    dst = formatIpv6(f.subarray(off + 24, off + 40));
    declaredEnd = payloadLen === 0 ? f.length : off + 40 + payloadLen;
    off += 40;
    // Walk extension headers: hop-by-hop, routing, fragment, authentication, destination options.
    while (proto === 0 || proto === 43 || proto === 44 || proto === 51 || proto === 60) {
      if (f.length < off + 8) return { ignored: 'malformed' };
      if (proto === 44) {
        if (f.readUInt16BE(off + 2) & 0xfff9) return { ignored: 'ip-fragment' };
        proto = f[off]!;
        off += 8;
      } else {
        const extLen = proto === 51 ? (f[off + 1]! + 2) * 4 : (f[off + 1]! + 1) * 8;
        proto = f[off]!;
        off += extLen;
      }
    }
  } else {
    return { ignored: 'non-ip' };
  }

  if (proto !== 6) return { ignored: IPPROTO_NAMES[proto] ?? `ip-proto-${proto}` };
  const end = Math.min(declaredEnd, f.length);
  if (end - off < 20) return { ignored: 'malformed' };
  const dataOff = (f[off + 12]! >> 4) * 4;
  if (dataOff < 20 || off + dataOff > end) return { ignored: 'malformed' };
  return {
    tcp: {
      time,
      src: { addr: src, port: f.readUInt16BE(off) },
      dst: { addr: dst, port: f.readUInt16BE(off + 2) },
      seq: f.readUInt32BE(off + 4),
      ack: f.readUInt32BE(off + 8),
      flags: f[off + 13]!,
      payload: f.subarray(off + dataOff, end),
      payloadLength: declaredEnd - off - dataOff,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// TCP reassembly

interface Pending {
  off: number;
  data: Buffer;
  time: number;
}

/** One direction of a connection, keyed by its sender. */
interface HalfStream {
  sender: Endpoint;
  receiver: Endpoint;
  /** Sequence number of stream offset 0: ISN + 1, or the first sequence number seen without a SYN. */
  base: number | undefined;
  /** ISN from a SYN, used to tell a retransmitted SYN from a new connection on the same ports. */
  isn: number | undefined;
  /** Stream offset of the next byte expected. */
  next: number;
  /** Segments that arrived ahead of a hole, kept until the hole is filled or the capture ends. */
  pending: Pending[];
  lastTime: number;
  fin: { offset: number; time: number } | undefined;
}

interface Emitted {
  half: HalfStream;
  time: number;
  offset: number;
  data: Buffer;
}

interface ConnectionState {
  id: number;
  startTime: number;
  halves: Map<string, HalfStream>;
  /** Sender of a SYN without ACK (the client), or of a SYN+ACK (the server). */
  synFrom: string | undefined;
  synAckFrom: string | undefined;
  rst: boolean;
  emitted: Emitted[];
  gaps: Array<{ half: HalfStream; offset: number; length: number; time: number }>;
}

const endpointKey = (e: Endpoint): string => `${e.addr}|${e.port}`;

function isClosed(c: ConnectionState): boolean {
  if (c.rst) return true;
  return c.halves.size === 2 && [...c.halves.values()].every((h) => h.fin !== undefined);
}

export function reassembleTcp(segments: Iterable<TcpSegment>): TcpConnection[] {
  const all: ConnectionState[] = [];
  const current = new Map<string, ConnectionState>();

  for (const seg of segments) {
    const srcKey = endpointKey(seg.src);
    const dstKey = endpointKey(seg.dst);
    const key = srcKey < dstKey ? `${srcKey}-${dstKey}` : `${dstKey}-${srcKey}`;
    const isSyn = (seg.flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.SYN;
    let conn = current.get(key);
    if (conn && isSyn) {
      const isn = conn.halves.get(srcKey)?.isn;
      // Ports reused: a fresh SYN after the old connection ended, or with a different ISN.
      if (isClosed(conn) || (isn !== undefined && isn !== seg.seq)) conn = undefined;
    }
    if (!conn) {
      conn = {
        id: all.length + 1,
        startTime: seg.time,
        halves: new Map(),
        synFrom: undefined,
        synAckFrom: undefined,
        rst: false,
        emitted: [],
        gaps: [],
      };
      all.push(conn);
      current.set(key, conn);
    }
    let half = conn.halves.get(srcKey);
    if (!half) {
      half = {
        sender: seg.src,
        receiver: seg.dst,
        base: undefined,
        isn: undefined,
        next: 0,
        pending: [],
        lastTime: -Infinity,
        fin: undefined,
      };
      conn.halves.set(srcKey, half);
    }
    addSegment(conn, half, seg, srcKey);
  }

  return all.map(finish);
}

function addSegment(conn: ConnectionState, half: HalfStream, seg: TcpSegment, srcKey: string): void {
  const syn = (seg.flags & TCP_FLAG.SYN) !== 0;
  if (syn) {
    if (seg.flags & TCP_FLAG.ACK) conn.synAckFrom ??= srcKey;
    else conn.synFrom ??= srcKey;
    if (half.isn === undefined) {
      half.isn = seg.seq;
      // A SYN seen after data (odd capture order) must not move offset 0.
      half.base ??= (seg.seq + 1) >>> 0;
    }
  }
  if (seg.flags & TCP_FLAG.RST) {
    // Data on a RST is a diagnostic text, not part of the stream.
    conn.rst = true;
    return;
  }
  const firstSeq = syn ? (seg.seq + 1) >>> 0 : seg.seq;
  half.base ??= firstSeq;
  // Unwrap the 32-bit sequence number relative to where the stream is now.
  const expectedSeq = (half.base + half.next) >>> 0;
  const off = half.next + ((firstSeq - expectedSeq) | 0);
  if (seg.flags & TCP_FLAG.FIN && !half.fin) {
    half.fin = { offset: off + seg.payloadLength, time: seg.time };
  }
  if (seg.payload.length > 0) accept(conn, half, { off, data: seg.payload, time: seg.time });
}

function accept(conn: ConnectionState, half: HalfStream, p: Pending): void {
  if (p.off > half.next) {
    half.pending.push(p);
    return;
  }
  deliver(conn, half, p);
  drain(conn, half);
}

/** Emits the part of p that is new, dropping bytes already delivered (retransmissions, overlaps). */
function deliver(conn: ConnectionState, half: HalfStream, p: Pending): void {
  const end = p.off + p.data.length;
  if (end <= half.next) return;
  const data = p.data.subarray(half.next - p.off);
  const time = Math.max(p.time, half.lastTime);
  conn.emitted.push({ half, time, offset: half.next, data });
  half.next = end;
  half.lastTime = time;
}

function drain(conn: ConnectionState, half: HalfStream): void {
  half.pending.sort((a, b) => a.off - b.off);
  while (half.pending.length > 0 && half.pending[0]!.off <= half.next) {
    deliver(conn, half, half.pending.shift()!);
  }
}

function finish(conn: ConnectionState): TcpConnection {
  for (const half of conn.halves.values()) {
    // The capture is over, so holes still open are real losses: record them and move past.
    while (half.pending.length > 0) {
      half.pending.sort((a, b) => a.off - b.off);
      const first = half.pending[0]!;
      conn.gaps.push({ half, offset: half.next, length: first.off - half.next, time: first.time });
      half.next = first.off;
      drain(conn, half);
    }
    if (half.fin && half.fin.offset > half.next) {
      conn.gaps.push({ half, offset: half.next, length: half.fin.offset - half.next, time: half.fin.time });
    }
  }

  // The client sent the SYN; without a handshake the higher (ephemeral-looking) port is the client.
  const [firstHalf] = conn.halves.values();
  let client: Endpoint;
  let server: Endpoint;
  const synHalf = conn.synFrom ?? conn.synAckFrom;
  if (synHalf !== undefined) {
    const h = conn.halves.get(synHalf)!;
    [client, server] = synHalf === conn.synFrom ? [h.sender, h.receiver] : [h.receiver, h.sender];
  } else if (firstHalf!.receiver.port > firstHalf!.sender.port) {
    [client, server] = [firstHalf!.receiver, firstHalf!.sender];
  } else {
    [client, server] = [firstHalf!.sender, firstHalf!.receiver];
  }
  const clientKey = endpointKey(client);
  const dirOf = (h: HalfStream): Direction => (endpointKey(h.sender) === clientKey ? 'c2s' : 's2c');

  // Array sort is stable, so equal times keep emission order (and thus stream order per direction).
  const chunks = [...conn.emitted]
    .sort((a, b) => a.time - b.time)
    .map((e) => ({ dir: dirOf(e.half), time: e.time, offset: e.offset, data: e.data }));
  return {
    id: conn.id,
    client,
    server,
    startTime: conn.startTime,
    chunks,
    gaps: conn.gaps.map((g) => ({ dir: dirOf(g.half), offset: g.offset, length: g.length, time: g.time })),
    closed: conn.rst ? 'rst' : isClosed(conn) ? 'fin' : 'open',
  };
}

// ---------------------------------------------------------------------------------------------
// Whole files

export function parseCapture(input: Uint8Array): Capture {
  const { format, records, warnings } = readCaptureRecords(input);
  const ignored: Record<string, number> = {};
  const segments: TcpSegment[] = [];
  for (const r of records) {
    const d = decodeTcpPacket(r.linkType, r.data, r.time);
    if ('tcp' in d) segments.push(d.tcp);
    else ignored[d.ignored] = (ignored[d.ignored] ?? 0) + 1;
  }
  return {
    format,
    packets: records.length,
    tcpSegments: segments.length,
    ignored,
    connections: reassembleTcp(segments),
    warnings,
  };
}

export async function readPcapFile(path: string): Promise<Capture> {
  return parseCapture(await readFile(path));
}

/** Concatenates one direction's chunks. Check `conn.gaps` first: bytes on both sides of a gap are joined. */
export function streamBytes(conn: TcpConnection, dir: Direction): Buffer {
  return Buffer.concat(conn.chunks.filter((c) => c.dir === dir).map((c) => c.data));
}

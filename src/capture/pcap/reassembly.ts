/** TCP segments to connections: each direction's bytes in order, retransmissions dropped, holes reported as gaps. */
import type { Direction } from '../../protocol/fields.js';
import { TCP_FLAG, type Endpoint, type TcpSegment } from './packet.js';

interface StreamChunk {
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

interface StreamGap {
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
  pending: PendingHeap;
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

/**
 * Segments waiting behind a hole, lowest stream offset first. A binary heap: a hostile or badly
 * reordered capture can hold many of them, and re-sorting on every arrival would be quadratic.
 */
class PendingHeap {
  private readonly items: Pending[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Pending | undefined {
    return this.items[0];
  }

  push(p: Pending): void {
    const a = this.items;
    a.push(p);
    for (let i = a.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (a[parent]!.off <= a[i]!.off) break;
      [a[parent], a[i]] = [a[i]!, a[parent]!];
      i = parent;
    }
  }

  pop(): Pending | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < a.length && a[l]!.off < a[min]!.off) min = l;
      if (r < a.length && a[r]!.off < a[min]!.off) min = r;
      if (min === i) break;
      [a[min], a[i]] = [a[i]!, a[min]!];
      i = min;
    }
    return top;
  }
}

const endpointKey = (e: Endpoint): string => `${e.addr}|${e.port}`;

function isClosed(c: ConnectionState): boolean {
  if (c.rst) return true;
  return c.halves.size === 2 && [...c.halves.values()].every((h) => h.fin !== undefined);
}

/** Groups segments into connections (a fresh SYN on ports in use starts a new one) in order of first packet. */
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
        pending: new PendingHeap(),
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
  while (half.pending.size > 0 && half.pending.peek()!.off <= half.next) {
    deliver(conn, half, half.pending.pop()!);
  }
}

function finish(conn: ConnectionState): TcpConnection {
  for (const half of conn.halves.values()) {
    // The capture is over, so holes still open are real losses: record them and move past.
    while (half.pending.size > 0) {
      const first = half.pending.peek()!;
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

/** Concatenates one direction's chunks. Check `conn.gaps` first: bytes on both sides of a gap are joined. */
export function streamBytes(conn: TcpConnection, dir: Direction): Buffer {
  return Buffer.concat(conn.chunks.filter((c) => c.dir === dir).map((c) => c.data));
}

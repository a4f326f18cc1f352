/**
 * A pcap/pcapng file as a session log: every reassembled TCP connection is decoded like a proxied one
 * (SessionDecoder per connection, redirect links between connections), and the events of all
 * connections come out interleaved by capture time.
 */
import type { Direction } from '../protocol/fields.js';
import type { Endpoint } from '../net/endpoint.js';
import type { TapEvent } from '../tap/events.js';
import { TapHub, type ConnectionTap } from '../tap/tap.js';
import type { Capture, TcpConnection } from './pcap/index.js';

type Step =
  | { kind: 'open'; time: number; conn: TcpConnection }
  | { kind: 'data'; time: number; conn: TcpConnection; dir: Direction; data: Buffer }
  | { kind: 'gap'; time: number; conn: TcpConnection; dir: Direction; offset: number; length: number };

const CLOSE_REASON: Record<TcpConnection['closed'], string> = {
  fin: 'both sides closed',
  rst: 'reset',
  open: 'still open when the capture ended',
};

const endpoint = (e: { addr: string; port: number }): Endpoint => ({ host: e.addr, port: e.port });

/**
 * The times the steps of a connection are ordered by: their capture times, except that a clock that
 * jumps back (a damaged or merged capture) never puts a step before the connection's start, nor before
 * what precedes it in its direction's stream — the bytes are decoded in stream order whatever the clock.
 */
function streamTimes(conn: TcpConnection): { gaps: number[]; chunks: number[] } {
  const out = { gaps: conn.gaps.map((g) => g.time), chunks: conn.chunks.map((c) => c.time) };
  // In stream order per direction; a hole sorts just before the bytes after it.
  const items = [
    ...conn.gaps.map((g, i) => ({ dir: g.dir, at: g.offset + g.length - 0.5, list: out.gaps, i })),
    ...conn.chunks.map((c, i) => ({ dir: c.dir, at: c.offset, list: out.chunks, i })),
  ].sort((a, b) => a.at - b.at);
  const latest: Record<Direction, number> = { c2s: conn.startTime, s2c: conn.startTime };
  for (const { dir, list, i } of items) list[i] = latest[dir] = Math.max(latest[dir], Number.isFinite(list[i]) ? list[i] : latest[dir]);
  return out;
}

export function decodePcap(capture: Capture, sink: (ev: TapEvent) => void, opts: { maxFrameSize?: number } = {}): void {
  const hub = new TapHub(sink, { maxFrameSize: opts.maxFrameSize });
  const steps: Step[] = [];
  for (const conn of capture.connections) {
    steps.push({ kind: 'open', time: conn.startTime, conn });
    const times = streamTimes(conn);
    // A hole goes before the chunk after it (same time), so the note precedes the resynchronisation.
    conn.gaps.forEach((g, i) => steps.push({ kind: 'gap', time: times.gaps[i], conn, dir: g.dir, offset: g.offset, length: g.length }));
    conn.chunks.forEach((c, i) => steps.push({ kind: 'data', time: times.chunks[i], conn, dir: c.dir, data: c.data }));
  }
  // Stable: equal times keep the order above, and each direction's chunks stay in stream order.
  steps.sort((a, b) => a.time - b.time);

  const lastStep = new Map<TcpConnection, number>();
  steps.forEach((s, i) => lastStep.set(s.conn, i));
  const taps = new Map<TcpConnection, ConnectionTap>();
  steps.forEach((step, i) => {
    if (step.kind === 'open') {
      taps.set(step.conn, hub.open(step.conn.id, endpoint(step.conn.client), endpoint(step.conn.server), step.time));
    } else if (step.kind === 'gap') {
      taps.get(step.conn)!.note(`${step.length} bytes missing from the capture at stream offset ${step.offset}: decoding resumes at the next frame`, 'warn', step.time, step.dir);
    } else {
      taps.get(step.conn)!.push(step.dir, step.data, step.time);
    }
    // A connection closes in the log where its last packet was, not after every other connection.
    if (lastStep.get(step.conn) === i) taps.get(step.conn)!.close(CLOSE_REASON[step.conn.closed], step.time);
  });
}

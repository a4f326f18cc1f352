/**
 * A pcap/pcapng file as a session log: every reassembled TCP connection is decoded like a proxied one
 * (SessionDecoder per connection, redirect links between connections), and the events of all
 * connections come out interleaved by capture time. A connection that carries no MRIM (no frame and no
 * redirector answer) is listed — its opening, a note on what it carried, its close — but not decoded.
 */
import type { Direction } from '../protocol/fields.js';
import { formatEndpoint, type Endpoint } from '../net/endpoint.js';
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

/** The earliest time of a connection: packets may be stamped out of order (a SYN stamped after its data). */
function firstTime(conn: TcpConnection): number {
  let t = conn.startTime;
  for (const { time } of [...conn.chunks, ...conn.gaps]) if (Number.isFinite(time)) t = Math.min(t, time);
  return t;
}

/** Whether an event shows the connection is MRIM: a frame, or a redirector's `host:port` answer. */
function isMrimEvent(ev: TapEvent): boolean {
  return ev.event.kind === 'frame' || (ev.event.kind === 'redirect' && ev.event.host !== undefined);
}

/** A short description of what a non-MRIM stream starts with: `TLS`, a quoted first line, or hex. */
function streamStart(conn: TcpConnection): string {
  const first = conn.chunks.find((c) => c.data.length > 0)?.data;
  if (!first) return 'no data';
  if (first[0] === 0x16 && first[1] === 0x03) return 'starts like TLS';
  const line = first.subarray(0, 48).toString('latin1').split(/\r?\n/)[0]!;
  if (line.length >= 3 && /^[\x20-\x7e]+$/.test(line)) return `starts with ${JSON.stringify(line)}`;
  return `starts with ${first.subarray(0, 8).toString('hex')}`;
}

/**
 * The times the steps of a connection are ordered by: their capture times, except that a clock that
 * jumps back (a damaged or merged capture) never puts a step before the connection's start, nor before
 * what precedes it in its direction's stream — the bytes are decoded in stream order whatever the clock.
 */
function streamTimes(conn: TcpConnection, start: number): { gaps: number[]; chunks: number[] } {
  const out = { gaps: conn.gaps.map((g) => g.time), chunks: conn.chunks.map((c) => c.time) };
  // In stream order per direction; a hole sorts just before the bytes after it.
  const items = [
    ...conn.gaps.map((g, i) => ({ dir: g.dir, at: g.offset + g.length - 0.5, list: out.gaps, i })),
    ...conn.chunks.map((c, i) => ({ dir: c.dir, at: c.offset, list: out.chunks, i })),
  ].sort((a, b) => a.at - b.at);
  const latest: Record<Direction, number> = { c2s: start, s2c: start };
  for (const { dir, list, i } of items) list[i] = latest[dir] = Math.max(latest[dir], Number.isFinite(list[i]) ? list[i] : latest[dir]);
  return out;
}

export function decodePcap(capture: Capture, sink: (ev: TapEvent) => void, opts: { maxFrameSize?: number } = {}): void {
  const decoded: TapEvent[] = [];
  const hub = new TapHub((ev) => decoded.push(ev), { maxFrameSize: opts.maxFrameSize });
  const steps: Step[] = [];
  for (const conn of capture.connections) {
    const start = firstTime(conn);
    steps.push({ kind: 'open', time: start, conn });
    const times = streamTimes(conn, start);
    // A hole goes before the chunk after it (same time), so the note precedes the resynchronisation.
    conn.gaps.forEach((g, i) => steps.push({ kind: 'gap', time: times.gaps[i], conn, dir: g.dir, offset: g.offset, length: g.length }));
    conn.chunks.forEach((c, i) => steps.push({ kind: 'data', time: times.chunks[i], conn, dir: c.dir, data: c.data }));
  }
  // Stable: equal times keep the order above (the open first), and each direction's chunks stay in stream order.
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

  const mrim = new Set(decoded.filter(isMrimEvent).map((ev) => ev.conn));
  const byId = new Map(capture.connections.map((c) => [c.id, c]));
  for (const ev of decoded) {
    if (mrim.has(ev.conn)) sink(ev);
    else if (ev.event.kind === 'open') {
      sink(ev);
      const conn = byId.get(ev.conn)!;
      const message = `no MRIM on ${formatEndpoint(ev.client)} ⇄ ${ev.server ? formatEndpoint(ev.server) : '?'} (${streamStart(conn)}): listed, not decoded`;
      sink({ ...ev, event: { kind: 'note', time: ev.event.time, level: 'info', message } });
    } else if (ev.event.kind === 'close') sink(ev);
  }
}

/**
 * Recordings for the sans-IO replay tests, written as a script of frames instead of captured: each
 * line is encoded through the packet table, decoded again by a SessionDecoder per connection (so
 * reply links and indices are what a capture gets), and wrapped in the events a capture holds.
 */
import { encodePacket } from '../../src/protocol/codec.js';
import type { Fields } from '../../src/protocol/fields.js';
import type { PacketName } from '../../src/protocol/packets/index.js';
import { SessionDecoder } from '../../src/protocol/session.js';
import { buildRecording, type Recording } from '../../src/replay/recording.js';
import type { AnyEvent, TapEvent } from '../../src/tap/events.js';

export interface Line {
  conn: number;
  dir: 'c2s' | 's2c';
  type: PacketName;
  fields?: Fields;
  /** A server frame: the script line (index) of the client frame it answers; it copies that seq. */
  answers?: number;
  /** ms after the start; default: 10 ms after the previous line. */
  at?: number;
}

export const T0 = Date.parse('2026-01-01T12:00:00Z');

/** `closedBy` per connection: which side the capture says closed first (default the client). */
export function recordingOf(lines: Line[], opts: { proto?: Record<number, string>; closedBy?: Record<number, 'client' | 'server'> } = {}): Recording {
  const events: TapEvent[] = [];
  const decoders = new Map<number, SessionDecoder>();
  const seqs = new Map<string, number>();
  const sent: number[] = [];
  const client = (conn: number) => ({ host: '127.0.0.1', port: 40000 + conn });
  const server = { host: '127.0.0.1', port: 2041 };
  const push = (conn: number, event: AnyEvent) => events.push({ conn, client: client(conn), server, event });
  let at = 0;
  lines.forEach((line, i) => {
    at = line.at ?? at + 10;
    if (!decoders.has(line.conn)) {
      decoders.set(line.conn, new SessionDecoder());
      push(line.conn, { kind: 'open', time: T0 + at, client: client(line.conn), server });
    }
    const key = `${line.conn}${line.dir}`;
    const seq = line.answers !== undefined ? sent[line.answers] : (seqs.get(key) ?? 0) + 1;
    if (line.answers === undefined) seqs.set(key, seq);
    sent[i] = seq;
    const raw = encodePacket(line.type, line.fields as never, { proto: opts.proto?.[line.conn] ?? '1.21', seq, dir: line.dir });
    for (const ev of decoders.get(line.conn)!.push(line.dir, raw, T0 + at)) push(line.conn, ev);
  });
  for (const conn of decoders.keys()) {
    const by = opts.closedBy?.[conn] ?? 'client';
    push(conn, { kind: 'close', time: T0 + at + 5, bytes: { c2s: 0, s2c: 0 }, durationMs: at, reason: `${by} closed first` });
  }
  return buildRecording(events);
}

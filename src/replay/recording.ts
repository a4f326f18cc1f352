/**
 * A capture seen as sessions to replay, sans-IO: each connection with its frames in both directions (in
 * recorded order, each linked to the frame of the other side it answered), its account and version,
 * the redirect it followed, who ended it, and what of it cannot be replayed (encrypted parts, garbage).
 */
import type { Endpoint } from '../net/endpoint.js';
import type { DecodedFrame } from '../protocol/codec.js';
import type { Direction } from '../protocol/fields.js';
import { formatProto, headerField } from '../protocol/header.js';
import type { TapEvent } from '../tap/events.js';

export interface RecordedFrame {
  conn: number;
  dir: Direction;
  /** When it went by (ms since epoch). */
  time: number;
  /** Its place among all events of the capture (events of one millisecond keep the capture's order). */
  order: number;
  /** Its index in the connection (both directions), as the capture numbers it. */
  index: number;
  raw: Buffer;
  frame: DecodedFrame;
  /** The recorded frame of the other side that this one answered (by the packet table's reply rules). */
  answers?: RecordedFrame;
}

/** How a recorded connection ended: the proxy says which side closed first; a pcap only that both did. */
export type ClosedBy = 'client' | 'server' | 'unknown';

export interface RecordedConnection {
  conn: number;
  client: Endpoint;
  server?: Endpoint;
  opened: number;
  openedOrder: number;
  /** The connection whose redirector answer this one followed. */
  follows?: number;
  /** The redirector's answer, when this connection was a redirector lookup. */
  redirect?: Endpoint;
  /** The account of its login packet. */
  login?: string;
  /** The protocol value of the client's headers (its first frame). */
  proto?: number;
  frames: RecordedFrame[];
  closed?: { time: number; order: number; by: ClosedBy; reason: string };
  /** After STARTTLS the capture holds only encrypted bytes of it (recorded without TLS interception). */
  encrypted: boolean;
  /** What was on the wire but cannot be replayed (garbage, notes of the recorder). */
  notes: string[];
}

export interface Recording {
  connections: RecordedConnection[];
  /** Time of the first event. */
  start: number;
}

/** An MRIM session, as opposed to a redirector lookup or a refused SOCKS request. */
export const isSession = (c: RecordedConnection): boolean => c.frames.length > 0;

/** The client frames that are keep-alives: sent on the live peer's period, never compared. */
export const isKeepAlive = (f: RecordedFrame | DecodedFrame): boolean => ('frame' in f ? f.frame.type : f.type) === 'PING';

function closedBy(reason: string): ClosedBy {
  if (reason.startsWith('server')) return 'server';
  if (reason.startsWith('client')) return 'client';
  return 'unknown';
}

/** Builds the recording from a capture's events, in file order. */
export function buildRecording(events: Iterable<TapEvent>): Recording {
  const byConn = new Map<number, RecordedConnection>();
  let start: number | undefined;
  let order = 0;
  const connOf = (ev: TapEvent, time: number): RecordedConnection => {
    let c = byConn.get(ev.conn);
    if (!c) {
      c = { conn: ev.conn, client: ev.client, opened: time, openedOrder: order, frames: [], encrypted: false, notes: [] };
      byConn.set(ev.conn, c);
    }
    if (ev.server) c.server ??= ev.server;
    return c;
  };
  for (const ev of events) {
    const e = ev.event;
    const time = e.time ?? start ?? 0;
    start ??= time;
    order++;
    const c = connOf(ev, time);
    switch (e.kind) {
      case 'open':
        c.opened = e.time;
        c.openedOrder = order;
        c.server = e.server;
        if (e.follows !== undefined) c.follows = e.follows;
        break;
      case 'frame': {
        const frame: RecordedFrame = { conn: ev.conn, dir: e.dir, time, order, index: e.index, raw: e.raw, frame: e.frame };
        const answered = e.replyTo && c.frames.find((f) => f.index === e.replyTo!.index);
        if (answered) frame.answers = answered;
        if (e.dir === 'c2s') c.proto ??= headerField(e.raw, 'proto');
        const login = ev.login ?? e.login;
        if (login) c.login ??= login;
        c.frames.push(frame);
        break;
      }
      case 'redirect':
        if (e.dir === 's2c' && e.host !== undefined && e.port !== undefined) c.redirect = { host: e.host, port: e.port };
        break;
      case 'tls':
        c.encrypted = true;
        break;
      case 'close':
        c.closed = { time: e.time, order, by: closedBy(e.reason), reason: e.reason };
        break;
      case 'garbage':
        c.notes.push(`${e.dir === 'c2s' ? 'client' : 'server'} bytes that are not a frame (${e.bytes.length + (e.skipped ?? 0)} B: ${e.reason}) are not replayed`);
        break;
      case 'compressed':
        c.notes.push('the rest of the server stream was compressed in the recording: not replayed');
        break;
      case 'note':
        if (e.level === 'warn') c.notes.push(`recorder: ${e.message}`);
        break;
      default:
        break;
    }
  }
  return { connections: [...byConn.values()].sort((a, b) => a.conn - b.conn), start: start ?? 0 };
}

/** The sessions of a recording a replay plays: all, or those asked for by number (a CaptureSelectionError otherwise). */
export function selectSessions(recording: Recording, conns?: readonly number[]): RecordedConnection[] {
  const sessions = recording.connections.filter(isSession);
  if (!conns?.length) {
    if (!sessions.length) throw new CaptureSelectionError('the capture holds no MRIM session (no frames)');
    return sessions;
  }
  return conns.map((n) => {
    const c = recording.connections.find((x) => x.conn === n);
    if (!c) throw new CaptureSelectionError(`the capture has no connection #${n} (it has ${recording.connections.map((x) => `#${x.conn}`).join(', ') || 'none'})`);
    if (!isSession(c)) throw new CaptureSelectionError(`connection #${n} is ${c.redirect ? 'a redirector lookup' : 'not an MRIM session (no frames)'}: nothing to replay`);
    return c;
  });
}

/** The capture does not hold what the replay was asked to play. */
export class CaptureSelectionError extends Error {}

/** `#2 alice@mail.ru v1.8` */
export function describeSession(c: RecordedConnection): string {
  const version = c.proto !== undefined ? ` v${formatProto(c.proto)}` : '';
  return `#${c.conn}${c.login ? ` ${c.login}` : ''}${version}`;
}

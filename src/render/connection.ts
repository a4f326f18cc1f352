/**
 * What a connection amounts to so far, updated one event at a time: its peers, account, protocol
 * version and client, how long it lasted, how many frames and problems it had. The web view's
 * connection list and the sequence diagram's titles both read it.
 */
import { formatEndpoint } from '../net/endpoint.js';
import { packetByCode } from '../protocol/packets/index.js';
import type { TapEvent } from '../tap/events.js';

export interface ConnectionInfo {
  conn: number;
  client: string;
  server?: string;
  /** Where the SOCKS request asked to go, when that differs from `server` (names, --map). */
  target?: string;
  login?: string;
  /** The client's header version, from its login packet (or its latest frame before one). */
  proto?: string;
  /** What the client says it is: the login packet's user agent, or its description. */
  userAgent?: string;
  /** Times (ms) of the first and the latest event. */
  first: number;
  last: number;
  durationMs: number;
  frames: number;
  /** Decoder warnings, skipped bytes and warning notes. */
  warnings: number;
  bytes?: { c2s: number; s2c: number };
  state: 'connecting' | 'open' | 'closed' | 'refused';
  /** Why it closed, or why the SOCKS request (or a reverse connection's upstream) was refused. */
  reason?: string;
  /** The connection whose redirector answer this one followed. */
  follows?: number;
}

/** Updates `info` (a new one for a connection's first event) with one of its events, and returns it. */
export function summarize(info: ConnectionInfo | undefined, ev: TapEvent): ConnectionInfo {
  const e = ev.event;
  const time = e.time;
  const s: ConnectionInfo = info ?? { conn: ev.conn, client: formatEndpoint(ev.client), first: time ?? 0, last: time ?? 0, durationMs: 0, frames: 0, warnings: 0, state: 'connecting' };
  if (ev.server) s.server = formatEndpoint(ev.server);
  if (ev.login) s.login = ev.login;
  if (time !== undefined) {
    if (!info) s.first = time;
    s.last = Math.max(s.last, time);
    s.durationMs = s.last - s.first;
  }
  switch (e.kind) {
    case 'frame': {
      s.frames++;
      s.warnings += e.frame.warnings.length;
      if (e.dir !== 'c2s') break;
      const login = packetByCode(e.frame.msg)?.session?.login;
      if (login) {
        s.proto = e.frame.proto;
        const f = e.frame.fields;
        const agent = [f.userAgent, f.description].find((v): v is string => typeof v === 'string' && v !== '');
        if (agent) s.userAgent = agent;
      } else if (!s.login) s.proto = e.frame.proto;
      break;
    }
    case 'garbage':
      s.warnings++;
      break;
    case 'note':
      if (e.level === 'warn') s.warnings++;
      break;
    case 'connect': {
      const target = formatEndpoint(e.target);
      if (target !== s.server) s.target = target;
      const why = e.listener ? 'upstream connection failed' : `SOCKS reply ${e.reply}`;
      if (e.reply !== 0) Object.assign(s, { state: 'refused', reason: `${why}${e.error ? ` (${e.error})` : ''}` });
      break;
    }
    case 'auth-refused':
      Object.assign(s, { state: 'refused', reason: e.methods ? 'no acceptable authentication method' : `username/password refused for ${e.user}` });
      break;
    case 'open':
      s.state = 'open';
      if (e.follows !== undefined) s.follows = e.follows;
      break;
    case 'close':
      Object.assign(s, { state: 'closed', reason: e.reason, bytes: e.bytes, durationMs: Math.max(s.durationMs, e.durationMs) });
      break;
  }
  return s;
}

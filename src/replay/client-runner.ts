/**
 * Client replay against a live server: the sockets of ClientPlayback's decisions. Each recorded session
 * gets a connection of the reference client's transport (direct, SOCKS5, after a redirector lookup),
 * frames go out one per write through its Link (which renumbers them and matches replies), PINGs go on
 * the live server's period, and STARTTLS switches the socket when the live server accepts it.
 */
import { Link } from '../client/link.js';
import { openSocket, resolveRedirect, type SocksProxy, type TransportOptions } from '../client/transport.js';
import { formatEndpoint, type Endpoint } from '../net/endpoint.js';
import type { DecodedFrame } from '../protocol/codec.js';
import type { ReplyInfo, Switch } from '../protocol/conversation.js';
import { headerField } from '../protocol/header.js';
import type { Comparer } from './compare.js';
import { ClientPlayback, type Action } from './playback.js';
import type { RecordedConnection } from './recording.js';
import type { SessionReport, Timing } from './report.js';
import type { Credentials } from './rewrite.js';

export interface ClientReplayOptions {
  /** Where sessions connect; with `redirector` too, only those that did not follow a redirect in the recording. */
  server?: Endpoint;
  /** Ask this redirector for the server address first (for every session when there is no `server`). */
  redirector?: Endpoint;
  socks?: SocksProxy;
  timing: Timing;
  /** How long to wait for an expected frame, a connection, a redirector answer. */
  timeoutMs: number;
  comparer: Comparer;
  credentials?: Credentials;
  /** After each step: steps done, of all. */
  onProgress?: (done: number, total: number) => void;
}

interface Connection {
  link: Link;
  pingTimer?: NodeJS.Timeout;
  pings: number;
  /** A TLS switch in progress: nothing is sent until it is done. */
  switching?: Promise<void>;
  closing: boolean;
}

/** The protocol value of a session's client, for a session whose client sent nothing: the server's. */
function protoOf(session: RecordedConnection): number {
  return session.proto ?? headerField(session.frames[0].raw, 'proto');
}

/** Plays the sessions against the live server; resolves with one report per session. */
export async function replayAgainstServer(sessions: readonly RecordedConnection[], opts: ClientReplayOptions): Promise<SessionReport[]> {
  const playback = new ClientPlayback(sessions, opts);
  const transport: TransportOptions = { socks: opts.socks, connectTimeoutMs: opts.timeoutMs, responseTimeoutMs: opts.timeoutMs };
  const connections = new Map<number, Connection>();
  const notes = new Map<number, string[]>();
  const note = (conn: number, text: string) => notes.set(conn, [...(notes.get(conn) ?? []), text]);
  let wake: (() => void) | undefined;
  const nudge = () => wake?.();

  const stopPing = (c: Connection) => clearInterval(c.pingTimer);
  const startPing = (c: Connection, seconds: number) => {
    stopPing(c);
    c.pingTimer = setInterval(() => {
      if (c.link.closed) return stopPing(c);
      c.link.send('PING');
      c.pings++;
    }, seconds * 1000);
  };

  const onFrame = (session: RecordedConnection, c: Connection, frame: DecodedFrame, replyTo?: ReplyInfo, switchTo?: Switch) => {
    playback.received(session.conn, frame, replyTo, Date.now());
    const period = Number(frame.fields.pingPeriod);
    if (period > 0) startPing(c, period);
    if (switchTo === 'tls') {
      c.switching = c.link.startTls({ rejectUnauthorized: false }).catch((e: Error) => {
        note(session.conn, `TLS after STARTTLS failed: ${e.message}`);
        c.link.destroy();
      });
    }
    nudge();
  };

  const open = async (session: RecordedConnection) => {
    const viaRedirector = opts.redirector && (session.follows !== undefined || !opts.server);
    let target: Endpoint | undefined;
    try {
      target = viaRedirector ? await resolveRedirect(opts.redirector!, transport) : opts.server!;
      const socket = await openSocket(target, transport);
      // The handlers run only once data comes, after `c` exists.
      const link = new Link(socket, protoOf(session), opts.timeoutMs, {
        frame: (frame, replyTo, switchTo) => onFrame(session, c, frame, replyTo, switchTo),
        observe: () => undefined,
        warning: (text) => note(session.conn, `from the server: ${text}`),
        closed: () => {
          stopPing(c);
          playback.closed(session.conn, !c.closing);
          nudge();
        },
      });
      const c: Connection = { link, pings: 0, closing: false };
      connections.set(session.conn, c);
      const shown = formatEndpoint(target);
      playback.opened(session.conn, viaRedirector ? `${shown} (from the redirector ${formatEndpoint(opts.redirector!)})` : shown, Date.now());
    } catch (e) {
      const where = target ? formatEndpoint(target) : formatEndpoint(opts.redirector ?? opts.server!);
      playback.failed(session.conn, (e as Error).message || `cannot connect to ${where}`);
    }
  };

  const perform = async (action: Action) => {
    const conn = action.session.conn;
    if (action.kind === 'open') return open(action.session);
    const c = connections.get(conn);
    if (!c) return;
    await c.switching;
    if (action.kind === 'close') {
      c.closing = true;
      stopPing(c);
      await c.link.end();
      return;
    }
    if (c.link.closed) return;
    const sent = c.link.resend(action.out.raw, action.out.frame);
    playback.sent(conn, action.step, sent.index, sent.seq, action.out.changes);
  };

  for (;;) {
    const next = playback.next(Date.now());
    if (next.kind === 'done') break;
    if (next.kind === 'wait') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, next.until - Date.now()));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
      continue;
    }
    try {
      await perform(next.action);
    } catch (e) {
      // A socket gone between the check and the write: that frame is not sent, the replay goes on.
      note(next.action.session.conn, `${next.action.kind} failed: ${(e as Error).message}`);
    }
    const { done, total } = playback.progress;
    opts.onProgress?.(done, total);
  }
  for (const c of connections.values()) {
    stopPing(c);
    c.link.destroy();
  }
  return playback.reports().map((r) => {
    const conn = r.conn!;
    const c = connections.get(conn);
    const extra = [...(notes.get(conn) ?? []), ...(c?.pings ? [`${c.pings} PING(s) sent on the live server's period`] : [])];
    return { ...r, notes: [...r.notes, ...extra] };
  });
}

/**
 * Server replay on real sockets: an MRIM listener whose connections are the reference server's
 * (framing, the client's version, one frame per write, STARTTLS), each playing a ServedSession, and a
 * redirector answering the listener's address. Every live session is reported when it ends.
 */
import net from 'node:net';
import tls from 'node:tls';
import { parseProto } from '../protocol/header.js';
import { ClientConnection, type ConnectionHooks } from '../server/connection.js';
import { createRedirector } from '../server/redirector.js';
import { DEFAULT_LIMITS, closeServer, listenOn } from '../server/server.js';
import type { ServerAddress } from '../server/types.js';
import type { Comparer } from './compare.js';
import { describeSession, type RecordedConnection } from './recording.js';
import type { SessionReport, Timing } from './report.js';
import { ServedSession, SessionPool } from './server-script.js';

export interface ReplayServerOptions {
  host?: string;
  port?: number;
  /** false: no redirector. */
  redirectorPort?: number | false;
  /** The MRIM port the redirector answers, when another listener is in front of this one (default: its own). */
  advertisedPort?: () => number;
  timing: Timing;
  /** How long an unsolicited frame waits for the client frames recorded before it. */
  timeoutMs: number;
  comparer: Comparer;
  /** PEM certificate and key: STARTTLS as recorded; without them it is answered FAILURE. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** A live session ended; its report. */
  onSession?: (report: SessionReport) => void;
  /** One line per thing that happened, for the live log. */
  onEvent?: (e: { conn?: number; level: 'info' | 'warn'; text: string }) => void;
}

/** A client must keep a connection alive somehow, but a replay does not drop a silent one soon. */
const IDLE_PING_PERIOD = 3600;

export class ReplayServer {
  /** The reports of the sessions that ended, in the order they did. */
  readonly reports: SessionReport[] = [];
  private readonly pool: SessionPool;
  private readonly mrim: net.Server;
  private redirector?: ReturnType<typeof createRedirector>;
  private readonly live = new Map<ClientConnection, { served: ServedSession; timer?: NodeJS.Timeout; finish(): void }>();
  private readonly secureContext?: tls.SecureContext;
  private nextId = 1;
  private port = 0;

  constructor(
    sessions: readonly RecordedConnection[],
    private readonly opts: ReplayServerOptions,
  ) {
    this.pool = new SessionPool(sessions);
    if (opts.tls) this.secureContext = tls.createSecureContext({ cert: opts.tls.cert, key: opts.tls.key });
    this.mrim = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  async listen(): Promise<ServerAddress> {
    const host = this.opts.host ?? '127.0.0.1';
    this.port = await listenOn(this.mrim, this.opts.port ?? 0, host);
    const address: ServerAddress = { host, port: this.port };
    if (this.opts.redirectorPort !== false) {
      this.redirector = createRedirector(
        () => this.opts.advertisedPort?.() ?? this.port,
        () => this.nextId++,
        (e) => this.event(undefined, 'info', `redirector: answered ${e.answer} to ${e.remote}`),
      );
      try {
        address.redirectorPort = await listenOn(this.redirector.server, this.opts.redirectorPort ?? 0, host);
      } catch (e) {
        await closeServer(this.mrim);
        throw e;
      }
    }
    return address;
  }

  /** Stops listening and ends every connection; resolves with every session's report. */
  async close(): Promise<SessionReport[]> {
    for (const [conn] of this.live) conn.destroy('the replaying server stopped');
    this.redirector?.closeAll();
    await Promise.all([closeServer(this.mrim), closeServer(this.redirector?.server)]);
    return this.reports;
  }

  private event(conn: number | undefined, level: 'info' | 'warn', text: string): void {
    this.opts.onEvent?.({ ...(conn !== undefined ? { conn } : {}), level, text });
  }

  private accept(socket: net.Socket): void {
    const id = this.nextId++;
    const hooks: ConnectionHooks = {
      onLossySend: (_conn, type, notes) => this.event(id, 'warn', `${type}: ${notes.join('; ')}`),
      onFrame: (conn, frame, replyTo) => {
        const entry = this.live.get(conn);
        if (!entry) return;
        const { served } = entry;
        const wasLoggedIn = served.loggedIn;
        served.receive(frame, replyTo, parseProto(conn.protoText ?? frame.proto), Date.now());
        if (!wasLoggedIn && served.loggedIn) this.event(id, 'info', `${frame.type} ${served.playing.login ?? ''} → plays the recorded session ${describeSession(served.playing)}`);
        this.pump(conn);
      },
      onGarbage: (_conn, ev) => this.event(id, 'warn', `${ev.bytes.length} bytes that are not a frame skipped (${ev.reason})`),
      onTls: (_conn, text, ok) => this.event(id, ok ? 'info' : 'warn', text),
      onClose: (conn, reason) => {
        this.event(id, 'info', `closed: ${reason}`);
        this.live.get(conn)?.finish();
      },
    };
    const conn = new ClientConnection(socket, id, hooks, IDLE_PING_PERIOD, DEFAULT_LIMITS);
    const served = new ServedSession(this.pool, { timing: this.opts.timing, timeoutMs: this.opts.timeoutMs, comparer: this.opts.comparer, tls: !!this.secureContext }, id, conn.remote);
    const entry = {
      served,
      timer: undefined as NodeJS.Timeout | undefined,
      finish: () => {
        clearTimeout(entry.timer);
        this.live.delete(conn);
        served.closed();
        if (!served.heard) return;
        const report = served.report();
        this.reports.push(report);
        this.opts.onSession?.(report);
      },
    };
    this.live.set(conn, entry);
    this.event(id, 'info', `${conn.remote} connected`);
    this.pump(conn);
  }

  private pump(conn: ClientConnection): void {
    const entry = this.live.get(conn);
    if (!entry) return;
    clearTimeout(entry.timer);
    const now = Date.now();
    const { send, close, wakeAt } = entry.served.pump(now);
    for (const out of send) {
      if (out.kind === 'generated') {
        conn.send(out.type, out.fields, out.seq);
        continue;
      }
      const sent = conn.resend(out.raw, out.frame, out.seq);
      if (sent) entry.served.served(out.rec, sent.index);
      if (out.switchesTo === 'tls' && this.secureContext) conn.startTls(this.secureContext);
    }
    if (close) conn.end('the recorded server closed the connection');
    else if (wakeAt !== undefined) entry.timer = setTimeout(() => this.pump(conn), Math.max(0, wakeAt - now));
  }
}

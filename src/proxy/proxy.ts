/**
 * The sniffing proxy: a SOCKS5 server that connects each request upstream itself, answers with the
 * matching reply code, relays the bytes unchanged and decodes them beside the relay. Optionally it
 * rewrites destinations (--map) and terminates the client's TLS after STARTTLS to keep decoding. It
 * connects only to destinations its allow rules match (all, without rules), never to itself.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { SocksServer, SOCKS_REPLY, normalizeHost, replyForError, type SocksDecision, type SocksRequest } from '../socks/server.js';
import type { BackoffOptions } from '../net/backoff.js';
import type { Endpoint } from '../net/endpoint.js';
import { reachesListener } from '../net/local.js';
import type { Direction } from '../protocol/fields.js';
import type { AnyEvent, TapEvent } from '../tap/events.js';
import { TapHub } from '../tap/tap.js';
import type { AllowRule } from './allow.js';
import { Relay } from './relay.js';

export interface MapRule {
  from: Endpoint;
  to: Endpoint;
}

export interface ProxyOptions {
  /** Listen address (default 127.0.0.1) and port (default 1080; 0 picks a free one). */
  host?: string;
  port?: number;
  /** Require RFC 1929 username/password from clients. */
  auth?: { user: string; password: string };
  /** Lockout of client addresses after failed passwords (FailureBackoff's defaults otherwise). */
  authBackoff?: BackoffOptions;
  /** Greeting, authentication and request must be done by then (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Destinations the proxy connects to (matched as requested, before `map`); others get reply 2. Default: any. */
  allow?: AllowRule[];
  /** Destinations to rewrite: a request for `from` goes to `to`. */
  map?: MapRule[];
  /** Terminate the client's TLS after an accepted STARTTLS with this certificate, and keep decoding. */
  tlsIntercept?: { cert: string | Buffer; key: string | Buffer };
  /** Upstream connection attempts taking longer get SOCKS reply 6 (default 10 s). */
  connectTimeoutMs?: number;
  /** A peer that takes none of the data waiting for it for this long has both sides reset (default 2 min). */
  stallTimeoutMs?: number;
  maxFrameSize?: number;
  /** Receives every event of every connection, in order; must not throw (it runs inside the relay). */
  onEvent?: (ev: TapEvent) => void;
  /** Decodes somewhere else than in-line (the recording worker); `onEvent` is then not called by the proxy. */
  tap?: ProxyTap;
}

/** What the proxy tells about a connection: a TapHub's ConnectionTap, or a stand-in passing it on. */
export interface ProxyConnectionTap {
  /** STARTTLS was accepted (TLS interception needs it as soon as the OK is relayed). */
  readonly tlsAccepted: boolean;
  push(dir: Direction, chunk: Buffer, time: number): void;
  end(dir: Direction, time: number): void;
  close(reason: string, time: number): void;
  note(message: string, level: 'info' | 'warn', time: number, dir?: Direction): void;
}

/** Where the proxy's connections are decoded: the TapHub in-line by default. */
export interface ProxyTap {
  open(conn: number, client: Endpoint, server: Endpoint, time: number, candidates?: Endpoint[]): ProxyConnectionTap;
  report(conn: number, client: Endpoint, server: Endpoint | undefined, event: AnyEvent): void;
  /** A tap that can fall behind says when the relays must pause (true) and may go on (false). */
  onHold?(listener: (held: boolean) => void): void;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Far beyond any pause of a live client (MRIM pings every 30–60 s), short enough that a dead relay goes. */
const DEFAULT_STALL_TIMEOUT_MS = 120_000;

interface Live {
  relay?: Relay;
  /** Gives up a connection attempt still under way (proxy shutdown). */
  cancel?: () => void;
  done: Promise<void>;
}

export class MrimProxy {
  private readonly socks: SocksServer;
  private readonly hub: ProxyTap;
  private readonly live = new Set<Live>();
  private address?: Endpoint;
  /** The tap is behind: every relay is paused, new ones start paused. */
  private held = false;

  constructor(private readonly opts: ProxyOptions) {
    this.hub = opts.tap ?? new TapHub(opts.onEvent ?? (() => {}), { maxFrameSize: opts.maxFrameSize, tlsTerminated: !!opts.tlsIntercept });
    this.hub.onHold?.((held) => {
      this.held = held;
      for (const l of this.live) l.relay?.hold(held);
    });
    this.socks = new SocksServer({
      auth: opts.auth,
      authBackoff: opts.authBackoff,
      handshakeTimeoutMs: opts.handshakeTimeoutMs,
      onRequest: (req, decision) => this.onRequest(req, decision),
      onAuthRefused: ({ id, client, user, methods }) =>
        this.hub.report(id, client, undefined, { kind: 'auth-refused', time: Date.now(), client, user, ...(methods ? { methods } : {}) }),
      onHandshakeProblem: ({ id, client, message }) => this.hub.report(id, client, undefined, { kind: 'note', time: Date.now(), level: 'warn', message }),
    });
  }

  async listen(): Promise<Endpoint> {
    this.address = await this.socks.listen(this.opts.port ?? 1080, this.opts.host ?? '127.0.0.1');
    return this.address;
  }

  /** Stops listening and ends every connection (each gets its close event before this resolves). */
  async close(): Promise<void> {
    const closing = this.socks.close();
    for (const l of this.live) {
      l.cancel?.();
      l.relay?.destroy('proxy stopped');
    }
    await Promise.all([closing, ...[...this.live].map((l) => l.done)]);
  }

  private destination(target: Endpoint): Endpoint | undefined {
    return this.opts.map?.find((r) => r.from.port === target.port && r.from.host === target.host.toLowerCase())?.to;
  }

  private onRequest(req: SocksRequest, decision: SocksDecision): void {
    const target: Endpoint = { host: req.host, port: req.port };
    const mapped = this.destination(target);
    const dest = mapped ?? target;
    const base = { kind: 'connect' as const, client: req.client, target, ...(mapped ? { mapped } : {}), ...(req.user !== undefined ? { user: req.user } : {}) };
    if (this.opts.allow && !this.opts.allow.some((rule) => rule.matches(target))) {
      decision.deny(SOCKS_REPLY.NOT_ALLOWED);
      this.hub.report(req.id, req.client, undefined, { ...base, time: Date.now(), reply: SOCKS_REPLY.NOT_ALLOWED, error: 'not an allowed destination' });
      return;
    }
    const upstream = net.connect({ host: dest.host, port: dest.port, allowHalfOpen: true, noDelay: true });
    let finish!: () => void;
    const live: Live = { done: new Promise((r) => (finish = r)) };
    this.live.add(live);
    const settle = () => {
      clearTimeout(timer);
      live.cancel = undefined;
    };
    const fail = (reply: number, error: string) => {
      settle();
      upstream.destroy();
      decision.deny(reply);
      this.hub.report(req.id, req.client, undefined, { ...base, time: Date.now(), reply, error });
      this.live.delete(live);
      finish();
    };
    const timer = setTimeout(() => fail(SOCKS_REPLY.TTL_EXPIRED, `no answer from ${dest.host}:${dest.port} in ${this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS} ms`), this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    live.cancel = () => fail(SOCKS_REPLY.GENERAL_FAILURE, 'proxy stopped');
    upstream.once('error', (err: NodeJS.ErrnoException) => {
      if (live.cancel) fail(replyForError(err), err.code ?? err.message);
    });
    decision.onAbort(() => {
      settle();
      upstream.destroy();
      this.live.delete(live);
      finish();
    });
    upstream.once('connect', () => {
      const server: Endpoint = { host: normalizeHost(upstream.remoteAddress ?? dest.host), port: upstream.remotePort ?? dest.port };
      // Checked once connected, so names and --map targets are caught too: a loop would eat every slot.
      if (this.address && reachesListener(server.host, server.port, this.address)) return fail(SOCKS_REPLY.NOT_ALLOWED, "the proxy's own address");
      settle();
      const client = decision.accept();
      upstream.on('error', () => {});
      this.hub.report(req.id, req.client, server, { ...base, time: Date.now(), upstream: server, reply: SOCKS_REPLY.SUCCEEDED });
      const tap = this.hub.open(req.id, req.client, server, Date.now(), [target, ...(mapped ? [mapped] : []), server]);
      live.relay = this.relay(tap, client, upstream, target);
      if (this.held) live.relay.hold(true);
      void live.relay.done.then(({ reason }) => {
        tap.close(reason, Date.now());
        this.live.delete(live);
        finish();
      });
    });
  }

  private relay(tap: ProxyConnectionTap, client: net.Socket, upstream: net.Socket, target: Endpoint): Relay {
    let intercepted = false;
    const relay: Relay = new Relay(client, upstream, {
      data: (dir, chunk) => {
        tap.push(dir, chunk, Date.now());
        // The server's OK to STARTTLS was just handed on: both sides start TLS with their next byte.
        if (this.opts.tlsIntercept && !intercepted && dir === 's2c' && tap.tlsAccepted) {
          intercepted = true;
          relay.swap(...this.interceptTls(tap, client, upstream, target));
        }
      },
      end: (dir) => tap.end(dir, Date.now()),
      failed: (err) => tap.note(`decoding stopped: ${(err as Error).message}; bytes are still relayed`, 'warn', Date.now()),
    }, { stallTimeoutMs: this.opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS });
    return relay;
  }

  private interceptTls(tap: ProxyConnectionTap, client: net.Socket, upstream: net.Socket, target: Endpoint): [Duplex, Duplex] {
    const { cert, key } = this.opts.tlsIntercept!;
    const clientTls = new tls.TLSSocket(client, { isServer: true, cert, key });
    const serverTls = tls.connect({
      socket: upstream,
      // The point is to read the traffic, not to vouch for the server: its certificate is not checked.
      rejectUnauthorized: false,
      ...(net.isIP(target.host) ? {} : { servername: target.host }),
    });
    clientTls.once('secure', () => tap.note('TLS intercepted: client side decrypted with --tls-cert', 'info', Date.now()));
    serverTls.once('secureConnect', () => tap.note(`TLS to the server: ${serverTls.getProtocol()} ${serverTls.getCipher()?.name ?? ''}`.trimEnd(), 'info', Date.now()));
    return [clientTls, serverTls];
  }
}

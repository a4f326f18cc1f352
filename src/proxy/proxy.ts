/**
 * The sniffing proxy: a SOCKS5 server that connects each request upstream itself, answers with the
 * matching reply code, relays the bytes unchanged and decodes them beside the relay. Optionally it
 * rewrites destinations (--map) and terminates the client's TLS after STARTTLS to keep decoding. It
 * connects only to destinations its allow rules match (all, without rules), never to itself.
 * Reverse listeners (plain TCP to a fixed upstream) go the same way from the upstream connection on,
 * numbered by the same counter; on a redirector's, the answer is rewritten to come back here. With
 * addons, frames go through their hooks on the way (intercept.ts) instead.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { SocksServer, SOCKS_REPLY, counter, normalizeHost, peerOf, replyForError, type SocksDecision, type SocksRequest } from '../socks/server.js';
import type { BackoffOptions } from '../net/backoff.js';
import { formatEndpoint, type Endpoint } from '../net/endpoint.js';
import type { Direction } from '../protocol/fields.js';
import { isWildcard, reachesListener, unmapIPv4 } from '../net/local.js';
import type { TapEvent } from '../tap/events.js';
import { TapHub } from '../tap/tap.js';
import type { Addon } from './addons.js';
import type { ProxyConnectionTap, ProxyTap } from './proxy-tap.js';
import type { AllowRule } from './allow.js';
import { Interception } from './intercept.js';
import { RedirectRewriter, type RedirectTarget } from './redirect-rewrite.js';
import { Relay, type RelayPipe } from './relay.js';
import { ReverseListeners, type ReverseListener, type ReverseRule } from './reverse.js';

export interface MapRule {
  from: Endpoint;
  to: Endpoint;
}

export interface ProxyOptions {
  /** Listen address (default 127.0.0.1) and port (default 1080; 0 picks a free one). */
  host?: string;
  port?: number;
  /** Run the SOCKS5 listener (default true); false leaves only the `reverse` listeners. */
  socks?: boolean;
  /** Plain TCP listeners, each relaying to its fixed upstream (reverse mode). */
  reverse?: ReverseRule[];
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
  /** Hooks that see every frame and may change, drop, answer or add frames (without: bytes are relayed untouched). */
  addons?: readonly Addon[];
  /** Receives every event of every connection, in order; must not throw (it runs inside the relay). */
  onEvent?: (ev: TapEvent) => void;
  /** Decodes somewhere else than in-line (the recording worker); `onEvent` is then not called by the proxy. */
  tap?: ProxyTap;
}


const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Far beyond any pause of a live client (MRIM pings every 30–60 s), short enough that a dead relay goes. */
const DEFAULT_STALL_TIMEOUT_MS = 120_000;

/** A connection to take upstream: a SOCKS request, or a client of a reverse listener. */
interface Request extends SocksRequest {
  listener?: ReverseListener;
}

interface Live {
  relay?: Relay;
  /** Gives up a connection attempt still under way (proxy shutdown). */
  cancel?: () => void;
  done: Promise<void>;
}

export class MrimProxy {
  private readonly socks: SocksServer;
  private readonly reverse: ReverseListeners;
  private readonly hub: ProxyTap;
  private readonly live = new Set<Live>();
  /** One counter for SOCKS and reverse connections: ids are unique in the run (captures, `follows`). */
  private readonly nextId = counter();
  private address?: Endpoint;
  /** The tap is behind: every relay is paused, new ones start paused. */
  private held = false;

  constructor(private readonly opts: ProxyOptions) {
    this.hub = opts.tap ?? new TapHub(opts.onEvent ?? (() => {}), { maxFrameSize: opts.maxFrameSize, tlsTerminated: !!opts.tlsIntercept });
    this.hub.onHold?.((held) => {
      this.held = held;
      for (const l of this.live) l.relay?.holdAll(held);
    });
    this.reverse = new ReverseListeners(opts.host ?? '127.0.0.1', (socket, listener) => this.onReverse(socket, listener));
    this.socks = new SocksServer({
      nextId: this.nextId,
      auth: opts.auth,
      authBackoff: opts.authBackoff,
      handshakeTimeoutMs: opts.handshakeTimeoutMs,
      onRequest: (req, decision) => this.onRequest(req, decision),
      onAuthRefused: ({ id, client, user, methods }) =>
        this.hub.report(id, client, undefined, { kind: 'auth-refused', time: Date.now(), client, user, ...(methods ? { methods } : {}) }),
      onHandshakeProblem: ({ id, client, message }) => this.hub.report(id, client, undefined, { kind: 'note', time: Date.now(), level: 'warn', message }),
    });
  }

  /** Starts the listeners; resolves with the SOCKS5 address (undefined with `socks: false`). */
  async listen(): Promise<Endpoint | undefined> {
    try {
      if (this.opts.socks !== false) this.address = await this.socks.listen(this.opts.port ?? 1080, this.opts.host ?? '127.0.0.1');
      for (const rule of this.opts.reverse ?? []) await this.reverse.open(rule);
    } catch (e) {
      await this.close();
      throw e;
    }
    return this.address;
  }

  /** The reverse listeners so far, those opened for redirector answers included. */
  get reverseListeners(): ReverseListener[] {
    return this.reverse.list;
  }

  /** Stops listening and ends every connection (each gets its close event before this resolves). */
  async close(): Promise<void> {
    const closing = Promise.all([this.address ? this.socks.close() : undefined, this.reverse.close()]);
    for (const l of this.live) {
      l.cancel?.();
      l.relay?.destroy('proxy stopped');
    }
    await Promise.all([closing, ...[...this.live].map((l) => l.done)]);
  }

  private destination(target: Endpoint): Endpoint | undefined {
    return this.opts.map?.find((r) => r.from.port === target.port && r.from.host === target.host.toLowerCase())?.to;
  }

  /** Our own listeners: a connection to one of them would loop. */
  private ownAddresses(): Endpoint[] {
    return [...(this.address ? [this.address] : []), ...this.reverse.list.map((l) => l.address)];
  }

  /** A destination the allow rules match (every one, without rules). */
  private allows(e: Endpoint): boolean {
    return !this.opts.allow || this.opts.allow.some((rule) => rule.matches(e));
  }

  private isOwn(e: Endpoint): boolean {
    return this.ownAddresses().some((own) => reachesListener(e.host, e.port, own));
  }

  /** A reverse listener's client: taken upstream like a SOCKS request; a failure resets it. */
  private onReverse(socket: net.Socket, listener: ReverseListener): void {
    socket.on('error', () => {});
    let decided = false;
    const decide = () => {
      decided = true;
      return socket;
    };
    const req: Request = { id: this.nextId(), client: peerOf(socket), host: listener.upstream.host, port: listener.upstream.port, listener };
    this.onRequest(req, {
      accept: decide,
      deny: () => decide().resetAndDestroy(),
      onAbort: (abort) => socket.once('close', () => !decided && abort()),
    });
  }

  private onRequest(req: Request, decision: SocksDecision): void {
    const target: Endpoint = { host: req.host, port: req.port };
    const mapped = this.destination(target);
    const dest = mapped ?? target;
    const listener = req.listener?.address;
    const base = { kind: 'connect' as const, client: req.client, ...(listener ? { listener } : {}), target, ...(mapped ? { mapped } : {}), ...(req.user !== undefined ? { user: req.user } : {}) };
    if (!this.allows(target)) {
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
      if (this.isOwn(server)) return fail(SOCKS_REPLY.NOT_ALLOWED, "the proxy's own address");
      settle();
      const client = decision.accept();
      upstream.on('error', () => {});
      this.hub.report(req.id, req.client, server, { ...base, time: Date.now(), upstream: server, reply: SOCKS_REPLY.SUCCEEDED });
      const tap = this.hub.open(req.id, req.client, server, Date.now(), [target, ...(mapped ? [mapped] : []), server]);
      const redirector = req.listener?.redirector ? req.listener : undefined;
      // A redirector's stream carries its answer, not frames: the rewrite takes it, addons do not.
      const relay = this.relay(tap, client, upstream, target, redirector && ((r) => new RedirectRewriter(r, tap, (answered) => this.redirectTarget(redirector, client, answered))));
      live.relay = relay;
      if (this.held) relay.holdAll(true);
      void relay.done.then(async ({ reason }) => {
        await relay.pipe?.close();
        tap.close(reason, Date.now());
        this.live.delete(live);
        finish();
      });
    });
  }

  /**
   * Where a client told by a redirector (on a reverse connection) to go to `answered` is sent instead:
   * a reverse listener to it, on the host the redirector's listener is bound to; named by the address
   * the client reached, when that host is a wildcard.
   */
  private async redirectTarget(redirector: ReverseListener, client: net.Socket, answered: Endpoint): ReturnType<RedirectTarget> {
    if (!this.allows(answered)) return { refused: 'not an allowed destination' };
    if (this.isOwn(answered)) return { refused: "it is the proxy's own address" };
    const known = new Set(this.reverse.list);
    const listener = await this.reverse.toUpstream(answered, redirector.address.host);
    const reached = unmapIPv4(normalizeHost(client.localAddress ?? '127.0.0.1'));
    const address = { host: isWildcard(listener.address.host) ? reached : listener.address.host, port: listener.address.port };
    return { address, ...(known.has(listener) ? {} : { note: `reverse listener ${formatEndpoint(listener.address)} → ${formatEndpoint(answered)} opened for the redirector's answer` }) };
  }

  /**
   * `ownPipe` is a pipe of its own for this relay (the redirector rewrite); without one the addons'
   * interception is the pipe when there are addons, the plain path otherwise.
   */
  private relay(tap: ProxyConnectionTap, client: net.Socket, upstream: net.Socket, target: Endpoint, ownPipe?: (r: Relay) => RelayPipe): Relay {
    let intercepted = false;
    const sent = (dir: Direction) => {
      // The server's OK to STARTTLS was just handed on: both sides start TLS with their next byte.
      if (this.opts.tlsIntercept && !intercepted && dir === 's2c' && tap.tlsAccepted) {
        intercepted = true;
        relay.swap(...this.interceptTls(tap, client, upstream, target));
      }
    };
    const addons = this.opts.addons;
    // With addons the interception writes on and tells the tap what it wrote; the plain path is untouched.
    const pipe =
      ownPipe ??
      (addons?.length ? (r: Relay) => new Interception(r, tap, addons, { maxFrameSize: this.opts.maxFrameSize, tlsTerminated: !!this.opts.tlsIntercept, onSent: sent }) : undefined);
    const relay: Relay = new Relay(client, upstream, {
      data: (dir, chunk) => {
        tap.push(dir, chunk, Date.now());
        sent(dir);
      },
      end: (dir) => tap.end(dir, Date.now()),
      failed: (err) => tap.note(`decoding stopped: ${(err as Error).message}; bytes are still relayed`, 'warn', Date.now()),
    }, { stallTimeoutMs: this.opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS, pipe });
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

/**
 * A SOCKS5 server (RFC 1928, CONNECT only) in which the caller decides every request: it is told the
 * destination, connects upstream itself, then accepts (and gets the client socket) or denies with the
 * reply code that says why. Built on @mongodb-js/socksv5 in intercept mode; this wrapper covers what
 * the library leaves out:
 *  - its `deny()` sends a truncated two-byte reply with code 2 only, and so does its answer to BIND and
 *    UDP ASSOCIATE: the request is read here first (inside the authentication step, the library's
 *    extension point) and every refusal gets a full 10-byte reply with its code;
 *  - its handshake has no time limit: here greeting, authentication and request together must be done
 *    within a deadline, however slowly the bytes trickle in (slow-loris);
 *  - after `accept(true)` it drops its own error handler, so an unhandled reset would kill the process:
 *    we attach one before handing the socket over;
 *  - its listener does not allow half-open sockets, so one side's FIN would close both directions;
 *  - IPv6 destinations come as 8 zero-padded groups: we give them in the usual short form (`::1`);
 *  - it does not tell which user authenticated, nor report refused credentials; here credentials are
 *    compared in constant time, and an address that keeps failing is locked out for a while.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import socksv5, { type AuthHandler, type RequestInfo, type Server } from '@mongodb-js/socksv5';
import { FailureBackoff, type BackoffOptions } from '../net/backoff.js';
import type { Endpoint } from '../net/endpoint.js';
import { SOCKS_METHODS, parseSocksMessage } from '../protocol/socks.js';

/** RFC 1928 reply codes. */
export const SOCKS_REPLY = {
  SUCCEEDED: 0,
  GENERAL_FAILURE: 1,
  NOT_ALLOWED: 2,
  NETWORK_UNREACHABLE: 3,
  HOST_UNREACHABLE: 4,
  CONNECTION_REFUSED: 5,
  TTL_EXPIRED: 6,
  COMMAND_NOT_SUPPORTED: 7,
  ADDRESS_TYPE_NOT_SUPPORTED: 8,
} as const;

export interface SocksRequest {
  /** Connection number, from `nextId` (by default counted from 1), given to every client that got as far as authentication or a request. */
  id: number;
  client: Endpoint;
  /** Destination as the client asked for it: a name, an IPv4 or an IPv6 address (short form, no brackets). */
  host: string;
  port: number;
  /** The RFC 1929 user name, when username/password authentication was used. */
  user?: string;
}

export interface SocksDecision {
  /** Sends the success reply and hands over the client socket (Nagle off, half-open allowed, errors caught). */
  accept(): net.Socket;
  /** Sends a failure reply with this code and closes the connection. */
  deny(reply: number): void;
  /** Called if the client goes away before a decision. */
  onAbort(listener: () => void): void;
}

export interface SocksServerOptions {
  /** Require RFC 1929 username/password; without it only "no authentication" is offered. */
  auth?: { user: string; password: string };
  /** Greeting, authentication and request must all be in by then (default 10 s), or the client is dropped. */
  handshakeTimeoutMs?: number;
  /** Lockout of addresses after failed username/password attempts (FailureBackoff's defaults otherwise). */
  authBackoff?: BackoffOptions;
  onRequest(req: SocksRequest, decision: SocksDecision): void;
  /** Numbers connections; a caller with other listeners passes its counter, so ids stay unique in one run. */
  nextId?: () => number;
  /**
   * A client was turned away before its request: wrong username/password (also any while its address
   * is locked out), or (with `methods`, the methods it offered) no authentication method the proxy
   * accepts — answered `05 FF` by the library.
   */
  onAuthRefused?(info: { id: number; client: Endpoint; user: string; methods?: string[] }): void;
  /**
   * Something to log about a client before its request reached `onRequest`: dropped as too slow,
   * refused for a command other than CONNECT or an address type that does not exist, or its address
   * locked out after failed passwords.
   */
  onHandshakeProblem?(info: { id: number; client: Endpoint; message: string }): void;
}

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
const METHOD_NONE = 0x00;
const METHOD_PASSWORD = 0x02;
/** A denied client has this long to read the reply and close before it is dropped. */
const DENIED_LINGER_MS = 5_000;
/** The longest request: a 255-byte name (VER CMD RSV ATYP LEN NAME PORT). */
const MAX_REQUEST = 4 + 1 + 255 + 2;
const ATYPS = new Set([1, 3, 4]);

/** The reply code for a failed upstream connection, from its error code. */
export function replyForError(err: unknown): number {
  const e = err as NodeJS.ErrnoException & { errors?: NodeJS.ErrnoException[] };
  // Connecting with several addresses (happy eyeballs) fails with an AggregateError of all attempts.
  const code = e?.code ?? e?.errors?.[0]?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return SOCKS_REPLY.CONNECTION_REFUSED;
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NODATA':
    case 'EAI_NONAME':
      return SOCKS_REPLY.HOST_UNREACHABLE;
    case 'ENETUNREACH':
    case 'ENETDOWN':
    case 'EADDRNOTAVAIL':
      return SOCKS_REPLY.NETWORK_UNREACHABLE;
    case 'ETIMEDOUT':
      return SOCKS_REPLY.TTL_EXPIRED;
    default:
      return SOCKS_REPLY.GENERAL_FAILURE;
  }
}

/** A full RFC 1928 reply: VER REP RSV ATYP=IPv4 BND.ADDR=0.0.0.0 BND.PORT=0. */
function failureReply(code: number): Buffer {
  return Buffer.from([0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
}

/** Equal strings, compared in time that does not depend on where they differ (nor on their lengths). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (t: string) => createHash('sha256').update(t).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * What to do with the request bytes received so far: wait for more, pass a CONNECT on, or refuse with
 * a reply code and why.
 */
function checkRequest(held: Buffer): 'incomplete' | 'connect' | { reply: number; message: string } {
  const parsed = parseSocksMessage(held, 'request');
  if (parsed === 'incomplete') return held.length > MAX_REQUEST ? { reply: SOCKS_REPLY.GENERAL_FAILURE, message: 'oversized SOCKS5 request' } : 'incomplete';
  if (parsed === 'invalid') {
    if (held[0] !== 0x05) return { reply: SOCKS_REPLY.GENERAL_FAILURE, message: `not a SOCKS5 request (version byte 0x${held[0].toString(16)})` };
    return { reply: SOCKS_REPLY.ADDRESS_TYPE_NOT_SUPPORTED, message: `SOCKS5 request with address type 0x${held[3].toString(16)}, which does not exist` };
  }
  const req = parsed.message as Extract<typeof parsed.message, { type: 'request' }>;
  if (req.command === 'CONNECT' && ATYPS.has(held[3])) return 'connect';
  return { reply: SOCKS_REPLY.COMMAND_NOT_SUPPORTED, message: `SOCKS5 ${req.command} ${req.host}:${req.port} refused: only CONNECT is supported` };
}

/** `0000:…:0001` → `::1`; other hosts unchanged. */
export function normalizeHost(host: string): string {
  return net.isIPv6(host) ? new URL(`http://[${host}]/`).hostname.slice(1, -1) : host;
}

const endpointKey = (host: string | undefined, port: number | undefined) => `${host}|${port}`;

export class SocksServer {
  private readonly server: Server;
  private readonly byPeer = new Map<string, net.Socket>();
  /** Clients not handed over (yet): in their handshake, or denied and not gone yet. */
  private readonly ownSockets = new Set<net.Socket>();
  private readonly ids = new WeakMap<net.Socket, number>();
  private readonly deadlines = new WeakMap<net.Socket, NodeJS.Timeout>();
  private readonly users = new WeakMap<net.Socket, string>();
  private readonly backoff: FailureBackoff;
  private readonly nextId: () => number;

  constructor(private readonly opts: SocksServerOptions) {
    this.nextId = opts.nextId ?? counter();
    this.backoff = new FailureBackoff(opts.authBackoff);
    const auths = [opts.auth ? this.passwordAuth(opts.auth) : this.noAuth()];
    this.server = socksv5.createServer({ auths }, (info, accept) => this.onRequest(info, accept));
    // A net server copies this (untyped) flag onto every accepted socket, so one side's FIN keeps the
    // other direction open.
    const listener = this.server._srv as net.Server & { allowHalfOpen: boolean };
    listener.allowHalfOpen = true;
    listener.on('connection', (socket: net.Socket) => this.track(socket));
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  listen(port: number, host: string): Promise<Endpoint> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        // Later listener errors (EMFILE on accept) must not crash the process.
        this.server.on('error', () => {});
        const a = this.server.address() as net.AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** Stops accepting; clients still in their handshake are dropped. Accepted sockets are the caller's. */
  close(): Promise<void> {
    for (const socket of this.ownSockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private idOf(socket: net.Socket): number {
    let id = this.ids.get(socket);
    if (id === undefined) {
      id = this.nextId();
      this.ids.set(socket, id);
    }
    return id;
  }

  private track(socket: net.Socket): void {
    const key = endpointKey(socket.remoteAddress, socket.remotePort);
    this.byPeer.set(key, socket);
    this.ownSockets.add(socket);
    socket.setNoDelay(true);
    // A deadline, not an idle timer: a byte now and then does not keep a slot.
    const limit = this.opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    const deadline = setTimeout(() => {
      this.opts.onHandshakeProblem?.({ id: this.idOf(socket), client: peerOf(socket), message: `SOCKS5 handshake not done within ${limit} ms: dropped` });
      socket.destroy();
    }, limit);
    this.deadlines.set(socket, deadline);
    socket.on('error', () => {});
    socket.once('data', (greeting: Buffer) => this.checkGreeting(socket, greeting));
    socket.once('close', () => {
      clearTimeout(deadline);
      this.byPeer.delete(key);
      this.ownSockets.delete(socket);
    });
  }

  /** The library refuses a greeting without an acceptable method silently; say so. */
  private checkGreeting(socket: net.Socket, greeting: Buffer): void {
    if (greeting[0] !== 0x05 || greeting.length < 2 + greeting[1]) return;
    const offered = [...greeting.subarray(2, 2 + greeting[1])];
    if (offered.includes(this.opts.auth ? METHOD_PASSWORD : METHOD_NONE)) return;
    const methods = offered.map((m) => SOCKS_METHODS[m] ?? `0x${m.toString(16)}`);
    this.opts.onAuthRefused?.({ id: this.idOf(socket), client: peerOf(socket), user: '', methods });
  }

  private noAuth(): AuthHandler {
    return { METHOD: METHOD_NONE, server: (stream, done) => this.readRequest(stream, done) };
  }

  private passwordAuth(expected: { user: string; password: string }): AuthHandler {
    // The library's handler does not pass the socket to the check, so one handler is made per client.
    return {
      METHOD: METHOD_PASSWORD,
      server: (stream, done) => {
        const address = stream.remoteAddress ?? '?';
        const inner = socksv5.auth.UserPassword((user, password, reply) => {
          // Synchronous on purpose: the library has just unshifted what followed the credentials.
          const locked = this.backoff.lockedFor(address) > 0;
          const userOk = sameSecret(user, expected.user);
          const passwordOk = sameSecret(password, expected.password);
          const ok = !locked && userOk && passwordOk;
          if (ok) {
            this.backoff.succeeded(address);
            this.users.set(stream, user);
          } else {
            const id = this.idOf(stream);
            this.opts.onAuthRefused?.({ id, client: peerOf(stream), user });
            const lockedMs = locked ? 0 : this.backoff.failed(address);
            if (lockedMs > 0) {
              const message = `repeated failed logins from ${address}: its attempts are refused unchecked for ${lockedMs / 1000} s`;
              this.opts.onHandshakeProblem?.({ id, client: peerOf(stream), message });
            }
          }
          reply(ok);
        });
        inner.server(stream, (result) => (result === true ? this.readRequest(stream, done) : done(result)));
      },
    };
  }

  /**
   * Reads the request before the library does: a CONNECT is put back for it to parse and hand to
   * `onRequest`; anything else is refused here with a full reply.
   */
  private readRequest(stream: net.Socket, done: (result: boolean) => void): void {
    let held = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      held = Buffer.concat([held, chunk]);
      const verdict = checkRequest(held);
      if (verdict === 'incomplete') return;
      stream.off('data', onData);
      // Paused before giving the bytes back: a flowing stream without a listener would lose them.
      stream.pause();
      if (verdict === 'connect') {
        stream.unshift(held);
        done(true);
        return;
      }
      this.opts.onHandshakeProblem?.({ id: this.idOf(stream), client: peerOf(stream), message: verdict.message });
      this.refuse(stream, verdict.reply);
      done(false);
    };
    stream.on('data', onData);
  }

  /** A failure reply, then the client has a little while to read it and go. */
  private refuse(socket: net.Socket, reply: number): void {
    clearTimeout(this.deadlines.get(socket));
    // Half-open sockets wait for the client's FIN; one that never sends it is dropped.
    const linger = setTimeout(() => socket.destroy(), DENIED_LINGER_MS);
    socket.once('close', () => clearTimeout(linger));
    if (socket.writable) socket.end(failureReply(reply));
    else socket.destroy();
  }

  private onRequest(info: RequestInfo, accept: (intercept: true) => net.Socket | undefined): void {
    const socket = this.byPeer.get(endpointKey(info.srcAddr, info.srcPort));
    if (!socket) return;
    this.byPeer.delete(endpointKey(info.srcAddr, info.srcPort));
    // The handshake is done; connecting upstream has its own time limit.
    clearTimeout(this.deadlines.get(socket));
    const req: SocksRequest = {
      id: this.idOf(socket),
      client: peerOf(socket),
      host: normalizeHost(info.dstAddr),
      port: info.dstPort,
      ...(this.users.has(socket) ? { user: this.users.get(socket) } : {}),
    };
    let decided = false;
    const abortListeners: Array<() => void> = [];
    const onClose = () => {
      if (!decided) for (const l of abortListeners) l();
    };
    socket.once('close', onClose);
    const decide = () => {
      if (decided) throw new Error('SOCKS request already decided');
      decided = true;
      socket.off('close', onClose);
    };
    this.opts.onRequest(req, {
      accept: () => {
        decide();
        this.ownSockets.delete(socket);
        const accepted = accept(true) ?? socket;
        accepted.on('error', () => {});
        return accepted;
      },
      deny: (reply) => {
        decide();
        this.refuse(socket, reply);
      },
      onAbort: (listener) => abortListeners.push(listener),
    });
  }
}

/** 1, 2, 3, …: connection ids. */
export function counter(): () => number {
  let next = 1;
  return () => next++;
}

/** The client's address, as events name it. */
export function peerOf(socket: net.Socket): Endpoint {
  return { host: normalizeHost(socket.remoteAddress ?? '?'), port: socket.remotePort ?? 0 };
}

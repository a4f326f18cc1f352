/**
 * A SOCKS5 server (RFC 1928, CONNECT only) in which the caller decides every request: it is told the
 * destination, connects upstream itself, then accepts (and gets the client socket) or denies with the
 * reply code that says why. Built on @mongodb-js/socksv5 in intercept mode; this wrapper covers what
 * the library leaves out:
 *  - its `deny()` sends a truncated two-byte reply with code 2 only: we write a full reply with any code;
 *  - after `accept(true)` it drops its own error handler, so an unhandled reset would kill the process:
 *    we attach one before handing the socket over;
 *  - its listener does not allow half-open sockets, so one side's FIN would close both directions;
 *  - IPv6 destinations come as 8 zero-padded groups: we give them in the usual short form (`::1`);
 *  - it does not tell which user authenticated, nor report refused credentials.
 */
import net from 'node:net';
import socksv5, { type AuthHandler, type RequestInfo, type Server } from '@mongodb-js/socksv5';
import type { Endpoint } from '../net/endpoint.js';
import { SOCKS_METHODS } from '../protocol/socks.js';

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
  /** Connection number, counted from 1 over every client that got as far as authentication or a request. */
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
  /** A client that has not finished its handshake by then is dropped. */
  handshakeTimeoutMs?: number;
  onRequest(req: SocksRequest, decision: SocksDecision): void;
  /**
   * A client was turned away before its request: wrong username/password, or (with `methods`, the
   * methods it offered) no authentication method the proxy accepts — answered `05 FF` by the library.
   */
  onAuthRefused?(info: { id: number; client: Endpoint; user: string; methods?: string[] }): void;
}

const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;
const METHOD_NONE = 0x00;
const METHOD_PASSWORD = 0x02;
/** A denied client has this long to read the reply and close before it is dropped. */
const DENIED_LINGER_MS = 5_000;

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
  private readonly users = new WeakMap<net.Socket, string>();
  private nextId = 1;

  constructor(private readonly opts: SocksServerOptions) {
    const auths = opts.auth ? [this.passwordAuth(opts.auth)] : [socksv5.auth.None()];
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
      id = this.nextId++;
      this.ids.set(socket, id);
    }
    return id;
  }

  private track(socket: net.Socket): void {
    const key = endpointKey(socket.remoteAddress, socket.remotePort);
    this.byPeer.set(key, socket);
    this.ownSockets.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS, () => socket.destroy());
    socket.on('error', () => {});
    socket.once('data', (greeting: Buffer) => this.checkGreeting(socket, greeting));
    socket.once('close', () => {
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

  private passwordAuth(expected: { user: string; password: string }): AuthHandler {
    // The library's handler does not pass the socket to the check, so one handler is made per client.
    return {
      METHOD: METHOD_PASSWORD,
      server: (stream, done) => {
        const inner = socksv5.auth.UserPassword((user, password, reply) => {
          const ok = user === expected.user && password === expected.password;
          if (ok) this.users.set(stream, user);
          else this.opts.onAuthRefused?.({ id: this.idOf(stream), client: peerOf(stream), user });
          reply(ok);
        });
        inner.server(stream, done);
      },
    };
  }

  private onRequest(info: RequestInfo, accept: (intercept: true) => net.Socket | undefined): void {
    const socket = this.byPeer.get(endpointKey(info.srcAddr, info.srcPort));
    if (!socket) return;
    this.byPeer.delete(endpointKey(info.srcAddr, info.srcPort));
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
        socket.setTimeout(0);
        this.ownSockets.delete(socket);
        const accepted = accept(true) ?? socket;
        accepted.on('error', () => {});
        return accepted;
      },
      deny: (reply) => {
        decide();
        // Half-open sockets wait for the client's FIN; one that never sends it is dropped.
        socket.setTimeout(DENIED_LINGER_MS);
        if (socket.writable) socket.end(failureReply(reply));
        else socket.destroy();
      },
      onAbort: (listener) => abortListeners.push(listener),
    });
  }
}

function peerOf(socket: net.Socket): Endpoint {
  return { host: normalizeHost(socket.remoteAddress ?? '?'), port: socket.remotePort ?? 0 };
}

/**
 * Reverse mode: plain TCP listeners (no SOCKS), each relaying every client to one fixed upstream, for
 * clients that cannot be given a SOCKS proxy. `--reverse LISTEN=UPSTREAM` rules; the listeners a run
 * has, including those opened later for a redirector's answer (see redirect-rewrite.ts).
 */
import net from 'node:net';
import { formatEndpoint, parseEndpoint, type Endpoint } from '../net/endpoint.js';

/** The conventional redirector port (reference §2.1): an upstream on it is a redirector by default. */
export const REDIRECTOR_PORT = 2042;

export interface ReverseRule {
  /** Where to listen: the host defaults to the proxy's; port 0 picks a free one. */
  listen: { host?: string; port: number };
  upstream: Endpoint;
  /** Rewrite the upstream's redirector answer so the client's next connection comes back (default: upstream port 2042). */
  redirector?: boolean;
}

export interface ReverseListener {
  address: Endpoint;
  upstream: Endpoint;
  redirector: boolean;
  /** Opened for a redirector's answer, not by a rule. */
  forRedirect: boolean;
}

/** A `--reverse` spec that cannot be read; the message says what is expected. */
export class ReverseRuleError extends Error {}

/** `2041=mrim.example:2041`, `127.0.0.1:2041=10.0.0.5:2041`, `[::1]:2041=…`; `option` names it in errors. */
export function parseReverseRule(spec: string, option = '--reverse'): ReverseRule {
  const eq = spec.indexOf('=');
  if (eq === -1) {
    throw new ReverseRuleError(`${option} takes LISTEN=UPSTREAM, LISTEN a port or HOST:PORT, UPSTREAM HOST:PORT (e.g. 2041=mrim.example:2041, 127.0.0.1:2042=10.0.0.5:2042), not "${spec}"`);
  }
  const listenText = spec.slice(0, eq).trim();
  const upstreamText = spec.slice(eq + 1).trim();
  let listen: ReverseRule['listen'] | undefined;
  if (/^\d{1,5}$/.test(listenText)) listen = Number(listenText) <= 65535 ? { port: Number(listenText) } : undefined;
  else {
    // Port 0 (a free one) is fine to listen on.
    const e = parseEndpoint(listenText, { anyPort: true });
    listen = e && { host: e.host, port: e.port };
  }
  if (!listen) throw new ReverseRuleError(`${option} ${spec}: the listen side "${listenText}" must be a port 0–65535 or HOST:PORT`);
  const upstream = parseEndpoint(upstreamText);
  if (!upstream) throw new ReverseRuleError(`${option} ${spec}: the upstream "${upstreamText}" must be HOST:PORT with a port 1–65535`);
  return { listen, upstream };
}

const key = (e: Endpoint) => formatEndpoint(e).toLowerCase();

/** The reverse listeners of one proxy: opened from rules, or for a redirector's answer (one per upstream, reused). */
export class ReverseListeners {
  private readonly servers = new Map<net.Server, ReverseListener>();
  /** Upstream → its listener being opened or open for redirected clients, so concurrent answers share one. */
  private readonly forUpstream = new Map<string, Promise<ReverseListener>>();
  private closed = false;

  constructor(
    private readonly defaultHost: string,
    private readonly onConnection: (socket: net.Socket, listener: ReverseListener) => void,
  ) {}

  get list(): ReverseListener[] {
    return [...this.servers.values()];
  }

  /** Starts listening for a rule; rejects with the system error (EADDRINUSE…). */
  async open(rule: ReverseRule): Promise<ReverseListener> {
    const host = rule.listen.host ?? this.defaultHost;
    return this.listen(host, rule.listen.port, rule.upstream, rule.redirector ?? rule.upstream.port === REDIRECTOR_PORT, false);
  }

  /**
   * A listener relaying to `upstream`: a rule's (not a redirector's) if one goes there, else a new one on
   * `host`, with the upstream's port if that is free, any port otherwise.
   */
  toUpstream(upstream: Endpoint, host: string): Promise<ReverseListener> {
    const existing = this.list.find((l) => !l.redirector && key(l.upstream) === key(upstream));
    if (existing) return Promise.resolve(existing);
    let opening = this.forUpstream.get(key(upstream));
    if (!opening) {
      opening = this.listen(host, upstream.port, upstream, false, true).catch(() => this.listen(host, 0, upstream, false, true));
      this.forUpstream.set(key(upstream), opening);
      // A failure is not kept: a later answer tries again.
      opening.catch(() => this.forUpstream.delete(key(upstream)));
    }
    return opening;
  }

  /** Stops listening; the connections are the proxy's to end. */
  async close(): Promise<void> {
    this.closed = true;
    const servers = [...this.servers.keys()];
    this.servers.clear();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  private listen(host: string, port: number, upstream: Endpoint, redirector: boolean, forRedirect: boolean): Promise<ReverseListener> {
    // Paused until the upstream is connected: what the client sends meanwhile waits in the socket.
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        // Later listener errors (EMFILE on accept) must not crash the process.
        server.on('error', () => {});
        if (this.closed) {
          server.close();
          return reject(new Error('proxy stopped'));
        }
        const a = server.address() as net.AddressInfo;
        const listener: ReverseListener = { address: { host: a.address, port: a.port }, upstream, redirector, forRedirect };
        this.servers.set(server, listener);
        server.on('connection', (socket: net.Socket) => this.onConnection(socket, listener));
        resolve(listener);
      });
    });
  }
}

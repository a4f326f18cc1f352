/**
 * A plain TCP listener (no SOCKS) that relays each connection to one upstream address through addons:
 * what `replay --as-server --script` puts in front of the replaying server, so the frames between it
 * and a real client pass the hooks. Each connection is decoded and reported like the proxy's.
 */
import net from 'node:net';
import { listenOn } from '../server/server.js';
import { normalizeHost } from '../socks/server.js';
import type { Endpoint } from '../net/endpoint.js';
import type { TapEvent } from '../tap/events.js';
import { TapHub } from '../tap/tap.js';
import type { Addon } from './addons.js';
import { Interception } from './intercept.js';
import { Relay } from './relay.js';

export interface AddonForwarderOptions {
  host: string;
  /** 0 picks a free one. */
  port: number;
  upstream: Endpoint;
  addons: readonly Addon[];
  /** Every event of every connection (marks and hook notes among them); must not throw. */
  onEvent: (ev: TapEvent) => void;
  maxFrameSize?: number;
}

export class AddonForwarder {
  private readonly server: net.Server;
  private readonly hub: TapHub;
  private readonly live = new Set<{ relay?: Relay; socket: net.Socket; done: Promise<void> }>();
  private nextId = 1;

  constructor(private readonly opts: AddonForwarderOptions) {
    this.hub = new TapHub(opts.onEvent, { maxFrameSize: opts.maxFrameSize });
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
  }

  /** Throws `cannot listen on HOST:PORT: why` (the system error's code kept). */
  async listen(): Promise<Endpoint> {
    return { host: this.opts.host, port: await listenOn(this.server, this.opts.port, this.opts.host) };
  }

  /** Stops listening and ends every connection (each gets its close event first). */
  async close(): Promise<void> {
    const closing = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const l of this.live) l.relay ? l.relay.destroy('stopped') : l.socket.destroy();
    await Promise.all([closing, ...[...this.live].map((l) => l.done)]);
  }

  private accept(socket: net.Socket): void {
    const id = this.nextId++;
    const client: Endpoint = { host: normalizeHost(socket.remoteAddress ?? ''), port: socket.remotePort ?? 0 };
    const upstream = net.connect({ ...this.opts.upstream, allowHalfOpen: true, noDelay: true });
    let finish!: () => void;
    const entry: { relay?: Relay; socket: net.Socket; done: Promise<void> } = { socket, done: new Promise((r) => (finish = r)) };
    this.live.add(entry);
    const end = () => {
      this.live.delete(entry);
      finish();
    };
    socket.on('error', () => {});
    upstream.once('error', (err: NodeJS.ErrnoException) => {
      if (entry.relay) return;
      this.hub.report(id, client, undefined, { kind: 'note', time: Date.now(), level: 'warn', message: `cannot reach ${this.opts.upstream.host}:${this.opts.upstream.port}: ${err.code ?? err.message}` });
      socket.destroy();
      end();
    });
    upstream.once('connect', () => {
      upstream.on('error', () => {});
      const tap = this.hub.open(id, client, this.opts.upstream, Date.now());
      let interception: Interception | undefined;
      const relay = new Relay(socket, upstream, {
        // The interception tells the tap what it wrote; the relay reports only the ends.
        data: () => {},
        end: (dir) => tap.end(dir, Date.now()),
        failed: () => {},
      }, { pipe: (r) => (interception = new Interception(r, tap, this.opts.addons, { maxFrameSize: this.opts.maxFrameSize })) });
      entry.relay = relay;
      void relay.done.then(async ({ reason }) => {
        await interception?.close();
        tap.close(reason, Date.now());
        end();
      });
    });
  }
}

/**
 * Byte relay between a client and a server socket: every chunk is written on as it was received (never
 * merged), a slow reader pauses the sender (backpressure), one side's FIN ends only that direction
 * (half-close), and an abort on either side (a reset, an error, a close without FIN) reaches the
 * other side as a reset (RST), not as a FIN that would pass for a clean end. A side that takes nothing
 * (no drain) for `stallTimeoutMs` ends the relay with a reset of both sides: a paused socket is not
 * read, so without it a peer that stops reading could hold a connection (and its buffers) for ever,
 * even after the other peer went away. Observers see each chunk after it was handed on; what they do
 * cannot change what is relayed, and delays it only by asking to (`hold`: a recording that is behind).
 *
 * The two endpoints can be exchanged mid-stream (`swap`) — the TLS interception replaces the raw
 * sockets by TLS sockets layered on them; a reset is still sent on the raw TCP sockets.
 */
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Direction } from '../protocol/fields.js';

export interface RelayObserver {
  /** A chunk was relayed. */
  data(dir: Direction, chunk: Buffer): void;
  /** The sender of `dir` finished (FIN). */
  end(dir: Direction): void;
  /** The observer threw: it is not called again, the relay goes on. */
  failed(err: unknown): void;
}

export interface RelayResult {
  reason: string;
}

export interface RelayOptions {
  /** A side that takes nothing for this long while data waits for it ends the relay (default: never). */
  stallTimeoutMs?: number;
}

type Side = 'client' | 'server';

const DIR_FROM: Record<Side, Direction> = { client: 'c2s', server: 's2c' };

export class Relay {
  readonly done: Promise<RelayResult>;
  private finish!: (r: RelayResult) => void;
  private sockets!: Record<Side, Duplex>;
  /** The TCP sockets under the endpoints: where a reset is sent. */
  private readonly tcp: Record<Side, net.Socket>;
  private detachers: Array<() => void> = [];
  private ended: Record<Side, boolean> = { client: false, server: false };
  private gone: Record<Side, boolean> = { client: false, server: false };
  private firstEnd?: Side;
  private closed = false;
  private observerBroken = false;
  /** Per receiving side: running while data waits for it to drain. */
  private readonly stalls: Partial<Record<Side, NodeJS.Timeout>> = {};
  /** Per sending side: paused until the other side drains. */
  private readonly waiting: Record<Side, boolean> = { client: false, server: false };
  /** Both sides paused from outside (the recording is behind), whatever the peers do. */
  private held = false;

  constructor(
    client: net.Socket,
    server: net.Socket,
    private readonly observer: RelayObserver,
    private readonly opts: RelayOptions = {},
  ) {
    this.done = new Promise((resolve) => (this.finish = resolve));
    this.tcp = { client, server };
    this.attach(client, server);
  }

  /** Relays between new endpoints from here on (the old ones are left alone, not closed). */
  swap(client: Duplex, server: Duplex): void {
    this.detach();
    this.attach(client, server);
  }

  /** Pauses both sides (true) until released (false): an observer that is behind holds the peers back. */
  hold(held: boolean): void {
    this.held = held;
    if (this.closed) return;
    for (const side of ['client', 'server'] as const) {
      if (held) this.sockets[side].pause();
      else if (!this.waiting[side]) this.sockets[side].resume();
    }
  }

  /** Tears both sides down (proxy shutdown). */
  destroy(reason: string): void {
    this.close(reason);
  }

  private attach(client: Duplex, server: Duplex): void {
    this.sockets = { client, server };
    this.wire('client', 'server');
    this.wire('server', 'client');
  }

  private detach(): void {
    for (const d of this.detachers) d();
    this.detachers = [];
  }

  private on(stream: Duplex, event: string, listener: (...args: any[]) => void): void {
    stream.on(event, listener);
    this.detachers.push(() => stream.off(event, listener));
  }

  private wire(from: Side, to: Side): void {
    const src = this.sockets[from];
    const dst = this.sockets[to];
    const dir = DIR_FROM[from];
    this.on(src, 'data', (chunk: Buffer) => {
      if (!dst.write(chunk)) {
        this.waiting[from] = true;
        src.pause();
        this.watchStall(to);
      }
      this.observe(() => this.observer.data(dir, chunk));
    });
    // 'drain' only follows a write that returned false, i.e. a pause of ours.
    this.on(dst, 'drain', () => {
      clearTimeout(this.stalls[to]);
      this.stalls[to] = undefined;
      this.waiting[from] = false;
      if (!this.held) src.resume();
    });
    this.on(src, 'end', () => {
      this.ended[from] = true;
      this.firstEnd ??= from;
      this.observe(() => this.observer.end(dir));
      dst.end();
    });
    // The side that failed is gone already; the other one is told the way TCP tells it.
    this.on(src, 'error', (err: NodeJS.ErrnoException) => this.close(`${from} ${err.code === 'ECONNRESET' ? 'reset the connection' : `error: ${err.code ?? err.message}`}`, [to]));
    this.on(src, 'close', () => {
      // A side closes by itself only once it sent FIN and took our FIN (both directions done), so the
      // other side is closing too; a close before its FIN is an abort.
      if (!this.ended[from]) return this.close(`${from} closed without FIN`, [to]);
      this.gone[from] = true;
      if (this.gone[to]) this.close(`${this.firstEnd} closed first`);
    });
    if (!this.held) src.resume();
  }

  private watchStall(side: Side): void {
    const ms = this.opts.stallTimeoutMs;
    if (ms === undefined || this.stalls[side]) return;
    this.stalls[side] = setTimeout(() => this.close(`${side} took no data for ${ms / 1000} s (not reading): both sides reset`, ['client', 'server']), ms);
  }

  private observe(call: () => void): void {
    if (this.observerBroken) return;
    try {
      call();
    } catch (e) {
      this.observerBroken = true;
      try {
        this.observer.failed(e);
      } catch {
        // Nothing left to tell; the bytes still flow.
      }
    }
  }

  /** Ends the relay: the sides in `reset` get a RST, the others are closed (FIN). */
  private close(reason: string, reset: Side[] = []): void {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    for (const t of Object.values(this.stalls)) clearTimeout(t);
    for (const side of ['client', 'server'] as const) {
      const tcp = this.tcp[side];
      // Late errors of a torn-down socket are expected; keep them from reaching the process.
      for (const s of new Set([this.sockets[side], tcp])) s.on('error', () => {});
      // resetAndDestroy() needs the TCP handle, still there unless the socket is gone already.
      if (reset.includes(side) && !tcp.destroyed) tcp.resetAndDestroy();
      this.sockets[side].destroy();
      tcp.destroy();
    }
    this.finish({ reason });
  }
}

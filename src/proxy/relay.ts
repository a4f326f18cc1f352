/**
 * Byte relay between a client and a server socket: every chunk is written on as it was received (never
 * merged), a slow reader pauses the sender (backpressure), one side's FIN ends only that direction
 * (half-close), and an abort on either side (a reset, an error, a close without FIN) reaches the
 * other side as a reset (RST), not as a FIN that would pass for a clean end. A side that takes nothing
 * (no drain) for `stallTimeoutMs` ends the relay with a reset of both sides: a paused socket is not
 * read, so without it a peer that stops reading could hold a connection (and its buffers) for ever,
 * even after the other peer went away. Observers see each chunk after it was handed on; what they do
 * cannot change what is relayed, and delays it only by asking to (`holdAll`: a recording that is behind).
 *
 * The two endpoints can be exchanged mid-stream (`swap`) — the TLS interception replaces the raw
 * sockets by TLS sockets layered on them; a reset is still sent on the raw TCP sockets.
 *
 * With a `pipe` (the addons' interception) a chunk is not written on by the relay: the pipe gets it
 * and writes what it decides through `send`, and may hold a sender (`hold`) while it works; it tells
 * the tap what it wrote itself (the observer gets only the ends). Without one the relay path is the
 * plain one above, untouched.
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

/** Takes every chunk instead of the relay, and writes on through `Relay.send`. */
export interface RelayPipe {
  /** A chunk the sender of `dir` sent. */
  push(dir: Direction, chunk: Buffer): void;
  /** The sender of `dir` sent FIN: resolves once all it sent before is written on (the FIN follows). */
  end(dir: Direction): Promise<void>;
  /** The relay ended: what the pipe still holds or awaits is settled before the connection's close is reported. */
  close(): void | Promise<void>;
}

export interface RelayOptions {
  /** A side that takes nothing for this long while data waits for it ends the relay (default: never). */
  stallTimeoutMs?: number;
  /** Hands every chunk to a pipe (made once the relay exists) instead of writing it on. */
  pipe?: (relay: Relay) => RelayPipe;
}

/** Why a sender is paused: its receiver is not draining, the pipe holds it, or the recording is behind. */
type PauseReason = 'drain' | 'pipe' | 'recording';

type Side = 'client' | 'server';

const DIR_FROM: Record<Side, Direction> = { client: 'c2s', server: 's2c' };
const SENDER: Record<Direction, Side> = { c2s: 'client', s2c: 'server' };
const OTHER: Record<Side, Side> = { client: 'server', server: 'client' };

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
  readonly pipe?: RelayPipe;
  /** Why each sender is paused; piped only: the sides our FIN went to (nothing more is written there). */
  private readonly pauses: Record<Side, Set<PauseReason>> = { client: new Set(), server: new Set() };
  private readonly finished: Record<Side, boolean> = { client: false, server: false };

  constructor(
    client: net.Socket,
    server: net.Socket,
    private readonly observer: RelayObserver,
    private readonly opts: RelayOptions = {},
  ) {
    this.done = new Promise((resolve) => (this.finish = resolve));
    this.tcp = { client, server };
    this.pipe = opts.pipe?.(this);
    this.attach(client, server);
  }

  /**
   * Piped: writes bytes to the receiver of `dir` (backpressure pauses its sender). False when nothing
   * can be written there any more (the relay ended, or that side got our FIN).
   */
  send(dir: Direction, bytes: Buffer): boolean {
    const from = SENDER[dir];
    const to = OTHER[from];
    if (!this.writable(dir)) return false;
    if (!this.sockets[to].write(bytes)) {
      this.pause(from, 'drain', true);
      this.watchStall(to);
    }
    return true;
  }

  /** Piped: whether bytes can still be written to the receiver of `dir`. */
  writable(dir: Direction): boolean {
    return !this.closed && !this.finished[OTHER[SENDER[dir]]];
  }

  /** Piped: pauses (or resumes) the sender of `dir` while the pipe works on what it sent. */
  hold(dir: Direction, held: boolean): void {
    this.pause(SENDER[dir], 'pipe', held);
  }

  /** Pauses both senders (true) until released (false): an observer that is behind holds the peers back. */
  holdAll(held: boolean): void {
    for (const side of ['client', 'server'] as const) this.pause(side, 'recording', held);
  }

  private pause(side: Side, reason: PauseReason, on: boolean): void {
    const reasons = this.pauses[side];
    if (on) reasons.add(reason);
    else reasons.delete(reason);
    // Before the sockets are attached (the pipe is being made), attaching honours the reasons.
    if (this.closed || !this.sockets) return;
    if (reasons.size) this.sockets[side].pause();
    else this.sockets[side].resume();
  }

  /** Relays between new endpoints from here on (the old ones are left alone, not closed). */
  swap(client: Duplex, server: Duplex): void {
    this.detach();
    this.attach(client, server);
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
    const pipe = this.pipe;
    if (pipe) this.on(src, 'data', (chunk: Buffer) => pipe.push(dir, chunk));
    else {
      this.on(src, 'data', (chunk: Buffer) => {
        if (!dst.write(chunk)) {
          this.pause(from, 'drain', true);
          this.watchStall(to);
        }
        this.observe(() => this.observer.data(dir, chunk));
      });
    }
    // 'drain' only follows a write that returned false, i.e. a pause of ours.
    this.on(dst, 'drain', () => {
      clearTimeout(this.stalls[to]);
      this.stalls[to] = undefined;
      this.pause(from, 'drain', false);
    });
    this.on(src, 'end', () => {
      this.ended[from] = true;
      this.firstEnd ??= from;
      const finish = () => {
        if (this.closed) return;
        this.observe(() => this.observer.end(dir));
        this.finished[to] = true;
        dst.end();
      };
      if (pipe) void pipe.end(dir).then(finish);
      else finish();
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
    if (!this.pauses[from].size) src.resume();
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

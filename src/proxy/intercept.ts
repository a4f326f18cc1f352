/**
 * The addons' relay path for one connection (a RelayPipe): each direction is framed and every frame
 * goes through the addons' frame hooks in order before it is written on. Bytes are forwarded by
 * position: whatever is not an MRIM frame (SOCKS, redirector text, garbage, TLS, zlib) is written on
 * as it came, and a frame an addon left alone goes on as its original bytes, so with no change the
 * stream is byte-exact. Only a frame in progress is held back (from its magic on) until it is whole,
 * for a second at most.
 *
 * Seq rules: frames of the peers keep their seq. An injected frame gets a seq from a range of
 * mrimtap's own (or the one asked for); a reply to an injected frame (found by the table's reply
 * rules, like any reply) is taken off the stream and handed to the injector: the side that did not
 * send the request never sees an answer to it. `reply()` answers with the request's seq. A dropped
 * request gets no answer unless an addon sends one (`reply()`): mrimtap makes none up.
 */
import { isDeepStrictEqual } from 'node:util';
import { encodePacket, reencode, type DecodedFrame } from '../protocol/codec.js';
import { repliesOf } from '../protocol/conversation.js';
import type { Direction, Fields } from '../protocol/fields.js';
import { MAGIC_BYTES, headerField, protoMinor } from '../protocol/header.js';
import type { PacketName } from '../protocol/packets/index.js';
import { SessionDecoder, type SessionEvent } from '../protocol/session.js';
import type { AddonMark } from '../tap/events.js';
import type { ProxyConnectionTap } from './proxy-tap.js';
import type { Addon, AddonContext, AddonFrame, FrameContext, FrameResult, InjectOptions } from './addons.js';
import type { Relay, RelayPipe } from './relay.js';

/** Injected frames are numbered from here: far above what a client counting from 0 or 1 reaches. */
const INJECTED_SEQ_BASE = 0xf0000000;
/** The header version of injected frames until a peer has sent one. */
const DEFAULT_PROTO = 0x10017;
/** A close hook that takes longer does not hold the connection's close event back. */
const CLOSE_HOOK_MS = 2000;
/**
 * A frame in progress held back longer is passed on as it comes (no hook sees it): a stream that only
 * looks like MRIM, or a peer that waits for an answer before finishing its frame, must not stall.
 */
const HOLD_MS = 1000;

const OTHER: Record<Direction, Direction> = { c2s: 's2c', s2c: 'c2s' };
type FrameEvent = Extract<SessionEvent, { kind: 'frame' }>;

export interface InterceptOptions {
  maxFrameSize?: number;
  /** The proxy terminates TLS: after STARTTLS the streams are still MRIM. */
  tlsTerminated?: boolean;
  /** After bytes were written on (the TLS interception looks for the switch there). */
  onSent?: (dir: Direction) => void;
}

interface DirState {
  /** Bytes received from `cursor` on: not yet written on. */
  held: Buffer;
  cursor: number;
  received: number;
  /** Events of the last chunk still to handle, and chunks waiting while a hook works. */
  events: SessionEvent[];
  queue: Buffer[];
  busy: boolean;
  /** The sender's FIN came: resolve once everything is written on. */
  ending?: () => void;
  /** The header version this side's frames use. */
  proto?: number;
  /** What is to be written on, gathered while the direction is worked on: one write per chunk received. */
  out: Buffer[];
  running: boolean;
  /** Runs while bytes are held back: see HOLD_MS. */
  holdTimer?: NodeJS.Timeout;
}

const isThenable = (v: unknown): v is PromiseLike<unknown> => !!v && typeof (v as PromiseLike<unknown>).then === 'function';

/** A frame that may not encode back to its bytes (a hook's frame may lack `warnings`). */
const malformed = (f: DecodedFrame) => Array.isArray(f.warnings) && f.warnings.length > 0;

/** The parts of a frame that make its bytes: what a hook's change is looked for in. */
const wireForm = (f: DecodedFrame) => [f.type, f.seq, f.proto, f.fields, f.enc, f.trailing, f.from, f.fromPort, f.reserved];

export class Interception implements RelayPipe {
  private readonly input: SessionDecoder;
  /** Index (in the input session's state, which learns injected frames too) of each injected request → who injected it and who waits for its reply. */
  private readonly injected = new Map<number, { by: string; resolve: (f: DecodedFrame | undefined) => void }>();
  private readonly dirs: Record<Direction, DirState>;
  private readonly contexts: AddonContext[];
  private nextSeq = INJECTED_SEQ_BASE;
  private closed = false;

  constructor(
    private readonly relay: Relay,
    private readonly tap: ProxyConnectionTap,
    private readonly addons: readonly Addon[],
    private readonly opts: InterceptOptions = {},
  ) {
    this.input = new SessionDecoder({ maxFrameSize: opts.maxFrameSize, tlsTerminated: opts.tlsTerminated });
    const dir = (): DirState => ({ held: Buffer.alloc(0), cursor: 0, received: 0, events: [], queue: [], busy: true, out: [], running: false });
    this.dirs = { c2s: dir(), s2c: dir() };
    this.contexts = addons.map((_, i) => this.context(i));
    // Frames wait for the connect hooks (both directions start busy); those run once the relay has its
    // sockets, so that they can inject.
    queueMicrotask(() => {
      const connected = this.runEach('connect', (a, ctx) => a.connect?.(ctx));
      if (!isThenable(connected)) return this.start(false);
      for (const d of ['c2s', 's2c'] as const) relay.hold(d, true);
      void connected.then(() => this.start(true));
    });
  }

  push(dir: Direction, chunk: Buffer): void {
    const d = this.dirs[dir];
    if (d.busy) {
      d.queue.push(chunk);
      return;
    }
    this.take(dir, chunk);
    this.run(dir);
  }

  end(dir: Direction): Promise<void> {
    return new Promise((resolve) => {
      this.dirs[dir].ending = resolve;
      if (!this.dirs[dir].busy) this.run(dir);
    });
  }

  /** The relay is done: the close hooks run, replies still awaited resolve with nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const d of Object.values(this.dirs)) clearTimeout(d.holdTimer);
    for (const { resolve } of this.injected.values()) resolve(undefined);
    this.injected.clear();
    const closing = this.runEach('close', (a, ctx) => a.close?.(ctx));
    if (isThenable(closing)) await Promise.race([closing, new Promise((r) => setTimeout(r, CLOSE_HOOK_MS).unref())]);
  }

  private start(held: boolean): void {
    for (const dir of ['c2s', 's2c'] as const) {
      this.dirs[dir].busy = false;
      if (held) this.relay.hold(dir, false);
      this.run(dir);
    }
  }

  private take(dir: Direction, chunk: Buffer): void {
    const d = this.dirs[dir];
    d.held = d.held.length ? Buffer.concat([d.held, chunk]) : chunk;
    d.received += chunk.length;
    d.events = this.decode(() => this.input.push(dir, chunk, Date.now()));
  }

  private decode(run: () => SessionEvent[]): SessionEvent[] {
    try {
      return run();
    } catch {
      // The tap reports decoder trouble; here the bytes just go on.
      return [];
    }
  }

  /** Works through the events and chunks of a direction until a hook makes it wait, or all is done. */
  private run(dir: Direction): void {
    const d = this.dirs[dir];
    d.running = true;
    for (;;) {
      while (d.events.length) {
        const ev = d.events.shift()!;
        if (ev.kind !== 'frame') continue;
        const waiting = this.onFrame(dir, ev);
        if (waiting) {
          this.flush(dir);
          d.busy = true;
          this.relay.hold(dir, true);
          void waiting.then(() => {
            d.busy = false;
            this.run(dir);
          });
          return;
        }
      }
      this.forward(dir, this.safeEnd(dir));
      const next = d.queue.shift();
      if (!next) break;
      this.take(dir, next);
    }
    this.relay.hold(dir, false);
    this.watchHeld(dir);
    if (d.ending) {
      d.events = this.decode(() => this.input.end(dir, Date.now()));
      if (d.events.some((e) => e.kind === 'frame')) return this.run(dir);
      this.forward(dir, d.received);
      this.flush(dir);
      const ending = d.ending;
      d.ending = undefined;
      ending();
    }
    this.flush(dir);
  }

  private watchHeld(dir: Direction): void {
    const d = this.dirs[dir];
    if (!d.held.length || this.closed) {
      clearTimeout(d.holdTimer);
      d.holdTimer = undefined;
      return;
    }
    d.holdTimer ??= setTimeout(() => {
      d.holdTimer = undefined;
      if (d.busy || this.closed) return;
      this.forward(dir, d.received);
    }, HOLD_MS).unref();
  }

  /**
   * Where the bytes that may be written on end: all received but a frame in progress — from the first
   * magic (or the start of one at the end) in what the framer still holds.
   */
  private safeEnd(dir: Direction): number {
    const d = this.dirs[dir];
    // What the framer holds may begin with bytes written on already (text before a magic).
    const pending = Math.min(this.input.framers[dir].pending, d.held.length);
    const start = d.held.length - pending;
    const found = d.held.indexOf(MAGIC_BYTES, start);
    if (found !== -1) return d.cursor + found;
    for (let k = Math.min(MAGIC_BYTES.length - 1, pending); k > 0; k--) {
      if (d.held.subarray(d.held.length - k).equals(MAGIC_BYTES.subarray(0, k))) return d.received - k;
    }
    return d.received;
  }

  /** Writes on the received bytes up to stream offset `to`, as they came. */
  private forward(dir: Direction, to: number): void {
    const d = this.dirs[dir];
    if (to <= d.cursor) return;
    const n = to - d.cursor;
    this.send(dir, d.held.subarray(0, n));
    this.skip(dir, n);
  }

  private skip(dir: Direction, n: number): void {
    const d = this.dirs[dir];
    d.held = d.held.subarray(n);
    d.cursor += n;
  }

  /** Queues bytes to be written on (written at once outside the direction's work), telling the tap what its receiver gets. */
  private send(dir: Direction, bytes: Buffer, mark?: AddonMark): void {
    if (!bytes.length || !this.relay.writable(dir)) return;
    const d = this.dirs[dir];
    d.out.push(bytes);
    this.tap.push(dir, bytes, Date.now(), mark);
    if (!d.running) this.flush(dir);
  }

  private flush(dir: Direction): void {
    const d = this.dirs[dir];
    d.running = false;
    if (!d.out.length) return;
    const bytes = d.out.length === 1 ? d.out[0] : Buffer.concat(d.out);
    d.out = [];
    this.relay.send(dir, bytes);
    this.opts.onSent?.(dir);
  }

  /** One frame through the hooks; a promise when a hook made it wait. */
  private onFrame(dir: Direction, ev: FrameEvent): Promise<void> | undefined {
    // Passed on in part already, while it was held too long: the rest goes on as it came.
    if (ev.offset < this.dirs[dir].cursor) return void this.forward(dir, ev.offset + ev.raw.length);
    this.forward(dir, ev.offset);
    this.dirs[dir].proto = headerField(ev.raw, 'proto');
    const request = ev.replyTo && this.injected.get(ev.replyTo.index);
    if (request) {
      this.injected.delete(ev.replyTo!.index);
      request.resolve(ev.frame);
      this.skip(dir, ev.raw.length);
      this.tap.note(`${ev.frame.type} seq=${ev.frame.seq} answers ${ev.replyTo!.type} injected by ${request.by}: handed to it, not passed on`, 'info', Date.now(), dir, {
        action: 'dropped',
        by: 'mrimtap',
        original: ev.raw,
      });
      return undefined;
    }
    const outcome = this.hooks(ev, 0, { frame: ev.frame, bytes: ev.raw });
    if (!isThenable(outcome)) {
      this.finishFrame(dir, ev, outcome);
      return undefined;
    }
    return Promise.resolve(outcome).then((o) => this.finishFrame(dir, ev, o));
  }

  /** The frame after the hooks from `i` on, or who dropped it. */
  private hooks(ev: FrameEvent, i: number, passing: Passing): Outcome | Promise<Outcome> {
    for (; i < this.addons.length; i++) {
      const addon = this.addons[i];
      if (!addon.frame) continue;
      // A frame that does not encode back to its bytes (it has warnings) is compared by its fields, on a copy.
      const given = malformed(passing.frame) ? structuredClone(passing.frame) : passing.frame;
      let result: FrameResult | Promise<FrameResult>;
      try {
        result = addon.frame(given as AddonFrame, this.frameContext(i, ev));
      } catch (e) {
        this.hookFailed(i, 'frame', e, ev.dir);
        continue;
      }
      if (isThenable(result)) {
        const next = i + 1;
        return Promise.resolve(result).then(
          (r) => {
            const step = this.apply(ev, i, passing, r);
            return 'dropped' in step ? step : this.hooks(ev, next, step);
          },
          (e) => {
            this.hookFailed(i, 'frame', e, ev.dir);
            return this.hooks(ev, next, passing);
          },
        );
      }
      const step = this.apply(ev, i, passing, result);
      if ('dropped' in step) return step;
      passing = step;
    }
    return passing;
  }

  /**
   * What hook `i` returned, checked: a frame returned is encoded again, and counts as changed only when
   * its bytes differ; one that does not encode leaves the hook's input going on.
   */
  private apply(ev: FrameEvent, i: number, passing: Passing, result: FrameResult): Outcome {
    const name = this.nameOf(i);
    if (result === null) return { dropped: name };
    if (result === undefined) return passing;
    if (typeof result !== 'object' || typeof result.fields !== 'object' || result.fields === null) {
      this.hookFailed(i, 'frame', new Error('it returned neither a frame, null nor nothing'), ev.dir);
      return passing;
    }
    if (malformed(passing.frame) && isDeepStrictEqual(wireForm(result), wireForm(passing.frame))) return passing;
    let bytes: Buffer;
    try {
      bytes = reencode(result);
    } catch (e) {
      this.hookFailed(i, 'frame', new Error(`its frame does not encode: ${(e as Error).message}`), ev.dir);
      return passing;
    }
    // The same bytes (the frame returned as it came, or a decode-only annotation edited) are no change.
    return bytes.equals(passing.bytes) ? passing : { frame: result, bytes, by: name };
  }

  private finishFrame(dir: Direction, ev: FrameEvent, outcome: Outcome): void {
    this.skip(dir, ev.raw.length);
    if ('dropped' in outcome) {
      this.tap.note(`${ev.frame.type} seq=${ev.frame.seq} not passed on`, 'info', Date.now(), dir, { action: 'dropped', by: outcome.dropped, original: ev.raw });
    } else if (outcome.by && !outcome.bytes.equals(ev.raw)) {
      this.send(dir, outcome.bytes, { action: 'modified', by: outcome.by, original: ev.raw });
    } else {
      this.send(dir, ev.raw);
    }
  }

  private nameOf(i: number): string {
    return this.addons[i].name ?? `addon ${i + 1}`;
  }

  private hookFailed(i: number, hook: string, e: unknown, dir?: Direction): void {
    const why = e instanceof Error ? e.message : String(e);
    this.tap.note(`addon ${this.nameOf(i)}: its ${hook} hook failed (${why})${hook === 'frame' ? '; the frame goes on as the hook got it' : ''}`, 'warn', Date.now(), dir);
  }

  /** Runs one hook of every addon in order, waiting for those that return a promise. */
  private runEach(hook: 'connect' | 'close', call: (a: Addon, ctx: AddonContext) => unknown, from = 0): void | Promise<void> {
    for (let i = from; i < this.addons.length; i++) {
      let result: unknown;
      try {
        result = call(this.addons[i], this.contexts[i]);
      } catch (e) {
        this.hookFailed(i, hook, e);
        continue;
      }
      if (isThenable(result)) {
        return Promise.resolve(result).then(
          () => this.runEach(hook, call, i + 1),
          (e) => (this.hookFailed(i, hook, e), this.runEach(hook, call, i + 1)),
        );
      }
    }
  }

  private context(i: number): AddonContext {
    const self = this;
    const by = this.nameOf(i);
    return {
      conn: this.tap.conn,
      client: this.tap.client,
      server: this.tap.server,
      get login() {
        return self.input.login;
      },
      get minor() {
        return self.input.minor;
      },
      state: {},
      inject: ((dir: Direction, type: PacketName | Buffer, fields?: Fields, opts?: InjectOptions) => self.inject(by, dir, type, fields, opts)) as AddonContext['inject'],
      note: (message: string, level: 'info' | 'warn' = 'info') => self.tap.note(`${by}: ${message}`, level, Date.now()),
    };
  }

  private frameContext(i: number, ev: FrameEvent): FrameContext {
    const by = this.nameOf(i);
    const reply = (type: PacketName, fields?: Fields) => void this.inject(by, OTHER[ev.dir], type, fields, { seq: ev.frame.seq });
    return Object.assign(Object.create(this.contexts[i]) as AddonContext, { reply }) as FrameContext;
  }

  private inject(by: string, dir: Direction, type: PacketName | Buffer, fields: Fields = {}, opts: InjectOptions = {}): Promise<DecodedFrame | undefined> {
    const refuse = (why: string) => {
      this.tap.note(`${by}: cannot inject ${Buffer.isBuffer(type) ? `${type.length} bytes` : type} ${dir}: ${why}`, 'warn', Date.now(), dir);
      return Promise.resolve(undefined);
    };
    if (this.closed) return refuse('the connection is closed');
    const framer = this.input.framers[dir];
    if (this.input.tls && !this.opts.tlsTerminated) return refuse('the connection is TLS from here on');
    if (dir === 's2c' && this.input.state.compressed) return refuse('the server stream is compressed from here on');
    // The receiver's stream is in the middle of an oversize frame: a frame put there would be part of it.
    if (framer.skipping > 0) return refuse('the stream is in the middle of an oversize frame');
    const mark: AddonMark = { action: 'injected', by };
    if (Buffer.isBuffer(type)) {
      this.send(dir, type, mark);
      return Promise.resolve(undefined);
    }
    const seq = opts.seq ?? this.nextSeq++;
    const proto = (dir === 'c2s' ? (this.input.state.proto ?? this.dirs.c2s.proto) : (this.dirs.s2c.proto ?? this.input.state.proto)) ?? DEFAULT_PROTO;
    let bytes: Buffer;
    try {
      bytes = encodePacket(type as 'PING', fields, { proto, seq, dir, minor: this.input.minor ?? protoMinor(proto) });
    } catch (e) {
      return refuse((e as Error).message);
    }
    const { index } = this.input.state.learn(dir, { type, seq, fields });
    this.send(dir, bytes, mark);
    if (!repliesOf(type, dir).length) return Promise.resolve(undefined);
    return new Promise((resolve) => this.injected.set(index, { by, resolve }));
  }
}

/** A frame on its way through the hooks: its bytes as they are now, and who changed them last. */
interface Passing {
  frame: DecodedFrame;
  bytes: Buffer;
  by?: string;
}
type Outcome = Passing | { dropped: string };

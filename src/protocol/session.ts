/**
 * Per-connection decoding state, sans-IO: two framers (one per direction) and what the session has
 * taught us — the client's protocol version, its login, outstanding requests — so every frame decodes
 * with the right layout and says which request it answers. Used alike by the proxy, `decode`, capture
 * tools and replay.
 */
import { decodeFrame, type DecodeOptions, type DecodedFrame } from './codec.js';
import { SessionState, type ReplyInfo, type Unanswered } from './conversation.js';
import type { Direction } from './fields.js';
import { Framer, type FramerEvent } from './framer.js';
import { headerField, protoMinor } from './header.js';
import type { SocksMessage } from './socks.js';

/** A frame's place among the frames one read completed: the `position`th (from 1) of `frames`. */
export interface SameRead {
  position: number;
  frames: number;
}

interface EventBase {
  dir: Direction;
  /** Byte offset in this direction's stream. */
  offset: number;
  /** Time the chunk carrying the event arrived (ms since epoch), when the caller gives one. */
  time?: number;
}

export type SessionEvent =
  | (EventBase & {
      kind: 'frame';
      index: number;
      raw: Buffer;
      frame: DecodedFrame;
      replyTo?: ReplyInfo;
      /** The account logged in on the connection as of this frame (set from the login packet on). */
      login?: string;
      /**
       * Set when this frame was one of several completed by one read (one TCP segment): a peer that
       * reads once per frame (revival servers do) would drop the others.
       */
      sameRead?: SameRead;
    })
  | (EventBase & { kind: 'garbage'; bytes: Buffer; reason: string; skipped?: number })
  | (EventBase & { kind: 'socks'; bytes: Buffer; message: SocksMessage })
  | (EventBase & {
      kind: 'redirect';
      bytes: Buffer;
      text: string;
      address?: string;
      host?: string;
      port?: number;
      /** What the client got instead of this answer: a proxy rewrote it (reverse mode) so the next connection comes back to it. */
      rewritten?: { text: string; bytes: Buffer };
    })
  | (EventBase & { kind: 'tls' | 'compressed'; bytes: Buffer; start: boolean });

export interface SessionOptions {
  /** Protocol minor version to assume before the client announces one (e.g. for a server-only stream). */
  minor?: number;
  maxFrameSize?: number;
  detectPreamble?: boolean;
  /**
   * The caller terminates TLS itself (a TLS-intercepting proxy) and pushes the cleartext: an accepted
   * STARTTLS still sets `tls`, but the streams keep being decoded as MRIM.
   */
  tlsTerminated?: boolean;
  /** Each chunk pushed is one read or one TCP segment (not a file's buffer): frames it completes together are marked (`sameRead`). */
  chunksAreReads?: boolean;
  /**
   * `lazy`: frames are decoded with `strings: 'lazy'` (see DecodeOptions): their texts are made only
   * when read. The events are the same; the session's own reads (login, reply rules) make only the
   * texts they read.
   */
  strings?: DecodeOptions['strings'];
}

export class SessionDecoder {
  /** What the frames so far taught: the client's version, the account, TLS/zlib, outstanding requests. */
  readonly state: SessionState;
  readonly framers: Record<Direction, Framer>;

  constructor(private readonly opts: SessionOptions = {}) {
    this.state = new SessionState();
    const base = { maxFrameSize: opts.maxFrameSize, detectPreamble: opts.detectPreamble };
    this.framers = { c2s: new Framer({ dir: 'c2s', ...base }), s2c: new Framer({ dir: 's2c', ...base }) };
  }

  /** Protocol minor the layouts follow: the client's once seen, else the assumed one. */
  get minor(): number | undefined {
    return this.state.proto === undefined ? this.opts.minor : this.state.minor();
  }

  get login(): string | undefined {
    return this.state.login;
  }

  /** Set once STARTTLS was accepted: the rest of the connection is TLS. */
  get tls(): boolean {
    return this.state.tls;
  }

  /** Decodes a chunk of one direction; `time` (ms) enables reply latencies. */
  push(dir: Direction, chunk: Buffer, time?: number): SessionEvent[] {
    return this.collect(dir, this.framers[dir].push(chunk), time);
  }

  /** The direction reached its end: reports incomplete leftovers. */
  end(dir: Direction, time?: number): SessionEvent[] {
    return this.collect(dir, this.framers[dir].finish(), time);
  }

  /** Requests that never got the reply they await, so far (a connection's close reports them). */
  unanswered(): Unanswered[] {
    return this.state.unanswered();
  }

  private collect(dir: Direction, events: Iterable<FramerEvent>, time?: number): SessionEvent[] {
    const out: SessionEvent[] = [];
    // A push in mid-frame (most pushes of small chunks) gives the framer's empty list: no iterator for it.
    if (Array.isArray(events) && events.length === 0) return out;
    let frames = 0;
    for (const ev of events) {
      if (ev.kind === 'frame') {
        out.push(this.onFrame(dir, ev.offset, ev.frame, time));
        frames++;
      } else out.push({ ...ev, dir, time });
    }
    if (frames > 1 && this.opts.chunksAreReads) {
      let position = 0;
      for (const ev of out) if (ev.kind === 'frame') ev.sameRead = { position: ++position, frames };
    }
    return out;
  }

  private onFrame(dir: Direction, offset: number, raw: Buffer, time?: number): SessionEvent {
    const headerMinor = protoMinor(headerField(raw, 'proto'));
    if (dir === 'c2s') this.state.clientHeader(headerField(raw, 'msg'), headerField(raw, 'proto'));
    const frame = decodeFrame(raw, { dir, minor: this.minor ?? headerMinor, strings: this.opts.strings });
    const { index, replyTo, switchTo } = this.state.learn(dir, frame, time);
    if (switchTo === 'tls' && !this.opts.tlsTerminated) {
      this.framers.c2s.enterTls();
      this.framers.s2c.enterTls();
    }
    if (switchTo === 'zlib') this.framers.s2c.enterCompressed();
    const ev: SessionEvent = { kind: 'frame', dir, offset, time, index, raw, frame };
    if (replyTo) ev.replyTo = replyTo;
    if (this.state.login) ev.login = this.state.login;
    return ev;
  }
}

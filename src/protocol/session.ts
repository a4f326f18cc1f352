/**
 * Per-connection decoding state, sans-IO: two framers (one per direction) and what the session has
 * taught us — the client's protocol version, its login, outstanding requests — so every frame decodes
 * with the right layout and says which request it answers. Used alike by the proxy, `decode`, capture
 * tools and replay.
 */
import { decodeFrame, type DecodedFrame } from './codec.js';
import type { Direction, Fields } from './fields.js';
import { Framer, type FramerEvent } from './framer.js';
import { protoMinor } from './header.js';
import { PACKETS, packetByCode, type ReplyRule } from './packets.js';
import type { SocksMessage } from './socks.js';

export interface ReplyInfo {
  type: string;
  seq: number;
  /** Index (per connection, both directions) of the request frame. */
  index: number;
  latencyMs?: number;
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
    })
  | (EventBase & { kind: 'garbage'; bytes: Buffer; reason: string; skipped?: number })
  | (EventBase & { kind: 'socks'; bytes: Buffer; message: SocksMessage })
  | (EventBase & { kind: 'redirect'; bytes: Buffer; text: string; address?: string; host?: string; port?: number })
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
}

interface Pending {
  type: string;
  dir: Direction;
  seq: number;
  index: number;
  fields: Fields;
  time?: number;
}

/** Every packet type that some reply rule answers, from the table. */
const REQUEST_TYPES = new Set(PACKETS.flatMap((p) => p.reply?.requests ?? []));
const LOGIN_TYPES = new Set(['HELLO', 'LOGIN', 'LOGIN2', 'LOGIN3']);
const MAX_PENDING = 4096;

export class SessionDecoder {
  /** Protocol minor the layouts follow: the client's, once seen. */
  minor?: number;
  login?: string;
  /** Set once STARTTLS was accepted: the rest of the connection is TLS. */
  tls = false;
  compressed = false;
  frames = 0;
  readonly framers: Record<Direction, Framer>;
  private pending: Pending[] = [];

  constructor(private readonly opts: SessionOptions = {}) {
    this.minor = opts.minor;
    const base = { maxFrameSize: opts.maxFrameSize, detectPreamble: opts.detectPreamble };
    this.framers = { c2s: new Framer({ dir: 'c2s', ...base }), s2c: new Framer({ dir: 's2c', ...base }) };
  }

  /** Decodes a chunk of one direction; `time` (ms) enables reply latencies. */
  push(dir: Direction, chunk: Buffer, time?: number): SessionEvent[] {
    return this.collect(dir, this.framers[dir].push(chunk), time);
  }

  /** The direction reached its end: reports incomplete leftovers. */
  end(dir: Direction, time?: number): SessionEvent[] {
    return this.collect(dir, this.framers[dir].finish(), time);
  }

  private collect(dir: Direction, events: Iterable<FramerEvent>, time?: number): SessionEvent[] {
    const out: SessionEvent[] = [];
    for (const ev of events) {
      if (ev.kind === 'frame') out.push(this.onFrame(dir, ev.offset, ev.frame, time));
      else out.push({ ...ev, dir, time });
    }
    return out;
  }

  private onFrame(dir: Direction, offset: number, raw: Buffer, time?: number): SessionEvent {
    const msg = raw.readUInt32LE(12);
    const def = packetByCode(msg);
    const headerMinor = protoMinor(raw.readUInt32LE(4));
    if (dir === 'c2s' && (this.minor === undefined || (def && LOGIN_TYPES.has(def.name)))) this.minor = headerMinor;
    const frame = decodeFrame(raw, { dir, minor: this.minor ?? headerMinor });
    const index = this.frames++;
    if (def?.name === 'LOGIN2' || def?.name === 'LOGIN3' || def?.name === 'LOGIN') {
      if (typeof frame.fields.login === 'string') this.login = frame.fields.login;
    }
    const replyTo = def?.reply ? this.match(def.reply, dir, frame, time) : undefined;
    if (REQUEST_TYPES.has(frame.type)) {
      this.pending.push({ type: frame.type, dir, seq: frame.seq, index, fields: frame.fields, time });
      if (this.pending.length > MAX_PENDING) this.pending.shift();
    }
    if (replyTo?.type === 'STARTTLS' && frame.type === 'OK') {
      this.tls = true;
      if (!this.opts.tlsTerminated) {
        this.framers.c2s.enterTls();
        this.framers.s2c.enterTls();
      }
    }
    if (replyTo?.type === 'COMPRESS_SERVER_STREAM' && frame.type === 'OK') {
      this.compressed = true;
      this.framers.s2c.enterCompressed();
    }
    return { kind: 'frame', dir, offset, time, index, raw, frame, ...(replyTo ? { replyTo } : {}), ...(this.login ? { login: this.login } : {}) };
  }

  /** Finds (and retires) the newest outstanding request from the other side that this frame answers. */
  private match(rule: ReplyRule, dir: Direction, frame: DecodedFrame, time?: number): ReplyInfo | undefined {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const p = this.pending[i];
      if (p.dir === dir || !rule.requests.includes(p.type)) continue;
      const hit =
        rule.by === 'last' ||
        (rule.by === 'seq' && p.seq === frame.seq) ||
        (rule.by === 'field' && p.fields[rule.requestField] === frame.fields[rule.field]);
      if (!hit) continue;
      this.pending.splice(i, 1);
      const info: ReplyInfo = { type: p.type, seq: p.seq, index: p.index };
      if (time !== undefined && p.time !== undefined) info.latencyMs = time - p.time;
      return info;
    }
    return undefined;
  }
}

/**
 * What one MRIM session knows, sans-IO, by the packet table's reply and session rules: the client's
 * version (learnt from its headers until the login is accepted), the account, outstanding requests and
 * the replies that answer them, and the TLS/zlib switches. `SessionState` is shared by an observer of
 * both directions (SessionDecoder) and by `Conversation`, one endpoint of a session (client, server,
 * replay), which also numbers what it sends.
 */
import { decodeFrame, encodePacket, type DecodedFrame } from './codec.js';
import type { Direction, Fields } from './fields.js';
import { headerField, protoMinor, withHeaderField } from './header.js';
import { PACKETS, packetByCode, packetByName, type PacketDef, type PacketFields, type PacketName } from './packets/index.js';
import type { Encoding } from './text.js';

export interface ReplyInfo {
  type: string;
  seq: number;
  /** Index (per connection, both directions) of the request frame. */
  index: number;
  latencyMs?: number;
}

/** A frame as far as reply matching needs it. */
interface Tracked {
  type: string;
  seq: number;
  fields: Fields;
}

interface Pending extends Tracked {
  dir: Direction;
  index: number;
  time?: number;
}

/** Every packet type that some reply rule answers, from the table. */
const REQUEST_TYPES = new Set(PACKETS.flatMap((p) => p.reply?.requests ?? []));
/** Outstanding requests kept at most: a peer that never answers must not grow the list without end. */
const MAX_PENDING = 4096;

/** Outstanding requests of both sides, and which one each reply answers. */
class ReplyTracker {
  private pending: Pending[] = [];

  /**
   * Notes a frame sent in `dir`: returns (and retires) the newest outstanding request of the other side
   * that it answers; a request becomes outstanding itself.
   */
  track(dir: Direction, frame: Tracked, index: number, time?: number): ReplyInfo | undefined {
    const rule = packetByName(frame.type)?.reply;
    let info: ReplyInfo | undefined;
    for (let i = this.pending.length - 1; rule && i >= 0; i--) {
      const p = this.pending[i];
      if (p.dir === dir || !rule.requests.includes(p.type)) continue;
      const hit =
        rule.by === 'last' ||
        (rule.by === 'seq' && p.seq === frame.seq) ||
        (rule.by === 'field' && p.fields[rule.requestField] === frame.fields[rule.field]);
      if (!hit) continue;
      this.pending.splice(i, 1);
      info = { type: p.type, seq: p.seq, index: p.index };
      if (time !== undefined && p.time !== undefined) info.latencyMs = time - p.time;
      break;
    }
    if (REQUEST_TYPES.has(frame.type)) {
      this.pending.push({ type: frame.type, seq: frame.seq, fields: frame.fields, dir, index, time });
      if (this.pending.length > MAX_PENDING) this.pending.shift();
    }
    return info;
  }
}

export type Switch = 'tls' | 'zlib';

/** What the frames of a session have taught about it so far. */
export class SessionState {
  /** The protocol value of the client's headers: it governs layouts and encodings (reference §0). */
  proto?: number;
  /** The account of the login packet. */
  login?: string;
  /** The server accepted the login: the version is settled. */
  loggedIn = false;
  tls = false;
  compressed = false;
  private readonly replies = new ReplyTracker();
  private frames = 0;

  constructor(proto?: number) {
    this.proto = proto;
  }

  /** The minor version layouts follow; `fallback` until the client has said. */
  minor(fallback = 0): number {
    return this.proto === undefined ? fallback : protoMinor(this.proto);
  }

  /** A client frame's header version, before it is decoded: its first frame, and HELLO/LOGIN until login, set it. */
  clientHeader(msg: number, proto: number): void {
    if (this.proto === undefined || (!this.loggedIn && packetByCode(msg)?.session?.learnsVersion)) this.proto = proto;
  }

  /**
   * Learns from a frame sent in `dir` (decoded, or about to be sent): the login, the request it
   * answers, and the switch an accepting reply starts.
   */
  learn(dir: Direction, frame: Tracked, time?: number): { index: number; replyTo?: ReplyInfo; switchTo?: Switch } {
    const index = this.frames++;
    const def = packetByName(frame.type);
    const loginField = def?.session?.login;
    if (loginField && typeof frame.fields[loginField] === 'string') this.login = frame.fields[loginField] as string;
    const replyTo = this.replies.track(dir, frame, index, time);
    if (!replyTo || !def?.session?.accepts) return { index, ...(replyTo ? { replyTo } : {}) };
    const request = packetByName(replyTo.type)?.session;
    if (request?.login) this.loggedIn = true;
    const switchTo = request?.switchesTo;
    if (switchTo === 'tls') this.tls = true;
    if (switchTo === 'zlib') this.compressed = true;
    return { index, replyTo, ...(switchTo ? { switchTo } : {}) };
  }
}

export type Role = 'client' | 'server';

export interface Sent {
  frame: Buffer;
  seq: number;
  /** Its index in the session (both directions), as a reply's `replyTo.index` names it. */
  index: number;
  /** The request of the peer this frame answers. */
  replyTo?: ReplyInfo;
  /** Sending this accepted a switch: the connection changes from the next byte. */
  switchTo?: Switch;
}

export interface Received {
  frame: DecodedFrame;
  replyTo?: ReplyInfo;
  /** This frame accepted a switch of ours: the connection changes from the next byte. */
  switchTo?: Switch;
}

export interface SendOptions {
  /** The seq to answer with (a reply copies its request's); the next one of our own otherwise. */
  seq?: number;
  /** String encodings that differ from the field's rule (multicast `to` is binary). */
  enc?: Record<string, Encoding>;
}

/**
 * One endpoint of a session. A client gives its own protocol value; a server learns the client's from
 * its headers and answers in it. Encoding and decoding go through the table; the caller owns the socket.
 */
export class Conversation {
  readonly state: SessionState;
  private readonly out: Direction;
  private seq = 0;

  constructor(
    readonly role: Role,
    proto?: number,
  ) {
    this.state = new SessionState(proto);
    this.out = role === 'client' ? 'c2s' : 's2c';
  }

  /** The minor version this session's layouts follow (0 until a server has heard from its client). */
  get minor(): number {
    return this.state.minor();
  }

  /** Encodes a frame to send, numbered as the next of ours unless it answers with a given seq. */
  send<N extends PacketName>(type: N, fields?: PacketFields<N>, opts: SendOptions = {}): Sent {
    const seq = opts.seq ?? ++this.seq;
    const frame = encodePacket(type, fields, { proto: this.state.proto ?? 0x10000, seq, enc: opts.enc, minor: this.minor, dir: this.out });
    return this.sent(frame, { type, seq, fields: (fields ?? {}) as Fields });
  }

  /**
   * Sends a frame that is encoded already (a recorded one, replayed): its bytes as they are — header
   * version, reserved bytes, encodings, trailing bytes — but numbered as the next of ours, or with the
   * given seq. `decoded` is what it says, for reply matching.
   */
  resend(raw: Buffer, decoded: DecodedFrame, opts: { seq?: number } = {}): Sent {
    const seq = opts.seq ?? ++this.seq;
    return this.sent(withHeaderField(raw, 'seq', seq), { type: decoded.type, seq, fields: decoded.fields });
  }

  private sent(frame: Buffer, tracked: Tracked): Sent {
    const learnt = this.state.learn(this.out, tracked);
    return {
      frame,
      seq: tracked.seq,
      index: learnt.index,
      ...(learnt.replyTo ? { replyTo: learnt.replyTo } : {}),
      ...(learnt.switchTo ? { switchTo: learnt.switchTo } : {}),
    };
  }

  /** Decodes a frame the peer sent, with the session's version. */
  receive(raw: Buffer, time?: number): Received {
    const dir: Direction = this.out === 'c2s' ? 's2c' : 'c2s';
    const proto = headerField(raw, 'proto');
    if (dir === 'c2s') this.state.clientHeader(headerField(raw, 'msg'), proto);
    const frame = decodeFrame(raw, { dir, minor: this.state.minor(protoMinor(proto)) });
    const learnt = this.state.learn(dir, frame, time);
    return { frame, ...(learnt.replyTo ? { replyTo: learnt.replyTo } : {}), ...(learnt.switchTo ? { switchTo: learnt.switchTo } : {}) };
  }
}

/** Whether a request of this type gets a reply from the other side (a waiting caller would wait in vain otherwise). */
export function hasReply(type: string, from: Direction): boolean {
  return (PACKETS as readonly PacketDef[]).some((p) => p.dir !== from && p.reply?.requests.includes(type) && p.reply.by !== 'field');
}

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
import { PACKETS, packetByCode, packetByName, requestFieldOf, type PacketDef, type PacketFields, type PacketName, type ReplyRule } from './packets/index.js';
import type { Encoding } from './text.js';

export interface ReplyInfo {
  type: string;
  seq: number;
  /** Index (per connection, both directions) of the request frame. */
  index: number;
  latencyMs?: number;
}

/** A request that never got the reply it awaited. */
export interface Unanswered {
  type: string;
  seq: number;
  /** Who sent the request. */
  dir: Direction;
  index: number;
  time?: number;
  /** The replies any one of which would have answered it. */
  expected: string[];
}

/** A frame as far as reply matching needs it. */
interface Tracked {
  type: string;
  seq: number;
  fields: Fields;
}

/** For each request type, the rows whose replies answer it, from the table. */
const REPLIES_OF = new Map<string, PacketDef[]>();
for (const def of PACKETS as readonly PacketDef[]) {
  for (const request of def.reply?.requests ?? []) REPLIES_OF.set(request, [...(REPLIES_OF.get(request) ?? []), def]);
}
/** The rows that may reply to a request of one type sent in one direction, split once per type and direction. */
interface ReplyCandidates {
  /** The other side's replies to it. */
  all: PacketDef[];
  /** Some of them answer only certain requests (by its fields): `main`/`extra` are then worked out per request. */
  conditional: boolean;
  main: PacketDef[];
  extra: PacketDef[];
  expected: string[];
  /** Some reply is matched by the request's fields: its entry keeps them. */
  byField: boolean;
  /** For a conditional request, the split of each subset of `all` that answers (bit i: `all[i]`), made once. */
  subsets: Map<number, ReplySplit>;
}

type ReplySplit = Pick<ReplyCandidates, 'main' | 'extra' | 'expected' | 'byField'>;

/** Per direction, keyed by type: a key made of both would be a new string to hash for every frame. */
const CANDIDATES: Record<Direction, Map<string, ReplyCandidates>> = { c2s: new Map(), s2c: new Map() };

/** What a frame that is no request has (most frames). */
const NO_CANDIDATES: ReplyCandidates = { all: [], conditional: false, main: [], extra: [], expected: [], byField: false, subsets: new Map() };

function candidatesFor(type: string, dir: Direction): ReplyCandidates {
  const replies = REPLIES_OF.get(type);
  if (!replies) return NO_CANDIDATES;
  // Keyed by the table's own types only, so this stays as small as the table.
  let found = CANDIDATES[dir].get(type);
  if (!found) {
    // Only replies the other side sends can answer it (S→C MODIFY_CONTACT gets no MODIFY_CONTACT_ACK).
    const all = replies.filter((r) => r.dir !== dir);
    found = { all, conditional: all.some((r) => r.reply?.answers), ...splitReplies(all), subsets: new Map() };
    CANDIDATES[dir].set(type, found);
  }
  return found;
}

/** Replies that may answer a request, as its entries wait for them: its answer, each extra reply, and whether any matches by field. */
function splitReplies(replies: PacketDef[]): ReplySplit {
  const main = replies.filter((r) => !r.reply?.extra);
  return { main, extra: replies.filter((r) => r.reply?.extra), expected: main.map((r) => r.name), byField: replies.some((r) => r.reply?.by === 'field') };
}

/**
 * The split of the replies that answer this request of a conditional type. Every chat MESSAGE is one
 * (AUTHORIZE_ACK answers only an authorization request): the split is made once per subset, not per frame.
 */
function answeringSplit(candidates: ReplyCandidates, frame: Tracked): ReplySplit {
  const { all, subsets } = candidates;
  let mask = 0;
  for (let i = 0; i < all.length; i++) if (all[i]!.reply?.answers?.(frame.fields, frame.type) ?? true) mask |= 1 << i;
  let split = subsets.get(mask);
  if (!split) subsets.set(mask, (split = splitReplies(all.filter((_, i) => mask & (1 << i)))));
  return split;
}

/** Whether a request awaits any of these replies (not a closure per frame: this runs for every request). */
function awaitsAny(replies: PacketDef[], fields: Fields): boolean {
  for (const r of replies) if (r.reply?.awaited?.(fields) ?? true) return true;
  return false;
}

/** Outstanding requests kept per side (a power of two): a peer that never answers must not grow the list without end. */
const MAX_PENDING = 4096;
/** Room a side starts with, doubled as needed: most connections never have more waiting, and idle ones are many. */
const FIRST_PENDING = 8;

const groupOf = (rule: ReplyRule, reply: string) => (rule.extra ? reply : '');

function sameValue(a: unknown, b: unknown): boolean {
  return typeof a === 'string' && typeof b === 'string' ? a.toLowerCase() === b.toLowerCase() : a === b;
}

/**
 * One side's outstanding requests, oldest first, in a ring of columns rather than an object each: an
 * unanswered flood (a one-way bulk of messages) keeps thousands waiting, and objects that outlive young
 * collections that way cost the old generation's collections for nothing. The newest MAX_PENDING are
 * kept. An answered entry is marked dead and the ends are trimmed past dead ones.
 */
class PendingRing {
  private types: string[] = new Array(FIRST_PENDING);
  private seqs = new Float64Array(FIRST_PENDING);
  /** Kept only when a reply may be matched by them (`by: 'field'`): most are not. */
  private fields: Array<Fields | undefined> = new Array(FIRST_PENDING);
  private indexes = new Float64Array(FIRST_PENDING);
  /** NaN: no time known. */
  private times = new Float64Array(FIRST_PENDING);
  /** When it became outstanding, counted over both sides (for oldest-first across the two rings). */
  private orders = new Float64Array(FIRST_PENDING);
  /** The replies an entry waits for: the request's answer ('') or one extra reply (its name). */
  private groups: string[] = new Array(FIRST_PENDING);
  private expected: string[][] = new Array(FIRST_PENDING);
  /** 1 live and awaited, 2 live and not awaited, 0 answered or never used. */
  private states = new Uint8Array(FIRST_PENDING);
  /** Entries ever added (`head`) and dropped or trimmed off the old end (`tail`); entry n is at `n & mask`. */
  private head = 0;
  private tail = 0;
  private mask = FIRST_PENDING - 1;

  constructor(private readonly dir: Direction) {}

  add(frame: Tracked, fields: Fields | undefined, index: number, time: number | undefined, order: number, group: string, expected: string[], awaited: boolean): void {
    if (this.head - this.tail > this.mask) {
      if (this.mask + 1 < MAX_PENDING) this.grow();
      else this.tail++;
    }
    const at = this.head++ & this.mask;
    this.types[at] = frame.type;
    this.seqs[at] = frame.seq;
    this.fields[at] = fields;
    this.indexes[at] = index;
    this.times[at] = time ?? NaN;
    this.orders[at] = order;
    this.groups[at] = group;
    this.expected[at] = expected;
    this.states[at] = awaited ? 1 : 2;
  }

  /** Takes the newest entry that `reply` (a `def` frame) answers by `rule`. */
  answer(rule: ReplyRule, def: PacketDef, reply: Tracked, time: number | undefined): ReplyInfo | undefined {
    const group = groupOf(rule, def.name);
    for (let n = this.head - 1; n >= this.tail; n--) {
      const at = n & this.mask;
      if (this.states[at] === 0 || this.groups[at] !== group || !rule.requests.includes(this.types[at]!) || !this.answers(rule, at, reply)) continue;
      this.states[at] = 0;
      this.fields[at] = undefined;
      const info: ReplyInfo = { type: this.types[at]!, seq: this.seqs[at]!, index: this.indexes[at]! };
      const sent = this.times[at]!;
      if (time !== undefined && !Number.isNaN(sent)) info.latencyMs = time - sent;
      while (this.head > this.tail && this.states[(this.head - 1) & this.mask] === 0) this.head--;
      while (this.tail < this.head && this.states[this.tail & this.mask] === 0) this.tail++;
      return info;
    }
    return undefined;
  }

  /** The entries still awaiting their reply, oldest first, with their orders. */
  awaiting(): Array<{ order: number; request: Unanswered }> {
    const out: Array<{ order: number; request: Unanswered }> = [];
    for (let n = this.tail; n < this.head; n++) {
      const at = n & this.mask;
      if (this.states[at] !== 1) continue;
      const time = this.times[at]!;
      const request: Unanswered = { type: this.types[at]!, seq: this.seqs[at]!, dir: this.dir, index: this.indexes[at]!, expected: [...this.expected[at]!], ...(Number.isNaN(time) ? {} : { time }) };
      out.push({ order: this.orders[at]!, request });
    }
    return out;
  }

  /** Twice the room, each entry moved to where its number now falls. */
  private grow(): void {
    const mask = this.mask * 2 + 1;
    const moved = <T extends { [i: number]: unknown }>(column: T, made: T): T => {
      for (let n = this.tail; n < this.head; n++) made[n & mask] = column[n & this.mask];
      return made;
    };
    const size = mask + 1;
    this.types = moved(this.types, new Array(size));
    this.seqs = moved(this.seqs, new Float64Array(size));
    this.fields = moved(this.fields, new Array(size));
    this.indexes = moved(this.indexes, new Float64Array(size));
    this.times = moved(this.times, new Float64Array(size));
    this.orders = moved(this.orders, new Float64Array(size));
    this.groups = moved(this.groups, new Array(size));
    this.expected = moved(this.expected, new Array(size));
    this.states = moved(this.states, new Uint8Array(size));
    this.mask = mask;
  }

  private answers(rule: ReplyRule, at: number, reply: Tracked): boolean {
    if (rule.by === 'last') return true;
    if (rule.by === 'seq') return this.seqs[at] === reply.seq;
    const requestField = requestFieldOf(rule, this.types[at]!);
    const fields = this.fields[at];
    return requestField !== undefined && fields !== undefined && sameValue(fields[requestField], reply.fields[rule.field]);
  }
}

/**
 * Outstanding requests of both sides, and which one each reply answers. Each side's requests are a ring
 * of their own: a reply only ever answers the other side's, so it never walks past its own side's.
 */
class ReplyTracker {
  private readonly pending: Record<Direction, PendingRing> = { c2s: new PendingRing('c2s'), s2c: new PendingRing('s2c') };
  private nextOrder = 0;

  /**
   * Notes a frame sent in `dir`: returns (and retires) the newest outstanding request of the other side
   * that it answers; a request becomes outstanding itself, once for its answer and once per extra reply.
   */
  track(dir: Direction, frame: Tracked, def: PacketDef | undefined, index: number, time?: number): ReplyInfo | undefined {
    const rule = def?.reply;
    const info = rule && def ? this.pending[dir === 'c2s' ? 's2c' : 'c2s'].answer(rule, def, frame, time) : undefined;
    const candidates = candidatesFor(frame.type, dir);
    let { main, extra, expected, byField } = candidates;
    // Of those, the ones that answer this request (an ordinary MESSAGE is answered by seq only:
    // AUTHORIZE_ACK answers one that asks, by address).
    if (candidates.conditional) ({ main, extra, expected, byField } = answeringSplit(candidates, frame));
    const own = this.pending[dir];
    const fields = byField ? frame.fields : undefined;
    if (main.length) {
      own.add(frame, fields, index, time, this.nextOrder++, '', expected, awaitsAny(main, frame.fields));
    }
    for (const r of extra) own.add(frame, fields, index, time, this.nextOrder++, r.name, [r.name], false);
    return info;
  }

  /** The requests still waiting for a reply they await, oldest first. */
  unanswered(): Unanswered[] {
    return [...this.pending.c2s.awaiting(), ...this.pending.s2c.awaiting()].sort((a, b) => a.order - b.order).map((e) => e.request);
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

  /** Requests that have not had the reply they await (reported when a connection closes). */
  unanswered(): Unanswered[] {
    return this.replies.unanswered();
  }

  /**
   * Learns from a frame sent in `dir` (decoded, or about to be sent): the login, the request it
   * answers, and the switch an accepting reply starts.
   */
  learn(dir: Direction, frame: Tracked, time?: number): { index: number; replyTo?: ReplyInfo; switchTo?: Switch } {
    const index = this.frames++;
    // Looked up once per frame, for the login, the reply rules and the switch alike.
    const def = packetByName(frame.type);
    const loginField = def?.session?.login;
    if (loginField && typeof frame.fields[loginField] === 'string') this.login = frame.fields[loginField] as string;
    const replyTo = this.replies.track(dir, frame, def, index, time);
    if (!replyTo) return { index };
    if (!def?.session?.accepts) return { index, replyTo };
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
  /** What the encoder noted (text the session's encoding could not carry, sent as "?"); empty mostly. */
  notes: string[];
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
    const notes: string[] = [];
    const frame = encodePacket(type, fields, { proto: this.state.proto ?? 0x10000, seq, enc: opts.enc, minor: this.minor, dir: this.out, notes });
    return this.sent(frame, { type, seq, fields: (fields ?? {}) as Fields }, notes);
  }

  /**
   * Sends a frame that is encoded already (a recorded one, replayed): its bytes as they are — header
   * version, reserved bytes, encodings, trailing bytes — but numbered as the next of ours, or with the
   * given seq. `decoded` is what it says, for reply matching.
   */
  resend(raw: Buffer, decoded: DecodedFrame, opts: { seq?: number } = {}): Sent {
    const seq = opts.seq ?? ++this.seq;
    return this.sent(withHeaderField(raw, 'seq', seq), { type: decoded.type, seq, fields: decoded.fields }, []);
  }

  private sent(frame: Buffer, tracked: Tracked, notes: string[]): Sent {
    const learnt = this.state.learn(this.out, tracked);
    return {
      frame,
      seq: tracked.seq,
      index: learnt.index,
      notes,
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

/** The packets the other side may answer a frame of this type with (its answer and extra replies). */
export function repliesOf(type: string, from: Direction): PacketDef[] {
  return (REPLIES_OF.get(type) ?? []).filter((p) => p.dir !== from);
}

/** Whether a request of this type gets a reply from the other side (a waiting caller would wait in vain otherwise). */
export function hasReply(type: string, from: Direction): boolean {
  return repliesOf(type, from).some((p) => p.reply?.by !== 'field' && !p.reply?.extra);
}

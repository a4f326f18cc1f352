/**
 * The decoded events of one batch, as the recording's decoding thread hands them to its writing thread
 * (record-worker.ts → record-writer.ts). Structured clone costs microseconds per object, as much as
 * writing the line, so a frame — nearly every event — crosses as one row of numbers in a Float64Array
 * with its bytes in one moved ArrayBuffer and its strings (type, login, warnings) in small tables; the
 * other events cross as they are (open, close, garbage, frames an addon marked) or as their line
 * (notes and no-reply events, which need nothing of the writing thread).
 * What a frame's line does not keep (its decoded fields) does not cross: the writer decodes the frame
 * again from its bytes when it records fields.
 */
import type { RecordingWriter } from '../capture/rotate.js';
import type { Endpoint } from '../net/endpoint.js';
import { decodeFrame } from '../protocol/codec.js';
import { captureLine, fieldsPart, frameLineParts, keepsFields, lineEnd, type FrameLineValues } from '../tap/capture-line.js';
import type { TapEvent } from '../tap/events.js';
import { withBuffers } from './worker-threads.js';

/** The columns of a frame's row. */
const CONN = 0, DIR = 1, OFFSET = 2, TIME = 3, INDEX = 4, MINOR = 5, RAW_AT = 6, RAW_LEN = 7, TYPE = 8,
  WARNINGS = 9, LOGIN = 10, REPLY_TYPE = 11, REPLY_SEQ = 12, REPLY_INDEX = 13, REPLY_LATENCY = 14, SAME_POSITION = 15, SAME_FRAMES = 16, SEQ = 17;
const COLUMNS = 18;
const NONE = -1;

export interface EventBatch {
  /** One row of COLUMNS numbers per frame. */
  rows: Float64Array;
  frames: number;
  /** The frames' bytes, one after the other. */
  bytes: ArrayBuffer;
  /** Types, logins and warnings the rows name by index. */
  strings: string[];
  /** The other events, each with how many frames come before it: as they are, or already their line (linesAlone). */
  others: Array<[number, TapEvent | string]>;
}

/**
 * Events whose line needs nothing the writing thread holds (no bytes, no fields, no secrets, no
 * endpoints to learn): they cross as their line, made here. A connection that closes with a flood
 * unanswered has thousands of no-reply events, and a line crosses for a fraction of an object's clone.
 */
const linesAlone = new Set<string>(['no-reply', 'note']);

/** Gathers a batch's events on the decoding thread; `take` hands it over (with what to transfer) and starts the next. */
export class EventBatcher {
  private rows = new Float64Array(COLUMNS * 256);
  private frames = 0;
  private raws: Buffer[] = [];
  private rawBytes = 0;
  private strings: string[] = [];
  private stringIds = new Map<string, number>();
  private others: Array<[number, TapEvent | string]> = [];

  add(ev: TapEvent): void {
    const e = ev.event;
    if (e.kind !== 'frame') return void this.others.push([this.frames, !ev.addon && linesAlone.has(e.kind) ? captureLine(ev, false) : ev]);
    // A frame an addon marked crosses whole; a lazy decode's fields are a Proxy, which does not clone.
    if (ev.addon) return void this.others.push([this.frames, { ...ev, event: { ...e, frame: { ...e.frame, fields: { ...e.frame.fields } } } }]);
    if ((this.frames + 1) * COLUMNS > this.rows.length) {
      const grown = new Float64Array(this.rows.length * 2);
      grown.set(this.rows);
      this.rows = grown;
    }
    const r = this.rows;
    const at = this.frames++ * COLUMNS;
    const f = e.frame;
    r[at + CONN] = ev.conn;
    r[at + DIR] = e.dir === 'c2s' ? 0 : 1;
    r[at + OFFSET] = e.offset;
    r[at + TIME] = e.time ?? NaN;
    r[at + INDEX] = e.index;
    r[at + MINOR] = f.minor;
    r[at + SEQ] = f.seq;
    r[at + RAW_AT] = this.rawBytes;
    r[at + RAW_LEN] = e.raw.length;
    r[at + TYPE] = this.id(f.type);
    r[at + WARNINGS] = f.warnings.length ? this.id(JSON.stringify(f.warnings)) : NONE;
    r[at + LOGIN] = ev.login !== undefined ? this.id(ev.login) : NONE;
    const reply = e.replyTo;
    r[at + REPLY_TYPE] = reply ? this.id(reply.type) : NONE;
    r[at + REPLY_SEQ] = reply ? reply.seq : 0;
    r[at + REPLY_INDEX] = reply ? reply.index : 0;
    r[at + REPLY_LATENCY] = reply?.latencyMs ?? NaN;
    r[at + SAME_POSITION] = e.sameRead ? e.sameRead.position : 0;
    r[at + SAME_FRAMES] = e.sameRead ? e.sameRead.frames : 0;
    this.raws.push(e.raw);
    this.rawBytes += e.raw.length;
  }

  take(): { batch: EventBatch; transfer: ArrayBuffer[] } {
    const view = Buffer.allocUnsafeSlow(this.rawBytes);
    let at = 0;
    for (const raw of this.raws) at += raw.copy(view, at);
    const rows = this.rows.slice(0, this.frames * COLUMNS);
    const batch: EventBatch = { rows, frames: this.frames, bytes: view.buffer as ArrayBuffer, strings: this.strings, others: this.others };
    this.frames = 0;
    this.raws = [];
    this.rawBytes = 0;
    this.strings = [];
    this.stringIds.clear();
    this.others = [];
    return { batch, transfer: [batch.bytes, rows.buffer as ArrayBuffer] };
  }

  private id(text: string): number {
    let id = this.stringIds.get(text);
    if (id === undefined) {
      id = this.strings.push(text) - 1;
      this.stringIds.set(text, id);
    }
    return id;
  }
}

/** Where the writing thread puts a batch: a mrimtap capture, which takes events and frames' lines alike. */
export type BatchSink = Pick<RecordingWriter, 'write' | 'writeLine'>;

/**
 * Writes the batch's events, in order, on the writing thread: a frame's line is made from its row at
 * once (capture-line.ts), without the event, its frame and its bytes' view made again first; with
 * `withFields` a small frame is decoded again for them. The other events are written as they came: a
 * line the decoding thread made (linesAlone), or an event.
 * `peers` holds each open connection's endpoints (the same objects for all its events, as on the
 * decoding thread: the line writer caches their text by them).
 */
export function writeBatch(batch: EventBatch, peers: Map<number, { client: Endpoint; server?: Endpoint }>, sink: BatchSink, withFields: boolean, showSecrets: boolean): void {
  const { rows, strings, others } = batch;
  const bytes = Buffer.from(batch.bytes);
  // A type becomes JSON once per batch, when a frame first names it (warnings are JSON already).
  const typeJson: string[] = [];
  // One set of values for all the batch's lines: each is written before the next row is read.
  const v: FrameLineValues = { conn: 0, dir: 'c2s', offset: 0, time: undefined, index: 0, seq: 0, typeJson: '', warningsJson: '', fields: '', raw: bytes, rawStart: 0, rawEnd: 0, replyTo: undefined, sameRead: undefined, end: '' };
  let other = 0;
  // Whose line end `v.end` is: the connection, login (string index) and layout it was made for.
  let endConn = NaN;
  let endLogin = NaN;
  let endMinor = NaN;
  for (let i = 0; i <= batch.frames; i++) {
    while (other < others.length && others[other]![0] === i) {
      const item = others[other++]![1];
      if (typeof item === 'string') {
        sink.writeLine([item]);
        continue;
      }
      const ev = withBuffers(item);
      endConn = NaN; // its endpoints may be new
      if (ev.event.kind === 'open' || !peers.has(ev.conn)) peers.set(ev.conn, { client: ev.client, server: ev.server });
      const known = peers.get(ev.conn)!;
      sink.write({ ...ev, client: known.client, ...(ev.server ? { server: known.server ?? ev.server } : {}) });
      if (ev.event.kind === 'close') peers.delete(ev.conn);
    }
    if (i === batch.frames) break;
    const at = i * COLUMNS;
    const time = rows[at + TIME]!;
    v.conn = rows[at + CONN]!;
    v.dir = rows[at + DIR] === 0 ? 'c2s' : 's2c';
    v.offset = rows[at + OFFSET]!;
    v.time = Number.isNaN(time) ? undefined : time;
    v.index = rows[at + INDEX]!;
    v.seq = rows[at + SEQ]!;
    const type = rows[at + TYPE]!;
    v.typeJson = typeJson[type] ??= JSON.stringify(strings[type]);
    v.warningsJson = rows[at + WARNINGS] === NONE ? '' : strings[rows[at + WARNINGS]!]!;
    v.rawStart = rows[at + RAW_AT]!;
    v.rawEnd = v.rawStart + rows[at + RAW_LEN]!;
    const minor = rows[at + MINOR]!;
    v.fields = keepsFields(withFields, v.rawEnd - v.rawStart) ? fieldsPart(decodeFrame(bytes.subarray(v.rawStart, v.rawEnd), { dir: v.dir, minor }), showSecrets) : '';
    if (rows[at + REPLY_TYPE] === NONE) v.replyTo = undefined;
    else {
      const latency = rows[at + REPLY_LATENCY]!;
      v.replyTo = { type: strings[rows[at + REPLY_TYPE]!]!, seq: rows[at + REPLY_SEQ]!, index: rows[at + REPLY_INDEX]!, ...(Number.isNaN(latency) ? {} : { latencyMs: latency }) };
    }
    v.sameRead = rows[at + SAME_FRAMES] ? { position: rows[at + SAME_POSITION]!, frames: rows[at + SAME_FRAMES]! } : undefined;
    const login = rows[at + LOGIN]!;
    // A connection's frames come one after the other with the same end: it is made again only when that changes.
    if (v.conn !== endConn || login !== endLogin || minor !== endMinor) {
      const { client, server } = peers.get(v.conn) ?? { client: { host: '?', port: 0 } };
      v.end = lineEnd(client, server, login === NONE ? undefined : strings[login], `,"minor":${minor}`);
      [endConn, endLogin, endMinor] = [v.conn, login, minor];
    }
    sink.writeLine(frameLineParts(v));
  }
}

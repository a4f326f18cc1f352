/**
 * One event as a line of a capture (format version 2), built as a string directly: this runs for every
 * relayed frame, so it makes no intermediate strings (a frame from its values: frameLineParts). A line keeps what cannot be derived again — the
 * bytes (base64: `raw64`, `bytes64`), where and when they went, the layout version (`minor`), the
 * links to other frames — plus, for `jq`, each frame's `type` and `seq`, its `warnings` when it has
 * any, and when asked (`withFields`) the decoded `fields` of frames up to FIELDS_MAX bytes. Larger
 * frames (contact lists, long messages, file chunks) always leave `fields` out: they are as large as
 * the frame again, and every reader decodes the frame from its bytes anyway (line.ts reads this and
 * version 1 alike).
 */
import { formatEndpoint, type Endpoint } from '../net/endpoint.js';
import type { DecodedFrame } from '../protocol/codec.js';
import type { ReplyInfo } from '../protocol/conversation.js';
import type { Direction } from '../protocol/fields.js';
import type { SameRead, SessionEvent } from '../protocol/session.js';
import { isConnEvent, type AddonMark, type ConnEvent, type TapEvent } from './events.js';
import { tapEventToJson } from './line.js';
import { maskFields, maskSocks } from './mask.js';

/** Frames up to this many bytes keep their decoded fields in the line (a chat message, a status, a login). */
export const FIELDS_MAX = 1024;

const quote = JSON.stringify;

/**
 * A part of a line: text, or bytes that stand for their base64 text. A 64 KiB frame's base64 is an
 * 87 KB string, garbage once written: the file writer encodes the bytes into its own buffer instead.
 */
export type LinePart = string | Buffer;

/** A part's text: bytes as base64. */
const partText = (part: LinePart): string => (typeof part === 'string' ? part : part.toString('base64'));

/** `,"client":"…","server":"…"` of a connection, made once: the same Endpoint objects come with each of its events. */
const clientText = new WeakMap<Endpoint, string>();
const peersText = new WeakMap<Endpoint, WeakMap<Endpoint, string>>();

function peers(client: Endpoint, server: Endpoint | undefined): string {
  let text = clientText.get(client);
  if (text === undefined) clientText.set(client, (text = `,"client":${quote(formatEndpoint(client))}`));
  if (!server) return text;
  let byServer = peersText.get(client);
  if (!byServer) peersText.set(client, (byServer = new WeakMap()));
  let both = byServer.get(server);
  if (both === undefined) byServer.set(server, (both = `${text},"server":${quote(formatEndpoint(server))}`));
  return both;
}

/** Events come second after second: the ISO text up to the second is made once per second. */
let lastSecond = NaN;
let secondText = '';

function timeText(exact: number | undefined): string {
  if (exact === undefined) return '';
  // Whole milliseconds, as Date keeps them (pcap times have microseconds).
  const time = Math.trunc(exact);
  const second = Math.floor(time / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    // `,"time":"2026-12-02T13:58:27.` (toISOString always has the milliseconds and the Z)
    secondText = `,"time":"${new Date(second * 1000).toISOString().slice(0, -4)}`;
  }
  const ms = time - second * 1000;
  return `${secondText}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
}

/** Frames up to this many bytes have their base64 inside the text after their fields: every part of a line costs a write of its own. */
export const INLINE_RAW_MAX = 4096;

/** A frame's line as plain values: the recording's writing thread reads them from rows of numbers, not from an event. */
export interface FrameLineValues {
  conn: number;
  dir: Direction;
  offset: number;
  time: number | undefined;
  index: number;
  seq: number;
  /** The type as JSON text (`"MESSAGE"`). */
  typeJson: string;
  /** The warnings as JSON text, '' when there are none. */
  warningsJson: string;
  /** `,"fields":{…}` (fieldsPart) when the line keeps them, else ''. */
  fields: string;
  /** The frame's bytes: `raw` from `rawStart` to `rawEnd` (a batch's bytes, without a view made per frame). */
  raw: Buffer;
  rawStart: number;
  rawEnd: number;
  replyTo: ReplyInfo | undefined;
  sameRead: SameRead | undefined;
  /** The rest of the line after its links, `}` included (lineEnd). */
  end: string;
}

/**
 * A frame's line in parts: the text before its fields, its fields (none for a large frame), then the
 * text after them — for a large frame the bytes and the text each side of them as parts of their own.
 * A line without fields is one string.
 */
export function frameLineParts(v: FrameLineValues): LinePart[] {
  const head = `{"conn":${v.conn},"kind":"frame","dir":"${v.dir}","offset":${v.offset}${timeText(v.time)},"index":${v.index},"seq":${v.seq},"type":${v.typeJson}`;
  const tail = v.warningsJson ? `,"warnings":${v.warningsJson},"raw64":"` : ',"raw64":"';
  let after = '"';
  if (v.replyTo) after += `,"replyTo":${quote(v.replyTo)}`;
  if (v.sameRead) after += `,"sameRead":{"position":${v.sameRead.position},"frames":${v.sameRead.frames}}`;
  after += v.end;
  if (v.rawEnd - v.rawStart > INLINE_RAW_MAX) return [head, v.fields, tail, v.raw.subarray(v.rawStart, v.rawEnd), after];
  const rest = `${tail}${v.raw.toString('base64', v.rawStart, v.rawEnd)}${after}`;
  // Fields stay a part of their own: a chat message's are two-byte text, which joined would make the whole line so.
  return v.fields ? [head, v.fields, rest] : [head + rest];
}

/** Whether a frame's line keeps its decoded fields: asked for, and a small frame. */
export const keepsFields = (withFields: boolean, rawLength: number): boolean => withFields && rawLength <= FIELDS_MAX;

/** A frame's fields as a part of its line, secrets masked unless `showSecrets`. */
export const fieldsPart = (frame: DecodedFrame, showSecrets: boolean): string => `,"fields":${quote(showSecrets ? frame.fields : maskFields(frame))}`;

/** What ends an event's line after its own values: its peers, its login, then `after` and `}`. */
export function lineEnd(client: Endpoint, server: Endpoint | undefined, login: string | undefined, after: string): string {
  return `${peers(client, server)}${login !== undefined ? `,"login":${quote(login)}` : ''}${after}}`;
}

/**
 * The line of one session event other than a frame, from `{"conn":…` up to (not including) its peers:
 * in parts where its bytes may be large (garbage, TLS records, compressed streams), else one string.
 */
function sessionParts(conn: number, ev: Exclude<SessionEvent, { kind: 'frame' }>, showSecrets: boolean): LinePart[] | string {
  const head = `{"conn":${conn},"kind":"${ev.kind}","dir":"${ev.dir}","offset":${ev.offset}${timeText(ev.time)}`;
  switch (ev.kind) {
    case 'garbage':
      return [`${head},"bytes64":"`, ev.bytes, `","reason":${quote(ev.reason)}${ev.skipped ? `,"skipped":${ev.skipped}` : ''}`];
    case 'socks':
      // Raw bytes stay whole in a capture (replay needs them); the decoded message is masked.
      return `${head},"bytes64":"${ev.bytes.toString('base64')}","message":${quote(showSecrets ? ev.message : maskSocks(ev.message))}`;
    case 'redirect': {
      let line = `${head},"bytes64":"${ev.bytes.toString('base64')}","text":${quote(ev.text)}`;
      if (ev.rewritten) line += `,"rewritten":{"text":${quote(ev.rewritten.text)},"bytes64":"${ev.rewritten.bytes.toString('base64')}"}`;
      if (ev.host === undefined) return line;
      if (ev.address !== undefined) line += `,"address":${quote(ev.address)}`;
      line += `,"host":${quote(ev.host)}`;
      return ev.port !== undefined ? `${line},"port":${ev.port}` : line;
    }
    case 'tls':
    case 'compressed':
      return [`${head},"bytes64":"`, ev.bytes, `","start":${ev.start}`];
  }
}

/**
 * The capture line (no newline) of one event: raw bytes whole, secret fields masked unless
 * `showSecrets`, a small frame's decoded fields unless not `withFields`. Connection-level events, a
 * few per connection, are the objects of tapEventToJson.
 */
export function captureLine(ev: TapEvent, showSecrets: boolean, withFields = true): string {
  return lineText(captureLineParts(ev, showSecrets, withFields));
}

/** A line's parts as one text (bytes as base64). */
export function lineText(parts: readonly LinePart[]): string {
  return parts.length === 1 ? partText(parts[0]!) : parts.map(partText).join('');
}

/**
 * The capture line of one event in parts, which make `captureLine` one after the other (bytes as
 * their base64). A frame's decoded fields are a part of their own: a chat message's are the only text
 * of its line beyond ASCII, and a writer that encodes each part as it is spares joining the line into
 * one two-byte string first (a copy of the whole line for every frame).
 */
export function captureLineParts(ev: TapEvent, showSecrets: boolean, withFields = true): LinePart[] {
  const e = ev.event;
  const addon = ev.addon ? `,"addon":${addonLine(ev.addon)}` : '';
  if (e.kind === 'no-reply' && !ev.addon) return [noReplyLine(ev.conn, e, lineEnd(ev.client, ev.server, ev.login, ''))];
  if (isConnEvent(e)) {
    const line = quote(tapEventToJson(ev.addon ? { ...ev, addon: undefined } : ev, { showSecrets, keepRaw: true }));
    return [addon ? `${line.slice(0, -1)}${addon}}` : line];
  }
  if (e.kind === 'frame') {
    const f = e.frame;
    return frameLineParts({
      conn: ev.conn,
      dir: e.dir,
      offset: e.offset,
      time: e.time,
      index: e.index,
      seq: f.seq,
      typeJson: quote(f.type),
      warningsJson: f.warnings.length ? quote(f.warnings) : '',
      fields: keepsFields(withFields, e.raw.length) ? fieldsPart(f, showSecrets) : '',
      raw: e.raw,
      rawStart: 0,
      rawEnd: e.raw.length,
      replyTo: e.replyTo,
      sameRead: e.sameRead,
      end: lineEnd(ev.client, ev.server, ev.login, `,"minor":${f.minor}${addon}`),
    });
  }
  const parts = sessionParts(ev.conn, e, showSecrets);
  const end = lineEnd(ev.client, ev.server, ev.login, addon);
  if (typeof parts === 'string') return [`${parts}${end}`];
  parts.push(end);
  return parts;
}

/**
 * A no-reply event's line, as tapEventToJson makes it, built as a string: a connection that closes with
 * a flood unanswered (a one-way bulk of messages) has thousands of them, one after the other.
 */
function noReplyLine(conn: number, e: Extract<ConnEvent, { kind: 'no-reply' }>, end: string): string {
  const r = e.request;
  return `{"conn":${conn},"kind":"no-reply"${timeText(e.time)},"dir":"${e.dir}","request":{"type":${quote(r.type)},"seq":${r.seq},"index":${r.index}${timeText(r.time)}},"expected":${quote(e.expected)}${end}`;
}

/** An addon's mark, its original bytes whole (like raw64: replay and re-decoding need them). */
function addonLine(mark: AddonMark): string {
  const original = mark.original ? `,"original64":"${mark.original.toString('base64')}"` : '';
  return `{"action":"${mark.action}","by":${quote(mark.by)}${original}}`;
}

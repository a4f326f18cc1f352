/**
 * The line format, both ways: the JSON object of one event as `proxy --json` and `decode --json` print
 * it (every decoded field, bytes in hex) and as captures of version 1 stored it, and any line read back
 * into its event — those and the compact lines of version 2 (capture-line.ts: bytes in base64, no
 * fields for large frames). Secret fields are masked unless asked for, but a capture keeps a frame's
 * raw bytes whole, so a reader decodes them again (with the layout version they were recorded with)
 * exactly as the session did, and replay has them.
 */
import { formatEndpoint, parseEndpoint, type Endpoint } from '../net/endpoint.js';
import { decodeFrame } from '../protocol/codec.js';
import type { Fields } from '../protocol/fields.js';
import type { ReplyInfo } from '../protocol/conversation.js';
import type { SameRead, SessionEvent } from '../protocol/session.js';
import type { SocksMessage } from '../protocol/socks.js';
import type { Encoding } from '../protocol/text.js';
import { isConnEvent, type AddonMark, type AnyEvent, type ConnEvent, type TapEvent } from './events.js';
import { maskFields, maskRaw, maskSocks, maskSocksBytes } from './mask.js';

interface JsonBase {
  dir: 'c2s' | 's2c';
  offset: number;
  /** ISO time, when the event has one. */
  time?: string;
}

export type JsonEvent =
  | (JsonBase & {
      kind: 'frame';
      index: number;
      seq: number;
      msg: number;
      type: string;
      proto: string;
      variant?: string;
      fields: Fields;
      enc?: Record<string, Encoding>;
      trailing?: string;
      raw: string;
      warnings: string[];
      /** Known quirks and prescribed fallbacks (absent when there are none). */
      notes?: string[];
      replyTo?: ReplyInfo;
      /** This frame was the `position`th of `frames` that one read (TCP segment) completed. */
      sameRead?: SameRead;
    })
  | (JsonBase & { kind: 'garbage'; bytes: string; reason: string; skipped?: number })
  | (JsonBase & { kind: 'socks'; bytes: string; message: SocksMessage })
  | (JsonBase & { kind: 'redirect'; bytes: string; text: string; address?: string; host?: string; port?: number; rewritten?: { text: string; bytes: string } })
  | (JsonBase & { kind: 'tls' | 'compressed'; bytes: string; start: boolean });

export interface JsonOptions {
  /** Secrets as they are, in fields and bytes (masked by default). */
  showSecrets?: boolean;
  /** Bytes whole even with secrets masked in the fields: a capture keeps them for re-decoding and replay. */
  keepRaw?: boolean;
}

export function eventToJson(ev: SessionEvent, opts: JsonOptions = {}): JsonEvent {
  const wholeBytes = opts.showSecrets || opts.keepRaw;
  const base: JsonBase = { dir: ev.dir, offset: ev.offset };
  if (ev.time !== undefined) base.time = new Date(ev.time).toISOString();
  switch (ev.kind) {
    case 'frame': {
      const f = ev.frame;
      const fields = opts.showSecrets ? f.fields : maskFields(f);
      return {
        kind: 'frame',
        ...base,
        index: ev.index,
        seq: f.seq,
        msg: f.msg,
        type: f.type,
        proto: f.proto,
        ...(f.variant ? { variant: f.variant } : {}),
        fields,
        ...(Object.keys(f.enc).length ? { enc: f.enc } : {}),
        ...(f.trailing ? { trailing: f.trailing } : {}),
        raw: (wholeBytes ? ev.raw : maskRaw(ev.raw, f)).toString('hex'),
        warnings: f.warnings,
        ...(f.notes.length ? { notes: f.notes } : {}),
        ...(ev.replyTo ? { replyTo: ev.replyTo } : {}),
        ...(ev.sameRead ? { sameRead: ev.sameRead } : {}),
      };
    }
    case 'garbage':
      return { kind: 'garbage', ...base, bytes: ev.bytes.toString('hex'), reason: ev.reason, ...(ev.skipped ? { skipped: ev.skipped } : {}) };
    case 'socks': {
      const bytes = wholeBytes ? ev.bytes : maskSocksBytes(ev.bytes, ev.message);
      return { kind: 'socks', ...base, bytes: bytes.toString('hex'), message: opts.showSecrets ? ev.message : maskSocks(ev.message) };
    }
    case 'redirect':
      return {
        kind: 'redirect',
        ...base,
        bytes: ev.bytes.toString('hex'),
        text: ev.text,
        ...(ev.host !== undefined ? { address: ev.address, host: ev.host, port: ev.port } : {}),
        ...(ev.rewritten ? { rewritten: { text: ev.rewritten.text, bytes: ev.rewritten.bytes.toString('hex') } } : {}),
      };
    case 'tls':
    case 'compressed':
      return { kind: ev.kind, ...base, bytes: ev.bytes.toString('hex'), start: ev.start };
  }
}

/** A connection-level event as JSON: times ISO, addresses `host:port`. */
export type JsonConnEvent =
  | { kind: 'connect'; time: string; client: string; listener?: string; target: string; mapped?: string; upstream?: string; user?: string; reply: number; error?: string }
  | { kind: 'auth-refused'; time: string; client: string; user: string; methods?: string[] }
  | { kind: 'open'; time: string; client: string; server: string; follows?: number; legOf?: number }
  | { kind: 'close'; time: string; bytes: { c2s: number; s2c: number }; durationMs: number; reason: string }
  | { kind: 'no-reply'; time: string; dir: 'c2s' | 's2c'; request: { type: string; seq: number; index: number; time?: string }; expected: string[] }
  | { kind: 'note'; time: string; dir?: 'c2s' | 's2c'; level: 'info' | 'warn'; message: string };

/**
 * One line of a capture and of `proxy --json`: the event plus its connection, peers and login. Frames
 * also carry `minor`, the protocol version their layout was read with, so a reader decodes them again
 * exactly as the session did.
 */
export type TapJson = (JsonEvent | JsonConnEvent) & { conn: number; client: string; server?: string; login?: string; minor?: number; addon?: JsonAddonMark };

/** An addon's mark on a line (see AddonMark): the original bytes hex, secrets masked like `raw`'s. */
export interface JsonAddonMark {
  action: AddonMark['action'];
  by: string;
  original?: string;
}

function addonToJson(mark: AddonMark, e: AnyEvent, opts: JsonOptions): JsonAddonMark {
  const { original } = mark;
  if (!original) return { action: mark.action, by: mark.by };
  const dir = 'dir' in e && e.dir ? e.dir : 'c2s';
  const minor = e.kind === 'frame' ? e.frame.minor : undefined;
  const bytes = opts.showSecrets || opts.keepRaw ? original : maskRaw(original, decodeFrame(original, { dir, minor }));
  return { action: mark.action, by: mark.by, original: bytes.toString('hex') };
}

function connEventToJson(ev: ConnEvent): JsonConnEvent {
  const time = new Date(ev.time).toISOString();
  switch (ev.kind) {
    case 'connect':
      return {
        kind: 'connect',
        time,
        client: formatEndpoint(ev.client),
        ...(ev.listener ? { listener: formatEndpoint(ev.listener) } : {}),
        target: formatEndpoint(ev.target),
        ...(ev.mapped ? { mapped: formatEndpoint(ev.mapped) } : {}),
        ...(ev.upstream ? { upstream: formatEndpoint(ev.upstream) } : {}),
        ...(ev.user !== undefined ? { user: ev.user } : {}),
        reply: ev.reply,
        ...(ev.error ? { error: ev.error } : {}),
      };
    case 'auth-refused':
      return { kind: 'auth-refused', time, client: formatEndpoint(ev.client), user: ev.user, ...(ev.methods ? { methods: ev.methods } : {}) };
    case 'open':
      return {
        kind: 'open',
        time,
        client: formatEndpoint(ev.client),
        server: formatEndpoint(ev.server),
        ...(ev.follows !== undefined ? { follows: ev.follows } : {}),
        ...(ev.legOf !== undefined ? { legOf: ev.legOf } : {}),
      };
    case 'close':
      return { kind: 'close', time, bytes: ev.bytes, durationMs: ev.durationMs, reason: ev.reason };
    case 'no-reply': {
      const { time: sent, ...request } = ev.request;
      return { kind: 'no-reply', time, dir: ev.dir, request: { ...request, ...(sent !== undefined ? { time: new Date(sent).toISOString() } : {}) }, expected: ev.expected };
    }
    case 'note':
      return { kind: 'note', time, ...(ev.dir ? { dir: ev.dir } : {}), level: ev.level, message: ev.message };
  }
}

export function tapEventToJson(ev: TapEvent, opts: JsonOptions = {}): TapJson {
  const e = ev.event;
  const body = isConnEvent(e) ? connEventToJson(e) : eventToJson(e, opts);
  return {
    conn: ev.conn,
    ...body,
    client: formatEndpoint(ev.client),
    ...(ev.server ? { server: formatEndpoint(ev.server) } : {}),
    ...(ev.login !== undefined ? { login: ev.login } : {}),
    ...(e.kind === 'frame' ? { minor: e.frame.minor } : {}),
    ...(ev.addon ? { addon: addonToJson(ev.addon, e, opts) } : {}),
  } as TapJson;
}

// ---------------------------------------------------------------------------------------------------
// Reading a line back

type Json = Record<string, unknown>;

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined || value === null) throw new Error(`missing or invalid ${what}`);
  return value;
}

const str = (o: Json, k: string): string | undefined => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
const num = (o: Json, k: string): number | undefined => (typeof o[k] === 'number' && Number.isFinite(o[k]) ? (o[k] as number) : undefined);
const obj = (o: Json, k: string): Json | undefined => (o[k] && typeof o[k] === 'object' && !Array.isArray(o[k]) ? (o[k] as Json) : undefined);

function endpoint(o: Json, k: string): Endpoint {
  return need(parseEndpoint(need(str(o, k), k), { anyPort: true }), `${k} address`);
}

/**
 * The bytes under `k`: base64 in `${k}64` (captures of version 2), or hex in `k` (version 1, and what
 * `--json` prints). Node's decoders skip what is not theirs; a decoded length short of the text's says so.
 */
function bytesOf(o: Json, k: string): Buffer {
  const b64 = str(o, `${k}64`);
  if (b64 !== undefined) {
    const bytes = Buffer.from(b64, 'base64');
    const padding = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
    if (b64.length % 4 !== 0 || bytes.length !== (b64.length / 4) * 3 - padding) throw new Error(`${k}64 is not base64`);
    return bytes;
  }
  const text = need(str(o, k), k);
  const bytes = Buffer.from(text, 'hex');
  if (bytes.length * 2 !== text.length) throw new Error(`${k} is not hex`);
  return bytes;
}

function timeOf(o: Json): number {
  const t = Date.parse(need(str(o, 'time'), 'time'));
  if (Number.isNaN(t)) throw new Error('invalid time');
  return t;
}

function dirOf(o: Json): 'c2s' | 's2c' {
  const d = o.dir;
  if (d !== 'c2s' && d !== 's2c') throw new Error('missing or invalid dir');
  return d;
}

function sessionEvent(o: Json): SessionEvent {
  const base = { dir: dirOf(o), offset: need(num(o, 'offset'), 'offset'), time: timeOf(o) };
  switch (o.kind) {
    case 'frame': {
      const raw = bytesOf(o, 'raw');
      const frame = decodeFrame(raw, { dir: base.dir, minor: num(o, 'minor') });
      const r = obj(o, 'replyTo');
      const latencyMs = r && num(r, 'latencyMs');
      const replyTo = r && {
        type: need(str(r, 'type'), 'replyTo.type'),
        seq: need(num(r, 'seq'), 'replyTo.seq'),
        index: need(num(r, 'index'), 'replyTo.index'),
        ...(latencyMs !== undefined ? { latencyMs } : {}),
      };
      // A frame's login is its connection's as of that frame: the line's `login`.
      const login = str(o, 'login');
      const shared = obj(o, 'sameRead');
      const sameRead = shared && { position: need(num(shared, 'position'), 'sameRead.position'), frames: need(num(shared, 'frames'), 'sameRead.frames') };
      return {
        kind: 'frame',
        ...base,
        index: need(num(o, 'index'), 'index'),
        raw,
        frame,
        ...(replyTo ? { replyTo } : {}),
        ...(login !== undefined ? { login } : {}),
        ...(sameRead ? { sameRead } : {}),
      };
    }
    case 'garbage':
      return { kind: 'garbage', ...base, bytes: bytesOf(o, 'bytes'), reason: str(o, 'reason') ?? '', ...(num(o, 'skipped') ? { skipped: num(o, 'skipped') } : {}) };
    case 'socks':
      return { kind: 'socks', ...base, bytes: bytesOf(o, 'bytes'), message: need(obj(o, 'message'), 'message') as unknown as SocksMessage };
    case 'redirect': {
      const rewritten = obj(o, 'rewritten');
      return {
        kind: 'redirect',
        ...base,
        bytes: bytesOf(o, 'bytes'),
        text: str(o, 'text') ?? '',
        ...(num(o, 'port') !== undefined ? { address: str(o, 'address'), host: str(o, 'host'), port: num(o, 'port') } : {}),
        ...(rewritten ? { rewritten: { text: str(rewritten, 'text') ?? '', bytes: bytesOf(rewritten, 'bytes') } } : {}),
      };
    }
    case 'tls':
    case 'compressed':
      return { kind: o.kind, ...base, bytes: bytesOf(o, 'bytes'), start: o.start === true };
    default:
      throw new Error(`unknown event kind ${JSON.stringify(o.kind)}`);
  }
}

/** A line's event: a connection-level one by its kind, otherwise a session event. */
function anyEvent(o: Json): AnyEvent {
  const time = timeOf(o);
  switch (o.kind) {
    case 'connect':
      return {
        kind: 'connect',
        time,
        client: endpoint(o, 'client'),
        ...(o.listener !== undefined ? { listener: endpoint(o, 'listener') } : {}),
        target: endpoint(o, 'target'),
        ...(o.mapped !== undefined ? { mapped: endpoint(o, 'mapped') } : {}),
        ...(o.upstream !== undefined ? { upstream: endpoint(o, 'upstream') } : {}),
        ...(str(o, 'user') !== undefined ? { user: str(o, 'user') } : {}),
        reply: need(num(o, 'reply'), 'reply'),
        ...(str(o, 'error') ? { error: str(o, 'error') } : {}),
      };
    case 'auth-refused':
      return {
        kind: 'auth-refused',
        time,
        client: endpoint(o, 'client'),
        user: str(o, 'user') ?? '',
        ...(Array.isArray(o.methods) ? { methods: o.methods.map(String) } : {}),
      };
    case 'open':
      return {
        kind: 'open',
        time,
        client: endpoint(o, 'client'),
        server: endpoint(o, 'server'),
        ...(num(o, 'follows') !== undefined ? { follows: num(o, 'follows') } : {}),
        ...(num(o, 'legOf') !== undefined ? { legOf: num(o, 'legOf') } : {}),
      };
    case 'close': {
      const bytes = need(obj(o, 'bytes'), 'bytes');
      return { kind: 'close', time, bytes: { c2s: need(num(bytes, 'c2s'), 'bytes.c2s'), s2c: need(num(bytes, 's2c'), 'bytes.s2c') }, durationMs: num(o, 'durationMs') ?? 0, reason: str(o, 'reason') ?? '' };
    }
    case 'no-reply': {
      const r = need(obj(o, 'request'), 'request');
      const sent = str(r, 'time') !== undefined ? timeOf(r) : undefined;
      const request = { type: need(str(r, 'type'), 'request.type'), seq: need(num(r, 'seq'), 'request.seq'), index: need(num(r, 'index'), 'request.index') };
      const expected = Array.isArray(o.expected) ? o.expected.map(String) : [];
      return { kind: 'no-reply', time, dir: dirOf(o), request: { ...request, ...(sent !== undefined ? { time: sent } : {}) }, expected };
    }
    case 'note':
      return { kind: 'note', time, ...(o.dir !== undefined ? { dir: dirOf(o) } : {}), level: o.level === 'warn' ? 'warn' : 'info', message: str(o, 'message') ?? '' };
    default:
      return sessionEvent(o);
  }
}

const ADDON_ACTIONS: readonly string[] = ['modified', 'dropped', 'injected'] satisfies AddonMark['action'][];

function addonMark(o: Json): AddonMark {
  const action = need(str(o, 'action'), 'addon.action');
  if (!ADDON_ACTIONS.includes(action)) throw new Error(`invalid addon.action ${JSON.stringify(action)}`);
  return { action: action as AddonMark['action'], by: str(o, 'by') ?? '', ...(o.original !== undefined || o.original64 !== undefined ? { original: bytesOf(o, 'original') } : {}) };
}

/** Turns one parsed line (what tapEventToJson made) back into its event; throws with the reason when it is not a valid record. */
export function recordToTapEvent(record: unknown): TapEvent {
  if (!record || typeof record !== 'object' || Array.isArray(record)) throw new Error('not a JSON object');
  const o = record as Json;
  const conn = need(num(o, 'conn'), 'conn');
  need(str(o, 'kind'), 'kind');
  const event = anyEvent(o);
  const addon = obj(o, 'addon');
  return {
    conn,
    client: endpoint(o, 'client'),
    ...(o.server !== undefined ? { server: endpoint(o, 'server') } : {}),
    ...(str(o, 'login') !== undefined ? { login: str(o, 'login') } : {}),
    event,
    ...(addon ? { addon: addonMark(addon) } : {}),
  };
}

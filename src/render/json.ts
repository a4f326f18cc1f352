/**
 * The JSON form of session events: one object per event, as printed by `decode --json` (JSON Lines)
 * and stored in captures. Bytes are hex; secret fields are masked unless asked for (the frame's raw
 * bytes are kept whole, since re-decoding and replay need them).
 */
import { formatEndpoint } from '../net/endpoint.js';
import type { Fields } from '../protocol/fields.js';
import type { ReplyInfo, SessionEvent } from '../protocol/session.js';
import type { SocksMessage } from '../protocol/socks.js';
import type { Encoding } from '../protocol/text.js';
import { isConnEvent, type ConnEvent, type TapEvent } from '../tap/events.js';
import { maskFields, maskSocks } from '../tap/mask.js';

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
      replyTo?: ReplyInfo;
    })
  | (JsonBase & { kind: 'garbage'; bytes: string; reason: string; skipped?: number })
  | (JsonBase & { kind: 'socks'; bytes: string; message: SocksMessage })
  | (JsonBase & { kind: 'redirect'; bytes: string; text: string; address?: string; host?: string; port?: number })
  | (JsonBase & { kind: 'tls' | 'compressed'; bytes: string; start: boolean });

export function eventToJson(ev: SessionEvent, opts: { showSecrets?: boolean } = {}): JsonEvent {
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
        raw: ev.raw.toString('hex'),
        warnings: f.warnings,
        ...(ev.replyTo ? { replyTo: ev.replyTo } : {}),
      };
    }
    case 'garbage':
      return { kind: 'garbage', ...base, bytes: ev.bytes.toString('hex'), reason: ev.reason, ...(ev.skipped ? { skipped: ev.skipped } : {}) };
    case 'socks': {
      return { kind: 'socks', ...base, bytes: ev.bytes.toString('hex'), message: opts.showSecrets ? ev.message : maskSocks(ev.message) };
    }
    case 'redirect':
      return {
        kind: 'redirect',
        ...base,
        bytes: ev.bytes.toString('hex'),
        text: ev.text,
        ...(ev.host !== undefined ? { address: ev.address, host: ev.host, port: ev.port } : {}),
      };
    case 'tls':
    case 'compressed':
      return { kind: ev.kind, ...base, bytes: ev.bytes.toString('hex'), start: ev.start };
  }
}

/** A connection-level event as JSON: times ISO, addresses `host:port`. */
export type JsonConnEvent =
  | { kind: 'connect'; time: string; client: string; target: string; mapped?: string; upstream?: string; user?: string; reply: number; error?: string }
  | { kind: 'auth-refused'; time: string; client: string; user: string; methods?: string[] }
  | { kind: 'open'; time: string; client: string; server: string; follows?: number }
  | { kind: 'close'; time: string; bytes: { c2s: number; s2c: number }; durationMs: number; reason: string }
  | { kind: 'note'; time: string; dir?: 'c2s' | 's2c'; level: 'info' | 'warn'; message: string };

/**
 * One line of a capture and of `proxy --json`: the event plus its connection, peers and login. Frames
 * also carry `minor`, the protocol version their layout was read with, so a reader decodes them again
 * exactly as the session did.
 */
export type TapJson = (JsonEvent | JsonConnEvent) & { conn: number; client: string; server?: string; login?: string; minor?: number };

function connEventToJson(ev: ConnEvent): JsonConnEvent {
  const time = new Date(ev.time).toISOString();
  switch (ev.kind) {
    case 'connect':
      return {
        kind: 'connect',
        time,
        client: formatEndpoint(ev.client),
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
      return { kind: 'open', time, client: formatEndpoint(ev.client), server: formatEndpoint(ev.server), ...(ev.follows !== undefined ? { follows: ev.follows } : {}) };
    case 'close':
      return { kind: 'close', time, bytes: ev.bytes, durationMs: ev.durationMs, reason: ev.reason };
    case 'note':
      return { kind: 'note', time, ...(ev.dir ? { dir: ev.dir } : {}), level: ev.level, message: ev.message };
  }
}

export function tapEventToJson(ev: TapEvent, opts: { showSecrets?: boolean } = {}): TapJson {
  const e = ev.event;
  const body = isConnEvent(e) ? connEventToJson(e) : eventToJson(e, opts);
  return {
    conn: ev.conn,
    ...body,
    client: formatEndpoint(ev.client),
    ...(ev.server ? { server: formatEndpoint(ev.server) } : {}),
    ...(ev.login !== undefined ? { login: ev.login } : {}),
    ...(e.kind === 'frame' ? { minor: e.frame.minor } : {}),
  } as TapJson;
}

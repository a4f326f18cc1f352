/**
 * Reading a capture back, line by line as it streams from disk. The header must be there and say it is
 * a capture; after it, a line that is not a valid record (torn by a crash, edited by hand) is reported
 * with its line number and skipped, never fatal. Frames are decoded again from their raw bytes with the
 * layout version they were recorded with, so a reader sees exactly what the live log showed.
 */
import { createReadStream } from 'node:fs';
import { decodeFrame } from '../protocol/codec.js';
import type { SessionEvent } from '../protocol/session.js';
import { parseEndpoint, type Endpoint } from '../net/endpoint.js';
import type { AnyEvent, TapEvent } from '../tap/events.js';
import { CAPTURE_FORMAT, CAPTURE_VERSION, type CaptureHeader } from './writer.js';

export class CaptureFileError extends Error {}

export type CaptureItem =
  | { kind: 'header'; header: CaptureHeader }
  | { kind: 'event'; line: number; event: TapEvent }
  | { kind: 'problem'; line: number; message: string };

type Json = Record<string, unknown>;

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined || value === null) throw new Error(`missing or invalid ${what}`);
  return value;
}

const str = (o: Json, k: string): string | undefined => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
const num = (o: Json, k: string): number | undefined => (typeof o[k] === 'number' && Number.isFinite(o[k]) ? (o[k] as number) : undefined);

function endpoint(o: Json, k: string): Endpoint {
  return need(parseEndpoint(need(str(o, k), k)), `${k} address`);
}

function hexBytes(o: Json, k: string): Buffer {
  const text = need(str(o, k), k);
  if (!/^(?:[0-9a-f]{2})*$/i.test(text)) throw new Error(`${k} is not hex`);
  return Buffer.from(text, 'hex');
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
      const raw = hexBytes(o, 'raw');
      const frame = decodeFrame(raw, { dir: base.dir, minor: num(o, 'minor') });
      const r = o.replyTo && typeof o.replyTo === 'object' ? (o.replyTo as Json) : undefined;
      const latencyMs = r && num(r, 'latencyMs');
      const replyTo = r && {
        type: need(str(r, 'type'), 'replyTo.type'),
        seq: need(num(r, 'seq'), 'replyTo.seq'),
        index: need(num(r, 'index'), 'replyTo.index'),
        ...(latencyMs !== undefined ? { latencyMs } : {}),
      };
      return { kind: 'frame', ...base, index: need(num(o, 'index'), 'index'), raw, frame, ...(replyTo ? { replyTo } : {}) };
    }
    case 'garbage':
      return { kind: 'garbage', ...base, bytes: hexBytes(o, 'bytes'), reason: str(o, 'reason') ?? '', ...(num(o, 'skipped') ? { skipped: num(o, 'skipped') } : {}) };
    case 'socks':
      return { kind: 'socks', ...base, bytes: hexBytes(o, 'bytes'), message: need(o.message, 'message') as Extract<SessionEvent, { kind: 'socks' }>['message'] };
    case 'redirect':
      return {
        kind: 'redirect',
        ...base,
        bytes: hexBytes(o, 'bytes'),
        text: str(o, 'text') ?? '',
        ...(num(o, 'port') !== undefined ? { address: str(o, 'address'), host: str(o, 'host'), port: num(o, 'port') } : {}),
      };
    case 'tls':
    case 'compressed':
      return { kind: o.kind, ...base, bytes: hexBytes(o, 'bytes'), start: o.start === true };
    default:
      throw new Error(`unknown event kind ${JSON.stringify(o.kind)}`);
  }
}

/** A record's event: a connection-level one by its kind, otherwise a session event. */
function anyEvent(o: Json): AnyEvent {
  const time = timeOf(o);
  switch (o.kind) {
    case 'connect':
      return {
        kind: 'connect',
        time,
        client: endpoint(o, 'client'),
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
      return { kind: 'open', time, client: endpoint(o, 'client'), server: endpoint(o, 'server'), ...(num(o, 'follows') !== undefined ? { follows: num(o, 'follows') } : {}) };
    case 'close': {
      const bytes = need(o.bytes as Json | undefined, 'bytes');
      return { kind: 'close', time, bytes: { c2s: need(num(bytes, 'c2s'), 'bytes.c2s'), s2c: need(num(bytes, 's2c'), 'bytes.s2c') }, durationMs: num(o, 'durationMs') ?? 0, reason: str(o, 'reason') ?? '' };
    }
    case 'note':
      return { kind: 'note', time, ...(o.dir !== undefined ? { dir: dirOf(o) } : {}), level: o.level === 'warn' ? 'warn' : 'info', message: str(o, 'message') ?? '' };
    default:
      return sessionEvent(o);
  }
}

/** Turns one parsed capture line back into an event; throws with the reason when it is not a valid record. */
export function recordToTapEvent(record: unknown): TapEvent {
  if (!record || typeof record !== 'object' || Array.isArray(record)) throw new Error('not a JSON object');
  const o = record as Json;
  const conn = need(num(o, 'conn'), 'conn');
  need(str(o, 'kind'), 'kind');
  const event = anyEvent(o);
  return {
    conn,
    client: endpoint(o, 'client'),
    ...(o.server !== undefined ? { server: endpoint(o, 'server') } : {}),
    ...(str(o, 'login') !== undefined ? { login: str(o, 'login') } : {}),
    event,
  };
}

function parseHeader(line: string): CaptureHeader {
  let h: Json;
  try {
    h = JSON.parse(line) as Json;
  } catch {
    throw new CaptureFileError('not a mrimtap capture: the first line is not JSON');
  }
  if (!h || typeof h !== 'object' || h.format !== CAPTURE_FORMAT) throw new CaptureFileError(`not a mrimtap capture: the first line has no "format": "${CAPTURE_FORMAT}"`);
  if (typeof h.version !== 'number' || h.version > CAPTURE_VERSION) {
    throw new CaptureFileError(`capture format version ${String(h.version)} is not supported (this mrimtap reads up to ${CAPTURE_VERSION})`);
  }
  return h as unknown as CaptureHeader;
}

/**
 * Streams a capture: the header first (a CaptureFileError if there is none), then each event or each
 * problem with its line number. File system errors are thrown as they are.
 */
export async function* readCapture(path: string): AsyncGenerator<CaptureItem> {
  let pending = '';
  let lineNo = 0;
  let headerSeen = false;
  function* handle(line: string, torn: boolean): Generator<CaptureItem> {
    lineNo++;
    if (!headerSeen) {
      headerSeen = true;
      yield { kind: 'header', header: parseHeader(line) };
      return;
    }
    if (line.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      yield { kind: 'problem', line: lineNo, message: torn ? 'the last line is incomplete (recording cut short): skipped' : 'not JSON: skipped' };
      return;
    }
    try {
      yield { kind: 'event', line: lineNo, event: recordToTapEvent(record) };
    } catch (e) {
      yield { kind: 'problem', line: lineNo, message: `not a capture record (${(e as Error).message}): skipped` };
    }
  }
  for await (const chunk of createReadStream(path, { encoding: 'utf8' })) {
    const lines = (pending + (chunk as string)).split('\n');
    pending = lines.pop()!;
    for (const line of lines) yield* handle(line, false);
  }
  if (pending !== '') yield* handle(pending, true);
  if (!headerSeen) throw new CaptureFileError('not a mrimtap capture: the file is empty');
}

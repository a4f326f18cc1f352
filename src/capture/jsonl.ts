/**
 * The mrimtap capture: JSON Lines, a header line, then one line per event (tap/line.ts) as it happens.
 * Writing: lines go to an fd opened 0600 (never through a symbolic link: one planted at the path could
 * send raw session bytes anywhere the user may write) in batches flushed within a few milliseconds, at
 * close and at exit (file-writer.ts), so Ctrl-C, SIGTERM or a crash leave every event readable; a
 * SIGKILL loses at most the last few milliseconds (at worst the last line is torn). Reading streams the
 * file: the header must be there and say it is a capture; after it, a line that is not a valid record
 * (torn by a crash, edited by hand) is reported with its line number and skipped, never fatal.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TapEvent } from '../tap/events.js';
import { captureLineParts, type LinePart } from '../tap/capture-line.js';
import { recordToTapEvent } from '../tap/line.js';
import { OwnerOnlyFile } from './file-writer.js';
import { CaptureFileError, type CaptureEntry, type CaptureWriter, type FileFormat, type RecordingInfo, type WriterOptions } from './format.js';

export const CAPTURE_FORMAT = 'mrimtap-capture';
/**
 * Version 2 keeps bytes in base64 (`raw64`, `bytes64`) and leaves out the fields of large frames;
 * version 1 (hex `raw`, every frame's fields) is read alike.
 */
export const CAPTURE_VERSION = 2;
/** Longest line read (characters): a frame of the default 1 MiB limit takes about 6 MiB as a version 1 line. */
export const MAX_LINE = 32 * 1024 * 1024;

export interface CaptureHeader {
  format: typeof CAPTURE_FORMAT;
  version: number;
  /** `mrimtap 0.1.0` */
  tool: string;
  /** ISO time the recording started. */
  started: string;
  /** Where the proxy listened (`127.0.0.1:1080`), or what the capture was made from. */
  listen?: string;
  source?: string;
  /** Which file of a recording split by size this is (`--max-size`); the first is 0. */
  part?: number;
}

export type CaptureItem =
  | { kind: 'header'; header: CaptureHeader }
  | { kind: 'event'; line: number; event: TapEvent }
  | { kind: 'problem'; line: number; message: string };

/** `mrimtap 0.1.0`: who writes captures (and generated files). */
export function toolVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  return `${pkg.name} ${pkg.version}`;
}

/** The header a new capture starts with (either shape: JSON Lines or one document). */
export function captureHeader(info: RecordingInfo): CaptureHeader {
  return {
    format: CAPTURE_FORMAT,
    version: CAPTURE_VERSION,
    tool: info.tool ?? toolVersion(),
    started: (info.started ?? new Date()).toISOString(),
    ...(info.listen ? { listen: info.listen } : {}),
    ...(info.source ? { source: info.source } : {}),
    ...(info.part !== undefined ? { part: info.part } : {}),
  };
}

/** What a header says, as a writer takes it: converting a capture keeps its header. */
export function headerInfo(h: CaptureHeader): RecordingInfo {
  const started = new Date(h.started);
  return {
    tool: h.tool,
    ...(Number.isNaN(started.getTime()) ? {} : { started }),
    ...(typeof h.listen === 'string' ? { listen: h.listen } : {}),
    ...(typeof h.source === 'string' ? { source: h.source } : {}),
  };
}

/** `capture by mrimtap 0.1.0, started … on 127.0.0.1:1080` */
export function describeHeader(h: CaptureHeader, what = 'capture'): string {
  return `${what} by ${h.tool}, started ${h.started}${h.listen ? ` on ${h.listen}` : ''}${h.source ? ` from ${h.source}` : ''}`;
}

/** Checks a parsed header object: it must say it is a capture, of a version this mrimtap reads. */
export function checkHeader(h: unknown, where: string): CaptureHeader {
  const o = h as Json;
  if (!o || typeof o !== 'object' || Array.isArray(o) || o.format !== CAPTURE_FORMAT) {
    throw new CaptureFileError(`not a mrimtap capture: ${where} has no "format": "${CAPTURE_FORMAT}"`);
  }
  if (typeof o.version !== 'number' || o.version > CAPTURE_VERSION) {
    throw new CaptureFileError(`capture format version ${String(o.version)} is not supported (this mrimtap reads up to ${CAPTURE_VERSION})`);
  }
  if (typeof o.tool !== 'string' || typeof o.started !== 'string') throw new CaptureFileError(`damaged capture header: ${where} lacks "tool" or "started"`);
  return o as unknown as CaptureHeader;
}

/** `captures/mrimtap-20240131-235959.jsonl` (local time). */
export function defaultCapturePath(now = new Date(), dir = 'captures'): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return join(dir, `mrimtap-${stamp}.jsonl`);
}

/** A capture file written event by event as JSON records, in either shape; raw bytes always whole. */
export abstract class RecordWriter implements CaptureWriter {
  events = 0;
  protected readonly file: OwnerOnlyFile;

  constructor(
    readonly path: string,
    private readonly showSecrets: boolean,
    private readonly withFields: boolean,
  ) {
    this.file = new OwnerOnlyFile(path);
  }

  /** Bytes written to the file so far, header included. */
  get bytes(): number {
    return this.file.bytes;
  }

  write(ev: TapEvent): void {
    this.writeLine(captureLineParts(ev, this.showSecrets, this.withFields));
  }

  writeLine(line: LinePart[]): void {
    this.put(line);
    this.events++;
  }

  close(): void {
    this.file.close();
  }

  /** Writes one record, given in parts that make it one after the other (`events` is still the number written before it). */
  protected abstract put(record: LinePart[]): void;
}

class JsonlWriter extends RecordWriter {
  constructor(path: string, info: RecordingInfo, opts: WriterOptions) {
    super(path, !!opts.showSecrets, opts.fields !== false);
    this.put([JSON.stringify(captureHeader(info))]);
  }

  protected put(record: LinePart[]): void {
    const last = record.length - 1;
    // Onto the last text rather than a part of its own: a part costs a write.
    if (typeof record[last] === 'string') record[last] += '\n';
    else record.push('\n');
    this.file.write(record);
  }
}

function create(path: string, info: RecordingInfo, opts: WriterOptions): CaptureWriter {
  return new JsonlWriter(path, info, opts);
}

type Json = Record<string, unknown>;

function parseHeader(line: string): CaptureHeader {
  let h: unknown;
  try {
    h = JSON.parse(line);
  } catch {
    throw new CaptureFileError('not a mrimtap capture: the first line is not JSON');
  }
  return checkHeader(h, 'the first line');
}

/** The first line of a file's first bytes, when they hold it whole (or are the whole file). */
function firstLine(head: Buffer, wholeFile: boolean): string | undefined {
  const nl = head.indexOf(0x0a);
  if (nl === -1) return wholeFile ? head.toString('utf8') : undefined;
  return head.subarray(0, nl).toString('utf8');
}

/**
 * Whether a file's first bytes are a JSON Lines capture's: a first line that is one JSON object on its
 * own (a capture document's first line is the whole document, or not JSON by itself).
 */
export function isJsonLinesHead(head: Buffer, wholeFile: boolean): boolean {
  if (head[0] !== 0x7b) return false;
  const line = firstLine(head, wholeFile);
  if (line === undefined) return false;
  try {
    const o = JSON.parse(line) as unknown;
    return !!o && typeof o === 'object' && !Array.isArray(o) && !('events' in o);
  } catch {
    return false;
  }
}

/** How often a followed capture is looked at for new lines: a recording is written as events happen. */
const FOLLOW_POLL_MS = 100;
const FOLLOW_READ_SIZE = 64 * 1024;

/**
 * The file's text as it grows, like `tail -f`: at its end, waits for more until `stop` is aborted,
 * then reads what came last and ends.
 */
async function* growingText(path: string, stop: AbortSignal): AsyncGenerator<string> {
  const fh = await open(path, 'r');
  const decoder = new StringDecoder('utf8');
  const buf = Buffer.alloc(FOLLOW_READ_SIZE);
  try {
    for (let pos = 0; ; ) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead > 0) {
        pos += bytesRead;
        yield decoder.write(buf.subarray(0, bytesRead));
        continue;
      }
      if (stop.aborted) break;
      await sleep(FOLLOW_POLL_MS, undefined, { signal: stop }).catch(() => undefined);
    }
    yield decoder.end();
  } finally {
    await fh.close();
  }
}

/**
 * Streams a capture: the header first (a CaptureFileError if there is none), then each event or each
 * problem with its line number. With `follow`, keeps reading what is appended until it is aborted.
 * File system errors are thrown as they are.
 */
export async function* readCapture(path: string, follow?: AbortSignal): AsyncGenerator<CaptureItem> {
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
  function* tooLong(torn: boolean): Generator<CaptureItem> {
    lineNo++;
    if (!headerSeen) throw new CaptureFileError(`not a mrimtap capture: the first line is longer than ${MAX_LINE / 1024 / 1024} MiB`);
    yield { kind: 'problem', line: lineNo, message: `longer than ${MAX_LINE / 1024 / 1024} MiB${torn ? ' and incomplete' : ''}: skipped` };
  }
  // A line still coming, in pieces (joined once, when it ends); past MAX_LINE it is dropped as it streams.
  let pieces: string[] = [];
  let held = 0;
  let skipping = false;
  const text = follow ? growingText(path, follow) : (createReadStream(path, { encoding: 'utf8' }) as AsyncIterable<string>);
  for await (const chunk of text) {
    for (let start = 0; ; ) {
      const nl = chunk.indexOf('\n', start);
      const piece = chunk.slice(start, nl === -1 ? undefined : nl);
      if (!skipping && held + piece.length > MAX_LINE) {
        skipping = true;
        pieces = [];
        held = 0;
      }
      if (!skipping) {
        pieces.push(piece);
        held += piece.length;
      }
      if (nl === -1) break;
      if (skipping) yield* tooLong(false);
      else yield* handle(pieces.join(''), false);
      pieces = [];
      held = 0;
      skipping = false;
      start = nl + 1;
    }
  }
  if (skipping) yield* tooLong(true);
  else if (held > 0) yield* handle(pieces.join(''), true);
  if (!headerSeen) throw new CaptureFileError('not a mrimtap capture: the file is empty');
}

async function* entries(items: AsyncGenerator<CaptureItem>): AsyncGenerator<CaptureEntry> {
  for await (const item of items) {
    if (item.kind === 'event') yield { kind: 'event', event: item.event };
    else if (item.kind === 'problem') yield { kind: 'problem', message: `line ${item.line}: ${item.message}` };
  }
}

export const mrimtapCapture: FileFormat = {
  name: 'mrimtap',
  label: 'a mrimtap recording (.jsonl)',
  // Every line is a JSON object, the header first.
  sniff: isJsonLinesHead,
  writes: 'mrimtap',
  async open(path, opts) {
    const items = readCapture(path, opts.follow);
    // The first item is the header: readCapture throws before anything else when there is none.
    const h = ((await items.next()).value as Extract<CaptureItem, { kind: 'header' }>).header;
    return { format: 'mrimtap', description: describeHeader(h), info: headerInfo(h), entries: entries(items) };
  },
  create,
};

/**
 * The mrimtap capture: JSON Lines, a header line, then one line per event (tap/line.ts) as it happens.
 * Writing: each line goes to the file with one write(2) on an fd opened 0600 (never through a symbolic
 * link: one planted at the path could send raw session bytes anywhere the user may write), so Ctrl-C,
 * SIGTERM or a crash leave every event written so far readable (at worst the last line is torn). Reading streams the
 * file: the header must be there and say it is a capture; after it, a line that is not a valid record
 * (torn by a crash, edited by hand) is reported with its line number and skipped, never fatal.
 */
import { closeSync, constants, createReadStream, fchmodSync, fstatSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TapEvent } from '../tap/events.js';
import { recordToTapEvent, tapEventToJson } from '../tap/line.js';
import { CaptureFileError, type CaptureEntry, type CaptureWriter, type FileFormat, type RecordingInfo } from './format.js';

export const CAPTURE_FORMAT = 'mrimtap-capture';
export const CAPTURE_VERSION = 1;

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

function toolVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  return `${pkg.name} ${pkg.version}`;
}

/** `captures/mrimtap-20240131-235959.jsonl` (local time). */
export function defaultCapturePath(now = new Date(), dir = 'captures'): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return join(dir, `mrimtap-${stamp}.jsonl`);
}

class JsonlWriter implements CaptureWriter {
  events = 0;
  bytes = 0;
  private fd: number | undefined;

  constructor(
    readonly path: string,
    fd: number,
    private readonly showSecrets: boolean,
  ) {
    this.fd = fd;
  }

  writeHeader(info: RecordingInfo): void {
    const header: CaptureHeader = {
      format: CAPTURE_FORMAT,
      version: CAPTURE_VERSION,
      tool: toolVersion(),
      started: (info.started ?? new Date()).toISOString(),
      ...(info.listen ? { listen: info.listen } : {}),
      ...(info.source ? { source: info.source } : {}),
      ...(info.part !== undefined ? { part: info.part } : {}),
    };
    this.line(header);
  }

  write(ev: TapEvent): void {
    this.line(tapEventToJson(ev, { showSecrets: this.showSecrets }));
    this.events++;
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private line(value: unknown): void {
    if (this.fd === undefined) throw new Error(`capture ${this.path} is closed`);
    const bytes = Buffer.from(JSON.stringify(value) + '\n');
    // writeSync may write less than asked (a full disk, a signal): finish the line or fail loudly.
    for (let at = 0; at < bytes.length; ) at += writeSync(this.fd, bytes, at);
    this.bytes += bytes.length;
  }
}

function create(path: string, info: RecordingInfo, opts: { showSecrets?: boolean }): CaptureWriter {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  // The mode given to open() only applies to a new file; an existing one keeps its own until now.
  // (A device such as /dev/null is left as it is.)
  try {
    if (fstatSync(fd).isFile()) fchmodSync(fd, 0o600);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  const writer = new JsonlWriter(path, fd, !!opts.showSecrets);
  writer.writeHeader(info);
  return writer;
}

type Json = Record<string, unknown>;

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
  sniff: (head) => head[0] === 0x7b,
  async open(path) {
    const items = readCapture(path);
    // The first item is the header: readCapture throws before anything else when there is none.
    const h = ((await items.next()).value as Extract<CaptureItem, { kind: 'header' }>).header;
    const description = `capture by ${h.tool}, started ${h.started}${h.listen ? ` on ${h.listen}` : ''}${h.source ? ` from ${h.source}` : ''}`;
    return { format: 'mrimtap', description, entries: entries(items) };
  },
  create,
};

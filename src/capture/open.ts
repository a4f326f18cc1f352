/**
 * The capture file formats, behind one registry: `openCapture` recognises a file by its first bytes and
 * reads it with its format; `createWriter` records one. A new format is one file providing a FileFormat
 * (format.ts) and one line in FORMATS.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CaptureFileError, type CaptureWriter, type FileFormat, type OpenedCapture, type OpenOptions, type RecordingInfo, type WriterOptions } from './format.js';
import { captureDocument } from './json-document.js';
import { mrimtapCapture } from './jsonl.js';
import { pcapCapture } from './pcap-file.js';
import { RotatingWriter, type RecordingWriter, type RotationOptions } from './rotate.js';

/** Tried in this order: a JSON Lines capture before a capture document, which both start with `{`. */
export const FORMATS: readonly FileFormat[] = [mrimtapCapture, captureDocument, pcapCapture];

/** Bytes of a file's start that the formats' sniff() get: enough for a JSON Lines capture's header line. */
const HEAD_SIZE = 4096;

async function readHead(path: string): Promise<{ head: Buffer; wholeFile: boolean }> {
  const fh = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(HEAD_SIZE), 0, HEAD_SIZE, 0);
    return { head: buffer.subarray(0, bytesRead), wholeFile: bytesRead < HEAD_SIZE };
  } finally {
    await fh.close();
  }
}

/**
 * Opens a capture of any supported format. A file that is not one, or is damaged beyond reading, is a
 * CaptureFileError whose message names the file; file system errors are thrown as they are.
 */
export async function openCapture(path: string, opts: OpenOptions = {}): Promise<OpenedCapture> {
  return openNamed(path, path, opts);
}

/** Opens the file at `path`, naming it `name` in errors. */
async function openNamed(path: string, name: string, opts: OpenOptions): Promise<OpenedCapture> {
  const { head, wholeFile } = await readHead(path);
  const format = FORMATS.find((f) => f.sniff(head, wholeFile));
  if (!format) throw new CaptureFileError(`${name} is not a capture: expected ${FORMATS.map((f) => f.label).join(' or ')}`);
  try {
    return await format.open(path, opts);
  } catch (e) {
    if (e instanceof CaptureFileError) throw new CaptureFileError(`${name}: ${e.message}`, { cause: e });
    throw e;
  }
}

/**
 * Opens a capture arriving on a stream (`tcpdump -w - | mrimtap decode -`), named `name` in errors.
 * The formats read files (pcap needs its whole header, a document its end), so the stream is spooled
 * to a private temporary file first, removed once the entries are read or the capture is refused.
 */
export async function openCaptureStream(input: Readable, name: string, opts: OpenOptions = {}): Promise<OpenedCapture> {
  const dir = await mkdtemp(join(tmpdir(), 'mrimtap-stdin-'));
  const removeSpool = () => rm(dir, { recursive: true, force: true });
  try {
    const spool = join(dir, 'capture');
    await pipeline(input, createWriteStream(spool, { mode: 0o600, flags: 'wx' }));
    const capture = await openNamed(spool, name, opts);
    const entries = capture.entries;
    return {
      ...capture,
      entries: (async function* () {
        try {
          yield* entries;
        } finally {
          await removeSpool();
        }
      })(),
    };
  } catch (e) {
    await removeSpool();
    throw e;
  }
}

/** The formats a capture can be written in, by name: `mrimtap` (JSON Lines), `mrimtap-json` (one document), `pcapng`. */
export const WRITABLE = FORMATS.flatMap((f) => (f.create && f.writes ? [f.writes] : []));

export interface RecordingOptions extends WriterOptions, RotationOptions {
  /** The format to write, by name (WRITABLE); `mrimtap` by default. */
  format?: string;
}

/**
 * Starts writing a capture: creates or truncates the file, readable by its owner only, and writes its
 * header. The default format, a mrimtap capture in JSON Lines, is the recording format: the only one
 * that keeps every event the live log shows, each written as it happens. With `maxBytes`, the capture
 * is split into files of about that size (rotate.ts).
 */
export function createWriter(path: string, info: RecordingInfo = {}, opts: RecordingOptions = {}): RecordingWriter {
  const { format = 'mrimtap', maxBytes, maxFiles, ...writerOpts } = opts;
  const f = FORMATS.find((x) => x.writes === format);
  if (!f?.create) throw new Error(`no capture format "${format}" to write (formats: ${WRITABLE.join(', ')})`);
  const create = f.create.bind(f);
  // A split recording numbers its files; each later one starts when it is opened.
  const open = (file: string, part: number): CaptureWriter =>
    create(file, maxBytes === undefined ? info : { ...info, part, ...(part > 0 ? { started: new Date() } : {}) }, writerOpts);
  return new RotatingWriter(path, open, { maxBytes, maxFiles });
}

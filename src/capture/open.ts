/**
 * The capture file formats, behind one registry: `openCapture` recognises a file by its first bytes and
 * reads it with its format; `createWriter` records one. A new format is one file providing a FileFormat
 * (format.ts) and one line in FORMATS.
 */
import { open } from 'node:fs/promises';
import { CaptureFileError, type CaptureWriter, type FileFormat, type OpenedCapture, type OpenOptions, type RecordingInfo, type WriterOptions } from './format.js';
import { captureDocument } from './json-document.js';
import { mrimtapCapture } from './jsonl.js';
import { pcapCapture } from './pcap-file.js';

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
  const { head, wholeFile } = await readHead(path);
  const format = FORMATS.find((f) => f.sniff(head, wholeFile));
  if (!format) throw new CaptureFileError(`${path} is not a capture: expected ${FORMATS.map((f) => f.label).join(' or ')}`);
  try {
    return await format.open(path, opts);
  } catch (e) {
    if (e instanceof CaptureFileError) throw new CaptureFileError(`${path}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** The formats a capture can be written in, by name: `mrimtap` (JSON Lines), `mrimtap-json` (one document), `pcapng`. */
export const WRITABLE = FORMATS.flatMap((f) => (f.create && f.writes ? [f.writes] : []));

/**
 * Starts writing a capture: creates or truncates the file, readable by its owner only, and writes its
 * header. The default format, a mrimtap capture in JSON Lines, is the recording format: the only one
 * that keeps every event the live log shows, each written as it happens.
 */
export function createWriter(path: string, info: RecordingInfo = {}, opts: WriterOptions & { format?: string } = {}): CaptureWriter {
  const { format = 'mrimtap', ...writerOpts } = opts;
  const f = FORMATS.find((x) => x.writes === format);
  if (!f?.create) throw new Error(`no capture format "${format}" to write (formats: ${WRITABLE.join(', ')})`);
  return f.create(path, info, writerOpts);
}

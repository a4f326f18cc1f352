/**
 * The capture file formats, behind one registry: `openCapture` recognises a file by its first bytes and
 * reads it with its format; `createWriter` records one. A new format is one file providing a FileFormat
 * (format.ts) and one line in FORMATS.
 */
import { open } from 'node:fs/promises';
import { CaptureFileError, type CaptureWriter, type FileFormat, type OpenedCapture, type OpenOptions, type RecordingInfo } from './format.js';
import { mrimtapCapture } from './jsonl.js';
import { pcapCapture } from './pcap-file.js';
import { RotatingWriter, type RecordingWriter, type RotationOptions } from './rotate.js';

export const FORMATS: readonly FileFormat[] = [mrimtapCapture, pcapCapture];

/** Bytes of a file's start that the formats' sniff() get. */
const HEAD_SIZE = 16;

async function readHead(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(HEAD_SIZE), 0, HEAD_SIZE, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * Opens a capture of any supported format. A file that is not one, or is damaged beyond reading, is a
 * CaptureFileError whose message names the file; file system errors are thrown as they are.
 */
export async function openCapture(path: string, opts: OpenOptions = {}): Promise<OpenedCapture> {
  const head = await readHead(path);
  const format = FORMATS.find((f) => f.sniff(head));
  if (!format) throw new CaptureFileError(`${path} is not a capture: expected ${FORMATS.map((f) => f.label).join(' or ')}`);
  try {
    return await format.open(path, opts);
  } catch (e) {
    if (e instanceof CaptureFileError) throw new CaptureFileError(`${path}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** The format recordings are written in: the only one that keeps every event the live log shows. */
const RECORDING = mrimtapCapture as Required<FileFormat>;

export interface RecordingOptions extends RotationOptions {
  /** Keep passwords and session keys unmasked in the recorded fields. */
  showSecrets?: boolean;
}

/**
 * Starts a recording (a mrimtap capture): creates or truncates the file, readable by its owner only,
 * and writes the header; with `maxBytes`, split into files of about that size (rotate.ts).
 */
export function createWriter(path: string, info: RecordingInfo = {}, opts: RecordingOptions = {}): RecordingWriter {
  const { maxBytes, maxFiles, ...format } = opts;
  // A split recording numbers its files; each later one starts when it is opened.
  const open = (file: string, part: number): CaptureWriter =>
    RECORDING.create(file, maxBytes === undefined ? info : { ...info, part, ...(part > 0 ? { started: new Date() } : {}) }, format);
  return new RotatingWriter(path, open, { maxBytes, maxFiles });
}

/**
 * Reading a capture back, line by line as it streams from disk. The header must be there and say it is
 * a capture; after it, a line that is not a valid record (torn by a crash, edited by hand) is reported
 * with its line number and skipped, never fatal. Each line is read by the line format (tap/line.ts).
 */
import { createReadStream } from 'node:fs';
import type { TapEvent } from '../tap/events.js';
import { recordToTapEvent } from '../tap/line.js';
import { CAPTURE_FORMAT, CAPTURE_VERSION, type CaptureHeader } from './writer.js';

export class CaptureFileError extends Error {}

export type CaptureItem =
  | { kind: 'header'; header: CaptureHeader }
  | { kind: 'event'; line: number; event: TapEvent }
  | { kind: 'problem'; line: number; message: string };

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

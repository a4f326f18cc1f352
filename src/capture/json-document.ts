/**
 * The mrimtap capture as one JSON document: the header's keys and an `events` array of the same
 * records as the JSON Lines form (tap/line.ts) — for tools that want one value (jq -s, a JSON viewer,
 * `json.load`). Written as it goes, one event per line; read whole, so documents are limited in size
 * (the JSON Lines form streams and survives a crash, and stays the recording format).
 */
import { readFile, stat } from 'node:fs/promises';
import { recordToTapEvent } from '../tap/line.js';
import type { LinePart } from '../tap/capture-line.js';
import { CaptureFileError, type CaptureEntry, type FileFormat, type RecordingInfo, type WriterOptions } from './format.js';
import { RecordWriter, captureHeader, checkHeader, describeHeader, headerInfo, isJsonLinesHead } from './jsonl.js';

/** Largest document read: JSON.parse holds the whole text and every value at once. */
export const MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;

class DocumentWriter extends RecordWriter {
  constructor(path: string, info: RecordingInfo, opts: WriterOptions) {
    super(path, !!opts.showSecrets, opts.fields !== false);
    const header = JSON.stringify(captureHeader(info), null, 2);
    // The header object, still open for its last key: the events.
    this.file.write(`${header.slice(0, header.lastIndexOf('}')).trimEnd()},\n  "events": [`);
  }

  protected put(record: LinePart[]): void {
    record.unshift(this.events === 0 ? '\n    ' : ',\n    ');
    this.file.write(record);
  }

  override close(): void {
    if (this.file.closed) return;
    this.file.write(this.events === 0 ? ']\n}\n' : '\n  ]\n}\n');
    super.close();
  }
}

async function* entries(events: unknown[]): AsyncGenerator<CaptureEntry> {
  for (const [i, record] of events.entries()) {
    try {
      yield { kind: 'event', event: recordToTapEvent(record) };
    } catch (e) {
      yield { kind: 'problem', message: `event ${i + 1}: not a capture record (${(e as Error).message}): skipped` };
    }
  }
}

export const captureDocument: FileFormat = {
  name: 'mrimtap-json',
  label: 'a mrimtap capture document (.json)',
  // Any other JSON object: whether it is a capture document, open() says.
  sniff: (head, wholeFile) => /^\s*\{/.test(head.subarray(0, 64).toString('latin1')) && !isJsonLinesHead(head, wholeFile),
  writes: 'mrimtap-json',
  async open(path) {
    const { size } = await stat(path);
    if (size > MAX_DOCUMENT_BYTES) {
      throw new CaptureFileError(`a capture document of ${size} bytes is more than the ${MAX_DOCUMENT_BYTES / 1024 / 1024} MiB read at once; keep large captures as JSON Lines`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(path, 'utf8'));
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      throw new CaptureFileError(`not a mrimtap capture: not valid JSON (${e.message}; a document cut short?)`);
    }
    const h = checkHeader(doc, 'the document');
    const events = (doc as { events?: unknown }).events;
    if (!Array.isArray(events)) throw new CaptureFileError('not a mrimtap capture document: no "events" array');
    return { format: 'mrimtap-json', description: describeHeader(h, 'capture document'), info: headerInfo(h), entries: entries(events) };
  },
  create: (path: string, info: RecordingInfo, opts: WriterOptions) => new DocumentWriter(path, info, opts),
};

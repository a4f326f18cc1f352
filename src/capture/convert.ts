/**
 * Copying a capture into another format: `import` (pcap/pcapng → mrimtap capture), `convert` (JSON Lines
 * ⇄ one JSON document) and `export` (→ pcapng) all read with openCapture and write with createWriter,
 * event by event; the file's problems are passed on as they are met.
 */
import { realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { formatEndpoint } from '../net/endpoint.js';
import { CaptureFileError, type OpenOptions, type RecordingInfo, type WriterOptions } from './format.js';
import { createWriter, openCapture } from './open.js';

export interface ConvertOptions extends OpenOptions, WriterOptions {
  /** The format to write, by its `createWriter` name: `mrimtap`, `mrimtap-json`, `pcapng`. */
  format: string;
  /** Only inputs of these formats (`pcap`, `pcapng`, `mrimtap`, `mrimtap-json`) are taken. */
  accept?: readonly string[];
  /** Changes what the output's header says (default: what the input's says). */
  info?: (input: RecordingInfo) => RecordingInfo;
  onProblem?: (message: string) => void;
}

export interface ConvertResult {
  /** The input's format and its one-line description. */
  from: string;
  description: string;
  events: number;
  frames: number;
  problems: number;
  /** Connections opened in the capture. */
  connections: number;
  /** Connections that carried no MRIM (listed, not decoded): `#3 10.0.0.1:5000 ⇄ 10.0.0.2:443`. */
  notMrim: string[];
}

/** Path of a file that may not exist yet, with links resolved where it does. */
async function canonical(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return resolve(path);
  }
}

/** The writer truncates its file before the reader gets to it: a command must not write over its input. */
export async function checkDistinctFiles(input: string, output: string): Promise<void> {
  if ((await canonical(input)) === (await canonical(output))) throw new CaptureFileError(`${output} is the input file: write to another one`);
}

export async function convertCapture(input: string, output: string, opts: ConvertOptions): Promise<ConvertResult> {
  await checkDistinctFiles(input, output);
  const capture = await openCapture(input, { maxFrameSize: opts.maxFrameSize });
  if (opts.accept && !opts.accept.includes(capture.format)) {
    throw new CaptureFileError(`${input} is a ${capture.format} capture, not ${opts.accept.join(' or ')}`);
  }
  const info = opts.info ? opts.info(capture.info) : capture.info;
  const writer = createWriter(output, info, { format: opts.format, showSecrets: opts.showSecrets });
  const result: ConvertResult = { from: capture.format, description: capture.description, events: 0, frames: 0, problems: 0, connections: 0, notMrim: [] };
  const opened = new Map<number, string>();
  const mrim = new Set<number>();
  try {
    for await (const entry of capture.entries) {
      if (entry.kind === 'problem') {
        result.problems++;
        opts.onProblem?.(entry.message);
        continue;
      }
      const { event } = entry.event;
      writer.write(entry.event);
      result.events++;
      if (event.kind === 'frame') result.frames++;
      if (event.kind === 'open') opened.set(entry.event.conn, `#${entry.event.conn} ${formatEndpoint(event.client)} ⇄ ${formatEndpoint(event.server)}`);
      if (event.kind === 'frame' || (event.kind === 'redirect' && event.host !== undefined)) mrim.add(entry.event.conn);
    }
  } finally {
    writer.close();
  }
  result.connections = opened.size;
  result.notMrim = [...opened].filter(([conn]) => !mrim.has(conn)).map(([, label]) => label);
  return result;
}

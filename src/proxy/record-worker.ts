/**
 * The recording worker's thread: it decodes the proxy's connections and writes the capture, so that
 * neither holds up the relay. The relay thread sends what happened on its sockets in batches, in
 * order, each chunk with the time the relay stamped on it; the worker answers each batch with how many
 * bytes it took (what the relay's backpressure counts), the events it produced when the live log wants
 * them, and the recording's figures.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { WriterOptions } from '../capture/format.js';
import { createWriter } from '../capture/open.js';
import { closeQuietly, recordOrStop, type RecordingWriter, type RotationOptions } from '../capture/rotate.js';
import type { Endpoint } from '../net/endpoint.js';
import type { Direction } from '../protocol/fields.js';
import type { AddonMark, AnyEvent, TapEvent } from '../tap/events.js';
import { TapHub, type ConnectionTap, type TapHubOptions } from '../tap/tap.js';
import { asBuffer } from './worker-buffers.js';

/** One thing that happened on the relay thread, as the worker replays it. Chunks point into the batch's bytes. */
export type RelayOp =
  | ['open', number, Endpoint, Endpoint, number, Endpoint[]]
  | ['push', number, Direction, number, number, number, AddonMark?]
  | ['end', number, Direction, number]
  | ['close', number, string, number]
  | ['note', number, string, 'info' | 'warn', number, Direction | undefined, AddonMark?]
  | ['rewrite', number, { text: string; bytes: Buffer }]
  | ['report', number, Endpoint, Endpoint | undefined, AnyEvent];

export type ToWorker =
  /** Creates the capture: the first message (the header names the address the proxy listens on). */
  | { type: 'start'; listen: string }
  | { type: 'batch'; ops: RelayOp[]; bytes: ArrayBuffer; size: number }
  | { type: 'finish' };

export interface RecordingFigures {
  path: string;
  files: readonly string[];
  events: number;
  bytes: number;
  deletedFiles: number;
}

export interface WorkerError {
  message: string;
  code?: string;
}

export type FromWorker =
  | { type: 'ready'; figures: RecordingFigures }
  | { type: 'start-failed'; error: WorkerError }
  /** `size` bytes of relayed chunks were taken; `events` only when the live log asked for them. */
  | { type: 'done'; size: number; events?: TapEvent[]; figures: RecordingFigures }
  | { type: 'recording-failed'; time: number; error: WorkerError }
  | { type: 'finished'; figures: RecordingFigures };

export interface WorkerInit {
  record: string;
  capture: RotationOptions & WriterOptions;
  hub: TapHubOptions;
  /** Post the events back (the live log, the web view). */
  events: boolean;
  /** Set to 1 once the capture is closed: the relay thread waits on it while the process exits. */
  finished: SharedArrayBuffer;
  /** Tests: each batch takes at least this long (a worker that cannot keep up); the worker throws after so many batches. */
  test: { delayMs?: number; failAfterBatches?: number };
}

const init = workerData as WorkerInit;
const port = parentPort!;
const finished = new Int32Array(init.finished);

const errorOf = (e: unknown): WorkerError => ({ message: (e as Error).message, ...((e as NodeJS.ErrnoException).code ? { code: (e as NodeJS.ErrnoException).code } : {}) });

let capture: RecordingWriter | undefined;
let outgoing: TapEvent[] = [];
const hub = new TapHub((ev) => {
  if (capture) {
    const error = recordOrStop(capture, ev);
    if (error) {
      // As a write failure in-line: the recording stops, decoding for the live log goes on.
      capture = undefined;
      port.postMessage({ type: 'recording-failed', time: Date.now(), error: errorOf(error) } satisfies FromWorker);
    }
  }
  if (init.events) outgoing.push(ev);
}, init.hub);
const taps = new Map<number, ConnectionTap>();
let figures: RecordingFigures = { path: init.record, files: [init.record], events: 0, bytes: 0, deletedFiles: 0 };

function currentFigures(): RecordingFigures {
  if (capture) figures = { path: capture.path, files: [...capture.files], events: capture.events, bytes: capture.bytes, deletedFiles: capture.deletedFiles };
  return figures;
}

function run(ops: RelayOp[], bytes: Buffer): void {
  for (const op of ops) {
    switch (op[0]) {
      case 'open':
        taps.set(op[1], hub.open(op[1], op[2], op[3], op[4], op[5]));
        break;
      case 'push':
        taps.get(op[1])?.push(op[2], bytes.subarray(op[3], op[3] + op[4]), op[5], addonMark(op[6]));
        break;
      case 'end':
        taps.get(op[1])?.end(op[2], op[3]);
        break;
      case 'close':
        taps.get(op[1])?.close(op[2], op[3]);
        taps.delete(op[1]);
        break;
      case 'note':
        taps.get(op[1])?.note(op[2], op[3], op[4], op[5], addonMark(op[6]));
        break;
      case 'rewrite':
        taps.get(op[1])?.rewriteRedirect({ text: op[2].text, bytes: asBuffer(op[2].bytes) });
        break;
      case 'report':
        hub.report(op[1], op[2], op[3], op[4]);
        break;
    }
  }
}


function addonMark(mark: AddonMark | undefined): AddonMark | undefined {
  return mark?.original ? { ...mark, original: asBuffer(mark.original) } : mark;
}

const pause = new Int32Array(new SharedArrayBuffer(4));
let batches = 0;

function start(listen: string): void {
  try {
    capture = createWriter(init.record, { listen }, init.capture);
    port.postMessage({ type: 'ready', figures: currentFigures() } satisfies FromWorker);
  } catch (e) {
    port.postMessage({ type: 'start-failed', error: errorOf(e) } satisfies FromWorker);
  }
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'start') return start(msg.listen);
  if (msg.type === 'batch') {
    if (init.test.delayMs) Atomics.wait(pause, 0, 0, init.test.delayMs);
    if (++batches === init.test.failAfterBatches) throw new Error(`failing after ${batches} batches, as the test asked`);
    run(msg.ops, Buffer.from(msg.bytes, 0, msg.size));
    const events = outgoing;
    outgoing = [];
    port.postMessage({ type: 'done', size: msg.size, ...(init.events ? { events } : {}), figures: currentFigures() } satisfies FromWorker);
    return;
  }
  if (capture) closeQuietly(capture);
  const last = currentFigures();
  capture = undefined;
  Atomics.store(finished, 0, 1);
  Atomics.notify(finished, 0);
  port.postMessage({ type: 'finished', figures: last } satisfies FromWorker);
  port.close();
});

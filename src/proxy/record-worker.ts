/**
 * The recording worker's thread: it decodes the proxy's connections, so that decoding does not hold up
 * the relay, and hands each batch's events to the writing thread it starts (record-writer.ts), which
 * writes the capture while this one decodes the next batch. The relay thread sends what happened on
 * its sockets in batches, in order, each chunk with the time the relay stamped on it; the worker
 * answers each batch once it is written with how many bytes it took (what the relay's backpressure
 * counts), the events it produced when the live log wants them, and the recording's figures.
 */
import { parentPort, workerData, type Worker } from 'node:worker_threads';
import type { WriterOptions } from '../capture/format.js';
import type { RotationOptions } from '../capture/rotate.js';
import type { Endpoint } from '../net/endpoint.js';
import type { Direction } from '../protocol/fields.js';
import type { AddonMark, AnyEvent, TapEvent } from '../tap/events.js';
import { TapHub, type ConnectionTap, type TapHubOptions } from '../tap/tap.js';
import { EventBatcher } from './event-batch.js';
import type { FromWriter, ToWriter, WriterInit } from './record-writer.js';
import { asBuffer, figuresBefore, signalFinished, spawnWorker } from './worker-threads.js';

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

let outgoing: TapEvent[] = [];
const batcher = new EventBatcher();
// Events that stay on this thread are read only for what their lines keep (the writing thread decodes
// fields again when it records them): their texts need not be made. Those posted to the live log are
// cloned, so they are decoded whole.
const hub = new TapHub(
  (ev) => {
    batcher.add(ev);
    if (init.events) outgoing.push(ev);
  },
  init.events ? init.hub : { ...init.hub, strings: 'lazy' },
);
const taps = new Map<number, ConnectionTap>();
let figures = figuresBefore(init.record);

/** The writing thread; undefined once it is gone (it failed: the batches are answered here from then on). */
let writer: Worker | undefined = spawnWorker('record-writer', { record: init.record, capture: init.capture, finished: init.finished } satisfies WriterInit);
let started = false;
/** Batches handed to the writer, by id: their size goes back to the relay once written (what its queue counts). */
const writing = new Map<number, number>();
let nextId = 0;

const post = (msg: FromWorker) => port.postMessage(msg);
const done = (size: number, events?: TapEvent[]) => post({ type: 'done', size, ...(events ? { events } : {}), figures });

writer.on('message', (msg: FromWriter) => {
  switch (msg.type) {
    case 'ready':
      started = true;
      figures = msg.figures;
      return post(msg);
    case 'start-failed':
    case 'recording-failed':
      return post(msg);
    case 'written': {
      figures = msg.figures;
      const size = writing.get(msg.id)!;
      writing.delete(msg.id);
      return done(size);
    }
    case 'finished':
      figures = msg.figures;
      writer = undefined;
      post({ type: 'finished', figures });
      port.close();
  }
});
const writerFailed = (why: string) => {
  if (!writer) return;
  writer = undefined;
  const error = { message: `the recording's writing thread ${why}` };
  post(started ? { type: 'recording-failed', time: Date.now(), error } : { type: 'start-failed', error });
  // What it had not written is lost with it; the relay must not wait for it.
  for (const size of writing.values()) done(size);
  writing.clear();
};
writer.on('error', (e) => writerFailed(`failed: ${e.message}`));
writer.on('exit', (code) => writerFailed(`exited (code ${code})`));

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

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'start') return writer ? writer.postMessage(msg satisfies ToWriter) : post({ type: 'start-failed', error: { message: "the recording's writing thread is gone" } });
  if (msg.type === 'batch') {
    if (init.test.delayMs) Atomics.wait(pause, 0, 0, init.test.delayMs);
    if (++batches === init.test.failAfterBatches) throw new Error(`failing after ${batches} batches, as the test asked`);
    run(msg.ops, Buffer.from(msg.bytes, 0, msg.size));
    // The live log's events go at once: held until written, the queue's 16 MiB of bytes would be held as decoded objects.
    const events = init.events ? outgoing : undefined;
    outgoing = [];
    const { batch, transfer } = batcher.take();
    if (!writer) return done(msg.size, events);
    if (events) done(0, events);
    const id = nextId++;
    writing.set(id, msg.size);
    writer.postMessage({ type: 'events', id, batch } satisfies ToWriter, transfer);
    return;
  }
  // Finish: the writer closes the capture after the batches posted before (one port, in order).
  if (writer) return writer.postMessage(msg satisfies ToWriter);
  signalFinished(finished);
  post({ type: 'finished', figures });
  port.close();
});

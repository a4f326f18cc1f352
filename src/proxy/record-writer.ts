/**
 * The recording's writing thread: it turns the decoded events of each batch (event-batch.ts) into the
 * capture's lines and writes them, while the decoding thread (record-worker.ts) goes on with the next
 * batch — decoding and writing each take about half of what recording a frame costs, and a machine
 * with two cores runs them side by side. It answers each batch once written, with the recording's
 * figures; that answer is what lets the relay's queue drain, so the queue bounds both threads.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { WriterOptions } from '../capture/format.js';
import { createWriter } from '../capture/open.js';
import { closeQuietly, writeOrStop, type RecordingWriter, type RotationOptions } from '../capture/rotate.js';
import type { Endpoint } from '../net/endpoint.js';
import { writeBatch, type EventBatch } from './event-batch.js';
import type { RecordingFigures, WorkerError } from './record-worker.js';
import { errorOf, figuresBefore, signalFinished } from './worker-threads.js';

export interface WriterInit {
  record: string;
  capture: RotationOptions & WriterOptions;
  /** Set to 1 once the capture is closed: the relay thread waits on it while the process exits. */
  finished: SharedArrayBuffer;
}

export type ToWriter = { type: 'start'; listen: string } | { type: 'events'; id: number; batch: EventBatch } | { type: 'finish' };

export type FromWriter =
  | { type: 'ready'; figures: RecordingFigures }
  | { type: 'start-failed'; error: WorkerError }
  | { type: 'written'; id: number; figures: RecordingFigures }
  | { type: 'recording-failed'; time: number; error: WorkerError }
  | { type: 'finished'; figures: RecordingFigures };

const init = workerData as WriterInit;
const port = parentPort!;
const finished = new Int32Array(init.finished);
const withFields = init.capture.fields !== false;
const showSecrets = !!init.capture.showSecrets;
const peers = new Map<number, { client: Endpoint; server?: Endpoint }>();
let capture: RecordingWriter | undefined;
let figures = figuresBefore(init.record);
const currentFigures = (): RecordingFigures => {
  if (capture) figures = { path: capture.path, files: [...capture.files], events: capture.events, bytes: capture.bytes, deletedFiles: capture.deletedFiles };
  return figures;
};
const post = (msg: FromWriter) => port.postMessage(msg);

port.on('message', (msg: ToWriter) => {
  switch (msg.type) {
    case 'start':
      try {
        capture = createWriter(init.record, { listen: msg.listen }, init.capture);
        post({ type: 'ready', figures: currentFigures() });
      } catch (e) {
        post({ type: 'start-failed', error: errorOf(e) });
      }
      return;
    case 'events':
      if (capture) {
        const error = writeOrStop(capture, () => writeBatch(msg.batch, peers, capture!, withFields, showSecrets));
        if (error) {
          currentFigures();
          capture = undefined;
          post({ type: 'recording-failed', time: Date.now(), error: errorOf(error) });
        }
      }
      post({ type: 'written', id: msg.id, figures: currentFigures() });
      return;
    case 'finish': {
      if (capture) closeQuietly(capture);
      const last = currentFigures();
      capture = undefined;
      signalFinished(finished);
      post({ type: 'finished', figures: last });
      port.close();
    }
  }
});

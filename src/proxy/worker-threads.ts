/** What the recording's threads share: starting one, and Buffers across structured clone. */
import { Worker } from 'node:worker_threads';
import type { TapEvent } from '../tap/events.js';
import type { RecordingFigures, WorkerError } from './record-worker.js';

/** Buffers cross to and from the recording worker as plain Uint8Arrays (structured clone); this makes them Buffers again, without a copy. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Buffers cross between threads as plain Uint8Arrays: consumers get them as the tap made them. */
export function withBuffers(ev: TapEvent): TapEvent {
  const e = ev.event as { raw?: Uint8Array; bytes?: unknown; rewritten?: { bytes: Uint8Array } };
  if (e.raw instanceof Uint8Array) e.raw = asBuffer(e.raw);
  if (e.bytes instanceof Uint8Array) e.bytes = asBuffer(e.bytes);
  if (e.rewritten) e.rewritten.bytes = asBuffer(e.rewritten.bytes);
  if (ev.addon?.original) ev.addon.original = asBuffer(ev.addon.original);
  return ev;
}

/**
 * A recording thread (`name`.js beside this file) from the built files, or, run from the sources, a
 * bootstrap that registers tsx in the thread first: on Node 20 a worker inherits neither a programmatic
 * registration (the bin script's) nor one by `--import`.
 */
export function spawnWorker(name: 'record-worker' | 'record-writer', workerData: unknown): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, import.meta.url), { workerData });
  const entry = new URL(`./${name}.ts`, import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** An error as it can cross to another thread, its system code (`EFBIG`, `EACCES`) kept. */
export const errorOf = (e: unknown): WorkerError => ({ message: (e as Error).message, ...((e as NodeJS.ErrnoException).code ? { code: (e as NodeJS.ErrnoException).code } : {}) });

/** A recording's figures before its first event. */
export const figuresBefore = (path: string): RecordingFigures => ({ path, files: [path], events: 0, bytes: 0, deletedFiles: 0 });

/** Tells the relay thread, waiting on `flag` while the process exits, that the capture is closed. */
export function signalFinished(flag: Int32Array): void {
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

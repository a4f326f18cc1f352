/**
 * The relay thread's side of the recording worker (record-worker.ts): it stands in for the TapHub, so
 * the proxy hands it what happens on its sockets as it would to an in-line tap, and it passes that on
 * to the worker in batches (one per turn of the event loop, or every BATCH_WAIT_MS while the traffic
 * is a trickle of small chunks, as a chat's), every chunk copied once into the batch's
 * bytes (moved to the worker, not cloned). Nothing is dropped: when more than `queueBytes` (16 MiB) wait
 * for the worker, the proxy pauses its sockets until the worker is down to a quarter of that. The worker's events
 * come back batched for the live log. At exit (a crash included) what is queued still reaches the file:
 * the exit hook hands it over and waits for the worker to close the capture.
 */
import type { Worker } from 'node:worker_threads';
import type { Endpoint } from '../net/endpoint.js';
import type { Direction } from '../protocol/fields.js';
import type { AddonMark, AnyEvent, TapEvent } from '../tap/events.js';
import type { TapHubOptions } from '../tap/tap.js';
import type { ProxyConnectionTap, ProxyTap } from './proxy-tap.js';
import type { FromWorker, RecordingFigures, RelayOp, ToWorker, WorkerError, WorkerInit } from './record-worker.js';
import { figuresBefore, spawnWorker, withBuffers } from './worker-threads.js';

/** Bytes waiting for the worker at which the relay pauses; it goes on once a quarter of that is left. */
const QUEUE_BYTES = 16 * 1024 * 1024;
/** A batch this large goes out at once instead of at the end of the turn. */
const BATCH_BYTES = 1024 * 1024;
/**
 * A smaller batch waits up to BATCH_WAIT_MS for more: a chat's frames come a few hundred bytes at a
 * time, and waking the worker's two threads for each takes the cores the relay needs to forward the
 * answer (a round trip through the proxy paid for three thread wake-ups per chunk).
 */
const SMALL_BATCH_BYTES = 64 * 1024;
const BATCH_WAIT_MS = 2;
/** How long the exit hook waits for the worker to write what is queued. */
const EXIT_WAIT_MS = 5000;

export interface WorkerTuning {
  /** Relayed bytes waiting for the worker at which the relays pause (default 16 MiB). */
  queueBytes?: number;
  /** Tests: the worker takes at least this long per batch (one that cannot keep up). */
  delayMs?: number;
  /** Tests: the worker throws after this many batches. */
  failAfterBatches?: number;
}

export interface RecorderOptions extends WorkerTuning {
  record: string;
  capture: WorkerInit['capture'];
  hub: TapHubOptions;
  /** Every event, in order, batched per batch the worker took; without it no events come back. */
  onEvent?: (ev: TapEvent) => void;
  /** The recording stopped: a write error, or the worker failed. */
  onFailed: (err: Error, time: number) => void;
}

export class RecordingWorker implements ProxyTap {
  figures: RecordingFigures;
  private readonly worker: Worker;
  private readonly finishedFlag: Int32Array;
  private readonly queueBytes: number;
  private ops: RelayOp[] = [];
  private chunks: Buffer[] = [];
  private batchBytes = 0;
  /** The flush to come: at the end of this turn of the event loop, or after BATCH_WAIT_MS for a small batch. */
  private flushSoon: NodeJS.Immediate | undefined;
  private flushLater: NodeJS.Timeout | undefined;
  /** Bytes posted to the worker that it has not taken yet. */
  private inFlight = 0;
  private held = false;
  private liveBroken = false;
  private holdListeners: Array<(held: boolean) => void> = [];
  /** Set once the worker is gone (failed or finished): operations are dropped from then on. */
  private gone = false;
  private finished?: Promise<void>;
  private started = false;
  private readonly ready: Promise<void>;
  private settleStart!: (err?: Error) => void;
  private readonly exitHook = () => this.finishAtExit();

  /** Spawns the worker; nothing is written before `start`, and what the proxy reports until then waits. */
  constructor(private readonly opts: RecorderOptions) {
    this.queueBytes = opts.queueBytes ?? QUEUE_BYTES;
    const finished = new SharedArrayBuffer(4);
    this.finishedFlag = new Int32Array(finished);
    const { delayMs, failAfterBatches } = opts;
    const init: WorkerInit = { record: opts.record, capture: opts.capture, hub: opts.hub, events: !!opts.onEvent, finished, test: { delayMs, failAfterBatches } };
    this.worker = spawnWorker('record-worker', init);
    this.figures = figuresBefore(opts.record);
    this.ready = new Promise((resolve, reject) => {
      this.settleStart = (err) => (err ? reject(err) : resolve());
    });
    // A worker that fails before `start` is asked for rejects it early: `start` hands that on.
    this.ready.catch(() => {});
    this.worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    this.worker.on('error', (err) => this.fail(new Error(`the recording worker failed: ${err.message}`)));
    this.worker.on('exit', (code) => {
      if (!this.gone) this.fail(new Error(`the recording worker exited (code ${code})`));
    });
    process.on('exit', this.exitHook);
  }

  /** Creates the capture (its header names `listen`); rejects with the file's error, its code kept. */
  start(listen: string): Promise<void> {
    this.post({ type: 'start', listen });
    return this.ready;
  }

  /** Stops the worker that could not start (nothing is queued that would be written). */
  async abort(): Promise<void> {
    this.gone = true;
    process.off('exit', this.exitHook);
    await this.worker.terminate();
  }

  onHold(listener: (held: boolean) => void): void {
    this.holdListeners.push(listener);
  }

  open(conn: number, client: Endpoint, server: Endpoint, time: number, candidates: Endpoint[] = [server]): ProxyConnectionTap {
    this.queue(['open', conn, client, server, time, candidates]);
    return {
      conn,
      client,
      server,
      // TLS interception needs this at once: a proxy intercepting TLS decodes in-line instead.
      tlsAccepted: false,
      push: (dir: Direction, chunk: Buffer, t: number, addon?: AddonMark) => this.push(conn, dir, chunk, t, addon),
      end: (dir: Direction, t: number) => this.queue(['end', conn, dir, t]),
      close: (reason: string, t: number) => this.queue(['close', conn, reason, t]),
      note: (message: string, level: 'info' | 'warn', t: number, dir?: Direction, addon?: AddonMark) => this.queue(['note', conn, message, level, t, dir, addon]),
      rewriteRedirect: (rewritten) => this.queue(['rewrite', conn, rewritten]),
    };
  }

  report(conn: number, client: Endpoint, server: Endpoint | undefined, event: AnyEvent): void {
    this.queue(['report', conn, client, server, event]);
  }

  /** Hands over what is queued and waits until the worker has written all of it and closed the capture. */
  finish(): Promise<void> {
    this.finished ??= this.gone
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          this.worker.once('exit', () => resolve());
          this.flush();
          this.post({ type: 'finish' });
        });
    return this.finished;
  }

  private push(conn: number, dir: Direction, chunk: Buffer, time: number, addon?: AddonMark): void {
    if (this.gone) return;
    this.ops.push(addon ? ['push', conn, dir, this.batchBytes, chunk.length, time, addon] : ['push', conn, dir, this.batchBytes, chunk.length, time]);
    this.chunks.push(chunk);
    this.batchBytes += chunk.length;
    if (this.batchBytes >= BATCH_BYTES) this.flush();
    else this.scheduleFlush();
    if (!this.held && this.inFlight + this.batchBytes > this.queueBytes) this.setHeld(true);
  }

  private queue(op: RelayOp): void {
    if (this.gone) return;
    this.ops.push(op);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushSoon) return;
    if (this.batchBytes >= SMALL_BATCH_BYTES) this.flushSoon = setImmediate(() => this.flush());
    else if (!this.flushLater) this.flushLater = setTimeout(() => this.flush(), BATCH_WAIT_MS).unref();
  }

  /** Posts the batch: its chunks copied into one buffer of its own, which moves to the worker. */
  private flush(): void {
    clearImmediate(this.flushSoon);
    clearTimeout(this.flushLater);
    this.flushSoon = this.flushLater = undefined;
    if (this.gone || !this.started || this.ops.length === 0) return;
    // A buffer of its own (never the shared pool, which cannot move), not zeroed: it is filled at once.
    const view = Buffer.allocUnsafeSlow(this.batchBytes);
    const bytes = view.buffer as ArrayBuffer;
    let at = 0;
    for (const c of this.chunks) at += c.copy(view, at);
    const size = this.batchBytes;
    const msg: ToWorker = { type: 'batch', ops: this.ops, bytes, size };
    this.ops = [];
    this.chunks = [];
    this.batchBytes = 0;
    this.inFlight += size;
    this.post(msg, [bytes]);
  }

  private post(msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    try {
      this.worker.postMessage(msg, transfer);
    } catch (e) {
      this.fail(new Error(`the recording worker cannot be reached: ${(e as Error).message}`));
    }
  }

  private onMessage(msg: FromWorker): void {
    switch (msg.type) {
      case 'ready':
        this.figures = msg.figures;
        this.started = true;
        this.settleStart();
        this.flush();
        break;
      case 'start-failed':
        this.settleStart(asError(msg.error));
        break;
      case 'done':
        this.inFlight -= msg.size;
        this.figures = msg.figures;
        if (msg.events) this.deliver(msg.events);
        if (this.held && this.inFlight + this.batchBytes <= this.queueBytes / 4) this.setHeld(false);
        break;
      case 'recording-failed':
        this.opts.onFailed(asError(msg.error), msg.time);
        break;
      case 'finished':
        this.figures = msg.figures;
        this.gone = true;
        process.off('exit', this.exitHook);
        break;
    }
  }

  /** The live log's events; one that throws gets none from then on, as an in-line observer that throws. */
  private deliver(events: TapEvent[]): void {
    const onEvent = this.opts.onEvent;
    if (!onEvent || this.liveBroken) return;
    try {
      for (const ev of events) onEvent(withBuffers(ev));
    } catch (e) {
      this.liveBroken = true;
      process.emitWarning(`the live log failed (${(e as Error).message}); the recording goes on without it`);
    }
  }

  private setHeld(held: boolean): void {
    this.held = held;
    for (const l of this.holdListeners) l(held);
  }

  /** The worker is gone before its time: the recording stops, the relay goes on (and is not held). */
  private fail(err: Error): void {
    if (this.gone) return;
    this.gone = true;
    process.off('exit', this.exitHook);
    this.ops = [];
    this.chunks = [];
    if (this.held) this.setHeld(false);
    if (this.started) this.opts.onFailed(err, Date.now());
    else this.settleStart(err);
    void this.worker.terminate();
  }

  /** The process is exiting (a crash, process.exit): the worker writes what is queued, and the process waits for it. */
  private finishAtExit(): void {
    if (this.gone || !this.started) return;
    this.flush();
    this.post({ type: 'finish' });
    Atomics.wait(this.finishedFlag, 0, 0, EXIT_WAIT_MS);
  }
}

/** A worker's error as an Error again, with its system code (`EFBIG`, `EACCES`) for the messages that name it. */
function asError(e: WorkerError): Error {
  return Object.assign(new Error(e.message), e.code ? { code: e.code } : {});
}

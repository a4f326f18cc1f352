/**
 * A sniffer: the proxy with its recording. Every event goes to the capture as it happens (a write
 * failure ends the recording, not the proxy, and is remembered for the summary), then to the caller
 * (the live log). A recording is decoded and written by a worker thread (recorder.ts) unless asked
 * otherwise or intercepting TLS (which needs the decoder's verdict on STARTTLS at once): the relay's
 * thread only relays, and pauses when the worker is behind. Without a recording decoding is in-line.
 */
import { createWriter } from '../capture/open.js';
import { closeQuietly, recordOrStop, type RecordingWriter, type RotationOptions } from '../capture/rotate.js';
import { formatEndpoint, type Endpoint } from '../net/endpoint.js';
import type { TapEvent } from '../tap/events.js';
import { MrimProxy, type ProxyOptions } from './proxy.js';
import type { ProxyTap } from './proxy-tap.js';
import { RecordingWorker, type WorkerTuning } from './recorder.js';
import type { ReverseListener } from './reverse.js';

export interface SnifferOptions extends Omit<ProxyOptions, 'host' | 'port' | 'onEvent'> {
  host: string;
  /** 0 picks a free one. */
  port: number;
  /** Capture file to write, if any. */
  record?: string;
  /** Split the recording by size (`maxBytes`), keeping `maxFiles` files at most. */
  rotation?: RotationOptions;
  /** Keep passwords and session keys unmasked in the recording's fields. */
  showSecrets?: boolean;
  /** Keep each small frame's decoded fields in the recording's lines (WriterOptions.fields; default: left out). */
  recordFields?: boolean;
  /** Every event, after it was recorded; it runs inside the relay, so it must not throw. */
  onEvent?: (ev: TapEvent) => void;
  /** The recording stopped on a write error (a full disk…); the proxy goes on without it. */
  onRecordingFailed?: (path: string, err: Error) => void;
  /**
   * Where a recording is decoded and written: `worker` (the default, unless `tlsIntercept` is given) or
   * `inline`, on the relay's thread, for callers that need each event before the next chunk is relayed.
   */
  decodeIn?: 'worker' | 'inline';
  /** Tuning and test hooks of the worker (recorder.ts). */
  worker?: WorkerTuning;
}

/** What a recording has written so far. */
export type RecordingStatus = Pick<RecordingWriter, 'path' | 'files' | 'events' | 'bytes' | 'deletedFiles'>;

export interface Sniffer {
  /** The SOCKS5 listener's address; absent when only reverse listeners run (`socks: false`). */
  address?: Endpoint;
  /** The reverse listeners so far (those opened for redirector answers included). */
  readonly reverse: ReverseListener[];
  /** Every listen address, SOCKS5 first (`127.0.0.1:1080, 127.0.0.1:2041`). */
  readonly listening: string;
  options: SnifferOptions;
  /** The recording, if there is one (also after it stopped early). */
  capture?: RecordingStatus;
  /** The recording stopped before the proxy did: when, and why. */
  recordingStopped?: { time: number; error: Error };
  /** Connections seen so far (SOCKS requests refused included). */
  connections: number;
  stop(): Promise<void>;
}

/** The sniffer did not start: its port could not be listened on, or its capture file not created (the system error is the `cause`). */
export class SnifferStartError extends Error {
  readonly code?: string;

  constructor(
    readonly stage: 'listen' | 'record',
    /** The address or the file. */
    readonly target: string,
    cause: NodeJS.ErrnoException,
  ) {
    super(`${stage === 'listen' ? 'cannot listen on' : 'cannot record to'} ${target}: ${cause.message}`, { cause });
    // The code lets a caller that prefers a port (the demo) fall back to another.
    this.code = cause.code;
  }
}

/** Starts the proxy and, if asked, its recording. */
export async function startSniffer(opts: SnifferOptions): Promise<Sniffer> {
  const { record, decodeIn = opts.tlsIntercept ? 'inline' : 'worker' } = opts;
  return record !== undefined && decodeIn === 'worker' ? startWithWorker(opts, record) : startInline(opts);
}

function proxyOptions(opts: SnifferOptions): ProxyOptions {
  const { record, rotation, showSecrets, recordFields, onEvent, onRecordingFailed, decodeIn, worker, ...rest } = opts;
  return rest;
}

async function listen(proxy: MrimProxy, opts: SnifferOptions): Promise<Endpoint | undefined> {
  try {
    return await proxy.listen();
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
    // The system error names the listener that failed (SOCKS or a reverse one).
    const where = err.address !== undefined && err.port !== undefined ? { host: err.address, port: err.port } : { host: opts.host, port: opts.port };
    throw new SnifferStartError('listen', formatEndpoint(where), err);
  }
}

/** The sniffer of a started proxy: `recording` tells of its capture, `stop` ends the recording after the proxy. */
function sniffer(
  proxy: MrimProxy,
  address: Endpoint | undefined,
  opts: SnifferOptions,
  recording: { capture(): RecordingStatus | undefined; stopped(): Sniffer['recordingStopped']; connections(): number; stop(): void | Promise<void> },
): Sniffer {
  return {
    address,
    options: opts,
    get reverse() {
      return proxy.reverseListeners;
    },
    get listening() {
      return listening(address, proxy.reverseListeners);
    },
    get capture() {
      return recording.capture();
    },
    get recordingStopped() {
      return recording.stopped();
    },
    get connections() {
      return recording.connections();
    },
    async stop() {
      await proxy.close();
      await recording.stop();
    },
  };
}

function listening(socks: Endpoint | undefined, reverse: ReverseListener[]): string {
  return [...(socks ? [socks] : []), ...reverse.map((l) => l.address)].map(formatEndpoint).join(', ');
}

/** Decoding and recording on the relay's thread. */
async function startInline(opts: SnifferOptions): Promise<Sniffer> {
  const { record, rotation, showSecrets, recordFields, onEvent, onRecordingFailed } = opts;
  let capture: RecordingWriter | undefined;
  let stopped: Sniffer['recordingStopped'];
  const seen = new Set<number>();
  const proxy = new MrimProxy({
    ...proxyOptions(opts),
    onEvent: (ev) => {
      seen.add(ev.conn);
      if (capture && !stopped) {
        const error = recordOrStop(capture, ev);
        if (error) {
          stopped = { time: Date.now(), error };
          onRecordingFailed?.(capture.path, error);
        }
      }
      onEvent?.(ev);
    },
  });
  const address = await listen(proxy, opts);
  if (record) {
    try {
      capture = createWriter(record, { listen: listening(address, proxy.reverseListeners) }, { showSecrets, fields: !!recordFields, ...rotation });
    } catch (e) {
      await proxy.close();
      throw new SnifferStartError('record', record, e as NodeJS.ErrnoException);
    }
  }
  return sniffer(proxy, address, opts, {
    capture: () => capture,
    stopped: () => stopped,
    connections: () => seen.size,
    stop: () => {
      if (capture && !stopped) closeQuietly(capture);
    },
  });
}

/** Decoding and recording in the worker; the relay's thread counts connections and passes events on. */
async function startWithWorker(opts: SnifferOptions, record: string): Promise<Sniffer> {
  const { rotation, showSecrets, recordFields, onEvent, onRecordingFailed } = opts;
  let stopped: Sniffer['recordingStopped'];
  const seen = new Set<number>();
  const recorder = new RecordingWorker({
    record,
    capture: { showSecrets, fields: !!recordFields, ...rotation },
    hub: { maxFrameSize: opts.maxFrameSize, tlsTerminated: !!opts.tlsIntercept },
    onEvent,
    onFailed: (error, time) => {
      if (stopped) return;
      stopped = { time, error };
      onRecordingFailed?.(record, error);
    },
    ...opts.worker,
  });
  // Connections are counted here: the worker only sends events back when the live log wants them.
  const tap: ProxyTap = {
    open: (conn, ...rest) => (seen.add(conn), recorder.open(conn, ...rest)),
    report: (conn, ...rest) => (seen.add(conn), recorder.report(conn, ...rest)),
    onHold: (listener) => recorder.onHold(listener),
  };
  const proxy = new MrimProxy({ ...proxyOptions(opts), tap });
  let address: Endpoint | undefined;
  try {
    address = await listen(proxy, opts);
    await recorder.start(listening(address, proxy.reverseListeners)).catch(async (e: NodeJS.ErrnoException) => {
      await proxy.close();
      throw new SnifferStartError('record', record, e);
    });
  } catch (e) {
    await recorder.abort();
    throw e;
  }
  return sniffer(proxy, address, opts, {
    capture: () => recorder.figures,
    stopped: () => stopped,
    connections: () => seen.size,
    stop: () => recorder.finish(),
  });
}

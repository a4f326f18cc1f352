/**
 * A sniffer: the proxy with its recording. Every event goes to the capture as it happens (a write
 * failure ends the recording, not the proxy, and is remembered for the summary), then to the caller
 * (the live log).
 */
import { createWriter } from '../capture/open.js';
import type { RecordingWriter, RotationOptions } from '../capture/rotate.js';
import { formatEndpoint, type Endpoint } from '../net/endpoint.js';
import type { TapEvent } from '../tap/events.js';
import { MrimProxy, type ProxyOptions } from './proxy.js';
import type { ReverseListener } from './reverse.js';

export interface SnifferOptions extends Omit<ProxyOptions, 'host' | 'port' | 'onEvent'> {
  host: string;
  /** The SOCKS5 port (unless `socks: false`); 0 picks a free one. */
  port: number;
  /** Capture file to write, if any. */
  record?: string;
  /** Split the recording by size (`maxBytes`), keeping `maxFiles` files at most. */
  rotation?: RotationOptions;
  /** Keep passwords and session keys unmasked in the recording's fields. */
  showSecrets?: boolean;
  /** Every event, after it was recorded; it runs inside the relay, so it must not throw. */
  onEvent?: (ev: TapEvent) => void;
  /** The recording stopped on a write error (a full disk…); the proxy goes on without it. */
  onRecordingFailed?: (path: string, err: Error) => void;
}

export interface Sniffer {
  /** The SOCKS5 listener's address; absent when only reverse listeners run (`socks: false`). */
  address?: Endpoint;
  /** The reverse listeners so far (those opened for redirector answers included). */
  readonly reverse: ReverseListener[];
  /** Every listen address, SOCKS5 first (`127.0.0.1:1080, 127.0.0.1:2041`). */
  readonly listening: string;
  options: SnifferOptions;
  /** The recording, if there is one (also after it stopped early). */
  capture?: RecordingWriter;
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
  const { record, rotation, showSecrets, onEvent, onRecordingFailed, ...proxyOptions } = opts;
  let capture: RecordingWriter | undefined;
  let stopped: Sniffer['recordingStopped'];
  const seen = new Set<number>();
  const proxy = new MrimProxy({
    ...proxyOptions,
    onEvent: (ev) => {
      seen.add(ev.conn);
      if (capture && !stopped) {
        try {
          capture.write(ev);
        } catch (e) {
          stopped = { time: Date.now(), error: e as Error };
          closeQuietly(capture);
          onRecordingFailed?.(capture.path, e as Error);
        }
      }
      onEvent?.(ev);
    },
  });
  let address: Endpoint | undefined;
  try {
    address = await proxy.listen();
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
    // The system error names the listener that failed (SOCKS or a reverse one).
    const where = err.address !== undefined && err.port !== undefined ? { host: err.address, port: err.port } : { host: opts.host, port: opts.port };
    throw new SnifferStartError('listen', formatEndpoint(where), err);
  }
  if (record) {
    try {
      capture = createWriter(record, { listen: listening(address, proxy.reverseListeners) }, { showSecrets, ...rotation });
    } catch (e) {
      await proxy.close();
      throw new SnifferStartError('record', record, e as NodeJS.ErrnoException);
    }
  }
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
      return capture;
    },
    get recordingStopped() {
      return stopped;
    },
    get connections() {
      return seen.size;
    },
    async stop() {
      await proxy.close();
      if (capture && !stopped) closeQuietly(capture);
    },
  };
}

function listening(socks: Endpoint | undefined, reverse: ReverseListener[]): string {
  return [...(socks ? [socks] : []), ...reverse.map((l) => l.address)].map(formatEndpoint).join(', ');
}

/** A recording that failed may fail to close too; what it wrote is on disk either way. */
function closeQuietly(capture: RecordingWriter): void {
  try {
    capture.close();
  } catch {
    // Nothing more to save.
  }
}

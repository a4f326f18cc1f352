/** What `proxy` and `demo` print around a sniffer: its live log, why it did not start, and the summary when it stops. */
import { SnifferStartError, startSniffer, type Sniffer, type SnifferOptions } from '../proxy/sniffer.js';
import type { EventFilter } from '../render/filter.js';
import { liveLog } from '../render/live.js';
import type { TapEvent } from '../tap/events.js';
import { CliError, EXIT, fileErrorReason, listenErrorReason } from './errors.js';
import { color } from './output.js';

export interface LogFlags {
  /** Print no events. */
  quiet?: boolean;
  json?: boolean;
  hex?: boolean;
  filter?: EventFilter;
  /** Gets every event too, whatever the log shows (the web view). */
  onEvent?: (ev: TapEvent) => void;
}

/** Starts a sniffer with its live log on stdout; a failure to start is a one-line error that keeps the system error's code. */
export async function startLoggedSniffer(opts: Omit<SnifferOptions, 'onEvent' | 'onRecordingFailed'>, log: LogFlags = {}): Promise<Sniffer> {
  const { quiet, onEvent, ...format } = log;
  const print = quiet ? undefined : liveLog({ ...format, showSecrets: opts.showSecrets, color, write: (t) => process.stdout.write(t) });
  try {
    return await startSniffer({
      ...opts,
      onEvent: print && onEvent ? (ev) => (print(ev), onEvent(ev)) : (print ?? onEvent),
      onRecordingFailed: (path, err) => process.stderr.write(`mrimtap: recording to ${path} stopped: ${err.message}\n`),
    });
  } catch (e) {
    if (!(e instanceof SnifferStartError)) throw e;
    if (e.stage === 'record') throw new CliError(`cannot record to ${e.target}: ${fileErrorReason(e.cause)}`);
    const why = listenErrorReason(e.cause, 'pick another with --port');
    // The code lets the demo, which prefers a port, fall back to another.
    throw Object.assign(new CliError(`cannot listen on ${e.target}: ${why}`, EXIT.FAILURE), { code: e.code });
  }
}

export function printSummary(s: Sniffer): void {
  const lines = [`mrimtap proxy: ${s.connections} connection${s.connections === 1 ? '' : 's'}`];
  if (s.capture) lines.push(`  ${s.capture.events} events recorded in ${s.capture.path}`, `  read it again with: npx mrimtap decode ${s.capture.path}`);
  process.stderr.write(lines.join('\n') + '\n');
}

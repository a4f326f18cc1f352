/** What `proxy` and `demo` print around a sniffer: its live log, why it did not start, and the summary when it stops. */
import { SnifferStartError, startSniffer, type Sniffer, type SnifferOptions } from '../proxy/sniffer.js';
import type { EventFilter } from '../render/filter.js';
import { liveLog } from '../render/live.js';
import type { TapEvent } from '../tap/events.js';
import { CliError, EXIT, fileErrorReason, listenErrorReason } from './errors.js';
import { color, liveOutput } from './output.js';

export interface LogFlags {
  /** Print no events. */
  quiet?: boolean;
  json?: boolean;
  hex?: boolean;
  filter?: EventFilter;
  /** Gets every event too, whatever the log shows (the web view). */
  onEvent?: (ev: TapEvent) => void;
}

/**
 * Starts a sniffer with its live log on stdout (bounded: a reader that cannot keep up loses log lines,
 * never capture events; one that goes away leaves the proxy serving, `keepsRunning` says so); a
 * failure to start is a one-line error that keeps the system error's code.
 */
export async function startLoggedSniffer(
  opts: Omit<SnifferOptions, 'onEvent' | 'onRecordingFailed'>,
  log: LogFlags = {},
  keepsRunning = 'the proxy goes on serving (Ctrl-C to stop it)',
): Promise<Sniffer> {
  const { quiet, onEvent, ...format } = log;
  const out = liveOutput({ keepsRunning, dropNotice: format.json ? 'stderr' : 'stdout' });
  const print = quiet ? undefined : liveLog({ ...format, showSecrets: opts.showSecrets, color, write: out.write });
  try {
    return await startSniffer({
      ...opts,
      onEvent: print && onEvent ? (ev) => (print(ev), onEvent(ev)) : (print ?? onEvent),
      onRecordingFailed: (path, err) => process.stderr.write(`mrimtap: recording to ${path} stopped: ${fileErrorReason(err)}; the proxy goes on without it\n`),
    });
  } catch (e) {
    if (!(e instanceof SnifferStartError)) throw e;
    if (e.stage === 'record') throw new CliError(`cannot record to ${e.target}: ${fileErrorReason(e.cause)}`);
    const why = listenErrorReason(e.cause, opts.reverse?.length ? 'pick another in --port or --reverse' : 'pick another with --port');
    // The code lets the demo, which prefers a port, fall back to another.
    throw Object.assign(new CliError(`cannot listen on ${e.target}: ${why}`, EXIT.FAILURE), { code: e.code });
  }
}

export function printSummary(s: Sniffer): void {
  const lines = [`mrimtap proxy: ${s.connections} connection${s.connections === 1 ? '' : 's'}`];
  const c = s.capture;
  if (c) {
    const where = c.files.length > 1 ? `${c.files.length} files, ${c.files[0]} … ${c.path}` : c.path;
    const deleted = c.deletedFiles ? ` (${c.deletedFiles} older file${c.deletedFiles === 1 ? '' : 's'} deleted, --max-files)` : '';
    lines.push(`  ${c.events} events recorded in ${where}${deleted}`);
    const stop = s.recordingStopped;
    if (stop) {
      const at = new Date(stop.time).toTimeString().slice(0, 8);
      lines.push(color.yellow(`  ⚠ the recording stopped early, at ${at}: ${fileErrorReason(stop.error)} — later events are not in it`));
    }
    lines.push(`  read it again with: npx mrimtap decode ${c.files[0]}`);
  }
  process.stderr.write(lines.join('\n') + '\n');
}

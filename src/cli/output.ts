/**
 * Writing to stdout. One-shot commands (`decode`, `packets`) write with backpressure and end quietly
 * when the reader goes away (`| head`). Long-running ones (`proxy`, `server`, `demo`) print their live
 * log through a bounded buffer that never holds up the caller, and keep serving without it when the
 * reader goes away.
 */
import chalk, { Chalk } from 'chalk';

/** Bytes of log a stalled reader (`| less`, paused) may leave unwritten before lines are dropped. */
export const LOG_BUFFER_BYTES = 1024 * 1024;

/** Set by a long-running command: what goes on once stdout is gone. */
let keepsRunning: string | undefined;
let stdoutGone = false;

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  if (keepsRunning === undefined) process.exit(0);
  if (stdoutGone) return;
  stdoutGone = true;
  process.stderr.write(`mrimtap: stdout was closed: the live log stops here; ${keepsRunning}\n`);
});
// With stderr gone too there is nowhere left to say anything; that is no reason to stop.
process.stderr.on('error', () => {});

/** chalk already follows FORCE_COLOR and the terminal; NO_COLOR (https://no-color.org) turns colours off unless FORCE_COLOR is set. */
export const color = process.env.NO_COLOR && !('FORCE_COLOR' in process.env) ? new Chalk({ level: 0 }) : chalk;

/** One line, waiting while the reader is behind; resolves at once when stdout is gone. */
export async function writeOut(text: string): Promise<void> {
  if (stdoutGone) return;
  if (!process.stdout.write(text + '\n')) await new Promise<void>((resolve) => process.stdout.once('drain', resolve).once('close', resolve));
}

export interface LiveOutputOptions {
  /** What the command goes on doing without stdout, for the one line on stderr: `the proxy goes on serving`. */
  keepsRunning: string;
  /** Where the count of dropped lines goes: stdout between the lines, or stderr when stdout must stay machine-readable (JSON Lines). */
  dropNotice?: 'stdout' | 'stderr';
}

export interface LiveOutput {
  /** Prints text (ending in a newline), or counts it as dropped while the reader is too far behind. */
  write(text: string): void;
}

/** Declares the command long-running and returns its log writer (one per process). */
export function liveOutput(opts: LiveOutputOptions): LiveOutput {
  keepsRunning = opts.keepsRunning;
  // At least the stream's own high-water mark: reaching the limit then always means a 'drain' will follow.
  const limit = Math.max(LOG_BUFFER_BYTES, process.stdout.writableHighWaterMark);
  let unreported = 0;
  const report = () => {
    if (unreported === 0 || stdoutGone) return;
    const notice = `… ${unreported.toLocaleString('en')} line${unreported === 1 ? '' : 's'} not shown (the output could not keep up)\n`;
    unreported = 0;
    if (opts.dropNotice === 'stderr') process.stderr.write(`mrimtap: ${notice}`);
    else process.stdout.write(color.yellow(notice));
  };
  return {
    write(text) {
      if (stdoutGone) return;
      if (process.stdout.writableLength >= limit) {
        if (unreported === 0) process.stdout.once('drain', report);
        unreported++;
        return;
      }
      process.stdout.write(text);
    },
  };
}

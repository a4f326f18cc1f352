/** Writing to stdout with backpressure, and a quiet exit when the reader goes away (`| head`). */
import chalk, { Chalk } from 'chalk';

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

/** chalk already follows FORCE_COLOR and the terminal; NO_COLOR (https://no-color.org) turns colours off unless FORCE_COLOR is set. */
export const color = process.env.NO_COLOR && !('FORCE_COLOR' in process.env) ? new Chalk({ level: 0 }) : chalk;

export async function writeOut(text: string): Promise<void> {
  if (!process.stdout.write(text + '\n')) await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
}

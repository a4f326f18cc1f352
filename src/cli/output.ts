/** Writing to stdout with backpressure, and a quiet exit when the reader goes away (`| head`). */
import chalk from 'chalk';

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

export const color = chalk;

export async function writeOut(text: string): Promise<void> {
  if (!process.stdout.write(text + '\n')) await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
}

/** A long-running `mrimtap` command (the proxy) as a child process; `runCli` in server-cli.ts runs one to completion. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './net.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'mrimtap.js');
// No colours, so output can be compared.
const ENV = { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined };

export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Waits until stderr (or stdout) matches. */
  waitFor(re: RegExp, ms?: number, stream?: 'stdout' | 'stderr'): Promise<RegExpMatchArray>;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<number | null>;
}

export function spawnCli(args: string[], opts: { cwd?: string } = {}): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: ENV });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    async waitFor(re, ms = 20_000, stream = 'stderr') {
      const deadline = Date.now() + ms;
      for (;;) {
        const m = (stream === 'stderr' ? err : out).match(re);
        if (m) return m;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`mrimtap exited (${child.exitCode}) before printing ${re}:\n${err}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} on ${stream}:\n${stream === 'stderr' ? err : out}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop(signal = 'SIGINT', ms = 10_000) {
      if (child.exitCode === null) child.kill(signal);
      try {
        return await withTimeout(exited, ms, `mrimtap exiting on ${signal}`);
      } catch (e) {
        child.kill('SIGKILL');
        throw e;
      }
    },
  };
}

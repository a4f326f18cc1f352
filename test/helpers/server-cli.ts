/**
 * Runs `node bin/mrimtap.js server …` as a child process and reads the ports off its banner. The
 * sources are used (bin/mrimtap.js prefers them in a clone), so a stale dist/ cannot stand in for the code under test.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/mrimtap.js', import.meta.url));
const START_TIMEOUT_MS = 20_000;

export interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  port: number;
  redirectorPort?: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null if killed). */
  exited: Promise<number | null>;
  /** Sends the signal and waits for the exit (SIGKILL after a grace period). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs the CLI to completion (for argument errors): exit code and output. */
export function runCli(args: string[], timeoutMs = START_TIMEOUT_MS): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, FORCE_COLOR: '0' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mrimtap ${args.join(' ')} did not exit in ${timeoutMs} ms\n${stdout}${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts `mrimtap server` with the given options (add `--port 0 --redirector-port 0` yourself). */
export async function startServerCli(args: string[]): Promise<ServerProcess> {
  const child = spawn(process.execPath, [BIN, 'server', ...args], { env: { ...process.env, FORCE_COLOR: '0' } });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (c: string) => (out += c));
  child.stderr.on('data', (c: string) => (err += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const json = args.includes('--json');
  const ports = await new Promise<{ port: number; redirectorPort?: number }>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no banner in ${START_TIMEOUT_MS} ms:\n${out}${err}`)), START_TIMEOUT_MS);
    const check = () => {
      if (json) {
        const line = out.split('\n').find((l) => l.includes('"event":"banner"'));
        if (line) {
          const b = JSON.parse(line) as { port: number; redirectorPort: number | null };
          done(undefined, { port: b.port, redirectorPort: b.redirectorPort ?? undefined });
        }
        return;
      }
      const mrim = /^\s+MRIM\s+\S+:(\d+)$/m.exec(out);
      const redirector = /^\s+redirector\s+(?:off|\S+:(\d+))/m.exec(out);
      if (mrim && redirector) done(undefined, { port: Number(mrim[1]), redirectorPort: redirector[1] ? Number(redirector[1]) : undefined });
    };
    const onExit = (code: number | null) => done(new Error(`mrimtap server exited (${code}) before its banner:\n${out}${err}`));
    const done = (e?: Error, v?: { port: number; redirectorPort?: number }) => {
      clearTimeout(timer);
      child.stdout.off('data', check);
      child.off('exit', onExit);
      if (e) {
        child.kill('SIGKILL');
        reject(e);
      } else resolve(v!);
    };
    child.stdout.on('data', check);
    child.on('exit', onExit);
  });
  return {
    child,
    ...ports,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

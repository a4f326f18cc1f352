// `mrimtap proxy --reverse` through the real bin: the banner names each listener, the reference client
// goes through a reverse redirector and comes back for its session, the recording decodes with both
// connections linked, and bad specs exit 2 with what is expected.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MrimClient } from '../../src/client/index.js';
import { MrimServer } from '../../src/server/index.js';
import { ROOT } from '../helpers/cli.js';
import { captureFileErrors } from '../helpers/json-schema.js';
import { withTimeout } from '../helpers/net.js';
import { runCli } from '../helpers/server-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-reverse-cli-'));
const BIN = join(ROOT, 'bin', 'mrimtap.js');
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `mrimtap proxy ARGS` until its banner has `lines` reverse listeners; `stop()` sends SIGINT and waits. */
async function startProxy(args: string[], lines: number) {
  const child = spawn(process.execPath, [BIN, 'proxy', ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined } });
  let err = '';
  let out = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanups.push(() => void (child.exitCode === null && child.kill('SIGKILL')));
  const listeners = await withTimeout(
    new Promise<string[]>((resolve, reject) => {
      child.stderr.on('data', () => {
        const found = [...err.matchAll(/point your client at (\S+)/g)].map((m) => m[1]!);
        if (found.length === lines && /Ctrl-C to stop/.test(err)) resolve(found);
      });
      void exited.then((code) => reject(new Error(`mrimtap proxy exited (${code}):\n${err}`)));
    }),
    20_000,
    'the proxy banner',
  );
  return {
    listeners,
    stderr: () => err,
    stdout: () => out,
    stop: () => (child.kill('SIGINT'), withTimeout(exited, 15_000, 'the proxy exiting')),
  };
}

describe('mrimtap proxy --reverse', () => {
  it('a client through the reverse redirector comes back for its session; the recording decodes both, linked', async () => {
    // On 127.0.0.2, so the answered port is free on 127.0.0.1 for the listener mrimtap opens.
    const server = new MrimServer({ host: '127.0.0.2', port: 0, redirectorPort: 0, users: [{ login: 'alice@mail.ru', password: 'alicepw', nick: 'Алиса' }] });
    const address = await server.listen();
    cleanups.push(() => server.close());
    const capture = join(dir, 'reverse.jsonl');
    const proxy = await startProxy(['--reverse-redirector', `0=127.0.0.2:${address.redirectorPort}`, '--record', capture], 1);
    assert.match(proxy.stderr(), /reverse mode \(no SOCKS5 listener\)/);
    assert.match(proxy.stderr(), new RegExp(`point your client at 127\\.0\\.0\\.1:\\d+ \\(→ 127\\.0\\.0\\.2:${address.redirectorPort}, a redirector`));

    const client = new MrimClient({ redirector: proxy.listeners[0], login: 'alice@mail.ru', password: 'alicepw', proto: '1.21', responseTimeoutMs: 3000, connectTimeoutMs: 3000 });
    const ready = await client.connect();
    assert.deepEqual(ready.server, { host: '127.0.0.1', port: address.port });
    await client.logout();
    assert.equal(await proxy.stop(), 0);
    assert.match(proxy.stdout(), /REDIRECT → 127\.0\.0\.2:\d+ .*rewritten for the client: → 127\.0\.0\.1:\d+/);
    assert.match(proxy.stderr(), /2 connections/);

    assert.deepEqual(captureFileErrors(capture), [], 'the capture matches captures/capture.schema.json');
    const decoded = await runCli(['decode', capture]);
    assert.equal(decoded.code, 0, decoded.stderr);
    assert.match(decoded.stdout, /#1 REVERSE 127\.0\.0\.1:\d+ → 127\.0\.0\.2:\d+ → connected/);
    assert.match(decoded.stdout, /#1 .*REDIRECT → 127\.0\.0\.2:\d+ .*rewritten for the client: → 127\.0\.0\.1:\d+/);
    assert.match(decoded.stdout, /#2 OPEN .* follows redirect from #1/);
    assert.match(decoded.stdout, /#2 .*LOGIN/);
  });

  for (const [args, message] of [
    [['--reverse', '2041'], /--reverse takes LISTEN=UPSTREAM.*not "2041"/],
    [['--reverse', '99999=mrim.example:2041'], /--reverse 99999=mrim\.example:2041: the listen side "99999" must be a port 0–65535 or HOST:PORT/],
    [['--reverse', '2041=mrim.example'], /the upstream "mrim\.example" must be HOST:PORT/],
    [['--reverse-redirector', '2042=mrim example:2042'], /--reverse-redirector 2042=mrim example:2042: the upstream/],
    [['--reverse', '2041=a:2041', '--auth', 'u:p'], /--auth is for the SOCKS5 listener/],
  ] as const) {
    it(`${args.join(' ')}: exit 2, ${message.source.slice(0, 40)}…`, async () => {
      const r = await runCli(['proxy', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }
});

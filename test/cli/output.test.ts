/**
 * What the commands do when their stdout goes away: a long-running one (the server) keeps serving and
 * says so on stderr; a one-shot one (`decode`, `packets`) ends quietly with 0. (The proxy's cases, and
 * a stalled stdout, are in proxy.test.ts.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/cli.js';
import { withTimeout } from '../helpers/net.js';
import { RawClient } from '../helpers/raw-client.js';
import { startServerCli } from '../helpers/server-cli.js';

const BIN = join(ROOT, 'bin', 'mrimtap.js');

async function until(test: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('stdout going away', () => {
  it('mrimtap server | head: the server keeps serving and logging sessions, and says why the log stopped', async () => {
    const srv = await startServerCli(['--port', '0', '--redirector-port', 'off']);
    try {
      srv.child.stdout.destroy();
      // The next log line meets the closed pipe.
      const first = await RawClient.connect(srv.port, '1.8');
      await first.login('alice@mail.ru', 'alice');
      await until(() => /stdout was closed/.test(srv.stderr()), 'the stderr notice');
      assert.match(srv.stderr(), /^mrimtap: stdout was closed: the live log stops here; the server goes on serving/m);
      // Still serving: a new session logs in.
      const second = await RawClient.connect(srv.port, '1.21');
      await second.login('bob@mail.ru', 'bob');
      await first.close();
      await second.close();
      assert.equal(srv.child.exitCode, null);
    } finally {
      assert.equal(await srv.stop('SIGTERM'), 0);
    }
  });

  for (const args of [['decode', 'captures/demo.jsonl'], ['packets']]) {
    it(`mrimtap ${args[0]} | head: ends at once with 0 and no message`, async () => {
      const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      await withTimeout(new Promise((r) => child.stdout.once('data', r)), 20_000, 'the first output');
      child.stdout.destroy();
      assert.equal(await withTimeout(exited, 20_000, `${args[0]} exiting`), 0);
      assert.equal(err, '');
    });
  }
});

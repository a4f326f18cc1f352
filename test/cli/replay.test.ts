// `mrimtap replay` as a new user runs it: record a session with `mrimtap demo`, replay it against
// `mrimtap server` (a clear report, exit code 0), against a server that differs (exit code 1), as JSON
// and into a report file; errors are one line and exit code 2; `--as-server` lets a client log in to
// the recording.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MrimClient } from '../../src/client/index.js';
import type { ReplayReport } from '../../src/replay/report.js';
import { ROOT, spawnCli } from '../helpers/cli.js';
import { closedPort } from '../helpers/net.js';
import { runCli, startServerCli, type ServerProcess } from '../helpers/server-cli.js';
import { nextEvent, until } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-replay-cli-'));
const capture = join(dir, 'demo.jsonl');
after(() => rmSync(dir, { recursive: true, force: true }));

async function withServerCli<T>(args: string[], run: (srv: ServerProcess) => Promise<T>): Promise<T> {
  const srv = await startServerCli(['--port', '0', '--redirector-port', '0', ...args]);
  try {
    return await run(srv);
  } finally {
    await srv.stop('SIGTERM');
  }
}

describe('mrimtap replay', { timeout: 120_000 }, () => {
  before(async () => {
    const demo = await runCli(['demo', '--exit', '--free-ports', '--record', capture], 60_000);
    assert.equal(demo.code, 0, demo.stdout + demo.stderr);
    assert.match(demo.stdout, /npx mrimtap replay .*demo\.jsonl --server 127\.0\.0\.1:\d+/, 'the demo tells what to try next');
    assert.match(demo.stdout, /--as-server/);
  });

  it('a recording of `mrimtap demo` against `mrimtap server`: every step matches, exit code 0', async () => {
    await withServerCli([], async (srv) => {
      const r = await runCli(['replay', capture, '--server', `127.0.0.1:${srv.port}`]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /replaying #2 alice@mail\.ru v1\.8, #3 bob@mail\.ru v1\.21, #4 carol@list\.ru v1\.23 against 127\.0\.0\.1:\d+ \(timing step, timeout 5 s\)/);
      for (const login of ['alice@mail.ru', 'bob@mail.ru', 'carol@list.ru']) assert.match(r.stdout, new RegExp(`│ #\\d +│ ${login.replace('.', '\\.')} .*│ match +│`));
      assert.match(r.stdout, /note: #1 was a redirector lookup: not replayed \(give --redirector HOST:PORT to ask one\)/);
      assert.match(r.stdout, /✓ every expected step matched: \d+ in 3 session\(s\)/);
      assert.doesNotMatch(r.stdout, /Steps that differ/);
      assert.equal(r.stderr, '');
      // With the redirector too (alice's session asks it, as recorded), as JSON, and into a report file.
      const file = join(dir, 'report.json');
      const j = await runCli(['replay', capture, '--server', `127.0.0.1:${srv.port}`, '--redirector', `127.0.0.1:${srv.redirectorPort}`, '--json', '--report', file]);
      assert.equal(j.code, 0, j.stdout + j.stderr);
      const report = JSON.parse(j.stdout) as ReplayReport;
      assert.equal(report.verdict, 'match');
      assert.deepEqual(report.sessions.map((s) => s.login), ['alice@mail.ru', 'bob@mail.ru', 'carol@list.ru']);
      assert.match(report.sessions[0].peer!, /from the redirector/);
      assert.ok(report.ignored.includes('USER_INFO.info.client.endpoint'));
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).totals, report.totals);
      assert.equal(statSync(file).mode & 0o777, 0o600);
    });
  });

  it('against a server that behaves differently: the differing steps, exit code 1', async () => {
    await withServerCli(['--user', 'alice@mail.ru:other', '--user', 'bob@mail.ru:bob', '--user', 'carol@list.ru:carol'], async (srv) => {
      const r = await runCli(['replay', capture, '--server', `127.0.0.1:${srv.port}`, '--timeout', '0.5']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /Steps that differ:/);
      assert.match(r.stdout, /│ #2 +│ [\d.]+ s │ S→C LOGIN_ACK \[3\] +│ differs +│ type +│ LOGIN_ACK +│ LOGIN_REJ +│/);
      assert.match(r.stdout, /│ +│ +│ +│ +│ reason +│ — +│ "Invalid login" +│/);
      assert.match(r.stdout, /✗ \d+ differ, \d+ missing, 1 unexpected \(\d+ of \d+ expected steps matched, .*; exit code 1\)/);
    });
  });

  it('--ignore leaves out what a server may legitimately answer otherwise (here: accounts without the demo nicknames)', async () => {
    await withServerCli(['--user', 'alice@mail.ru:alice', '--user', 'bob@mail.ru:bob', '--user', 'carol@list.ru:carol'], async (srv) => {
      const server = ['--server', `127.0.0.1:${srv.port}`];
      const strict = await runCli(['replay', capture, ...server]);
      assert.equal(strict.code, 1, strict.stdout);
      assert.match(strict.stdout, /│ info\.MRIM\.NICKNAME +│ "Алиса" +│ "alice" +│/);
      const names = ['--ignore', 'nick,MRIM.NICKNAME', '--ignore', 'groups.*.name', '--ignore', 'ANKETA_INFO.Nickname,FirstName,LastName', '--ignore', 'nosuchfield'];
      const lenient = await runCli(['replay', capture, ...server, ...names]);
      assert.equal(lenient.code, 0, lenient.stdout);
      assert.match(lenient.stdout, /note: --ignore nosuchfield left out nothing: no compared field matched it/);
    });
  });

  it('errors are one line on stderr and exit code 2', async () => {
    const port = await closedPort();
    const cases: Array<[string[], RegExp]> = [
      [['replay', join(dir, 'none.jsonl'), '--server', '127.0.0.1:2041'], /cannot read .*none\.jsonl: no such file/],
      [['replay', new URL('../../package.json', import.meta.url).pathname, '--server', '127.0.0.1:2041'], /package\.json: not a mrimtap capture/],
      [['replay', capture], /give --server HOST:PORT \(or --redirector HOST:PORT\) to replay against, or --as-server/],
      [['replay', capture, '--server', 'nowhere'], /--server must be HOST:PORT, not "nowhere"/],
      [['replay', capture, '--server', '127.0.0.1:2041', '--timing', 'fast'], /--timing must be step, original, asap, not "fast"/],
      [['replay', capture, '--server', '127.0.0.1:2041', '--ignore', 'USER_STATUS'], /--ignore: "USER_STATUS" names packets but no field of them/],
      [['replay', capture, '--server', '127.0.0.1:2041', '--conn', '9'], /the capture has no connection #9 \(it has #1, #2, #3, #4\)/],
      [['replay', capture, '--server', '127.0.0.1:2041', '--conn', '1'], /connection #1 is a redirector lookup: nothing to replay/],
      [['replay', capture, '--server', '127.0.0.1:2041', '--password', 'x'], /the capture logs in as alice@mail\.ru, bob@mail\.ru, carol@list\.ru: replay one account's connections with --conn/],
      [['replay', capture, '--server', '127.0.0.1:2041', '--once'], /--once goes with --as-server/],
      [['replay', capture, '--as-server', '--server', '127.0.0.1:2041'], /--server goes with --server \(replaying against a server\), not with --as-server/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    // A server that is not there: the report says so, exit code 2.
    const r = await runCli(['replay', capture, '--server', `127.0.0.1:${port}`, '--conn', '2']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}`));
    assert.match(r.stdout, /✗ error: #2 could not be replayed \(exit code 2\)/);
  });

  it('--as-server --once: a client logs in to the recording, gets it, and the session report decides the exit code', async () => {
    const replay = spawnCli(['replay', capture, '--as-server', '--port', '0', '--redirector-port', '0', '--once', '--timeout', '0.3']);
    try {
      const [, port] = await replay.waitFor(/MRIM server +127\.0\.0\.1:(\d+)/, 20_000, 'stdout');
      assert.match(replay.stdout(), /sessions +#2 alice@mail\.ru v1\.8, #3 bob@mail\.ru v1\.21, #4 carol@list\.ru v1\.23/);
      const carol = new MrimClient({ server: `127.0.0.1:${port}`, login: 'carol@list.ru', password: 'whatever', proto: '1.23' });
      const offline = nextEvent<{ text: string }>(carol, 'message', () => true, 5000);
      await carol.connect();
      assert.equal((await offline).text, 'Carol, позвони мне, когда будешь онлайн.');
      await carol.logout();
      // It ends by itself; the recorded carol changed her status and logged out with DISCONNECT: so did this one.
      await until(() => replay.child.exitCode !== null, 10_000);
      assert.equal(replay.child.exitCode, 0, replay.stdout() + replay.stderr());
      assert.match(replay.stdout(), /✓ every expected step matched: 7 in 1 session\(s\)/);
    } finally {
      await replay.stop('SIGKILL');
    }
    assert.match(replay.stdout(), /#1 LOGIN3 carol@list\.ru → plays the recorded session #4 carol@list\.ru v1\.23/);
    assert.match(replay.stdout(), /│ #4 \(live #1\) │ carol@list\.ru │ 1\.23 +│ 127\.0\.0\.1:\d+ │/);
  });

  it('--as-server --script: the client gets the recorded server through the addon, the session still matches', async () => {
    const script = join(ROOT, 'examples', 'addons', 'add-contact.mjs');
    const replay = spawnCli(['replay', capture, '--as-server', '--port', '0', '--redirector-port', '0', '--once', '--timeout', '0.3', '--script', script]);
    try {
      const [, port] = await replay.waitFor(/MRIM server +127\.0\.0\.1:(\d+) \(through the addons add-contact\.mjs\)/, 20_000, 'stdout');
      const carol = new MrimClient({ server: `127.0.0.1:${port}`, login: 'carol@list.ru', password: 'whatever', proto: '1.23' });
      const offline = nextEvent<{ text: string }>(carol, 'message', () => true, 5000);
      await carol.connect();
      await offline;
      assert.ok(carol.contacts.contacts.some((c) => c.email === 'robot@mail.ru'), JSON.stringify(carol.contacts));
      await carol.logout();
      await until(() => replay.child.exitCode !== null, 10_000);
      assert.equal(replay.child.exitCode, 0, replay.stdout() + replay.stderr());
    } finally {
      await replay.stop('SIGKILL');
    }
    assert.match(replay.stdout(), /addons: CONTACT_LIST2 .*✎ modified by add-contact\.mjs/);
    assert.match(replay.stdout(), /✓ every expected step matched: 7 in 1 session\(s\)/);
    const bad = await runCli(['replay', capture, '--as-server', '--script', join(dir, 'missing.mjs')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--script .*missing\.mjs: no such file/);
  });

  it('--as-server stops on Ctrl-C with a summary; a port that is taken is an error (exit code 2)', async () => {
    const replay = spawnCli(['replay', capture, '--as-server', '--port', '0', '--redirector-port', 'off']);
    let port: string;
    try {
      [, port] = await replay.waitFor(/MRIM server +127\.0\.0\.1:(\d+)/, 20_000, 'stdout');
      const taken = await runCli(['replay', capture, '--as-server', '--port', port, '--redirector-port', 'off']);
      assert.equal(taken.code, 2, taken.stdout + taken.stderr);
      assert.match(taken.stderr, new RegExp(`mrimtap: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
      assert.equal(await replay.stop('SIGINT'), 0, replay.stdout() + replay.stderr());
    } finally {
      await replay.stop('SIGKILL');
    }
    assert.match(replay.stdout(), /note: no client logged in/);
  });
});

// `mrimtap client` as separate processes against the reference server: --send and --listen --json
// between two processes, piped commands, --trace, and one line plus a distinct exit code per failure.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MrimServer, type ServerUser } from '../../src/server/index.js';
import { closedPort } from '../helpers/net.js';
import { startTestSocks } from '../helpers/socks5.js';

const BIN = join(fileURLToPath(new URL('../..', import.meta.url)), 'bin', 'mrimtap.js');
const USERS: ServerUser[] = [
  { login: 'alice@mail.ru', password: 'alice-secret', nick: 'Алиса', contacts: [{ email: 'bob@mail.ru' }] },
  { login: 'bob@mail.ru', password: 'bob-secret', nick: 'Боб', contacts: [{ email: 'alice@mail.ru' }] },
];

interface Run {
  child: ChildProcessWithoutNullStreams;
  stdout: string[];
  stderr: () => string;
  /** Resolves with the next stdout line matching `pred` (seen already or later). */
  line(pred: (line: string) => boolean, ms?: number): Promise<string>;
  exit(ms?: number): Promise<number | null>;
}

const running = new Set<ChildProcessWithoutNullStreams>();

function cli(args: string[], input?: string): Run {
  const { MRIMTAP_PASSWORD: _unset, ...env } = process.env;
  const child = spawn(process.execPath, [BIN, 'client', ...args], { env: { ...env, NO_COLOR: '1', FORCE_COLOR: undefined } });
  running.add(child);
  const stdout: string[] = [];
  let err = '';
  let partial = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop()!;
    stdout.push(...parts);
    for (const w of waiters) w();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => (running.delete(child), resolve(code))));
  if (input !== undefined) child.stdin.end(input);
  return {
    child,
    stdout,
    stderr: () => err,
    line: (pred, ms = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const hit = stdout.find(pred);
          if (hit === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(hit);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no such line within ${ms} ms; stdout:\n${stdout.join('\n')}\nstderr:\n${err}`));
        }, ms);
        waiters.add(check);
        check();
      }),
    exit: (ms = 15_000) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still running after ${ms} ms; stderr:\n${err}`)), ms)));
      return Promise.race([exited, late]).finally(() => clearTimeout(timer));
    },
  };
}

const json = (line: string) => JSON.parse(line) as Record<string, unknown>;
const isEvent = (name: string) => (line: string) => line.startsWith('{') && json(line).event === name;

let server: MrimServer;
let target: string;

before(async () => {
  server = new MrimServer({ host: '127.0.0.1', port: 0, redirectorPort: 0, users: USERS });
  const a = await server.listen();
  target = `127.0.0.1:${a.port}`;
});

after(async () => {
  for (const child of running) child.kill('SIGKILL');
  await server.close();
});

/** Nothing the CLI printed may contain a password or a stack trace. */
function assertClean(run: Run): void {
  const all = run.stdout.join('\n') + run.stderr();
  for (const u of USERS) assert.ok(!all.includes(u.password), 'a password was printed');
  assert.doesNotMatch(run.stderr(), /\n\s+at /, 'a stack trace was printed');
}

describe('mrimtap client', () => {
  test('--listen --json in one process receives what --send delivers from another', async () => {
    const listener = cli(['--server', target, '--login', 'bob@mail.ru', '--password', 'bob-secret', '--proto', '1.23', '--listen', '0', '--json']);
    const ready = json(await listener.line(isEvent('ready')));
    assert.deepEqual([ready.login, ready.proto, ready.tls], ['bob@mail.ru', '1.23', false]);

    const sender = cli(['--server', target, '--login', 'alice@mail.ru', '--password', 'alice-secret', '--proto', '1.8', '--json', '--send', 'bob@mail.ru=Привет, Боб!', '--send', 'bob@mail.ru=a=b']);
    assert.equal(await sender.exit(), 0, sender.stderr());
    const deliveries = sender.stdout.filter(isEvent('delivery')).map(json);
    assert.deepEqual(
      deliveries.map((d) => [d.to, d.statusName, d.delivered]),
      [
        [['bob@mail.ru'], 'DELIVERED', true],
        [['bob@mail.ru'], 'DELIVERED', true],
      ],
    );

    const first = json(await listener.line((l) => isEvent('message')(l) && json(l).text === 'Привет, Боб!'));
    assert.deepEqual([first.from, first.kind, first.offline], ['alice@mail.ru', 'message', false]);
    await listener.line((l) => isEvent('message')(l) && json(l).text === 'a=b');
    await listener.line((l) => isEvent('contactStatus')(l) && json(l).email === 'alice@mail.ru' && json(l).name === 'offline');

    listener.child.kill('SIGINT');
    assert.equal(await listener.exit(), 0, listener.stderr());
    assert.ok(listener.stdout.every((l) => l.startsWith('{')), 'stdout holds only JSON lines');
    assertClean(listener);
    assertClean(sender);
  });

  test('commands piped on stdin run in order, then the client logs out', async () => {
    const run = cli(['--server', target, '--login', 'alice@mail.ru', '--password', 'alice-secret', '--proto', '1.19'], '/msg bob@mail.ru первое\nвторое\n/contacts\n/bogus\n');
    assert.equal(await run.exit(), 0, run.stderr());
    const out = run.stdout.join('\n');
    assert.match(out, /connected to 127\.0\.0\.1:\d+ as alice@mail\.ru \(MRIM 1\.19\)/);
    assert.equal(run.stdout.filter((l) => l === '→ bob@mail.ru: delivered').length, 2);
    assert.match(out, /^  offline +bob@mail\.ru/m);
    assert.match(out, /unknown command \/bogus/);
    assertClean(run);
  });

  test('--trace shows the frames on stderr with the password masked', async () => {
    const run = cli(['--server', target, '--login', 'alice@mail.ru', '--password', 'alice-secret', '--proto', '1.21', '--trace', '--send', 'bob@mail.ru=hi']);
    assert.equal(await run.exit(), 0, run.stderr());
    assert.match(run.stderr(), /C→S LOGIN3 seq=2 v1\.21/);
    assert.match(run.stderr(), /password +\*{8} \(plaintext\)/);
    assert.match(run.stderr(), /S→C MESSAGE_STATUS/);
    assertClean(run);
  });

  test('each failure is one line with its own exit code', async () => {
    const deadPort = await closedPort();
    const refusing = await startTestSocks({ allow: () => false });
    try {
      const cases: [args: string[], code: number, message: RegExp][] = [
        [['--login', 'alice@mail.ru', '--password', 'wrong-pass'], 5, /^mrimtap: login rejected by the server: Invalid login$/],
        [['--login', 'alice@mail.ru', '--password', 'alice-secret', '--server', `127.0.0.1:${deadPort}`], 3, /^mrimtap: cannot connect to 127\.0\.0\.1:\d+: connection refused$/],
        [['--login', 'alice@mail.ru', '--password', 'alice-secret', '--socks', refusing.url], 4, /^mrimtap: SOCKS5 proxy 127\.0\.0\.1:\d+ refused the connection/],
        [['--login', 'alice@mail.ru', '--password', 'alice-secret', '--send', 'ghost@mail.ru=hi'], 7, /^mrimtap: message to ghost@mail\.ru not delivered: REJECTED_NOUSER$/],
        [['--login', 'alice@mail.ru', '--password', 'alice-secret', '--proto', '1.5'], 2, /^mrimtap: --proto must be one of 1\.8, 1\.19, 1\.21, 1\.23/],
        [['--login', 'alice@mail.ru'], 2, /^mrimtap: give --password or set MRIMTAP_PASSWORD$/],
        [['--login', 'alice@mail.ru', '--password', 'alice-secret', '--tls'], 2, /^mrimtap: STARTTLS needs protocol 1\.22 or later/],
      ];
      const runs = cases.map(([args]) => cli(['--server', target, ...args, '--timeout', '5']));
      for (const [i, run] of runs.entries()) {
        const [, code, message] = cases[i];
        assert.equal(await run.exit(), code, run.stderr());
        const lines = run.stderr().trimEnd().split('\n');
        assert.equal(lines.length, 1, run.stderr());
        assert.match(lines[0], message);
        assertClean(run);
      }
    } finally {
      await refusing.close();
    }
  });

  test('an x-status title on a profile without x-status is reported as ignored, not dropped silently', async () => {
    const run = cli(['--server', target, '--login', 'alice@mail.ru', '--password', 'alice-secret', '--proto', '1.8', '--status', 'away', '--status-title', 'Занят', '--send', 'bob@mail.ru=hi']);
    assert.equal(await run.exit(), 0, run.stderr());
    assert.equal(run.stderr(), 'mrimtap: --status-title/--status-desc ignored: protocol 1.8 has no x-status (1.14 and later)\n');
  });

  test('offline messages are printed after the "connected" line, not before it', async () => {
    const own = new MrimServer({ host: '127.0.0.1', port: 0, redirectorPort: false, users: USERS });
    const { port } = await own.listen();
    try {
      for (const proto of ['1.8', '1.23']) {
        const sender = cli(['--server', `127.0.0.1:${port}`, '--login', 'alice@mail.ru', '--password', 'alice-secret', '--send', 'bob@mail.ru=пока тебя не было']);
        assert.equal(await sender.exit(), 0, sender.stderr());
        const run = cli(['--server', `127.0.0.1:${port}`, '--login', 'bob@mail.ru', '--password', 'bob-secret', '--proto', proto, '--listen', '0.3']);
        assert.equal(await run.exit(), 0, run.stderr());
        const connected = run.stdout.findIndex((l) => l.startsWith('connected to'));
        const offline = run.stdout.findIndex((l) => l.endsWith('alice@mail.ru (offline): пока тебя не было'));
        assert.ok(connected >= 0 && offline > connected, run.stdout.join('\n'));
      }
    } finally {
      await own.close();
    }
  });

  test('the server going away mid-session ends --listen with exit code 6', async () => {
    const own = new MrimServer({ host: '127.0.0.1', port: 0, redirectorPort: false, users: USERS });
    const { port } = await own.listen();
    try {
      const run = cli(['--server', `127.0.0.1:${port}`, '--login', 'bob@mail.ru', '--password', 'bob-secret', '--listen', '60']);
      await run.line((l) => l.startsWith('connected to'));
      await own.close();
      assert.equal(await run.exit(), 6, run.stderr());
      assert.equal(run.stderr(), 'mrimtap: the server closed the connection\n');
    } finally {
      await own.close();
    }
  });
});

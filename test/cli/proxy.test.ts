/**
 * `mrimtap proxy` as a user runs it, where the process itself matters: its stdout closed (`| head`) or
 * stalled (`| less`, paused), the open-relay refusal, the password from the environment or a file,
 * recording with rotation, and a recording that stops early.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readCapture } from '../../src/capture/jsonl.js';
import { encodePacket } from '../../src/protocol/codec.js';
import { ROOT } from '../helpers/cli.js';
import { echoServer, listenTcp, readAll, sha256, socksConnect, withTimeout } from '../helpers/net.js';
import { runCli } from '../helpers/server-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-proxy-cli-'));
const BIN = join(ROOT, 'bin', 'mrimtap.js');
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

interface Proxy {
  child: ChildProcessWithoutNullStreams;
  port: number;
  stderr(): string;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

/**
 * Starts `mrimtap proxy` with its stdout left to the test (not read unless the test reads it);
 * `shell` runs it under `sh -c` with that prefix (ulimit).
 */
async function startProxy(args: string[], opts: { env?: NodeJS.ProcessEnv; shell?: string } = {}): Promise<Proxy> {
  const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined, ...opts.env };
  const argv = [BIN, 'proxy', '--port', '0', ...args];
  const child = opts.shell
    ? spawn('sh', ['-c', `${opts.shell}; exec "$0" "$@"`, process.execPath, ...argv], { cwd: ROOT, env })
    : spawn(process.execPath, argv, { cwd: ROOT, env });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    return withTimeout(exited, 15_000, 'mrimtap proxy exiting on SIGINT').catch((e) => {
      child.kill('SIGKILL');
      throw e;
    });
  };
  cleanups.push(() => void (child.exitCode === null && child.kill('SIGKILL')));
  const port = await withTimeout(
    new Promise<number>((resolve, reject) => {
      const check = () => {
        const m = /SOCKS5 on \S+:(\d+)/.exec(err);
        if (m) resolve(Number(m[1]));
      };
      child.stderr.on('data', check);
      void exited.then((code) => reject(new Error(`mrimtap proxy exited (${code}):\n${err}`)));
    }),
    20_000,
    'the proxy banner',
  );
  return { child, port, stderr: () => err, exited, stop };
}

/** An upstream that reads and drops everything. */
const sink = () => listenTcp((s) => s.resume().on('end', () => s.end()));

/** `count` MESSAGE frames of `textBytes` bytes each through the proxy, sent as fast as the socket takes them. */
async function chatter(proxyPort: number, upstreamPort: number, count: number, textBytes = 900): Promise<void> {
  const c = await socksConnect(proxyPort, '127.0.0.1', upstreamPort);
  c.write(encodePacket('HELLO', {}, { proto: '1.21', seq: 1 }));
  const text = 'x'.repeat(textBytes);
  for (let i = 0; i < count; i++) {
    if (!c.write(encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text, rtf: ' ' }, { proto: '1.21', seq: i + 2 }))) await new Promise((r) => c.once('drain', r));
  }
  c.end();
  await readAll(c);
}

/**
 * Counts a capture's records by kind as the proxy writes them, through the reader that follows a
 * growing recording (`tail -f`): each line is read once, however large the capture grows. `stop` reads
 * what came last and ends.
 */
function followKinds(path: string): { kinds: Record<string, number>; stop(): Promise<void> } {
  const kinds: Record<string, number> = {};
  const stopping = new AbortController();
  const done = (async () => {
    for await (const item of readCapture(path, stopping.signal)) {
      const kind = item.kind === 'event' ? item.event.event.kind : item.kind;
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    }
  })();
  const stop = () => {
    stopping.abort();
    return done;
  };
  cleanups.push(stop);
  return { kinds, stop };
}

async function until(test: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Resident memory of a process, MiB (Linux). */
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('mrimtap proxy: its own output', () => {
  it('stdout closed (| head): the proxy says so on stderr and keeps serving and recording', async () => {
    const capture = join(dir, 'epipe.jsonl');
    const proxy = await startProxy(['--record', capture]);
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    // Like `| head -1`: read the first output, then close the pipe.
    const first = withTimeout(new Promise((r) => proxy.child.stdout.once('data', r)), 10_000, 'the first log line');
    const a = await socksConnect(proxy.port, '127.0.0.1', echo.port);
    await first;
    proxy.child.stdout.destroy();
    a.end('one');
    await readAll(a);
    await until(() => /stdout was closed/.test(proxy.stderr()), 'the stderr notice');
    assert.match(proxy.stderr(), /mrimtap: stdout was closed: the live log stops here; the proxy goes on serving/);
    for (let i = 0; i < 3; i++) {
      const s = await socksConnect(proxy.port, '127.0.0.1', echo.port);
      const data = Buffer.alloc(10_000, i);
      s.end(data);
      assert.equal(sha256(await readAll(s)), sha256(data));
    }
    const followed = followKinds(capture);
    await until(() => followed.kinds.close === 4, 'four closes in the capture');
    assert.equal(await proxy.stop(), 0);
    await followed.stop();
    const kinds = followed.kinds;
    assert.equal(kinds.open, 4);
    assert.equal(kinds.close, 4);
    assert.match(proxy.stderr(), /mrimtap proxy: 4 connections/);
  });

  it('stdout stalled (| less, paused): memory stays bounded, log lines are dropped with a count, the capture keeps everything', async () => {
    const capture = join(dir, 'stall.jsonl');
    const proxy = await startProxy(['--record', capture]);
    const upstream = await sink();
    cleanups.push(() => upstream.close());
    // Chatty sessions (every MESSAGE is several log lines) while nobody reads stdout. The first rounds
    // fill the log buffer and grow the three threads' heaps (the relay's, the decoder's and the
    // writer's) to their working size: measured, RSS climbed for three rounds, then stayed within ±20 MiB
    // over thirteen more. From there memory stays level however much more goes by; unbounded, RSS grew
    // by about 55 MiB a round, some 220 MiB over the four measured rounds.
    const frames = 15_000;
    const warmUp = 3;
    const rounds = warmUp + 4;
    const followed = followKinds(capture);
    let warm = 0;
    for (let round = 0; round <= rounds; round++) {
      await chatter(proxy.port, upstream.port, round === 0 ? frames : 2 * frames);
      await until(() => followed.kinds.close === round + 1, `close ${round + 1} in the capture`, 30_000);
      if (round === warmUp) warm = rssMiB(proxy.child.pid!);
    }
    const grown = rssMiB(proxy.child.pid!) - warm;
    assert.ok(grown < 100, `the proxy grew by ${grown.toFixed(0)} MiB more while its stdout stayed stalled`);
    assert.equal(followed.kinds.frame, (1 + 2 * rounds) * frames + 1 + rounds, 'every frame recorded');
    // The reader comes back: what was kept, then how much was not shown.
    let out = '';
    proxy.child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await until(() => /… [\d,]+ lines not shown/.test(out), 'the count of dropped lines');
    const dropped = Number(/… ([\d,]+) lines not shown/.exec(out)![1].replace(/,/g, ''));
    assert.ok(dropped > 10_000, `${dropped} lines dropped`);
    assert.equal(await proxy.stop(), 0);
  });
});

describe('mrimtap proxy: security defaults', () => {
  it('refuses a non-loopback address without --auth (exit 2, with why); --allow-open or --auth lifts it', async () => {
    for (const host of ['0.0.0.0', '::']) {
      const r = await runCli(['proxy', '--host', host, '--port', '0']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, new RegExp(`^mrimtap: refusing to listen on ${host.replace(/\./g, '\\.')} without --auth: anyone who can reach that address could relay connections anywhere.*--allow-open`));
    }
    const open = await startProxy(['--host', '0.0.0.0', '--allow-open']);
    // The banner's later lines may come in a later chunk than the one with the port.
    await until(() => /⚠ open: no authentication on a non-loopback address/.test(open.stderr()), 'the open-relay warning');
    // 0.0.0.0 is no address to connect to: the banner names loopback (and the machine's addresses) instead.
    await until(() => /set the client's SOCKS5 proxy to /.test(open.stderr()), 'the banner');
    const suggested = /set the client's SOCKS5 proxy to (.*); Ctrl-C/.exec(open.stderr())![1]!;
    assert.match(suggested, new RegExp(`^127\\.0\\.0\\.1:${open.port}`));
    assert.doesNotMatch(suggested, /0\.0\.0\.0|\[::\]/);
    assert.equal(await open.stop(), 0);
  });

  it('--auth USER takes the password from MRIMTAP_PROXY_PASSWORD or --auth-password-file, never needing it in ps', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const fromEnv = await startProxy(['--host', '0.0.0.0', '--auth', 'alice'], { env: { MRIMTAP_PROXY_PASSWORD: 'env-secret' } });
    const s = await socksConnect(fromEnv.port, '127.0.0.1', echo.port, { user: 'alice', password: 'env-secret' });
    s.end('ok');
    assert.equal((await readAll(s)).toString(), 'ok');
    assert.equal(await fromEnv.stop(), 0);

    const file = join(dir, 'password');
    writeFileSync(file, 'file-secret\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    const fromFile = await startProxy(['--auth', 'alice', '--auth-password-file', file]);
    assert.match(fromFile.stderr(), /warning: .*password can be read by other users \(chmod 600/);
    const t = await socksConnect(fromFile.port, '127.0.0.1', echo.port, { user: 'alice', password: 'file-secret' });
    t.end('ok');
    assert.equal((await readAll(t)).toString(), 'ok');
    assert.equal(await fromFile.stop(), 0);

    const none = await runCli(['proxy', '--port', '0', '--auth', 'alice'], 20_000);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--auth alice needs a password: --auth alice:PASSWORD, the MRIMTAP_PROXY_PASSWORD environment variable, or --auth-password-file FILE/);
  });

  it('bad --allow, --handshake-timeout, --max-size and --max-files values are one-line errors', async () => {
    for (const [args, re] of [
      [['--allow', 'nohost'], /--allow takes HOST:PORT/],
      [['--handshake-timeout', '0'], /--handshake-timeout takes seconds/],
      [['--max-size', '10M'], /--max-size goes with --record/],
      [['--record', join(dir, 'x.jsonl'), '--max-size', 'lots'], /--max-size takes a size/],
      [['--record', join(dir, 'x.jsonl'), '--max-size', '1M', '--max-files', '0'], /--max-files takes a whole number/],
      [['--max-files', '3'], /--max-files goes with --max-size/],
    ] as const) {
      const r = await runCli(['proxy', '--port', '0', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });

  it('--record does not follow a symbolic link at the capture path', async () => {
    const target = join(dir, 'elsewhere');
    writeFileSync(target, 'precious\n');
    const link = join(dir, 'link.jsonl');
    symlinkSync(target, link);
    const r = await runCli(['proxy', '--port', '0', '--record', link]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot record to .*link\.jsonl: is a symbolic link \(not followed/);
    assert.equal(readFileSync(target, 'utf8'), 'precious\n');
  });
});

describe('mrimtap proxy: recording', () => {
  it('--max-size/--max-files: the recording goes on in new files, each a capture of its own, the oldest deleted', async () => {
    const sub = join(dir, 'rotation');
    const proxy = await startProxy(['--quiet', '--record', join(sub, 'r.jsonl'), '--max-size', '64K', '--max-files', '3']);
    const upstream = await sink();
    cleanups.push(() => upstream.close());
    await chatter(proxy.port, upstream.port, 400, 200);
    assert.equal(await proxy.stop(), 0);
    const files = readdirSync(sub).sort();
    assert.equal(files.length, 3, files.join(' '));
    assert.match(proxy.stderr(), /recording to .*r\.jsonl \(a new file every 65536 bytes, the newest 3 kept\)/);
    const summary = /(\d+) events recorded in 3 files, .*r\.(\d+)\.jsonl … .*r\.(\d+)\.jsonl \((\d+) older files deleted, --max-files\)/.exec(proxy.stderr());
    assert.ok(summary, proxy.stderr());
    for (const f of files) {
      const lines = readFileSync(join(sub, f), 'utf8').split('\n').filter(Boolean);
      const header = JSON.parse(lines[0]) as { format: string; part: number };
      assert.equal(header.format, 'mrimtap-capture');
      assert.equal(f, `r.${header.part}.jsonl`);
      // At most one event over the size.
      assert.ok(statSync(join(sub, f)).size < 64 * 1024 + 4096, `${f}: ${statSync(join(sub, f)).size} bytes`);
    }
  });

  it('a recording that fails (file too large) stops, the proxy goes on, and the summary says when it stopped', async () => {
    const capture = join(dir, 'limited.jsonl');
    // 64 blocks: a few hundred events fit; SIGXFSZ ignored so the write fails with EFBIG instead.
    const proxy = await startProxy(['--quiet', '--record', capture], { shell: 'ulimit -f 64; trap "" XFSZ' });
    const upstream = await sink();
    cleanups.push(() => upstream.close());
    await chatter(proxy.port, upstream.port, 400, 200);
    await until(() => /recording to .* stopped: file too large; the proxy goes on without it/.test(proxy.stderr()), 'the failure notice');
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const s = await socksConnect(proxy.port, '127.0.0.1', echo.port);
    s.end('after');
    assert.equal((await readAll(s)).toString(), 'after');
    assert.equal(await proxy.stop(), 0);
    assert.match(proxy.stderr(), /⚠ the recording stopped early, at \d\d:\d\d:\d\d: file too large — later events are not in it/);
    // What was written before is a readable capture.
    const lines = readFileSync(capture, 'utf8').split('\n');
    assert.equal((JSON.parse(lines[0]) as { format: string }).format, 'mrimtap-capture');
  });
});

// The recording worker: over real sockets, a capture written by the worker holds the same events as one
// written in-line; a worker that cannot keep up pauses the relay instead of losing frames; stop() and
// process.exit() leave nothing queued unwritten; a worker that fails stops the recording, not the proxy.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { readCapture } from '../../src/capture/jsonl.js';
import { encodePacket } from '../../src/protocol/codec.js';
import { startSniffer, type Sniffer, type SnifferOptions } from '../../src/proxy/sniffer.js';
import type { TapEvent } from '../../src/tap/events.js';
import { echoServer, listenTcp, readAll, socksConnect, type Listening } from '../helpers/net.js';
import { until } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mrimtap-recorder-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const MESSAGES = 300;
/** A login-less chat: HELLO, MESSAGEs in writes of several frames, a frame split across writes, some garbage. */
function traffic(): Buffer[] {
  const frames = [encodePacket('HELLO', {}, { proto: '1.21', seq: 1 })];
  for (let i = 0; i < MESSAGES; i++) frames.push(encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: `Привет ${i}`, rtf: ' ' }, { proto: '1.21', seq: i + 2 }));
  const stream = Buffer.concat([...frames, Buffer.from('not a frame')]);
  const writes: Buffer[] = [];
  for (let at = 0; at < stream.length; at += 1000) writes.push(stream.subarray(at, at + 1000));
  return writes;
}

/** Sends the traffic through the sniffer to an echo server and reads the echo back. */
async function chat(sniffer: Sniffer, echo: Listening): Promise<Buffer> {
  const s = await socksConnect(sniffer.address!.port, '127.0.0.1', echo.port);
  for (const w of traffic()) s.write(w);
  s.end();
  return readAll(s);
}

/** A capture's events without what differs between two runs (times, ports, connection numbers). */
async function recorded(path: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const item of readCapture(path)) {
    if (item.kind !== 'event') continue;
    const { event } = item.event;
    const e = event as Record<string, unknown>;
    if (event.kind === 'frame') out.push({ kind: 'frame', dir: event.dir, offset: event.offset, type: event.frame.type, seq: event.frame.seq, fields: event.frame.fields, raw: event.raw.toString('hex') });
    else out.push({ kind: event.kind, dir: e.dir, offset: e.offset, reason: e.reason, bytes: Buffer.isBuffer(e.bytes) ? e.bytes.toString('hex') : undefined });
  }
  return out;
}

async function withSniffer(opts: Partial<SnifferOptions>, run: (s: Sniffer) => Promise<void>): Promise<Sniffer> {
  const sniffer = await startSniffer({ host: '127.0.0.1', port: 0, ...opts });
  try {
    await run(sniffer);
  } finally {
    await sniffer.stop();
  }
  return sniffer;
}

describe('recording in a worker', () => {
  it('records what the in-line recording records, and the live log gets every event with its Buffers', async () => {
    const echo = await echoServer();
    try {
      const sent = Buffer.concat(traffic());
      const captures: Record<string, unknown[]> = {};
      const live: TapEvent[] = [];
      for (const decodeIn of ['inline', 'worker'] as const) {
        const path = join(dir, `${decodeIn}.jsonl`);
        await withSniffer({ record: path, decodeIn, ...(decodeIn === 'worker' ? { onEvent: (ev) => live.push(ev) } : {}) }, async (s) => {
          assert.deepEqual(await chat(s, echo), sent);
        });
        captures[decodeIn] = await recorded(path);
      }
      const frames = captures.worker.filter((e) => (e as { kind: string }).kind === 'frame');
      assert.equal(frames.length, 2 * (MESSAGES + 1), 'every frame both ways');
      assert.deepEqual(captures.worker, captures.inline);
      const liveFrames = live.flatMap((ev) => (ev.event.kind === 'frame' ? [ev.event] : []));
      assert.equal(liveFrames.length, frames.length);
      assert.ok(liveFrames.every((f) => Buffer.isBuffer(f.raw)));
      assert.deepEqual(live.map((ev) => ev.event.kind).at(-1), 'close');
    } finally {
      await echo.close();
    }
  });

  it('a worker that cannot keep up pauses the relay: it never runs more than the queue ahead, nothing is lost', async () => {
    const queueBytes = 128 * 1024;
    const frame = encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'x'.repeat(4000), rtf: ' ' }, { proto: '1.21', seq: 1 });
    const count = 400;
    let reportedBytes = 0;
    let received = 0;
    let aheadAtEnd = -1;
    let done!: () => void;
    const allReceived = new Promise<void>((r) => (done = r));
    const sink = await listenTcp((s: net.Socket) =>
      s.on('data', (d: Buffer) => {
        received += d.length;
        if (received === count * frame.length) {
          aheadAtEnd = received - reportedBytes;
          done();
        }
      }),
    );
    const path = join(dir, 'slow.jsonl');
    try {
      await withSniffer(
        {
          record: path,
          worker: { queueBytes, delayMs: 5 },
          onEvent: (ev) => {
            if (ev.event.kind === 'frame') reportedBytes += ev.event.raw.length;
          },
        },
        async (s) => {
          const c = await socksConnect(s.address!.port, '127.0.0.1', sink.port);
          for (let i = 0; i < count; i++) c.write(frame);
          await allReceived;
          c.destroy();
        },
      );
      // Relayed but not yet decoded: at most the queue and the chunks of one turn (without the pause: all of it).
      assert.ok(aheadAtEnd >= 0 && aheadAtEnd <= queueBytes + 256 * 1024, `${aheadAtEnd} bytes ahead of the worker`);
      const frames = (await recorded(path)).filter((e) => (e as { kind: string }).kind === 'frame');
      assert.equal(frames.length, count);
    } finally {
      await sink.close();
    }
  });

  it('stop() waits until everything queued is written', async () => {
    const echo = await echoServer();
    const path = join(dir, 'stop.jsonl');
    try {
      await withSniffer({ record: path, worker: { delayMs: 20 } }, async (s) => {
        await chat(s, echo);
      });
      const frames = (await recorded(path)).filter((e) => (e as { kind: string }).kind === 'frame');
      assert.equal(frames.length, 2 * (MESSAGES + 1));
    } finally {
      await echo.close();
    }
  });

  it('process.exit() with events still queued: the exit waits for the worker to write them', async () => {
    const path = join(dir, 'exit.jsonl');
    const sniffer = pathToFileURL(join(ROOT, 'src/proxy/sniffer.ts')).href;
    const codec = pathToFileURL(join(ROOT, 'src/protocol/codec.ts')).href;
    const code = `import net from 'node:net';
      import { startSniffer } from ${JSON.stringify(sniffer)};
      import { encodePacket } from ${JSON.stringify(codec)};
      const sink = net.createServer((s) => s.on('data', () => {})).listen(0, '127.0.0.1');
      await new Promise((r) => sink.once('listening', r));
      const s = await startSniffer({ host: '127.0.0.1', port: 0, record: ${JSON.stringify(path)}, worker: { delayMs: 20 } });
      const c = net.connect(s.address.port, '127.0.0.1');
      c.write(Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, sink.address().port >> 8, sink.address().port & 255]));
      let got = 0;
      c.on('data', (d) => {
        got += d.length;
        if (got < 12) return;
        for (let i = 0; i < 200; i++) c.write(encodePacket('PING', {}, { proto: '1.21', seq: i }));
        setTimeout(() => process.exit(3), 50);
      });`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 3, r.stderr);
    const frames = (await recorded(path)).filter((e) => (e as { kind: string }).kind === 'frame');
    assert.equal(frames.length, 200);
  });

  it('a worker that fails stops the recording with a message; the proxy goes on relaying', async () => {
    const echo = await echoServer();
    const path = join(dir, 'failing.jsonl');
    const failures: string[] = [];
    try {
      const sniffer = await withSniffer({ record: path, worker: { failAfterBatches: 2 }, onRecordingFailed: (_p, err) => failures.push(err.message) }, async (s) => {
        const sent = Buffer.concat(traffic());
        assert.deepEqual(await chat(s, echo), sent);
        await until(() => failures.length > 0, 5000);
        assert.deepEqual(await chat(s, echo), sent, 'still relayed after the failure');
      });
      assert.match(failures[0], /the recording worker failed: failing after 2 batches/);
      assert.equal(failures.length, 1);
      assert.match(sniffer.recordingStopped?.error.message ?? '', /recording worker failed/);
    } finally {
      await echo.close();
    }
  });
});

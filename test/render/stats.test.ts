/** Capture summaries: what StatsCollector counts from events, and `mrimtap stats` tables and --json. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionDecoder } from '../../src/protocol/session.js';
import { encodePacket } from '../../src/protocol/codec.js';
import { StatsCollector } from '../../src/render/stats.js';
import type { TapEvent } from '../../src/tap/events.js';
import { ROOT } from '../helpers/cli.js';
import { runCli } from '../helpers/server-cli.js';

const client = { host: '127.0.0.1', port: 40000 };
const server = { host: '127.0.0.1', port: 2041 };
const T = Date.UTC(2024, 0, 1);

/** One connection's events from frames each side sent at the given times (ms after T). */
function session(conn: number, steps: Array<[number, 'c2s' | 's2c', Buffer]>): TapEvent[] {
  const decoder = new SessionDecoder();
  const base = { conn, client, server };
  const out: TapEvent[] = [{ ...base, event: { kind: 'open', time: T, client, server } }];
  for (const [at, dir, bytes] of steps) for (const event of decoder.push(dir, bytes, T + at)) out.push({ ...base, ...(event.kind === 'frame' && event.login ? { login: event.login } : {}), event });
  return out;
}

describe('StatsCollector', () => {
  const v = (seq: number) => ({ proto: '1.21', seq });
  const events = [
    ...session(1, [
      [0, 'c2s', encodePacket('HELLO', {}, v(1))],
      [10, 's2c', encodePacket('HELLO_ACK', { pingPeriod: 30 }, v(1))],
      [20, 'c2s', encodePacket('LOGIN3', { login: 'bob@mail.ru', password: 'x', userAgent: 'client="test" version="1"' }, v(2))],
      [25, 's2c', encodePacket('LOGIN_ACK', {}, v(2))],
      [30, 'c2s', encodePacket('MESSAGE', { flags: 0, to: 'a@mail.ru', text: 'one', rtf: ' ' }, v(3))],
      [40, 'c2s', encodePacket('MESSAGE', { flags: 0, to: 'a@mail.ru', text: 'two', rtf: ' ' }, v(4))],
      [70, 's2c', encodePacket('MESSAGE_STATUS', { status: 0 }, v(3))],
      [80, 'c2s', Buffer.concat([Buffer.from('junk!'), encodePacket(0x7777, {}, { proto: '1.21', seq: 5 })])],
    ]),
    { conn: 1, client, server, event: { kind: 'note', time: T + 90, level: 'warn', message: 'something odd' } } as TapEvent,
    { conn: 1, client, server, event: { kind: 'close', time: T + 100, bytes: { c2s: 999, s2c: 111 }, durationMs: 100, reason: 'client closed first' } } as TapEvent,
  ];
  const stats = new StatsCollector();
  for (const e of events) stats.add(e);
  stats.problem('line 7: not JSON: skipped');
  const s = stats.result();

  it('counts packet types per direction with their bytes', () => {
    const message = s.packets.find((x) => x.type === 'MESSAGE')!;
    assert.equal(message.c2s.count, 2);
    assert.equal(message.s2c.count, 0);
    assert.equal(s.packets[0]!.type, 'MESSAGE');
    assert.equal(s.frames, 8);
  });

  it('describes each connection: login, version, user agent, duration, frames, bytes from its close', () => {
    assert.deepEqual(s.perConnection, [
      {
        conn: 1,
        client: '127.0.0.1:40000',
        server: '127.0.0.1:2041',
        login: 'bob@mail.ru',
        proto: '1.21',
        userAgent: 'client="test" version="1"',
        started: new Date(T).toISOString(),
        durationMs: 100,
        frames: 8,
        bytes: { c2s: 999, s2c: 111 },
        warnings: 1,
        closed: 'client closed first',
      },
    ]);
  });

  it('measures latencies per request and reply type, and lists the request left unanswered', () => {
    assert.deepEqual(
      s.latencies.map((l) => [l.request, l.reply, l.count, l.minMs, l.maxMs]),
      [
        ['HELLO', 'HELLO_ACK', 1, 10, 10],
        ['LOGIN3', 'LOGIN_ACK', 1, 5, 5],
        ['MESSAGE', 'MESSAGE_STATUS', 1, 40, 40],
      ],
    );
    assert.deepEqual(
      s.unanswered.map((u) => [u.type, u.seq]),
      [['MESSAGE', 4]],
    );
  });

  it('collects the unusual: unknown types, warnings, garbage, warning notes, damaged parts of the file', () => {
    assert.deepEqual(s.unusual.unknownTypes, [{ type: 'UNKNOWN(0x7777)', count: 1, conns: [1] }]);
    assert.equal(s.unusual.warnings[0]!.warning, 'unknown packet type 0x7777');
    assert.deepEqual(s.unusual.garbage.map((g) => [g.conn, g.dir, g.bytes]), [[1, 'c2s', 5]]);
    assert.deepEqual(s.unusual.notes, [{ conn: 1, message: 'something odd' }]);
    assert.deepEqual(s.unusual.problems, ['line 7: not JSON: skipped']);
  });
});

describe('mrimtap stats', () => {
  it('prints tables for the demo capture, and the same numbers as --json', async () => {
    const demo = `${ROOT}/captures/demo.jsonl`;
    const text = await runCli(['stats', demo]);
    assert.equal(text.code, 0, text.stderr);
    for (const title of ['Packet types', 'Connections', 'Request → reply latency (ms)', 'Unusual']) assert.ok(text.stdout.includes(title), title);
    assert.match(text.stdout, /│ #3 +│ 127\.0\.0\.1:\d+ ⇄ 127\.0\.0\.1:2041 │ bob@mail\.ru +│ 1\.21 +│ client="mrimtap" protocol="1\.21"/);
    const json = await runCli(['stats', demo, '--json']);
    const s = JSON.parse(json.stdout) as { frames: number; perConnection: Array<{ login?: string }> };
    assert.equal(s.frames, 48);
    assert.deepEqual(s.perConnection.map((c) => c.login ?? null), [null, 'alice@mail.ru', 'bob@mail.ru', 'carol@list.ru']);
  });

  it('reads a pcap, and lists its damaged tail as unusual (pidgin-mra\'s known trailing bytes are not)', async () => {
    const r = await runCli(['stats', `${ROOT}/test/fixtures/vectors/pidgin-mra-1.8-session.pcap`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /│ file +│ +│ damaged record header/);
    assert.doesNotMatch(r.stdout, /│ warning │/);
  });

  it('--filter narrows what is counted; a bad file is one line and exit code 2', async () => {
    const r = await runCli(['stats', `${ROOT}/captures/demo.jsonl`, '--json', '--filter', 'login=bob@mail.ru']);
    assert.deepEqual((JSON.parse(r.stdout) as { perConnection: Array<{ conn: number }> }).perConnection.map((c) => c.conn), [3]);
    const bad = await runCli(['stats', `${ROOT}/package.json`]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^mrimtap: .*package\.json: not a mrimtap capture: the document has no "format": "mrimtap-capture"\n$/);
  });
});

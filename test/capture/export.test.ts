/** `mrimtap export`: pcapng that tshark reads back stream for stream, and the generated dissector run through tshark. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { toolVersion } from '../../src/capture/jsonl.js';
import { createWriter, openCapture } from '../../src/capture/open.js';
import { decodeFrame, encodePacket } from '../../src/protocol/codec.js';
import { wiresharkDissector } from '../../src/render/dissector.js';
import type { TapEvent } from '../../src/tap/events.js';
import { ROOT } from '../helpers/cli.js';
import { runCli } from '../helpers/server-cli.js';
import { followStreams, tshark, tsharkMissing } from '../helpers/tshark.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-export-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const DEMO = join(ROOT, 'captures', 'demo.jsonl');
const PIDGIN = join(ROOT, 'test', 'fixtures', 'vectors', 'pidgin-mra-1.8-session.pcap');
const LUA = join(ROOT, 'wireshark', 'mrim.lua');

async function events(path: string): Promise<TapEvent[]> {
  const out: TapEvent[] = [];
  for await (const e of (await openCapture(path)).entries) if (e.kind === 'event') out.push(e.event);
  return out;
}

/** Each connection's bytes per direction as the capture holds them, in stream order. */
function captureStreams(evs: TapEvent[]): Map<number, { c2s: Buffer; s2c: Buffer }> {
  const parts = new Map<number, { c2s: Array<[number, Buffer]>; s2c: Array<[number, Buffer]> }>();
  for (const { conn, event: ev } of evs) {
    if (!parts.has(conn)) parts.set(conn, { c2s: [], s2c: [] });
    if (ev.kind === 'frame') parts.get(conn)![ev.dir].push([ev.offset, ev.raw]);
    else if ('bytes' in ev && 'dir' in ev && Buffer.isBuffer(ev.bytes)) parts.get(conn)![ev.dir].push([ev.offset, ev.bytes]);
  }
  const join = (p: Array<[number, Buffer]>) => Buffer.concat(p.sort((a, b) => a[0] - b[0]).map(([, b]) => b));
  return new Map([...parts].map(([conn, p]) => [conn, { c2s: join(p.c2s), s2c: join(p.s2c) }]));
}

/** Packet names per `clientport>serverport` in the order tshark shows them, through the generated dissector. */
async function dissectedNames(pcap: string): Promise<Map<string, string[]>> {
  const out = await tshark(['-r', pcap, '-X', `lua_script:${LUA}`, '-Y', 'mrim', '-T', 'fields', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'mrim.type']);
  const names = new Map<string, string[]>();
  for (const line of out.trim().split('\n').filter(Boolean)) {
    const [src, dst, types] = line.split('\t');
    const key = `${src}>${dst}`;
    names.set(key, [...(names.get(key) ?? []), ...types!.split(',')]);
  }
  return names;
}

/** The same from the capture: frame types per direction of each connection, as `mrimtap decode` names them. */
function decodedNames(evs: TapEvent[]): Map<string, string[]> {
  const names = new Map<string, string[]>();
  for (const { client, server, event: ev } of evs) {
    if (ev.kind !== 'frame' || !server) continue;
    const key = ev.dir === 'c2s' ? `${client.port}>${server.port}` : `${server.port}>${client.port}`;
    names.set(key, [...(names.get(key) ?? []), ev.frame.type]);
  }
  return names;
}

it('wireshark/mrim.lua is the dissector generated from the packet table now (npm run docs)', () => {
  assert.equal(readFileSync(LUA, 'utf8'), wiresharkDissector(toolVersion()));
});

describe('export --pcapng', { skip: tsharkMissing }, () => {
  const captures: Array<[string, string]> = [
    ['the demo recording', DEMO],
    ['a tcpdump capture of pidgin-mra', PIDGIN],
  ];
  for (const [what, input] of captures) {
    describe(what, () => {
      const out = join(dir, `${what.replace(/\W+/g, '-')}.pcapng`);
      let evs: TapEvent[] = [];
      before(async () => {
        const r = await runCli(['export', input, '--pcapng', out]);
        assert.equal(r.code, 0, r.stderr);
        evs = await events(input);
      });

      it('is a file only its owner reads, and tshark reads every connection back with the capture\'s bytes', async () => {
        assert.equal(statSync(out).mode & 0o777, 0o600);
        const expected = captureStreams(evs);
        const streams = await followStreams(out, expected.size);
        assert.equal(streams.length, expected.size);
        const opens = evs.filter((e) => e.event.kind === 'open');
        streams.forEach((s, i) => {
          const conn = opens[i]!;
          assert.equal(s.client, `${conn.client.host}:${conn.client.port}`);
          const want = expected.get(conn.conn)!;
          assert.ok(s.c2s.equals(want.c2s), `#${conn.conn} c2s: ${s.c2s.length} vs ${want.c2s.length} bytes`);
          assert.ok(s.s2c.equals(want.s2c), `#${conn.conn} s2c: ${s.s2c.length} vs ${want.s2c.length} bytes`);
        });
      });

      it('the generated dissector names every packet as mrimtap decode does', async () => {
        assert.deepEqual(Object.fromEntries(await dissectedNames(out)), Object.fromEntries(decodedNames(evs)));
      });

      it('the dissector shows payload fields and raises no Lua error', async () => {
        const verbose = await tshark(['-r', out, '-X', `lua_script:${LUA}`, '-V']);
        assert.doesNotMatch(verbose, /Lua Error|Malformed/);
        assert.match(verbose, /^ {4}login: (alice|bob)@mail\.ru$/m);
        assert.match(verbose, /^ {4}Packet type: LOGIN2 \(0x00001038\)$/m);
      });
    });
  }

  it('keeps holes where the capture holds no bytes, and writes host names as stand-in addresses', async () => {
    const input = join(dir, 'holes.jsonl');
    const w = createWriter(input, { source: 'test' });
    const client = { host: '127.0.0.1', port: 40000 };
    const server = { host: 'mrim.example', port: 2041 };
    const t = Date.UTC(2024, 0, 1);
    const hello = encodePacket('HELLO', {}, { proto: '1.8', seq: 1 });
    const base = { conn: 1, client, server };
    w.write({ ...base, event: { kind: 'open', time: t, client, server } });
    w.write({ ...base, event: { kind: 'garbage', dir: 'c2s', offset: 0, time: t + 1, bytes: hello.subarray(0, 44), reason: 'oversize', skipped: 1000 } });
    w.write({ ...base, event: { kind: 'frame', dir: 'c2s', offset: 1044, time: t + 2, index: 0, raw: hello, frame: decodeFrame(hello, { dir: 'c2s' }) } });
    w.write({ ...base, event: { kind: 'close', time: t + 3, bytes: { c2s: 1088, s2c: 10 }, durationMs: 3, reason: 'client closed first' } });
    w.close();
    const out = join(dir, 'holes.pcapng');
    const r = await runCli(['export', input, '--pcapng', out]);
    assert.equal(r.code, 0, r.stderr);
    const fields = await tshark(['-r', out, '-T', 'fields', '-e', 'ip.dst', '-e', 'tcp.seq', '-e', 'tcp.len', '-e', 'tcp.analysis.lost_segment', '-e', 'frame.comment']);
    const rows = fields.trim().split('\n').map((l) => l.split('\t'));
    assert.equal(rows[0]![0], '192.0.2.1');
    assert.match(rows[0]!.at(-1)!, /mrim\.example:2041 written as 192\.0\.2\.1/);
    const hello2 = rows.find((r) => r[1] === '1045' && r[2] === '44');
    assert.ok(hello2, `the frame after the skipped payload starts at relative seq 1045:\n${fields}`);
    assert.equal(hello2[3], '1', 'tshark sees the skipped bytes as a lost segment');
  });

  it('a frame larger than one segment is reassembled by the dissector, and two frames in one segment are both named', async () => {
    const input = join(dir, 'big-frame.jsonl');
    const w = createWriter(input, {});
    const client = { host: '127.0.0.1', port: 40001 };
    const server = { host: '127.0.0.1', port: 2041 };
    const base = { conn: 1, client, server };
    const t = Date.UTC(2024, 0, 1);
    const big = encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'x'.repeat(40_000), rtf: ' ' }, { proto: '1.8', seq: 1 });
    const two = Buffer.concat([encodePacket('PING', {}, { proto: '1.8', seq: 2 }), encodePacket('PING', {}, { proto: '1.8', seq: 3 })]);
    w.write({ ...base, event: { kind: 'open', time: t, client, server } });
    w.write({ ...base, event: { kind: 'frame', dir: 'c2s', offset: 0, time: t + 1, index: 0, raw: big, frame: decodeFrame(big, { dir: 'c2s' }) } });
    // Two frames in the bytes of one event: the pcapng gets one segment holding both.
    w.write({ ...base, event: { kind: 'redirect', dir: 's2c', offset: 0, time: t + 2, bytes: two, text: '' } });
    w.close();
    const out = join(dir, 'big-frame.pcapng');
    assert.equal((await runCli(['export', input, '--pcapng', out])).code, 0);
    const names = await dissectedNames(out);
    assert.deepEqual(Object.fromEntries(names), { '40001>2041': ['MESSAGE'], '2041>40001': ['PING', 'PING'] });
    const text = await tshark(['-r', out, '-X', `lua_script:${LUA}`, '-Y', 'mrim.type == "MESSAGE"', '-T', 'fields', '-e', 'mrim.message.text']);
    assert.equal(text.trim().length, 40_000);
  });

  it('export --dissector alone writes the plugin; wrong combinations are one-line errors', async () => {
    const lua = join(dir, 'mrim.lua');
    const r = await runCli(['export', '--dissector', lua]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(lua, 'utf8'), readFileSync(LUA, 'utf8'));
    assert.equal((await runCli(['export'])).stderr, 'mrimtap: nothing to export: give a CAPTURE and --pcapng FILE, or --dissector FILE\n');
    assert.equal((await runCli(['export', DEMO])).stderr, 'mrimtap: --pcapng FILE: where to write the capture\n');
    const same = await runCli(['export', DEMO, '--pcapng', DEMO]);
    assert.equal(same.code, 2);
    assert.match(same.stderr, /is the input file: write to another one\n$/);
  });
});

/**
 * Truncated, corrupt and hostile pcap, pcapng and capture files: a clear error or problems, never a
 * throw of anything else, a hang or a stack trace. Properties over mutated real and synthetic files.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { CaptureFileError } from '../../src/capture/format.js';
import { MAX_LINE } from '../../src/capture/jsonl.js';
import { openCapture } from '../../src/capture/open.js';
import { CaptureFormatError, parseCapture } from '../../src/capture/pcap/index.js';
import { LINKTYPE, TCP_FLAG } from '../../src/capture/pcap/packet.js';
import { decodePcap } from '../../src/capture/pcap-decode.js';
import { encodePacket } from '../../src/protocol/codec.js';
import type { TapEvent } from '../../src/tap/events.js';
import { ROOT } from '../helpers/cli.js';
import { Pcapng, ethernet, ipPacket, pcap, sll, tcpSessionPcap } from '../helpers/pcap-builder.js';
import { runCli } from '../helpers/server-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-bad-input-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const PIDGIN = readFileSync(join(ROOT, 'test', 'fixtures', 'vectors', 'pidgin-mra-1.8-session.pcap'));
const PRPL = readFileSync(join(ROOT, 'test', 'fixtures', 'vectors', 'mrim-prpl-1.22-messages.pcap'));
const DEMO = readFileSync(join(ROOT, 'captures', 'demo.jsonl'));
const T = 1_700_000_000_000;

/** A pcapng with two interfaces of different link types and both packet block kinds. */
function pcapngSession(): Buffer {
  const hello = encodePacket('HELLO', {}, { proto: '1.8', seq: 1 });
  const ip = (seq: number, flags: number, payload: Buffer = Buffer.alloc(0)) => ipPacket({ src: '10.1.1.1', dst: '10.1.1.2', sport: 41000, dport: 2041, seq, flags, payload });
  return new Pcapng()
    .section(true)
    .iface(LINKTYPE.ETHERNET)
    .iface(LINKTYPE.LINUX_SLL, { tsresol: 9 })
    .packet(0, 1_700_000_000_000_000n, ethernet(ip(1, TCP_FLAG.SYN)))
    .packet(1, 1_700_000_000_000_000_500n, sll(ip(2, TCP_FLAG.ACK | TCP_FLAG.PSH, hello)))
    .simple(ethernet(ip(46, TCP_FLAG.FIN | TCP_FLAG.ACK)))
    .build();
}

/** Reads a pcap the way `decode` does: a CaptureFormatError is the only acceptable failure. */
function decodeBytes(bytes: Buffer): TapEvent[] | 'rejected' {
  let capture;
  try {
    capture = parseCapture(bytes);
  } catch (e) {
    if (e instanceof CaptureFormatError) return 'rejected';
    throw e;
  }
  const events: TapEvent[] = [];
  decodePcap(capture, (ev) => events.push(ev));
  return events;
}

/** Every connection's events start with its opening and end with its close, one of each. */
function assertWellFormed(events: TapEvent[]): void {
  const byConn = new Map<number, string[]>();
  for (const e of events) byConn.set(e.conn, [...(byConn.get(e.conn) ?? []), e.event.kind]);
  for (const [conn, kinds] of byConn) {
    assert.equal(kinds[0], 'open', `#${conn} starts with ${kinds[0]}`);
    assert.equal(kinds.at(-1), 'close', `#${conn} ends with ${kinds.at(-1)}`);
    assert.equal(kinds.filter((k) => k === 'open' || k === 'close').length, 2, `#${conn}: ${kinds.join(' ')}`);
  }
}

/** A change to a file: bytes overwritten, a 32-bit field set to an absurd value, or the end cut off. */
const mutation = (size: number) =>
  fc.oneof(
    fc.record({ kind: fc.constant('bytes' as const), at: fc.nat(size - 1), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('u32' as const), at: fc.nat(Math.max(0, size - 4)), value: fc.constantFrom(0, 1, 0x7fffffff, 0xfffffffc, 0xffffffff, 0x10000, 262145) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat(size) }),
  );

function mutate(file: Buffer, changes: Array<{ kind: 'bytes' | 'u32' | 'cut'; at: number; bytes?: Uint8Array; value?: number }>): Buffer {
  let out = Buffer.from(file);
  for (const c of changes) {
    if (c.kind === 'cut') out = out.subarray(0, Math.min(c.at, out.length));
    else if (c.kind === 'u32' && c.at + 4 <= out.length) out.writeUInt32LE(c.value! >>> 0, c.at);
    else if (c.kind === 'bytes') Buffer.from(c.bytes!).copy(out, Math.min(c.at, Math.max(0, out.length - 1)));
  }
  return out;
}

describe('pcap and pcapng readers on damaged input (properties)', () => {
  for (const [name, file] of [
    ['pidgin-mra pcap', PIDGIN],
    ['mrim-prpl pcap', PRPL],
    ['synthetic pcapng', pcapngSession()],
  ] as const) {
    it(`${name}: any mutation gives a format error or well-formed events, never a crash`, () => {
      fc.assert(
        fc.property(fc.array(mutation(file.length), { minLength: 1, maxLength: 6 }), (changes) => {
          const events = decodeBytes(mutate(file, changes));
          if (events !== 'rejected') assertWellFormed(events);
        }),
        { numRuns: 150 },
      );
    });
  }

  it('random bytes behind a pcap or pcapng magic are rejected or read, never a crash', () => {
    const magics = ['d4c3b2a1', 'a1b2c3d4', '4d3cb2a1', '0a0d0d0a', 'a1b23c4d'].map((h) => Buffer.from(h, 'hex'));
    fc.assert(
      fc.property(fc.constantFrom(...magics), fc.uint8Array({ maxLength: 600 }), (magic, rest) => {
        const events = decodeBytes(Buffer.concat([magic, rest]));
        if (events !== 'rejected') assertWellFormed(events);
      }),
      { numRuns: 300 },
    );
  });

  it('packets stamped in any order still give one opening first and one close last per connection', () => {
    const hello = encodePacket('HELLO', {}, { proto: '1.8', seq: 1 });
    const ack = encodePacket('HELLO_ACK', { pingPeriod: 30 }, { proto: '1.8', seq: 1 });
    const base = tcpSessionPcap([
      { time: T + 1, dir: 'c2s', data: hello },
      { time: T + 2, dir: 's2c', data: ack },
      { time: T + 3, dir: 'c2s', data: hello },
    ]);
    const records = 7; // SYN, SYN+ACK, three data segments, two FINs
    fc.assert(
      fc.property(fc.array(fc.nat(2_000_000), { minLength: records, maxLength: records }), (stamps) => {
        const file = Buffer.from(base);
        let off = 24;
        for (const us of stamps) {
          if (off + 16 > file.length) break;
          file.writeUInt32LE(1_700_000_000 + Math.floor(us / 1e6), off);
          file.writeUInt32LE(us % 1_000_000, off + 4);
          off += 16 + file.readUInt32LE(off + 8);
        }
        const events = decodeBytes(file);
        assert.notEqual(events, 'rejected');
        assertWellFormed(events as TapEvent[]);
      }),
      { numRuns: 200 },
    );
  });

  it('absurd lengths — snaplen, record length, block length, packet length — are warnings, read without allocating them', () => {
    const good = tcpSessionPcap([{ time: T, dir: 'c2s', data: encodePacket('HELLO', {}, { proto: '1.8', seq: 1 }) }]);
    const snaplen = Buffer.from(good);
    snaplen.writeUInt32LE(0xffffffff, 16);
    assert.notEqual(decodeBytes(snaplen), 'rejected');
    const record = Buffer.from(good);
    record.writeUInt32LE(0xfffffff0, 24 + 8);
    const r = parseCapture(record);
    assert.equal(r.packets, 0);
    assert.match(r.warnings[0]!.message, /damaged record header|truncated record/);
    const block = pcapngSession();
    // The second interface block claims 4 GiB.
    const idb2 = 28 + 20;
    block.writeUInt32LE(0xfffffffc, idb2 + 4);
    const b = parseCapture(block);
    assert.match(b.warnings[0]!.message, /truncated pcapng block|damaged pcapng block/);
    const epb = pcap([{ sec: 1, frac: 0, data: ethernet(ipPacket({ src: '1.1.1.1', dst: '2.2.2.2', sport: 1, dport: 2, seq: 0, flags: TCP_FLAG.ACK, payload: Buffer.alloc(8) })), origLen: 0xffffffff }]);
    assert.equal(parseCapture(epb).packets, 1);
  });
});

describe('capture files on damaged input (properties)', () => {
  async function readAllEntries(path: string): Promise<'rejected' | number> {
    try {
      let n = 0;
      for await (const _ of (await openCapture(path)).entries) n++;
      return n;
    } catch (e) {
      if (e instanceof CaptureFileError) return 'rejected';
      throw e;
    }
  }

  it('a mutated JSON Lines capture is read to its end, every damaged line a problem, or refused for its header', async () => {
    const path = join(dir, 'mutated.jsonl');
    await fc.assert(
      fc.asyncProperty(fc.array(mutation(DEMO.length), { minLength: 1, maxLength: 5 }), async (changes) => {
        writeFileSync(path, mutate(DEMO, changes));
        await readAllEntries(path);
      }),
      { numRuns: 60 },
    );
  });

  it('any JSON after a valid header is an event or a problem', async () => {
    const path = join(dir, 'random-lines.jsonl');
    const header = DEMO.subarray(0, DEMO.indexOf(0x0a) + 1);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.json(), fc.string(), fc.constant('{"conn":1,"kind":"frame","raw":"00"}')), { maxLength: 8 }), async (lines) => {
        writeFileSync(path, Buffer.concat([header, Buffer.from(lines.join('\n'))]));
        const n = await readAllEntries(path);
        assert.equal(n, lines.filter((l) => l.trim() !== '').length);
      }),
      { numRuns: 60 },
    );
  });

  it('a line longer than the limit is skipped as it streams, and reading goes on', async () => {
    const path = join(dir, 'long-line.jsonl');
    const header = DEMO.subarray(0, DEMO.indexOf(0x0a) + 1);
    const lastLine = DEMO.subarray(DEMO.lastIndexOf(0x0a, DEMO.length - 2) + 1);
    writeFileSync(path, Buffer.concat([header, Buffer.alloc(MAX_LINE + 10, 0x41), Buffer.from('\n'), lastLine]));
    const capture = await openCapture(path);
    const entries = [];
    for await (const e of capture.entries) entries.push(e);
    assert.deepEqual(
      entries.map((e) => (e.kind === 'problem' ? e.message : e.event.event.kind)),
      ['line 2: longer than 32 MiB: skipped', 'close'],
    );
  });
});

describe('the commands on hostile files: one line on stderr, never a stack trace', () => {
  const files: Record<string, Buffer> = {
    'wrong-magic.pcap': Buffer.from('not a capture at all, just text'),
    'header-only.pcap': PIDGIN.subarray(0, 24),
    'cut.pcap': PIDGIN.subarray(0, 300),
    'lengths.pcapng': (() => {
      const b = pcapngSession();
      b.writeUInt32LE(0x7ffffff0, 4);
      return b;
    })(),
    'torn.json': Buffer.from('{\n  "format": "mrimtap-capture",\n  "version": 1,\n  "events": [\n    {"conn":1'),
    'future.jsonl': Buffer.from('{"format":"mrimtap-capture","version":99,"tool":"x","started":"2024-01-01T00:00:00Z"}\n'),
    'empty.jsonl': Buffer.alloc(0),
  };
  for (const [name, bytes] of Object.entries(files)) {
    it(name, async () => {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      for (const args of [['decode', path], ['stats', path], ['import', path, '-o', join(dir, `${name}.out`)]]) {
        const r = await runCli(args);
        assert.ok(r.code === 0 || r.code === 2, `${args[0]} ${name}: exit ${r.code}\n${r.stderr}`);
        assert.doesNotMatch(r.stderr, /\n\s+at |TypeError|RangeError/, `${args[0]} ${name}`);
        if (r.code === 2) assert.match(r.stderr, /^mrimtap: [^\n]+\n$/, `${args[0]} ${name}`);
      }
    });
  }
});

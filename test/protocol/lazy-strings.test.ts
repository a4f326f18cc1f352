// Lazy strings (`strings: 'lazy'`): a frame decoded so is the full decode's — type, header, lengths,
// warnings, notes, encodings — and its fields, once read, are the full decode's too; a SessionDecoder
// with lazy strings gives the same events. Over generated frames of every packet type (valid, damaged,
// with text bytes that warn), the real captures, random streams, and hand cases.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { types } from 'node:util';
import fc from 'fast-check';
import { decodeFrame, encodePacket, type DecodedFrame } from '../../src/protocol/codec.js';
import type { Direction } from '../../src/protocol/fields.js';
import { PACKETS } from '../../src/protocol/packets/index.js';
import { SessionDecoder, type SessionEvent } from '../../src/protocol/session.js';
import { LazyText, decodeString, plainText, type Encoding } from '../../src/protocol/text.js';
import { split } from '../helpers/chunks.js';
import { mutate, mutationsArb, sessionSeeds } from '../helpers/fuzz.js';
import { anyPacketArbitrary } from '../helpers/packet-arbitrary.js';

const MINORS = [6, 8, 14, 15, 16, 20, 21, 22, 23];
const dirArb = fc.constantFrom<Direction>('c2s', 's2c');

/** Byte runs that make a text warn or change encoding: CP1251's hole, lone and paired surrogates, UTF-8. */
const TRICKY = [
  [0x98],
  [0x00, 0xd8],
  [0x00, 0xdc],
  [0x3d, 0xd8, 0x00, 0xde],
  [0x3d, 0xd8, 0x3d, 0xd8],
  [0xd0, 0xbf, 0xd1, 0x82],
  [0xe2, 0x86, 0x92],
  [0xc0, 0xaf],
  [0xdc, 0x00],
  [0xff, 0xfe],
];
const trickyArb = fc.array(fc.tuple(fc.nat(), fc.constantFrom(...TRICKY)), { maxLength: 4 });

/** Writes the runs over the payload (lengths and all: damage of every kind). */
function overwrite(frame: Buffer, runs: Array<[number, number[]]>): Buffer {
  const b = Buffer.from(frame);
  if (b.length <= 44) return b;
  for (const [at, bytes] of runs) Buffer.from(bytes).copy(b, 44 + (at % (b.length - 44)));
  return b;
}

/** Everything a frame exposes but its fields. */
function rest(d: DecodedFrame): Omit<DecodedFrame, 'fields'> {
  const { fields: _, ...others } = d;
  return others;
}

function sameDecode(frame: Buffer, dir: Direction, minor?: number): void {
  const full = decodeFrame(frame, { dir, minor });
  const lazy = decodeFrame(frame, { dir, minor, strings: 'lazy' });
  // Before anything reads the lazy fields: nothing but them may wait for it.
  assert.deepEqual(rest(lazy), rest(full), `${full.type}: ${full.warnings.join('; ')}`);
  assert.deepEqual(lazy.fields, full.fields, full.type);
  assert.deepEqual(JSON.parse(JSON.stringify(lazy)), JSON.parse(JSON.stringify(full)), full.type);
}

describe('plainText proves a text decodes as itself, with nothing to report', () => {
  const bytesArb = fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.array(fc.constantFrom(...TRICKY, [0x41, 0x00], [0x2b, 0x04], [0xdc, 0x00], [0x20]), { maxLength: 300 }).map((runs) => Uint8Array.from(runs.flat())),
    fc.string({ unit: 'binary', maxLength: 300 }).map((s) => new Uint8Array(Buffer.from(s, 'utf16le'))),
    fc.string({ unit: 'binary', maxLength: 100 }).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
  );
  const encodings: Encoding[] = ['cp1251', 'utf16le', 'utf8', 'latin1', 'hex'];

  it('plain ⇒ decodeString keeps the encoding, warns and notes nothing, and gives the LazyText value; for even UTF-16LE, exactly', () => {
    fc.assert(
      fc.property(bytesArb, fc.nat({ max: 3 }), fc.constantFrom(...encodings), (content, pad, encoding) => {
        // At an offset, odd or even, as in a frame.
        const buf = Buffer.concat([Buffer.alloc(pad, 0xd8), Buffer.from(content), Buffer.alloc(2, 0xdc)]);
        const [start, end] = [pad, pad + content.length];
        const d = decodeString(buf.subarray(start, end), encoding);
        const plain = plainText(buf, start, end, encoding);
        const clean = d.encoding === encoding && !d.warning && !d.note;
        if (plain) {
          assert.ok(clean, `${encoding} ${buf.subarray(start, end).toString('hex')}: ${d.warning ?? d.note ?? d.encoding}`);
          assert.equal(new LazyText(buf, start, end, encoding).value(), d.value);
        }
        if (encoding === 'utf16le' || encoding === 'utf8' || encoding === 'hex') assert.equal(plain, clean);
      }),
      { numRuns: 3000 },
    );
  });

  it('long UTF-16LE: surrogates found past the quick search, paired or not; letters whose low byte looks like one pass', () => {
    const long = (s: string) => Buffer.from(s, 'utf16le');
    const at = (b: Buffer, pad: number) => [Buffer.concat([Buffer.alloc(pad), b]), pad, pad + b.length] as const;
    for (const pad of [0, 1]) {
      assert.ok(plainText(...at(long('Ы'.repeat(1000)), pad), 'utf16le'));
      assert.ok(plainText(...at(long('Ü'.repeat(500) + 'ßØ'), pad), 'utf16le'), 'U+00DC… have 0xDC as their low byte');
      assert.ok(plainText(...at(long('a'.repeat(400) + '😀' + 'b'.repeat(10) + '𝄞'), pad), 'utf16le'));
      assert.ok(!plainText(...at(long('a'.repeat(400) + '\ud83d'), pad), 'utf16le'), 'a high surrogate at the end');
      assert.ok(!plainText(...at(long('a'.repeat(400) + '\ude00b'), pad), 'utf16le'), 'a low surrogate alone');
      assert.ok(!plainText(...at(long('😀'.repeat(200) + '\ud83d\ud83d\ude00'), pad), 'utf16le'), 'a high one before a pair');
      assert.ok(!plainText(...at(long('😀\ude00' + 'a'.repeat(300)), pad), 'utf16le'), 'a low one after a pair');
      assert.ok(!plainText(...at(long('a'.repeat(300)).subarray(1), pad), 'utf16le'), 'odd length');
    }
  });
});

describe('a lazy decode is the full decode', () => {
  it('generated frames of every packet type, direction and version, valid or damaged (mutations, text bytes that warn)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...MINORS).chain((minor) => anyPacketArbitrary(PACKETS, minor).map((p) => ({ p, minor }))),
        fc.option(mutationsArb, { freq: 2 }),
        trickyArb,
        fc.boolean(),
        ({ p, minor }, mutations, tricky, sessionMinor) => {
          let frame = encodePacket(p.def.code, p.fields, { proto: `1.${minor}`, seq: 9, dir: p.dir });
          if (mutations) frame = mutate({ name: p.def.name, bytes: frame, units: [], lengths: [16], times: [] }, mutations);
          frame = overwrite(frame, tricky);
          for (const dir of ['c2s', 's2c'] as const) sameDecode(frame, dir, sessionMinor ? minor : undefined);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('any payload for any packet type', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PACKETS), fc.constantFrom(...MINORS), dirArb, fc.uint8Array({ maxLength: 160 }), trickyArb, (def, minor, dir, payload, tricky) => {
        const frame = overwrite(Buffer.concat([encodePacket(def.code, {}, { proto: `1.${minor}`, seq: 5 }).subarray(0, 44), Buffer.from(payload)]), tricky);
        frame.writeUInt32LE(payload.length, 16);
        sameDecode(frame, dir);
      }),
      { numRuns: 3000 },
    );
  });

  const message = (text: string, flags = 0, proto = '1.21') => encodePacket('MESSAGE', { flags, to: 'b@mail.ru', text, rtf: ' ' }, { proto, seq: 3 });
  /** A MESSAGE whose text bytes are given. */
  const withText = (bytes: Buffer, proto = '1.21', flags = 0) => {
    const frame = message('', flags, proto);
    const at = 44 + 4 + 4 + 'b@mail.ru'.length;
    const out = Buffer.concat([frame.subarray(0, at), Buffer.alloc(4), bytes, frame.subarray(at + 4)]);
    out.writeUInt32LE(bytes.length, at);
    out.writeUInt32LE(out.length - 44, 16);
    return out;
  };

  for (const [name, frame] of [
    ['a chatty UTF-16 message', message('Сообщение: как дела, что нового? '.repeat(3))],
    ['a 64 KiB UTF-16 message', message('Ы'.repeat(32_700))],
    ['a long message with emoji', message('привет 😀 '.repeat(200))],
    ['a lone high surrogate', message('a\ud800b')],
    ['a lone low surrogate, long', message('ы'.repeat(300) + '\udc00')],
    ['odd-length UTF-16 (read as CP1251)', withText(Buffer.from('abc'))],
    ['CP1251 with 0x98', withText(Buffer.from([0xcf, 0x98, 0xf0]), '1.8')],
    ['CP1251 text', withText(Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]), '1.8')],
    ['UTF-8 where CP1251 is expected (pidgin-mra)', withText(Buffer.from('Привет → ✓', 'utf8'), '1.8')],
    ['valid UTF-8 that stays CP1251', withText(Buffer.from('ЕЁ', 'utf8'), '1.8')],
    ['a truncated frame', message('Ы'.repeat(100)).subarray(0, 120)],
    ['a text LPS past the end', withText(Buffer.from('Ы'.repeat(10), 'utf16le')).subarray(0, 80)],
    ['a header only', message('x').subarray(0, 44)],
    ['less than a header', message('x').subarray(0, 20)],
    ['RTF to unpack (derive reads a lazy text)', encodePacket('MESSAGE', { flags: 0x80, to: 'b@mail.ru', text: 'hi', rtf: 'not base64 zlib' }, { proto: '1.21', seq: 3 })],
  ] as const) {
    it(name, () => {
      for (const dir of ['c2s', 's2c'] as const) sameDecode(frame, dir);
    });
  }

  it('leaves plain text as bytes until read (the 64 KiB message), and decodes a warning text at once', () => {
    const lazy = decodeFrame(message('Ы'.repeat(32_700)), { dir: 'c2s', strings: 'lazy' });
    assert.ok(types.isProxy(lazy.fields));
    assert.equal(lazy.fields.text, 'Ы'.repeat(32_700));
    const warned = decodeFrame(message('a\ud800b'), { dir: 'c2s', strings: 'lazy' });
    assert.deepEqual(warned.warnings, ['invalid string bytes in "text": unpaired UTF-16 surrogate']);
  });

  it('a frame without any lazy text has plain fields', () => {
    const d = decodeFrame(encodePacket('MESSAGE_STATUS', { status: 0 }, { proto: '1.21', seq: 3, dir: 's2c' }), { dir: 's2c', strings: 'lazy' });
    assert.ok(!types.isProxy(d.fields));
  });
});

describe('a SessionDecoder with lazy strings gives the same events', () => {
  /** The events (compared whole, lazy fields read through their proxies), and what the session learnt. */
  function events(streams: Record<Direction, Buffer[]>, order: boolean[], strings?: 'lazy'): { events: SessionEvent[]; unanswered: unknown; login?: string } {
    const s = new SessionDecoder({ strings, chunksAreReads: true });
    const out: SessionEvent[] = [];
    const next = { c2s: 0, s2c: 0 };
    let i = 0;
    while (next.c2s < streams.c2s.length || next.s2c < streams.s2c.length) {
      const dir: Direction = next.s2c >= streams.s2c.length || (next.c2s < streams.c2s.length && order[i++ % Math.max(1, order.length)]) ? 'c2s' : 's2c';
      out.push(...s.push(dir, streams[dir][next[dir]++], 1_700_000_000_000 + i));
    }
    out.push(...s.end('c2s'), ...s.end('s2c'));
    return { events: out, unanswered: s.unanswered(), login: s.login };
  }

  it('over the real captures and the synthetic session, damaged or not, in any chunking and interleaving', () => {
    const seeds = sessionSeeds();
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.option(mutationsArb),
        fc.option(mutationsArb),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.array(fc.boolean(), { maxLength: 30 }),
        (seed, mc, ms, cutsC, cutsS, order) => {
          const streams = {
            c2s: split(mc ? mutate(seed.c2s, mc) : seed.c2s.bytes, cutsC),
            s2c: split(ms ? mutate(seed.s2c, ms) : seed.s2c.bytes, cutsS),
          };
          assert.deepEqual(events(streams, order, 'lazy'), events(streams, order));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('over random streams of frames of every packet type', () => {
    const streamArb = fc
      .constantFrom(...MINORS)
      .chain((minor) => fc.array(fc.tuple(anyPacketArbitrary(PACKETS, minor), fc.nat({ max: 0xffff }), trickyArb), { minLength: 1, maxLength: 12 }).map((ps) => ({ minor, ps })));
    fc.assert(
      fc.property(streamArb, fc.array(fc.boolean(), { maxLength: 30 }), ({ minor, ps }, order) => {
        const streams: Record<Direction, Buffer[]> = { c2s: [], s2c: [] };
        for (const [p, seq, tricky] of ps) streams[p.dir].push(overwrite(encodePacket(p.def.code, p.fields, { proto: `1.${minor}`, seq, dir: p.dir }), tricky));
        assert.deepEqual(events(streams, order, 'lazy'), events(streams, order));
      }),
      { numRuns: 500, endOnFailure: true }, // shrinking these chained arrays throws inside fast-check
    );
  });

  it('learns the login and matches replies by field from lazily decoded frames', () => {
    const dir = new URL('../fixtures/vectors/', import.meta.url);
    const s = new SessionDecoder({ strings: 'lazy' });
    const frames = [...s.push('c2s', readFileSync(new URL('pidgin-mra-1.8.conn1.c2s.bin', dir))), ...s.push('s2c', readFileSync(new URL('pidgin-mra-1.8.conn1.s2c.bin', dir)))];
    assert.equal(s.login, 'alice@mail.ru');
    assert.ok(frames.some((ev) => ev.kind === 'frame' && ev.replyTo));
  });
});

// Properties of the framer and the decoder over generated input (fast-check, bounded runs): chunking
// never changes what comes out, arbitrary bytes never throw or hang and every byte is accounted for,
// a huge announced length is skipped in constant memory, and every frame that decodes cleanly
// re-encodes to its own bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeFrame, encodePacket, reencode } from '../../src/protocol/codec.js';
import type { Direction } from '../../src/protocol/fields.js';
import { Framer, type FramerEvent } from '../../src/protocol/framer.js';
import { PACKETS } from '../../src/protocol/packets/index.js';
import { SessionDecoder } from '../../src/protocol/session.js';
import { split } from '../helpers/chunks.js';
import { anyPacketArbitrary } from '../helpers/packet-arbitrary.js';

const MINORS = [8, 14, 16, 21, 23];
const dirArb = fc.constantFrom<Direction>('c2s', 's2c');

/** A stream of valid frames of random packet types, fields and versions. */
const framesArb = fc
  .constantFrom(...MINORS)
  .chain((minor) => fc.array(fc.tuple(anyPacketArbitrary(PACKETS, minor), fc.nat({ max: 0xffff })), { minLength: 1, maxLength: 8 }).map((ps) => ({ minor, ps })))
  .map(({ minor, ps }) => ps.map(([p, seq]) => encodePacket(p.def.code, p.fields, { proto: `1.${minor}`, seq, dir: p.dir })));

interface Run {
  events: FramerEvent[];
  framer: Framer;
}

function push(framer: Framer, chunks: Buffer[], finish: boolean): Run {
  const events: FramerEvent[] = [];
  for (const chunk of chunks) events.push(...framer.push(chunk));
  if (finish) events.push(...framer.finish());
  return { events, framer };
}

/** Events as data; consecutive TLS/compressed pieces (one per chunk by design) joined into one. */
function normalise(events: FramerEvent[]): unknown[] {
  const out: Record<string, unknown>[] = [];
  for (const ev of events) {
    const last = out[out.length - 1];
    if ((ev.kind === 'tls' || ev.kind === 'compressed') && last?.kind === ev.kind) {
      last.bytes = String(last.bytes) + ev.bytes.toString('hex');
      continue;
    }
    const { frame, bytes, ...rest } = ev as FramerEvent & { frame?: Buffer; bytes?: Buffer };
    out.push({ ...rest, ...(frame ? { frame: frame.toString('hex') } : {}), ...(bytes ? { bytes: bytes.toString('hex') } : {}) });
  }
  return out;
}

/** Every byte pushed is in an event, skipped as an oversize payload, or still pending. */
function accounted({ events, framer }: Run): number {
  const inEvents = events.reduce((n, ev) => n + ('frame' in ev ? ev.frame.length : ev.bytes.length) + ('skipped' in ev ? (ev.skipped ?? 0) : 0), 0);
  return inEvents + framer.pending - framer.skipping;
}

/** Random bytes, often with pieces that look like the start of a frame. */
const noiseArb = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc
    .tuple(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.nat({ max: 0xffffffff }))
    .map(([a, b, dlen]) => {
      const fake = Buffer.alloc(44);
      fake.writeUInt32LE(0xdeadbeef, 0);
      fake.writeUInt32LE(dlen % 3 === 0 ? dlen : dlen % 64, 16);
      return Buffer.concat([Buffer.from(a), fake.subarray(0, 8 + (b.length % 37)), Buffer.from(b)]);
    }),
  fc.constant(Buffer.from('16030100', 'hex')),
  fc.constant(Buffer.from('127.0.0.1:2041\n')),
  fc.constant(Buffer.from('050100', 'hex')),
);

describe('framer properties', () => {
  it('any chunking of a valid multi-frame stream yields the same frames and events', () => {
    fc.assert(
      fc.property(framesArb, fc.array(fc.nat(), { maxLength: 30 }), fc.boolean(), dirArb, (frames, cuts, oneByte, dir) => {
        const stream = Buffer.concat(frames);
        const whole = push(new Framer({ dir }), [stream], true);
        assert.deepEqual(whole.events.map((e) => e.kind === 'frame' && e.frame.toString('hex')), frames.map((f) => f.toString('hex')));
        const chunks = oneByte ? split(stream, [...stream.keys()]) : split(stream, cuts);
        const pieces = push(new Framer({ dir }), chunks, true);
        assert.deepEqual(normalise(pieces.events), normalise(whole.events));
      }),
      { numRuns: 150 },
    );
  });

  it('random bytes spliced between valid frames: same events for any chunking, never a throw, every byte accounted for', () => {
    fc.assert(
      fc.property(
        framesArb,
        fc.array(noiseArb, { maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        dirArb,
        fc.integer({ min: 64, max: 4096 }),
        (frames, noise, cuts, dir, maxFrameSize) => {
          const parts: Buffer[] = [];
          frames.forEach((f, i) => parts.push(noise[i] ?? Buffer.alloc(0), f));
          parts.push(...noise.slice(frames.length));
          const stream = Buffer.concat(parts);
          const started = Date.now();
          const chunks = split(stream, cuts);
          const open = push(new Framer({ dir, maxFrameSize }), chunks, false);
          assert.equal(accounted(open), stream.length, 'before finish()');
          const ended = push(new Framer({ dir, maxFrameSize }), chunks, true);
          assert.equal(accounted(ended), stream.length, 'after finish()');
          assert.equal(ended.framer.pending, 0);
          const whole = push(new Framer({ dir, maxFrameSize }), [stream], true);
          assert.deepEqual(normalise(ended.events), normalise(whole.events));
          for (const ev of ended.events) if (ev.kind === 'frame') decodeFrame(ev.frame, { dir });
          assert.ok(Date.now() - started < 2000, 'no hang');
        },
      ),
      { numRuns: 200 },
    );
  });

  it('pure random bytes through SessionDecoder (both directions): never a throw, offsets contiguous', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(dirArb, fc.uint8Array({ maxLength: 300 })), { maxLength: 10 }), (pieces) => {
        const s = new SessionDecoder({ maxFrameSize: 2048 });
        const next = { c2s: 0, s2c: 0 };
        const events = [...pieces.flatMap(([dir, b]) => s.push(dir, Buffer.from(b))), ...s.end('c2s'), ...s.end('s2c')];
        for (const ev of events) {
          assert.equal(ev.offset, next[ev.dir], `${ev.dir} offset`);
          next[ev.dir] += (ev.kind === 'frame' ? ev.raw.length : ev.bytes.length) + (ev.kind === 'garbage' ? (ev.skipped ?? 0) : 0);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('a 100 MB dlen with a 1 MiB limit, streamed in 64 KiB chunks: memory stays bounded, the next frame decodes', () => {
    const framer = new Framer({ dir: 's2c', maxFrameSize: 1024 * 1024 });
    const dlen = 100 * 1024 * 1024;
    const header = encodePacket('MESSAGE_ACK', {}, { proto: '1.21', seq: 1 }).subarray(0, 44);
    header.writeUInt32LE(dlen, 16);
    const next = encodePacket('MAILBOX_STATUS', { unread: 42 }, { proto: '1.21', seq: 2 });
    const chunk = Buffer.alloc(64 * 1024, 0x5a);
    const events: FramerEvent[] = [...framer.push(header)];
    let maxPending = framer.pending;
    for (let sent = 0; sent < dlen; sent += chunk.length) {
      events.push(...framer.push(chunk.subarray(0, Math.min(chunk.length, dlen - sent))));
      maxPending = Math.max(maxPending, framer.pending);
    }
    events.push(...framer.push(next));
    assert.ok(maxPending <= 64 * 1024, `pending peaked at ${maxPending} bytes`);
    assert.deepEqual(events.map((e) => e.kind), ['garbage', 'frame']);
    assert.equal((events[0] as { skipped: number }).skipped, dlen);
    assert.equal(events[1].offset, 44 + dlen);
    assert.deepEqual(decodeFrame((events[1] as { frame: Buffer }).frame, { dir: 's2c' }).fields, { unread: 42 });
  });
});

describe('decoder properties', () => {
  const defArb = fc.constantFrom(...PACKETS);

  it('any payload for any packet type: decode never throws, and a frame decoded without warnings re-encodes to itself', () => {
    fc.assert(
      fc.property(defArb, fc.constantFrom(...[6, 8, 14, 15, 16, 20, 21, 22, 23]), dirArb, fc.uint8Array({ maxLength: 120 }), (def, minor, dir, payload) => {
        const frame = Buffer.concat([encodePacket(def.code, {}, { proto: `1.${minor}`, seq: 5 }).subarray(0, 44), Buffer.from(payload)]);
        frame.writeUInt32LE(payload.length, 16);
        const d = decodeFrame(frame, { dir });
        const clean = d.warnings.every((w) => /trailing bytes ignored$|is a (client|server) packet|invalid string bytes/.test(w));
        if (clean) assert.equal(reencode(d).toString('hex'), frame.toString('hex'), `${def.name} 1.${minor}: ${d.warnings.join('; ')}`);
        else reencode(d);
      }),
      { numRuns: 3000 },
    );
  });

  it('a frame cut anywhere, or with any dlen, still decodes without throwing', () => {
    fc.assert(
      fc.property(framesArb, fc.nat(), fc.nat({ max: 0xffffffff }), dirArb, (frames, cut, dlen, dir) => {
        const frame = frames[0];
        decodeFrame(frame.subarray(0, cut % (frame.length + 1)), { dir });
        const lying = Buffer.from(frame);
        lying.writeUInt32LE(dlen % 3 === 0 ? dlen : dlen % (frame.length * 2), 16);
        decodeFrame(lying, { dir });
      }),
      { numRuns: 300 },
    );
  });
});

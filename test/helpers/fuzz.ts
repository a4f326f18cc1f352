/**
 * Fuzz targets: fast-check properties over the parts that read untrusted bytes — the session decoder
 * (Framer and every packet decoder behind it), each packet decoder alone, the capture reader and the
 * pcap/pcapng reader. Inputs are real seeds (the shared vectors, the demo capture) mutated the ways
 * damage happens: bit flips, bytes set, inserted, cut, truncation, length fields set to 0, 2^32−1 or
 * past the end, whole frames/records/lines duplicated, dropped or swapped, timestamps going backwards,
 * JSON values of the wrong type. Each property says: no throw out of the public API (other than the
 * documented "not a capture" error), bounded memory, every byte accounted for, and damage reported
 * rather than silently decoded. The suite runs a short slice of each; `npm run fuzz` runs them long.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { CaptureFileError } from '../../src/capture/format.js';
import { readCapture } from '../../src/capture/jsonl.js';
import { openCapture } from '../../src/capture/open.js';
import { CaptureFormatError, parseCapture } from '../../src/capture/pcap/index.js';
import { decodePcap } from '../../src/capture/pcap-decode.js';
import { decodeFrame, encodePacket, reencode, type DecodedFrame } from '../../src/protocol/codec.js';
import type { Direction } from '../../src/protocol/fields.js';
import { MAGIC_BYTES } from '../../src/protocol/header.js';
import { PACKETS } from '../../src/protocol/packets/index.js';
import { SessionDecoder, type SessionEvent } from '../../src/protocol/session.js';
import { renderTapEvent } from '../../src/render/text.js';
import { captureLine } from '../../src/tap/capture-line.js';
import { tapEventToJson } from '../../src/tap/line.js';
import { split } from './chunks.js';
import { ROOT } from './cli.js';
import { anyPacketArbitrary } from './packet-arbitrary.js';

export interface FuzzTarget {
  name: string;
  /** What one execution checks, for `npm run fuzz`'s listing. */
  checks: string;
  property(): fc.IRawProperty<any, boolean>;
}

// ---------------------------------------------------------------------------------------------------
// Seeds and mutations

/** A seed input and where its structure is: units to duplicate/drop/swap, 32-bit length and time fields. */
interface Seed {
  name: string;
  bytes: Buffer;
  /** [start, end) of each frame, record or line. */
  units: Array<[number, number]>;
  /** Offsets of little-endian 32-bit length fields. */
  lengths: number[];
  /** Offsets of timestamps: little-endian 32-bit seconds, or (text) the first digit of an ISO year. */
  times: number[];
  text?: boolean;
}

type Mutation =
  | { kind: 'length'; field: number; to: 'zero' | 'max' | 'past'; delta: number }
  | { kind: 'backdate'; field: number; by: number }
  | { kind: 'duplicate' | 'drop'; unit: number }
  | { kind: 'swap'; unit: number; other: number }
  | { kind: 'retype'; unit: number; key: number; value: unknown }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'cut'; at: number; n: number }
  | { kind: 'truncate'; at: number };

const WRONG_JSON = [null, 0, -1, 2 ** 53, 1.5, '', 'zz', 'ffff', '2024-13-45T99:99:99Z', [], {}, true, { c2s: 'x' }, [1, 'a']];

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('length' as const), field: fc.nat(), to: fc.constantFrom('zero' as const, 'max' as const, 'past' as const), delta: fc.integer({ min: 1, max: 100 }) }),
  fc.record({ kind: fc.constant('backdate' as const), field: fc.nat(), by: fc.integer({ min: 1, max: 100_000 }) }),
  fc.record({ kind: fc.constantFrom('duplicate' as const, 'drop' as const), unit: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), unit: fc.nat(), other: fc.nat() }),
  fc.record({ kind: fc.constant('retype' as const), unit: fc.nat(), key: fc.nat(), value: fc.constantFrom(...WRONG_JSON) }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x01, 0x0a, 0x7b, 0x22) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 200 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);
export const mutationsArb = fc.array(mutationArb, { minLength: 1, maxLength: 6 });

/** Applies field writes first (they keep offsets), then unit edits, then byte edits. */
export function mutate(seed: Seed, mutations: Mutation[]): Buffer {
  const b = Buffer.from(seed.bytes);
  for (const m of mutations) {
    if (m.kind === 'length' && seed.lengths.length) {
      const at = seed.lengths[m.field % seed.lengths.length];
      b.writeUInt32LE(m.to === 'zero' ? 0 : m.to === 'max' ? 0xffffffff : Math.min(0xffffffff, b.length - at + m.delta), at);
    } else if (m.kind === 'backdate' && seed.times.length) {
      const at = seed.times[m.field % seed.times.length];
      if (seed.text) b.write(String(1970 + (m.by % 50)), at, 'latin1');
      else b.writeUInt32LE(Math.max(0, b.readUInt32LE(at) - m.by), at);
    }
  }
  let order = seed.units.map((_, i) => i);
  const retyped = new Map<number, Buffer>();
  for (const m of mutations) {
    if (!seed.units.length || !order.length) break;
    if (m.kind === 'duplicate') order.splice(m.unit % order.length, 0, order[m.unit % order.length]);
    else if (m.kind === 'drop') order.splice(m.unit % order.length, 1);
    else if (m.kind === 'swap') {
      const i = m.unit % order.length;
      const j = m.other % order.length;
      [order[i], order[j]] = [order[j], order[i]];
    } else if (m.kind === 'retype' && seed.text) {
      const unit = order[m.unit % order.length];
      const [start, end] = seed.units[unit];
      try {
        const record = JSON.parse(b.subarray(start, end).toString('utf8')) as Record<string, unknown>;
        const keys = Object.keys(record);
        if (keys.length) record[keys[m.key % keys.length]] = m.value;
        retyped.set(unit, Buffer.from(JSON.stringify(record)));
      } catch {
        // Damaged already by a byte edit: leave it.
      }
    }
  }
  let out = b;
  if (seed.units.length) {
    const first = seed.units[0][0];
    const last = seed.units.at(-1)![1];
    out = Buffer.concat([b.subarray(0, first), ...order.map((u) => retyped.get(u) ?? b.subarray(...seed.units[u])), b.subarray(last)]);
  }
  for (const m of mutations) {
    const at = 'at' in m ? m.at % (out.length + 1) : 0;
    if (m.kind === 'flip' && at < out.length) out[at] ^= 1 << m.bit;
    else if (m.kind === 'byte' && at < out.length) out[at] = m.value;
    else if (m.kind === 'insert') out = Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes), out.subarray(at)]);
    else if (m.kind === 'cut') out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.n)]);
    else if (m.kind === 'truncate') out = out.subarray(0, at);
  }
  return out;
}

const VECTORS = join(ROOT, 'test', 'fixtures', 'vectors');

/** An MRIM stream: its frames are the units, their dlen the length fields. */
function streamSeed(name: string, bytes: Buffer): Seed {
  const units: Array<[number, number]> = [];
  for (let at = bytes.indexOf(MAGIC_BYTES); at !== -1 && at + 44 <= bytes.length; at = bytes.indexOf(MAGIC_BYTES, at + 44)) {
    units.push([at, Math.min(bytes.length, at + 44 + bytes.readUInt32LE(at + 16))]);
  }
  return { name, bytes, units, lengths: units.map(([s]) => s + 16), times: [] };
}

/** Both directions of each recorded connection, and a synthetic stream of frames of many types. */
export function sessionSeeds(): Array<{ c2s: Seed; s2c: Seed }> {
  const names = [...new Set(readdirSync(VECTORS).filter((f) => f.endsWith('.c2s.bin')).map((f) => f.slice(0, -'.c2s.bin'.length)))].sort();
  const seeds = names.map((n) => ({
    c2s: streamSeed(`${n}.c2s`, readFileSync(join(VECTORS, `${n}.c2s.bin`))),
    s2c: streamSeed(`${n}.s2c`, readFileSync(join(VECTORS, `${n}.s2c.bin`))),
  }));
  const hello = encodePacket('HELLO', {}, { proto: '1.21', seq: 1 });
  const login = encodePacket('LOGIN3', { login: 'a@mail.ru', password: 'pw', features: 0, userAgent: '', lang: 'ru', uaDataNames: [], description: '' }, { proto: '1.21', seq: 2, enc: { password: 'cp1251' } });
  const message = encodePacket('MESSAGE', { flags: 0, to: 'b@mail.ru', text: 'Привет ✓', rtf: ' ' }, { proto: '1.21', seq: 3 });
  const acks = [
    encodePacket('HELLO_ACK', { pingPeriod: 30 }, { proto: '1.21', seq: 1, dir: 's2c' }),
    encodePacket('LOGIN_ACK', {}, { proto: '1.21', seq: 2, dir: 's2c' }),
    encodePacket('MESSAGE_STATUS', { status: 0 }, { proto: '1.21', seq: 3, dir: 's2c' }),
  ];
  seeds.push({ c2s: streamSeed('synthetic.c2s', Buffer.concat([hello, login, message])), s2c: streamSeed('synthetic.s2c', Buffer.concat(acks)) });
  return seeds;
}

/** A pcap: records are the units, incl_len/orig_len the lengths, ts_sec the times. */
function pcapSeed(name: string, bytes: Buffer): Seed {
  const units: Array<[number, number]> = [];
  for (let at = 24; at + 16 <= bytes.length; ) {
    const end = at + 16 + bytes.readUInt32LE(at + 8);
    if (end > bytes.length || end === at + 16) break;
    units.push([at, end]);
    at = end;
  }
  return { name, bytes, units, lengths: units.flatMap(([s]) => [s + 8, s + 12]), times: units.map(([s]) => s) };
}

/** A pcapng: blocks are the units, their total lengths (and EPB captured lengths) the lengths, EPB timestamps the times. */
function pcapngSeed(name: string, bytes: Buffer): Seed {
  const units: Array<[number, number]> = [];
  const lengths: number[] = [];
  const times: number[] = [];
  for (let at = 0; at + 12 <= bytes.length; ) {
    const len = bytes.readUInt32LE(at + 4);
    if (len < 12 || at + len > bytes.length) break;
    // The section header and interface description stay first: units are the packet blocks after them.
    if (at > 0 && bytes.readUInt32LE(at) !== 1) units.push([at, at + len]);
    lengths.push(at + 4, at + len - 4);
    if (bytes.readUInt32LE(at) === 6) {
      lengths.push(at + 20);
      times.push(at + 16);
    }
    at += len;
  }
  return { name, bytes, units, lengths, times };
}

function pcapSeeds(): Seed[] {
  const pcaps = readdirSync(VECTORS).filter((f) => f.endsWith('.pcap')).sort();
  return [
    ...pcaps.map((f) => pcapSeed(f, readFileSync(join(VECTORS, f)))),
    pcapngSeed('mrim-prpl-1.22-messages.pcapng', readFileSync(join(ROOT, 'test', 'fixtures', 'fuzz', 'mrim-prpl-1.22-messages.pcapng'))),
  ];
}

/** A mrimtap capture: lines after the header are the units, their `"time"` years the times. */
function captureSeed(name: string, bytes: Buffer): Seed {
  const units: Array<[number, number]> = [];
  const times: number[] = [];
  let at = bytes.indexOf(0x0a) + 1;
  while (at < bytes.length) {
    const nl = bytes.indexOf(0x0a, at);
    const end = nl === -1 ? bytes.length : nl;
    units.push([at, end]);
    const t = bytes.indexOf('"time":"', at);
    if (t !== -1 && t < end) times.push(t + 8);
    at = end + 1;
  }
  return { name, bytes, units, lengths: [], times, text: true };
}

// ---------------------------------------------------------------------------------------------------
// Checks shared by the targets

const cuts = fc.array(fc.nat(), { maxLength: 12 });

const eventBytes = (ev: SessionEvent) => (ev.kind === 'frame' ? ev.raw.length : ev.bytes.length) + (ev.kind === 'garbage' ? (ev.skipped ?? 0) : 0);

/** A frame decoded without a warning must be exactly its bytes again: damage never decodes silently. */
function checkFrame(d: DecodedFrame, raw: Buffer): void {
  const again = reencode(d);
  if (d.warnings.length === 0) assert.equal(again.toString('hex'), raw.toString('hex'), `${d.type} decoded without a warning but does not re-encode to its bytes`);
}

// ---------------------------------------------------------------------------------------------------
// The targets

const session: FuzzTarget = {
  name: 'session',
  checks: 'SessionDecoder (Framer + every decoder) over mutated recorded sessions, randomly chunked and interleaved: no throw, every byte in exactly one event at the right offset, pending bytes bounded by the frame limit, a frame without warnings re-encodes to itself',
  property: () => {
    const seeds = sessionSeeds();
    return fc.property(
      fc.constantFrom(...seeds),
      mutationsArb,
      mutationsArb,
      cuts,
      cuts,
      fc.constantFrom(256, 4096, 1024 * 1024),
      fc.array(fc.boolean(), { maxLength: 30 }),
      (seed, mc, ms, cutsC, cutsS, maxFrameSize, order) => {
        const streams = { c2s: mutate(seed.c2s, mc), s2c: mutate(seed.s2c, ms) };
        const chunks = { c2s: split(streams.c2s, cutsC), s2c: split(streams.s2c, cutsS) };
        const s = new SessionDecoder({ maxFrameSize });
        const next = { c2s: 0, s2c: 0 };
        const bound = Math.max(44 + maxFrameSize, 64 * 1024);
        const take = (events: SessionEvent[]) => {
          for (const ev of events) {
            assert.equal(ev.offset, next[ev.dir], `${ev.dir}: event at ${ev.offset}, expected ${next[ev.dir]}`);
            next[ev.dir] += eventBytes(ev);
            if (ev.kind === 'garbage') assert.ok(ev.reason.length > 0);
            if (ev.kind === 'frame') checkFrame(ev.frame, ev.raw);
          }
          for (const dir of ['c2s', 's2c'] as const) assert.ok(s.framers[dir].pending <= bound, `${dir}: ${s.framers[dir].pending} bytes pending`);
        };
        let i = 0;
        while (chunks.c2s.length || chunks.s2c.length) {
          const dir: Direction = !chunks.s2c.length || (chunks.c2s.length && order[i++ % Math.max(1, order.length)]) ? 'c2s' : 's2c';
          take(s.push(dir, chunks[dir].shift()!, 1_700_000_000_000 + i));
        }
        take(s.end('c2s'));
        take(s.end('s2c'));
        // An oversize frame's announced payload counts as skipped even where the stream ended first.
        const seen = { c2s: next.c2s - s.framers.c2s.skipping, s2c: next.s2c - s.framers.s2c.skipping };
        assert.deepEqual(seen, { c2s: streams.c2s.length, s2c: streams.s2c.length }, 'every byte accounted for');
      },
    );
  },
};

const MINORS = [8, 14, 16, 21, 23];
const decoders: FuzzTarget = {
  name: 'decoders',
  checks: 'every packet type of the table: a valid frame (generated from its layout) mutated — bits, bytes, cuts, dlen 0/2^32−1/past the end — decodes and re-encodes without throwing; without warnings, it is its own bytes',
  property: () =>
    fc.property(
      fc.constantFrom(...MINORS).chain((minor) => anyPacketArbitrary(PACKETS, minor).map((p) => ({ p, minor }))),
      mutationsArb,
      fc.nat({ max: 0xffff }),
      ({ p, minor }, mutations, seq) => {
        const frame = encodePacket(p.def.code, p.fields, { proto: `1.${minor}`, seq, dir: p.dir });
        const mutated = mutate({ name: p.def.name, bytes: frame, units: [], lengths: [16], times: [] }, mutations);
        for (const dir of ['c2s', 's2c'] as const) checkFrame(decodeFrame(mutated, { dir, minor }), mutated);
      },
    ),
};

const captureReader: FuzzTarget = {
  name: 'capture-reader',
  checks: 'mrimtap captures (the demo capture) mutated by line — dropped, duplicated, swapped, times going backwards, values of the wrong type — and by byte: openCapture/readCapture throw only CaptureFileError, only for a damaged header; every line after it is one event or one reported problem; every event renders and serializes',
  property: () => {
    const seed = captureSeed('demo.jsonl', readFileSync(join(ROOT, 'captures', 'demo.jsonl')));
    const headerEnd = seed.bytes.indexOf(0x0a);
    const header = seed.bytes.subarray(0, headerEnd);
    const dir = mkdtempSync(join(tmpdir(), 'mrimtap-fuzz-capture-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    let n = 0;
    return fc.asyncProperty(mutationsArb, async (mutations) => {
      const bytes = mutate(seed, mutations);
      const path = join(dir, `${n++ % 8}.jsonl`);
      writeFileSync(path, bytes);
      const headerIntact = bytes.subarray(0, headerEnd).equals(header) && bytes[headerEnd] === 0x0a;
      try {
        let lines = 0;
        const opened = await openCapture(path);
        for await (const entry of opened.entries) {
          lines++;
          if (entry.kind === 'problem') assert.match(entry.message, /^line \d+: /);
          else {
            renderTapEvent(entry.event);
            tapEventToJson(entry.event);
            // Written again, it is one valid line.
            JSON.parse(captureLine(entry.event, false));
          }
        }
        const text = bytes.toString('utf8');
        const expected = text.split('\n').slice(1).filter((l) => l.trim() !== '').length;
        assert.equal(lines, expected, 'one event or problem per line');
        // The same through readCapture: it counts lines the same way.
        let items = 0;
        for await (const item of readCapture(path)) if (item.kind !== 'header') items++;
        assert.equal(items, expected);
      } catch (e) {
        if (!(e instanceof CaptureFileError)) throw e;
        assert.ok(!headerIntact, `CaptureFileError with an intact header: ${(e as Error).message}`);
      }
    });
  },
};

const pcap: FuzzTarget = {
  name: 'pcap',
  checks: 'the pcap and pcapng vectors mutated — record/block lengths 0/2^32−1/past the end, records dropped, duplicated, swapped, timestamps going backwards, bits and bytes — parse without throwing (CaptureFormatError only for a damaged file header), hold no more bytes than the file, and decode to events that render',
  property: () => {
    const seeds = pcapSeeds();
    return fc.property(fc.constantFrom(...seeds), mutationsArb, (seed, mutations) => {
      const bytes = mutate(seed, mutations);
      let capture;
      try {
        capture = parseCapture(bytes);
      } catch (e) {
        if (!(e instanceof CaptureFormatError)) throw e;
        const headerSize = seed.units[0]?.[0] ?? 24;
        assert.ok(!bytes.subarray(0, headerSize).equals(seed.bytes.subarray(0, headerSize)), `CaptureFormatError with an intact file header: ${(e as Error).message}`);
        return;
      }
      const held = capture.connections.reduce((n, c) => n + c.chunks.reduce((m, ch) => m + ch.data.length, 0), 0);
      assert.ok(held <= bytes.length, `${held} bytes reassembled from a ${bytes.length}-byte file`);
      decodePcap(capture, (ev) => void renderTapEvent(ev), { maxFrameSize: 64 * 1024 });
    });
  },
};

export const FUZZ_TARGETS: readonly FuzzTarget[] = [session, decoders, captureReader, pcap];

export function fuzzTarget(name: string): FuzzTarget {
  const t = FUZZ_TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target "${name}" (${FUZZ_TARGETS.map((x) => x.name).join(', ')})`);
  return t;
}

/** The suite's slice: a fixed seed, a few hundred inputs per target. */
export const SUITE_SEED = 13;


/**
 * Framer and decoder throughput (`npm run bench`; not part of `npm test`).
 *
 * 1. Framer throughput on a large synthetic stream of mixed frames, pushed in chunks of 1 byte … 1 MiB.
 * 2. The O(n) claim: time per byte with 16-byte vs 64 KiB chunks at two stream sizes. If pushing were
 *    not linear (re-concatenating pending bytes per chunk), the small-chunk cost per byte would grow
 *    with the stream and the ratio would change between the sizes; it stays a constant.
 * 3. A naive framer that Buffer.concat()s its pending bytes with every chunk, as the baseline.
 * 4. Decode throughput (decodeFrame per frame, and SessionDecoder end to end).
 *
 * Figures are medians of several runs (section 2: the fastest run, as its ratios divide small per-byte
 * costs that other processes on the machine disturb). `BENCH_SCALE=0.2 npm run bench` for a quick look.
 */
import { decodeFrame, encodePacket } from '../src/protocol/codec.js';
import { Framer } from '../src/protocol/framer.js';
import { SessionDecoder } from '../src/protocol/session.js';

const MB = 1024 * 1024;
const scale = Number(process.env.BENCH_SCALE ?? 1);
const size = (bytes: number) => Math.max(1 << 16, Math.round(bytes * scale));

// ---------------------------------------------------------------------------------------------------
// The stream: what a busy S→C session carries, with contact lists of every size.

function contactList(n: number, seq: number): Buffer {
  const contacts = Array.from({ length: n }, (_, i) => ({
    flags: 0x200, group: i % 5, email: `user${i}@mail.ru`, nick: `Контакт ${i}`, serverFlags: 0, status: 1, phones: '',
    statusUri: 'STATUS_ONLINE', statusTitle: 'В сети', statusDesc: '', features: 0x3ff, userAgent: 'client="magent" version="5.10"',
  }));
  const groups = Array.from({ length: 5 }, (_, i) => ({ flags: 0x202, name: `Группа ${i}` }));
  return encodePacket('CONTACT_LIST2', { status: 0, groups, contacts }, { proto: '1.19', seq });
}

const SMALL = [
  encodePacket('MESSAGE_ACK', { msgId: 1, flags: 0x100000, from: 'alice@mail.ru', text: 'Привет! Как дела? '.repeat(4), rtf: ' ' }, { proto: '1.21', seq: 1 }),
  encodePacket('USER_STATUS', { status: 4, statusUri: 'status_5', statusTitle: 'Дома', statusDesc: 'скоро буду', user: 'bob@mail.ru', features: 0xbff, userAgent: 'client="magent" version="5.10" build="5282"' }, { proto: '1.21', seq: 2 }),
  encodePacket('PING', {}, { proto: '1.21', seq: 3 }),
  encodePacket('MESSAGE_STATUS', { status: 0 }, { proto: '1.21', seq: 4 }),
  encodePacket('OFFLINE_MESSAGE_ACK', { uidl: '0102030405060708', message: 'From: a@mail.ru\nX-MRIM-Flags: 00100000\nContent-Type: text/plain; charset=UTF-16LE\nContent-Transfer-Encoding: base64\n\nHwRABDgEMgQ1BEIE' }, { proto: '1.21', seq: 5 }),
];
const MEDIUM = contactList(150, 6); // ~20 KB
const LARGE = contactList(6000, 7); // ~800 KB, under the 1 MiB limit

/** Mixed frames up to `bytes`: about half of the bytes in small frames, the rest in contact lists. */
function mixedStream(bytes: number): { stream: Buffer; frames: Buffer[] } {
  const frames: Buffer[] = [];
  let total = 0;
  for (let i = 0; total < bytes; i++) {
    const frame = i % 200 === 199 ? LARGE : i % 20 === 19 ? MEDIUM : SMALL[i % SMALL.length];
    frames.push(frame);
    total += frame.length;
  }
  return { stream: Buffer.concat(frames), frames };
}

// ---------------------------------------------------------------------------------------------------
// Measuring

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Wall times in ms of `runs` runs (after one warm-up run). */
function times(runs: number, fn: () => void): number[] {
  fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return out;
}

const time = (runs: number, fn: () => void) => median(times(runs, fn));
/** The run least disturbed by other processes, for ratios of small per-byte costs. */
const fastest = (runs: number, fn: () => void) => Math.min(...times(runs, fn));

function chunksOf(stream: Buffer, chunk: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i += chunk) out.push(stream.subarray(i, i + chunk));
  return out;
}

function runFramer(chunks: Buffer[], expectedFrames: number): void {
  const framer = new Framer({ dir: 's2c', detectPreamble: false });
  let frames = 0;
  for (const chunk of chunks) for (const ev of framer.push(chunk)) if (ev.kind === 'frame') frames++;
  if (frames !== expectedFrames || framer.pending !== 0) throw new Error(`framer: ${frames} of ${expectedFrames} frames`);
}

/** The baseline: pending bytes re-concatenated with every chunk, frames sliced off the front. */
class NaiveFramer {
  private pending = Buffer.alloc(0);

  *push(chunk: Buffer): Generator<Buffer> {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 44) {
      const total = 44 + this.pending.readUInt32LE(16);
      if (this.pending.length < total) return;
      yield this.pending.subarray(0, total);
      this.pending = this.pending.subarray(total);
    }
  }
}

function runNaive(chunks: Buffer[], expectedFrames: number): void {
  const naive = new NaiveFramer();
  let frames = 0;
  for (const chunk of chunks) for (const _ of naive.push(chunk)) frames++;
  if (frames !== expectedFrames) throw new Error(`naive: ${frames} of ${expectedFrames} frames`);
}

const fmt = (n: number, digits = 1) => n.toFixed(digits).padStart(9);
const mbps = (bytes: number, ms: number) => bytes / MB / (ms / 1000);
const nsPerByte = (bytes: number, ms: number) => (ms * 1e6) / bytes;
const label = (chunk: number) => (chunk >= MB ? `${chunk / MB} MiB` : chunk >= 1024 ? `${chunk / 1024} KiB` : `${chunk} B`).padStart(8);

function section(title: string): void {
  console.log(`\n## ${title}\n`);
}

// ---------------------------------------------------------------------------------------------------

console.log(`mrimtap bench — node ${process.version}, ${process.platform}/${process.arch}, scale ${scale}`);
console.log(`frames: small ${SMALL.map((f) => f.length).join('/')} B, medium ${MEDIUM.length} B, large ${LARGE.length} B`);

section('1. Framer throughput (median of runs)');
{
  const big = mixedStream(size(50 * MB));
  const small = mixedStream(size(5 * MB)); // 1-byte chunks: 5 MB is 5 million pushes already
  console.log(`stream: ${(big.stream.length / MB).toFixed(1)} MB, ${big.frames.length} frames (1-byte chunks: ${(small.stream.length / MB).toFixed(1)} MB)`);
  console.log(`   chunk      MB/s   ns/byte   runs`);
  for (const chunk of [1, 16, 256, 4096, 64 * 1024, MB]) {
    const s = chunk === 1 ? small : big;
    const chunks = chunksOf(s.stream, chunk);
    const runs = chunk <= 16 ? 3 : 5;
    const ms = time(runs, () => runFramer(chunks, s.frames.length));
    console.log(`${label(chunk)} ${fmt(mbps(s.stream.length, ms))} ${fmt(nsPerByte(s.stream.length, ms), 2)} ${String(runs).padStart(6)}`);
  }
}

section('2. O(n): time per byte, 16-byte vs 64 KiB chunks, at two stream sizes (fastest run)');
{
  const rows: { bytes: number; tiny: number; large: number }[] = [];
  for (const bytes of [size(10 * MB), size(40 * MB)]) {
    const s = mixedStream(bytes);
    const tinyChunks = chunksOf(s.stream, 16);
    const largeChunks = chunksOf(s.stream, 64 * 1024);
    const tiny = nsPerByte(s.stream.length, fastest(5, () => runFramer(tinyChunks, s.frames.length)));
    const large = nsPerByte(s.stream.length, fastest(9, () => runFramer(largeChunks, s.frames.length)));
    rows.push({ bytes: s.stream.length, tiny, large });
  }
  console.log(`  stream   ns/byte@16B  ns/byte@64KiB  ratio 16B/64KiB`);
  for (const r of rows) console.log(`${fmt(r.bytes / MB)} MB ${fmt(r.tiny, 2)}    ${fmt(r.large, 2)}      ${fmt(r.tiny / r.large, 2)}`);
  const [a, b] = rows;
  console.log(`stream ×${(b.bytes / a.bytes).toFixed(1)}: per-byte time ×${(b.tiny / a.tiny).toFixed(2)} with 16-byte chunks, ×${(b.large / a.large).toFixed(2)} with 64 KiB chunks; the 16B/64KiB ratio changes ×${(b.tiny / b.large / (a.tiny / a.large)).toFixed(2)} (1.00 = linear)`);
}

section('3. Baseline: a naive framer that Buffer.concat()s the pending bytes per chunk');
{
  const s = mixedStream(size(10 * MB));
  console.log(`stream: ${(s.stream.length / MB).toFixed(1)} MB of mixed frames (contact lists up to ${(LARGE.length / 1024).toFixed(0)} KB)`);
  console.log(`   chunk   framer ms    naive ms   naive/framer`);
  for (const chunk of [1024, 4096, 16 * 1024, 64 * 1024]) {
    const chunks = chunksOf(s.stream, chunk);
    const runs = chunk <= 1024 ? 1 : 3;
    const ours = time(runs, () => runFramer(chunks, s.frames.length));
    const naive = time(runs, () => runNaive(chunks, s.frames.length));
    console.log(`${label(chunk)} ${fmt(ours)}   ${fmt(naive)}   ${fmt(naive / ours, 1)}`);
  }
  console.log(`\none frame of a given size pushed in 1 KiB chunks (the naive cost per byte grows with the frame):`);
  console.log(`    frame   framer ns/byte   naive ns/byte`);
  for (const n of [750, 1500, 3000, 6000]) {
    const frame = contactList(n, 1);
    const chunks = chunksOf(frame, 1024);
    const ours = nsPerByte(frame.length, time(5, () => runFramer(chunks, 1)));
    const naive = nsPerByte(frame.length, time(5, () => runNaive(chunks, 1)));
    console.log(`${fmt(frame.length / 1024, 0)} KB ${fmt(ours, 2)}        ${fmt(naive, 2)}`);
  }
}

section('4. Decode throughput');
{
  const s = mixedStream(size(20 * MB));
  const ms = time(3, () => {
    for (const frame of s.frames) decodeFrame(frame, { dir: 's2c' });
  });
  console.log(`decodeFrame:    ${fmt(mbps(s.stream.length, ms))} MB/s, ${fmt(s.frames.length / (ms / 1000), 0)} frames/s (${s.frames.length} frames, ${(s.stream.length / MB).toFixed(1)} MB)`);
  const small = Buffer.concat(SMALL);
  const smallFrames = Array.from({ length: 20000 }, (_, i) => SMALL[i % SMALL.length]);
  const msSmall = time(3, () => {
    for (const frame of smallFrames) decodeFrame(frame, { dir: 's2c' });
  });
  console.log(`small frames:   ${fmt(smallFrames.length / (msSmall / 1000), 0)} frames/s (${(small.length / SMALL.length).toFixed(0)} B average)`);
  const chunks = chunksOf(s.stream, 64 * 1024);
  const msSession = time(3, () => {
    const session = new SessionDecoder({ minor: 21 });
    let frames = 0;
    for (const chunk of chunks) frames += session.push('s2c', chunk).length;
    if (frames !== s.frames.length) throw new Error('session lost frames');
  });
  console.log(`SessionDecoder: ${fmt(mbps(s.stream.length, msSession))} MB/s (framing + decoding + reply matching, 64 KiB chunks)`);
}

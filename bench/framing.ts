/**
 * Framing and decoding of a realistic S→C mix (messages, statuses, offline messages, contact lists of
 * 150 and 1,000 contacts) pushed in 1 B, 1,460 B (one TCP segment) and 64 KiB chunks; each against a plain
 * Buffer.copy pass over the same chunks, the cost floor of touching every byte once.
 */
import { decodeFrame, encodePacket } from '../src/protocol/codec.js';
import { Framer } from '../src/protocol/framer.js';
import { SessionDecoder } from '../src/protocol/session.js';

const MB = 1024 * 1024;

function contactList(n: number, seq: number): Buffer {
  const contacts = Array.from({ length: n }, (_, i) => ({
    flags: 0x200, group: i % 5, email: `user${i}@mail.ru`, nick: `Контакт ${i}`, serverFlags: 0, status: 1, phones: '',
    statusUri: 'STATUS_ONLINE', statusTitle: 'В сети', statusDesc: '', features: 0x3ff, userAgent: 'client="magent" version="5.10"',
  }));
  const groups = Array.from({ length: 5 }, (_, i) => ({ flags: 0x202, name: `Группа ${i}` }));
  return encodePacket('CONTACT_LIST2', { status: 0, groups, contacts }, { proto: '1.19', seq });
}

export const SMALL = [
  encodePacket('MESSAGE_ACK', { msgId: 1, flags: 0x100000, from: 'alice@mail.ru', text: 'Привет! Как дела? '.repeat(4), rtf: ' ' }, { proto: '1.21', seq: 1 }),
  encodePacket('MESSAGE_ACK', { msgId: 2, flags: 0, from: 'bob@mail.ru', text: 'UTF-16 в 1.21: Привет, мир!', rtf: ' ' }, { proto: '1.21', seq: 2 }),
  encodePacket('USER_STATUS', { status: 4, statusUri: 'status_5', statusTitle: 'Дома', statusDesc: 'скоро буду', user: 'bob@mail.ru', features: 0xbff, userAgent: 'client="magent" version="5.10" build="5282"' }, { proto: '1.21', seq: 3 }),
  encodePacket('PING', {}, { proto: '1.21', seq: 4 }),
  encodePacket('MESSAGE_STATUS', { status: 0 }, { proto: '1.21', seq: 5 }),
  encodePacket('OFFLINE_MESSAGE_ACK', { uidl: '0102030405060708', message: 'From: a@mail.ru\nX-MRIM-Flags: 00100000\nContent-Type: text/plain; charset=UTF-16LE\nContent-Transfer-Encoding: base64\n\nHwRABDgEMgQ1BEIE' }, { proto: '1.21', seq: 6 }),
];
const MEDIUM = contactList(150, 7);
const LARGE = contactList(1000, 8);

/** Mixed frames up to `bytes`: about half the bytes in small frames, the rest in contact lists. */
function mixedStream(bytes: number): { stream: Buffer; frames: number } {
  const frames: Buffer[] = [];
  let total = 0;
  for (let i = 0; total < bytes; i++) {
    const frame = i % 600 === 599 ? LARGE : i % 60 === 59 ? MEDIUM : SMALL[i % SMALL.length];
    frames.push(frame);
    total += frame.length;
  }
  return { stream: Buffer.concat(frames), frames: frames.length };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** Median wall time in ms of `runs` runs after one warm-up. */
export function timeMs(runs: number, fn: () => void): number {
  fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return median(out);
}

function chunksOf(stream: Buffer, chunk: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i += chunk) out.push(stream.subarray(i, i + chunk));
  return out;
}

export interface FramingRow {
  chunk: number;
  mb: number;
  frames: number;
  framingMBps: number;
  framingFramesPerS: number;
  decodeMBps: number;
  decodeFramesPerS: number;
  copyMBps: number;
  /** Time of framing / time of the copy pass (how many copies' worth the framer costs). */
  framingVsCopy: number;
  decodeVsCopy: number;
}

export interface FramingResult {
  rows: FramingRow[];
  /** decodeFrame over small frames only, on one core. */
  smallDecodeFramesPerS: number;
  smallFrameBytes: number;
  /** Full decode per-byte cost at 1 B chunks / at 64 KiB chunks. */
  oneByteVs64KiB: number;
}

export function benchFraming(quick: boolean): FramingResult {
  const big = mixedStream((quick ? 4 : 16) * MB);
  const tiny = mixedStream((quick ? 0.5 : 2) * MB); // 1 B chunks: a million pushes per MB
  const rows: FramingRow[] = [];
  for (const chunk of [1, 1460, 64 * 1024]) {
    const s = chunk === 1 ? tiny : big;
    const chunks = chunksOf(s.stream, chunk);
    const runs = quick ? 3 : 5;
    const copyTarget = Buffer.alloc(Math.max(chunk, 1));
    const copy = timeMs(runs, () => {
      for (const c of chunks) c.copy(copyTarget, 0);
    });
    const framing = timeMs(runs, () => {
      const framer = new Framer({ dir: 's2c', detectPreamble: false });
      let n = 0;
      for (const c of chunks) for (const ev of framer.push(c)) if (ev.kind === 'frame') n++;
      if (n !== s.frames) throw new Error(`framer: ${n} of ${s.frames} frames`);
    });
    const decode = timeMs(runs, () => {
      const session = new SessionDecoder({ minor: 21 });
      let n = 0;
      for (const c of chunks) n += session.push('s2c', c).length;
      if (n !== s.frames) throw new Error(`decoder: ${n} of ${s.frames} frames`);
    });
    const mb = s.stream.length / MB;
    rows.push({
      chunk, mb, frames: s.frames,
      framingMBps: mb / (framing / 1000), framingFramesPerS: s.frames / (framing / 1000),
      decodeMBps: mb / (decode / 1000), decodeFramesPerS: s.frames / (decode / 1000),
      copyMBps: mb / (copy / 1000), framingVsCopy: framing / copy, decodeVsCopy: decode / copy,
    });
  }
  const smallFrames = Array.from({ length: quick ? 50_000 : 200_000 }, (_, i) => SMALL[i % SMALL.length]);
  const small = timeMs(quick ? 3 : 9, () => {
    for (const f of smallFrames) decodeFrame(f, { dir: 's2c' });
  });
  const perByte = (r: FramingRow) => 1 / r.decodeMBps;
  return {
    rows,
    smallDecodeFramesPerS: smallFrames.length / (small / 1000),
    smallFrameBytes: Math.round(smallFrames.reduce((a, f) => a + f.length, 0) / smallFrames.length),
    oneByteVs64KiB: perByte(rows[0]) / perByte(rows[2]),
  };
}

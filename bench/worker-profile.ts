/**
 * What the recording's two threads do per chatty frame (`--bulk`: per 64 KiB MESSAGE frame), without
 * threads or sockets: the decoding thread's part (a tap decodes 64 KiB chunks, lazily as that thread
 * does, and the events are gathered into batches) and then the writing thread's (each batch's events
 * written to a capture from their rows). `tsx bench/worker-profile.ts [MB] [--bulk] [--fields]` prints µs
 * of CPU per frame for each (`--fields`: as `--record-fields` records); run with `node --cpu-prof
 * --import tsx` to see where it goes.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWriter } from '../src/capture/open.js';
import { EventBatcher, writeBatch, type EventBatch } from '../src/proxy/event-batch.js';
import { TapHub } from '../src/tap/tap.js';
import { bulkMrimFrame, chattyFrame } from './proxy.js';

const MB = 1024 * 1024;
const total = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 48) * MB;
const withFields = process.argv.includes('--fields');
const path = join(tmpdir(), `mrimtap-worker-profile-${process.pid}.jsonl`);
const chunk = process.argv.includes('--bulk') ? bulkMrimFrame(1) : Buffer.concat(Array.from({ length: 64 }, (_, i) => chattyFrame(i + 1)));
const cpuMs = () => process.cpuUsage().user / 1000;

const batcher = new EventBatcher();
let frames = 0;
const hub = new TapHub(
  (ev) => {
    if (ev.event.kind === 'frame') frames++;
    batcher.add(ev);
  },
  { strings: 'lazy' },
);
const capture = createWriter(path, { listen: 'bench' }, { fields: withFields });
const peers = new Map();
// Each batch is decoded then written at once, as the threads take turns on it, so none outlives its turn;
// the chunks arrive as fresh buffers (the relay's), made beforehand.
const chunks = Array.from({ length: Math.ceil(total / chunk.length) }, () => Buffer.from(chunk));
let decodeMs = 0;
let writeMs = 0;
const write = (batch: EventBatch) => {
  const t = cpuMs();
  writeBatch(batch, peers, capture, withFields, false);
  writeMs += cpuMs() - t;
};
const tap = hub.open(1, { host: '127.0.0.1', port: 40000 }, { host: '127.0.0.1', port: 2041 }, Date.now());
for (const c of chunks) {
  const t = cpuMs();
  tap.push('c2s', c, Date.now());
  const { batch } = batcher.take();
  decodeMs += cpuMs() - t;
  write(batch);
}
tap.close('client closed', Date.now());
write(batcher.take().batch);
const t = cpuMs();
capture.close();
writeMs += cpuMs() - t;
rmSync(path, { force: true });
const perFrame = (ms: number) => ((ms * 1000) / frames).toFixed(2);
console.log(`${frames} frames: decoding thread ${perFrame(decodeMs)} µs/frame, writing thread ${perFrame(writeMs)} µs/frame (CPU), capture ${(capture.bytes / total).toFixed(2)}× relayed`);

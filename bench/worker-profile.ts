/**
 * What the recording's two threads do per chatty frame, without threads or sockets: the decoding
 * thread's part (a tap decodes 64-frame chunks, lazily as that thread does, and the events are gathered
 * into batches) and then the writing thread's (each batch's events made again and written to a
 * capture). `tsx bench/worker-profile.ts [MB] [--fields]` prints µs of CPU per frame for each
 * (`--fields`: as `--record-fields` records); run with `node --cpu-prof --import tsx` to see where it goes.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWriter } from '../src/capture/open.js';
import { recordOrStop } from '../src/capture/rotate.js';
import { EventBatcher, batchEvents, type EventBatch } from '../src/proxy/event-batch.js';
import { TapHub } from '../src/tap/tap.js';
import { chattyFrame } from './proxy.js';

const MB = 1024 * 1024;
const total = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 48) * MB;
const withFields = process.argv.includes('--fields');
const path = join(tmpdir(), `mrimtap-worker-profile-${process.pid}.jsonl`);
const chunk = Buffer.concat(Array.from({ length: 64 }, (_, i) => chattyFrame(i + 1)));
const cpuMs = () => process.cpuUsage().user / 1000;

const batcher = new EventBatcher();
const batches: EventBatch[] = [];
let frames = 0;
const hub = new TapHub(
  (ev) => {
    if (ev.event.kind === 'frame') frames++;
    batcher.add(ev);
  },
  { strings: 'lazy' },
);
const decodeStart = cpuMs();
const tap = hub.open(1, { host: '127.0.0.1', port: 40000 }, { host: '127.0.0.1', port: 2041 }, Date.now());
for (let sent = 0; sent < total; sent += chunk.length) {
  tap.push('c2s', Buffer.from(chunk), Date.now());
  batches.push(batcher.take().batch);
}
tap.close('client closed', Date.now());
batches.push(batcher.take().batch);
const decodeMs = cpuMs() - decodeStart;

const capture = createWriter(path, { listen: 'bench' }, { fields: withFields });
const peers = new Map();
const writeStart = cpuMs();
for (const batch of batches) for (const ev of batchEvents(batch, peers, withFields)) recordOrStop(capture, ev);
capture.close();
const writeMs = cpuMs() - writeStart;
rmSync(path, { force: true });
const perFrame = (ms: number) => ((ms * 1000) / frames).toFixed(2);
console.log(`${frames} frames: decoding thread ${perFrame(decodeMs)} µs/frame, writing thread ${perFrame(writeMs)} µs/frame (CPU), capture ${(capture.bytes / total).toFixed(2)}× relayed`);

/**
 * What the recording worker does per chatty frame, without threads or sockets: a tap decodes 64-frame
 * chunks of both directions and the capture writer records every event. `tsx bench/worker-profile.ts
 * [MB] [--fields]` prints µs per frame (`--fields`: as `--record-fields` records); run with `node --cpu-prof --import tsx` to see where it goes.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWriter } from '../src/capture/open.js';
import { recordOrStop } from '../src/capture/rotate.js';
import { TapHub } from '../src/tap/tap.js';
import { chattyFrame } from './proxy.js';

const MB = 1024 * 1024;
const total = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 48) * MB;
const path = join(tmpdir(), `mrimtap-worker-profile-${process.pid}.jsonl`);
const chunk = Buffer.concat(Array.from({ length: 64 }, (_, i) => chattyFrame(i + 1)));
const capture = createWriter(path, { listen: 'bench' }, { fields: process.argv.includes('--fields') });
let frames = 0;
const hub = new TapHub((ev) => {
  if (ev.event.kind === 'frame') frames++;
  recordOrStop(capture, ev);
});
const tap = hub.open(1, { host: '127.0.0.1', port: 40000 }, { host: '127.0.0.1', port: 2041 }, Date.now());
const t0 = performance.now();
for (let sent = 0; sent < total; sent += chunk.length) tap.push('c2s', Buffer.from(chunk), Date.now());
tap.close('client closed', Date.now());
capture.close();
const ms = performance.now() - t0;
rmSync(path, { force: true });
console.log(`${frames} frames, ${((ms * 1000) / frames).toFixed(2)} µs/frame, ${((total / MB) / (ms / 1000)).toFixed(1)} MB/s, capture ${(capture.bytes / total).toFixed(2)}× relayed`);

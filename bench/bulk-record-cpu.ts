/**
 * CPU time the recording worker spends per relayed MB of 64 KiB MESSAGE frames, without threads or
 * sockets (steadier than wall time on a shared machine). `tsx bench/bulk-record-cpu.ts [MB] [dir]`:
 * `write` serialises and writes the same decoded event again and again (line + file writer only),
 * `tap` decodes chunks of frames too, as the worker does. Medians of 7 runs, ms of CPU per MB.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWriter } from '../src/capture/open.js';
import type { TapEvent } from '../src/tap/events.js';
import { TapHub } from '../src/tap/tap.js';
import { bulkMrimFrame } from './proxy.js';

const MB = 1024 * 1024;
const total = Number(process.argv[2] ?? 200) * MB;
const path = join(process.argv[3] ?? tmpdir(), `mrimtap-bulk-cpu-${process.pid}.jsonl`);
const frame = bulkMrimFrame(1);
const chunk = Buffer.concat([frame, frame, frame, frame]);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const endpoints = [{ host: '127.0.0.1', port: 40000 }, { host: '127.0.0.1', port: 2041 }] as const;

let sample: TapEvent | undefined;
new TapHub((ev) => (sample ??= ev.event.kind === 'frame' ? ev : undefined)).open(1, endpoints[0], endpoints[1], Date.now()).push('c2s', frame, Date.now());

function run(mode: 'write' | 'tap'): number {
  const capture = createWriter(path, { listen: 'bench' });
  const t = cpuMs();
  if (mode === 'write') {
    for (let sent = 0; sent < total; sent += frame.length) capture.write(sample!);
  } else {
    const tap = new TapHub((ev) => capture.write(ev)).open(1, endpoints[0], endpoints[1], Date.now());
    for (let sent = 0; sent < total; sent += chunk.length) tap.push('c2s', Buffer.from(chunk), Date.now());
  }
  capture.close();
  const ms = cpuMs() - t;
  rmSync(path, { force: true });
  return ms / (total / MB);
}

const median = (v: number[]) => v.sort((a, b) => a - b)[v.length >> 1]!;
for (const mode of ['write', 'tap'] as const) {
  const runs = Array.from({ length: 7 }, () => run(mode));
  console.log(`${mode}: median ${median(runs).toFixed(2)} ms CPU/MB (${runs.map((r) => r.toFixed(2)).join(' ')})`);
}

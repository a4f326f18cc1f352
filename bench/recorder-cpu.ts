/**
 * CPU time of the whole recording (relay side, decoding thread, writing thread) per MB of 64 KiB
 * MESSAGE frames pushed into a RecordingWorker as the relay does, without sockets: 16 reads of 64 KiB
 * per turn of the event loop, paused while the worker holds the relay back. `tsx bench/recorder-cpu.ts
 * [MB] [runs]`: ms of CPU per MB (process.cpuUsage counts every thread; the relay's thread alone from
 * /proc), medians.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordingWorker } from '../src/proxy/recorder.js';
import { bulkMrimFrame, cpuTicks } from './proxy.js';

const MB = 1024 * 1024;
const total = Number(process.argv[2] ?? 200) * MB;
const runs = Number(process.argv[3] ?? 5);
const read = bulkMrimFrame(1);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** CPU ms of this (the relay's) thread alone, from /proc (Linux; 10 ms ticks). */
const relayMs = () => cpuTicks(`/proc/self/task/${process.pid}/stat`) * 10;

async function run(): Promise<{ cpu: number; relay: number; wall: number; faults: number }> {
  const path = join(tmpdir(), `mrimtap-recorder-cpu-${process.pid}.jsonl`);
  const recorder = new RecordingWorker({ record: path, capture: { fields: false }, hub: {}, onFailed: (e) => { throw e; } });
  await recorder.start('bench');
  let held = false;
  let resume = () => {};
  recorder.onHold((h) => {
    held = h;
    if (!h) resume();
  });
  const tap = recorder.open(1, { host: '127.0.0.1', port: 40000 }, { host: '127.0.0.1', port: 2041 }, Date.now());
  const t = cpuMs();
  const pf = process.resourceUsage().minorPageFault;
  const r = relayMs();
  const t0 = performance.now();
  for (let sent = 0; sent < total; ) {
    for (let i = 0; i < 16 && sent < total; i++, sent += read.length) tap.push('c2s', Buffer.from(read), Date.now());
    if (held) await new Promise<void>((r) => (resume = r));
    else await new Promise((r) => setImmediate(r));
  }
  tap.close('done', Date.now());
  await recorder.finish();
  const result = { cpu: (cpuMs() - t) / (total / MB), relay: (relayMs() - r) / (total / MB), wall: total / MB / ((performance.now() - t0) / 1000), faults: (process.resourceUsage().minorPageFault - pf) / (total / MB) };
  rmSync(path, { force: true });
  return result;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const results = [];
for (let i = 0; i < runs; i++) results.push(await run());
console.log(
  `median ${median(results.map((r) => r.cpu)).toFixed(2)} ms CPU/MB (relay thread ${median(results.map((r) => r.relay)).toFixed(2)}), ${median(results.map((r) => r.wall)).toFixed(0)} MB/s;`,
  `runs cpu/relay/MB/s/page faults per MB: ${results.map((r) => `${r.cpu.toFixed(2)}/${r.relay.toFixed(2)}/${r.wall.toFixed(0)}/${r.faults.toFixed(0)}`).join(' ')}`,
);

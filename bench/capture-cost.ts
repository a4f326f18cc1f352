/**
 * What recording costs, without sockets: the events a tap makes of chatty MESSAGE frames, of 64 KiB
 * MESSAGE frames and of raw non-MRIM bulk are written through the capture writer (line serialisation
 * and the batched file writes, what the proxy does per event), then read back. Events/s and MB/s of
 * writing, capture bytes per relayed byte, and frames/s and MB/s of reading back (re-decoding).
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { createWriter } from '../src/capture/open.js';
import { readCapture } from '../src/capture/jsonl.js';
import type { TapEvent } from '../src/tap/events.js';
import { TapHub } from '../src/tap/tap.js';

const MB = 1024 * 1024;

export interface CaptureCost {
  traffic: string;
  events: number;
  /** Events serialised and written per second. */
  writeEventsPerS: number;
  /** Relayed MB/s the writer keeps up with. */
  writeMBps: number;
  /** Capture bytes per relayed byte. */
  capturePerByte: number;
  bytesPerEvent: number;
  readFramesPerS: number;
  readMBps: number;
}

/** The events the tap reports for `stream` sent client to server in `chunk`-byte reads. */
function tapEvents(stream: Buffer, chunk: number): TapEvent[] {
  const events: TapEvent[] = [];
  const hub = new TapHub((ev) => events.push(ev));
  const tap = hub.open(1, { host: '127.0.0.1', port: 40000 }, { host: '127.0.0.1', port: 2041 }, Date.now());
  let time = Date.now();
  for (let at = 0; at < stream.length; at += chunk) tap.push('c2s', stream.subarray(at, at + chunk), time++);
  tap.close('client closed', time);
  // Nothing answers these requests here: the tap's no-reply events at the close are not the traffic's.
  return events.filter((ev) => ev.event.kind !== 'no-reply');
}

async function measure(traffic: string, stream: Buffer, chunk: number, dir: string, rounds: number): Promise<CaptureCost> {
  const events = tapEvents(stream, chunk);
  const path = join(dir, `cost-${traffic.replace(/\W+/g, '-')}.jsonl`);
  const writeMs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const w = createWriter(path, { listen: 'bench' });
    for (const ev of events) w.write(ev);
    w.close();
    writeMs.push(performance.now() - t0);
  }
  const size = statSync(path).size;
  const t0 = performance.now();
  let frames = 0;
  for await (const item of readCapture(path)) if (item.kind === 'event' && item.event.event.kind === 'frame') frames++;
  const readS = (performance.now() - t0) / 1000;
  const ms = [...writeMs].sort((a, b) => a - b)[Math.floor(rounds / 2)]!;
  return {
    traffic,
    events: events.length,
    writeEventsPerS: events.length / (ms / 1000),
    writeMBps: stream.length / MB / (ms / 1000),
    capturePerByte: size / stream.length,
    bytesPerEvent: size / events.length,
    readFramesPerS: frames / readS,
    readMBps: size / MB / readS,
  };
}

/** Chatty (~300 B frames, one per read), bulk MRIM (64 KiB frames) and raw non-MRIM bulk (64 KiB reads). */
export async function benchCaptureCost(dir: string, frames: { chatty: (seq: number) => Buffer; bulkMrim: (seq: number) => Buffer }, quick: boolean): Promise<CaptureCost[]> {
  const rounds = quick ? 3 : 5;
  const chatty = Buffer.concat(Array.from({ length: quick ? 20_000 : 60_000 }, (_, i) => frames.chatty(i + 1)));
  const bulkMrim = Buffer.concat(Array.from({ length: quick ? 64 : 256 }, (_, i) => frames.bulkMrim(i + 1)));
  const raw = randomBytes((quick ? 4 : 16) * MB);
  return [
    await measure('chatty', chatty, frames.chatty(1).length, dir, rounds),
    await measure('bulk MRIM', bulkMrim, 64 * 1024, dir, rounds),
    await measure('raw bulk', raw, 64 * 1024, dir, rounds),
  ];
}

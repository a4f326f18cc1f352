/**
 * `node --import tsx bench/lazy-strings.ts`: µs of CPU per decodeFrame, full strings vs lazy ones
 * (`strings: 'lazy'`), for the proxy bench's chatty (~300 B) and bulk (64 KiB UTF-16LE) MESSAGE frames,
 * and lazy with the text read afterwards. Medians of 5 runs of ~0.3 s of CPU each, the variants taking
 * turns (the machine is shared: a slow spell hits all of them alike).
 */
import { decodeFrame, type DecodeOptions } from '../src/protocol/codec.js';
import { bulkMrimFrame, chattyFrame } from './proxy.js';

const cpu = () => process.cpuUsage().user;
let sink = 0;

function run(frame: Buffer, opts: DecodeOptions, read: boolean): number {
  const t = cpu();
  let n = 0;
  while (cpu() - t < 300_000) {
    for (let i = 0; i < 200; i++) {
      const d = decodeFrame(frame, opts);
      sink += read ? String(d.fields.text).length : d.dlen;
    }
    n += 200;
  }
  return (cpu() - t) / n;
}

const variants = [
  ['full', { dir: 'c2s' }, false],
  ['lazy', { dir: 'c2s', strings: 'lazy' }, false],
  ['lazy, text read', { dir: 'c2s', strings: 'lazy' }, true],
] as const;
for (const [name, frame] of [
  ['chatty', chattyFrame(7)],
  ['bulk 64K', bulkMrimFrame(7)],
] as const) {
  const runs: number[][] = variants.map(() => []);
  for (let k = 0; k < 5; k++) variants.forEach(([, opts, read], v) => runs[v].push(run(frame, opts as DecodeOptions, read)));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[2].toFixed(2);
  console.log(`${name} (${frame.length} B): ${variants.map(([v], i) => `${v} ${median(runs[i])}`).join(', ')} µs/frame`);
}
if (sink < 0) console.log(sink);

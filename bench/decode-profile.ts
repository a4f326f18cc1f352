/**
 * `node --import tsx bench/decode-profile.ts [--prof]`: the decoding figures of `npm run bench` alone
 * (small frames, the mix, the 1 B ratio), quick to repeat while tuning; with `--prof`, only the small
 * frames loop, long enough for `node --cpu-prof` to see where a frame's time goes.
 */
import { decodeFrame } from '../src/protocol/codec.js';
import { SMALL, benchFraming } from './framing.js';

if (process.argv.includes('--prof')) {
  // Per second of this process's CPU time: steadier than wall time on a machine others use too.
  const cpu = () => process.cpuUsage().user / 1e6;
  const t = cpu();
  let n = 0;
  while (cpu() - t < (process.argv.includes('--short') ? 2 : 5)) for (let i = 0; i < 60_000; i++, n++) decodeFrame(SMALL[i % SMALL.length], { dir: 's2c' });
  console.log(`${Math.round(n / (cpu() - t))} small frames per CPU second`);
} else {
  const r = benchFraming(false);
  const mix = r.rows[2];
  console.log(`small ${Math.round(r.smallDecodeFramesPerS)} frames/s (${r.smallFrameBytes} B); mix 64K ${mix.decodeMBps.toFixed(1)} MB/s ${Math.round(mix.decodeFramesPerS)} frames/s; 1460 ${r.rows[1].decodeMBps.toFixed(1)} MB/s; 1 B ratio ${r.oneByteVs64KiB.toFixed(2)}`);
}

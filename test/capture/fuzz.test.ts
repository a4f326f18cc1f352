// The suite's slice of the fuzz targets over the capture readers (test/helpers/fuzz.ts), and the bugs
// they found, each as a plain regression test.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseCapture } from '../../src/capture/pcap/index.js';
import { decodePcap } from '../../src/capture/pcap-decode.js';
import type { TapEvent } from '../../src/tap/events.js';
import { ROOT } from '../helpers/cli.js';
import { SUITE_SEED, fuzzTarget } from '../helpers/fuzz.js';

describe('fuzz (short, deterministic slice)', () => {
  for (const [name, numRuns] of [
    ['capture-reader', 150],
    ['pcap', 200],
  ] as const) {
    const target = fuzzTarget(name);
    it(`${name}: ${target.checks}`, async () => {
      await fc.assert(target.property(), { seed: SUITE_SEED, numRuns });
    });
  }
});

describe('found by fuzzing', () => {
  /** The frames of each connection and direction, in the order decoded. */
  const framesOf = (events: TapEvent[]) =>
    events.flatMap((e) => (e.event.kind === 'frame' ? [`#${e.conn} ${e.event.dir} ${e.event.offset} ${e.event.frame.type}`] : [])).sort();

  it('a pcap whose clock jumps back decodes every connection in stream order (it threw, or reordered bytes)', () => {
    const file = readFileSync(join(ROOT, 'test', 'fixtures', 'vectors', 'mrim-prpl-1.22-messages.pcap'));
    const decode = (bytes: Buffer) => {
      const events: TapEvent[] = [];
      decodePcap(parseCapture(bytes), (ev) => events.push(ev));
      return events;
    };
    const straight = decode(file);
    // Every other record a minute earlier than the one before it (ts_sec of record headers).
    const skewed = Buffer.from(file);
    let i = 0;
    for (let at = 24; at + 16 <= skewed.length; at += 16 + skewed.readUInt32LE(at + 8), i++) if (i % 2) skewed.writeUInt32LE(skewed.readUInt32LE(at) - 60, at);
    const events = decode(skewed);
    assert.deepEqual(framesOf(events), framesOf(straight));
    // Per connection the open comes first, and every frame is whole (no garbage from reordered bytes).
    for (const conn of new Set(events.map((e) => e.conn))) assert.equal(events.find((e) => e.conn === conn)?.event.kind, 'open');
    assert.equal(events.filter((e) => e.event.kind === 'garbage').length, straight.filter((e) => e.event.kind === 'garbage').length);
  });
});

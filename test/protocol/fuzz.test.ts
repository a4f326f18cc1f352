// The suite's slice of the fuzz targets over the sans-IO protocol code (test/helpers/fuzz.ts): a fixed
// seed and a few hundred mutated inputs each; `npm run fuzz` runs the same properties long.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeFrame, encodePacket } from '../../src/protocol/codec.js';
import { SUITE_SEED, fuzzTarget } from '../helpers/fuzz.js';

describe('fuzz (short, deterministic slice)', () => {
  for (const [name, numRuns] of [
    ['session', 400],
    ['decoders', 400],
  ] as const) {
    const target = fuzzTarget(name);
    it(`${name}: ${target.checks}`, () => {
      fc.assert(target.property(), { seed: SUITE_SEED, numRuns });
    });
  }
});

describe('found by fuzzing', () => {
  it('an ANKETA_INFO announcing more columns than its payload holds is reported (it decoded silently as fewer columns)', () => {
    const frame = encodePacket('ANKETA_INFO', { status: 0, maxRows: 0, serverTime: 0, columns: ['Phone', 'Username'], rows: [] }, { proto: '1.23', seq: 7, dir: 's2c' });
    // The column count, after the status.
    frame.writeUInt32LE(34, 48);
    const d = decodeFrame(frame, { dir: 's2c' });
    assert.deepEqual(d.fields.columns, ['Phone', 'Username']);
    assert.deepEqual(d.warnings, ['ANKETA_INFO announces 34 columns, the payload holds 2']);
  });

  it('a CLPS list that is an empty LPS, without its item count, is reported (it decoded silently as an empty list)', () => {
    const frame = encodePacket('GET_USER_SETTINGS', { names: [] }, { proto: '1.21', seq: 3 });
    // The LPS around the list, cut to length 0.
    const empty = Buffer.concat([frame.subarray(0, 44), Buffer.alloc(4)]);
    empty.writeUInt32LE(4, 16);
    const d = decodeFrame(empty, { dir: 'c2s' });
    assert.deepEqual(d.fields.names, []);
    assert.deepEqual(d.warnings, ['CLPS "names" is empty (no item count)']);
  });
});

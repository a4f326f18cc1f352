// The suite's slice of the fuzz targets over the sans-IO protocol code (test/helpers/fuzz.ts): a fixed
// seed and a few hundred mutated inputs each; `npm run fuzz` runs the same properties long.
import { describe, it } from 'node:test';
import fc from 'fast-check';
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

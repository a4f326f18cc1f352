// `mrimtap decode` refuses mistakes in its options with exit code 2 and a line saying what is wrong.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/cli.js';
import { runCli } from '../helpers/server-cli.js';

const demo = join(ROOT, 'captures', 'demo.jsonl');

describe('decode: options', () => {
  it('--proto takes exactly the versions its message names', async () => {
    for (const bad of ['1.0', '1.6', '1.99', '2.0', 'x']) {
      const r = await runCli(['decode', '--raw', demo, '--from', 'client', '--proto', bad]);
      assert.equal(r.code, 2, bad);
      assert.match(r.stderr, /--proto/, bad);
    }
    const ok = await runCli(['decode', '--raw', demo, '--from', 'client', '--proto', '1.24']);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('--filter with a misspelt packet type exits 2 naming the nearest one', async () => {
    const r = await runCli(['decode', demo, '--filter', 'type=LOGN2']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^mrimtap: --filter: unknown packet type "LOGN2" \(did you mean LOGIN2\?\)/);
    assert.equal(r.stdout, '');
  });

  it('--filter selects by decoded fields of a recorded session', async () => {
    const r = await runCli(['decode', demo, '--filter', 'text contains "Боб" and dir == c2s']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /C→S MESSAGE /);
    assert.doesNotMatch(r.stdout, /MESSAGE_ACK|LOGIN/);
  });
});

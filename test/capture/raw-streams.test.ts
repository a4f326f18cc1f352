// `decode --raw-out DIR` writes each connection's bytes per direction: the same bytes as the streams
// extracted from the real captures, readable by `decode --raw`.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from '../helpers/cli.js';
import { runCli } from '../helpers/server-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-raw-out-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const VECTORS = join(ROOT, 'test', 'fixtures', 'vectors');

describe('decode --raw-out', () => {
  for (const [pcap, prefix] of [
    ['pidgin-mra-1.8-session.pcap', 'pidgin-mra-1.8'],
    ['mrim-prpl-1.22-messages.pcap', 'mrim-prpl-1.22'],
  ] as const) {
    it(`${pcap}: every connection's direction byte for byte as extracted, owner-only`, async () => {
      const out = join(dir, prefix);
      const r = await runCli(['decode', join(VECTORS, pcap), '--raw-out', out]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '');
      const files = readdirSync(out).sort();
      const expected = readdirSync(VECTORS).filter((f) => f.startsWith(`${prefix}.conn`)).map((f) => f.slice(prefix.length + 1)).sort();
      assert.deepEqual(files, expected);
      for (const f of files) {
        assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(VECTORS, `${prefix}.${f}`))), f);
        assert.equal(statSync(join(out, f)).mode & 0o777, 0o600);
        assert.match(r.stderr, new RegExp(`${f.replace('.', '\\.')}: \\d+ bytes, connection #\\d`));
      }
    });
  }

  it('a filtered connection alone, which decode --raw reads back into the same frames', async () => {
    const out = join(dir, 'demo');
    const demo = join(ROOT, 'captures', 'demo.jsonl');
    const r = await runCli(['decode', demo, '--filter', 'conn == 3', '--raw-out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(out).sort(), ['conn3.c2s.bin', 'conn3.s2c.bin']);
    const listed = await runCli(['decode', demo, '--filter', 'conn == 3 and dir == c2s', '--fields', 'type,seq']);
    const fromRaw = await runCli(['decode', '--raw', join(out, 'conn3.c2s.bin'), '--from', 'client', '--json']);
    assert.equal(fromRaw.code, 0, fromRaw.stderr);
    const frames = fromRaw.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { kind: string; type?: string; seq?: number }).filter((e) => e.kind === 'frame');
    assert.deepEqual(frames.map((f) => `${f.type}\t${f.seq}`), listed.stdout.trimEnd().split('\n').filter((l) => !l.endsWith('\t')));
  });
});

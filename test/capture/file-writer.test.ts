/** The batched capture file: pieces reach the disk within FLUSH_MS, at FLUSH_BYTES, at close and when the process exits or crashes. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { pathToFileURL } from 'node:url';
import { FLUSH_BYTES, FLUSH_MS, OwnerOnlyFile } from '../../src/capture/file-writer.js';
import { ROOT } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-file-writer-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a module in a child process that writes `lines` to `path`, then ends as `ending` says. */
function writeInChild(path: string, ending: string): { status: number | null; stderr: string } {
  const writer = pathToFileURL(join(ROOT, 'src/capture/file-writer.ts')).href;
  const code = `import { OwnerOnlyFile } from ${JSON.stringify(writer)};
    const f = new OwnerOnlyFile(${JSON.stringify(path)});
    for (let i = 0; i < 1000; i++) f.write('line ' + i + '\\n');
    ${ending}`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

const expectedLines = Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join('');

describe('OwnerOnlyFile batching', () => {
  it('puts held pieces on disk within a few milliseconds, in order, and the rest at close', async () => {
    const path = join(dir, 'timed.jsonl');
    const f = new OwnerOnlyFile(path);
    f.write('one\n');
    f.write(Buffer.from('two\n'));
    assert.equal(f.bytes, 8);
    await sleep(FLUSH_MS * 10);
    assert.equal(readFileSync(path, 'utf8'), 'one\ntwo\n');
    f.write('three\n');
    f.close();
    assert.equal(readFileSync(path, 'utf8'), 'one\ntwo\nthree\n');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.throws(() => f.write('four\n'), /closed/);
  });

  it('writes out at once when FLUSH_BYTES are held', () => {
    const path = join(dir, 'full.jsonl');
    const f = new OwnerOnlyFile(path);
    f.write(Buffer.alloc(FLUSH_BYTES, 0x61));
    assert.equal(statSync(path).size, FLUSH_BYTES);
    f.close();
  });

  it('property: any pieces — strings with characters of 1 to 4 UTF-8 bytes, buffers, parts of strings and bytes as base64, up to several times the hold — land whole and in order', () => {
    const path = join(dir, 'pieces.jsonl');
    const text = fc.string({ unit: fc.constantFrom('a', 'ж', '€', '😀'), maxLength: 2000 }).chain((unit) => fc.nat({ max: 200 }).map((n) => unit.repeat(n)));
    const bytes = fc.nat({ max: 5 * FLUSH_BYTES }).map((n) => Buffer.alloc(n, n % 251));
    // Parts: strings, and bytes written as their base64 (any length, up to past the hold).
    const parts = fc.array(fc.oneof(text, fc.uint8Array({ maxLength: 300 }).map(Buffer.from), bytes), { maxLength: 4 });
    const partText = (p: string | Buffer) => (typeof p === 'string' ? p : p.toString('base64'));
    const asBuffer = (p: string | Buffer | Array<string | Buffer>) => (typeof p === 'string' ? Buffer.from(p) : Buffer.isBuffer(p) ? p : Buffer.from(p.map(partText).join('')));
    fc.assert(
      fc.property(fc.array(fc.oneof(text, bytes, parts), { maxLength: 12 }), (pieces) => {
        const f = new OwnerOnlyFile(path);
        for (const p of pieces) f.write(p);
        const expected = Buffer.concat(pieces.map(asBuffer));
        assert.equal(f.bytes, expected.length);
        f.close();
        assert.ok(readFileSync(path).equals(expected));
      }),
      { numRuns: 60 },
    );
  });

  for (const [what, ending] of [
    ['an uncaught exception', "throw new Error('crash');"],
    ['process.exit()', 'process.exit(3);'],
    ['the event loop running dry', ''],
  ] as const) {
    it(`keeps every piece when the process ends by ${what}`, () => {
      const path = join(dir, `${what.replace(/\W+/g, '-')}.jsonl`);
      const r = writeInChild(path, ending);
      assert.ok(existsSync(path), r.stderr);
      assert.equal(readFileSync(path, 'utf8'), expectedLines);
    });
  }

  it('raises the error of a timed flush on the next write', { skip: !existsSync('/dev/full') && 'no /dev/full' }, async () => {
    const f = new OwnerOnlyFile('/dev/full');
    f.write('lost\n');
    await sleep(FLUSH_MS * 10);
    assert.throws(() => f.write('next\n'), /ENOSPC/);
    f.close();
  });
});

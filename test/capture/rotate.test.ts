/** Recordings split by size: part names, size syntax, when a new file starts, the ring of kept files, each part readable alone. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readCapture } from '../../src/capture/jsonl.js';
import { createWriter } from '../../src/capture/open.js';
import { parseSize, partPath } from '../../src/capture/rotate.js';
import type { TapEvent } from '../../src/tap/events.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-rotate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const note = (i: number): TapEvent => ({ conn: 1, client: { host: '127.0.0.1', port: 5000 }, event: { kind: 'note', time: 1_700_000_000_000 + i, level: 'info', message: `event ${i} ${'.'.repeat(100)}` } });

describe('capture rotation', () => {
  it('names parts before the extension and reads sizes in powers of 1024', () => {
    assert.equal(partPath('captures/x.jsonl', 0), 'captures/x.jsonl');
    assert.equal(partPath('captures/x.jsonl', 3), 'captures/x.3.jsonl');
    assert.equal(partPath('run', 2), 'run.2');
    assert.deepEqual(['100M', '1.5G', '512KiB', '64k', '1000', '2mb'].map(parseSize), [100 * 2 ** 20, 1.5 * 2 ** 30, 512 * 1024, 64 * 1024, 1000, 2 * 2 ** 20]);
    assert.deepEqual(['', '0', '-1M', '10X', 'M'].map(parseSize), [undefined, undefined, undefined, undefined, undefined]);
  });

  it('starts a new file once one holds maxBytes (at most one event over), keeps maxFiles, and every part is a capture', async () => {
    const path = join(dir, 'ring.jsonl');
    const w = createWriter(path, { source: 'test' }, { maxBytes: 2000, maxFiles: 3 });
    for (let i = 0; i < 100; i++) w.write(note(i));
    w.close();
    assert.equal(w.events, 100);
    const last = w.deletedFiles + 2;
    assert.ok(last > 5, `${last + 1} parts`);
    assert.deepEqual(w.files, [last - 2, last - 1, last].map((n) => partPath(path, n)));
    assert.ok(!existsSync(path) && !existsSync(partPath(path, last - 3)));
    const seen: number[] = [];
    for (const [i, file] of w.files.entries()) {
      assert.ok(statSync(file).size < 2000 + 300, `${file}: ${statSync(file).size} bytes`);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      for await (const item of readCapture(file)) {
        if (item.kind === 'header') assert.equal(item.header.part, last - 2 + i);
        else if (item.kind === 'event' && item.event.event.kind === 'note') seen.push(Number(item.event.event.message.split(' ')[1]));
        else assert.fail(`unexpected ${item.kind}`);
      }
    }
    // The newest events, in order, none lost across the boundaries kept.
    assert.deepEqual(seen, Array.from({ length: seen.length }, (_, k) => 100 - seen.length + k));
  });

  it('without maxBytes a recording is one file without a part number', async () => {
    const path = join(dir, 'single.jsonl');
    const w = createWriter(path);
    w.write(note(1));
    w.close();
    assert.deepEqual(w.files, [path]);
    const first = await readCapture(path).next();
    assert.ok(first.value?.kind === 'header' && first.value.header.part === undefined);
  });
});

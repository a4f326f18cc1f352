// The captures that ship with the project — the demo recording and the real third-party traffic —
// decode with no frame warning: real peers' quirks are notes, and a warning means something is wrong.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openCapture } from '../../src/capture/open.js';
import type { TapEvent } from '../../src/tap/events.js';
import { runCli } from '../helpers/server-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-versions-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function read(path: string): Promise<{ events: TapEvent[]; problems: string[] }> {
  const capture = await openCapture(path);
  const events: TapEvent[] = [];
  const problems: string[] = [];
  for await (const entry of capture.entries) {
    if (entry.kind === 'event') events.push(entry.event);
    else problems.push(entry.message);
  }
  return { events, problems };
}

const warned = (events: TapEvent[]) =>
  events.flatMap((e) => (e.event.kind === 'frame' && e.event.frame.warnings.length ? [`#${e.conn} ${e.event.frame.type}: ${e.event.frame.warnings.join('; ')}`] : []));

describe('shipped captures decode cleanly', () => {
  it('captures/demo.jsonl: no frame warning, no garbage, no request left without its reply', async () => {
    const { events, problems } = await read(new URL('../../captures/demo.jsonl', import.meta.url).pathname);
    assert.deepEqual(problems, []);
    assert.ok(events.filter((e) => e.event.kind === 'frame').length > 40);
    assert.deepEqual(warned(events), []);
    assert.deepEqual(events.filter((e) => ['garbage', 'no-reply'].includes(e.event.kind)), []);
  });

  it('a version 1 capture (test/fixtures/captures/demo-v1.jsonl, the demo before version 2) reads as the same events', async () => {
    const v1 = await read(new URL('../fixtures/captures/demo-v1.jsonl', import.meta.url).pathname);
    const v2 = await read(new URL('../../captures/demo.jsonl', import.meta.url).pathname);
    assert.deepEqual(v1.problems, []);
    assert.ok(v1.events.length > 40);
    assert.deepStrictEqual(v1.events, v2.events);
  });

  it('the tools give the same output for both versions of the demo: stats, a pcapng export, a redacted copy', async () => {
    const out = async (version: string, path: string) => {
      const stats = await runCli(['stats', path, '--json']);
      assert.equal(stats.code, 0, stats.stderr);
      const pcapng = join(dir, `${version}.pcapng`);
      assert.equal((await runCli(['export', path, '--pcapng', pcapng])).code, 0);
      const redacted = join(dir, `${version}.redacted.jsonl`);
      assert.equal((await runCli(['redact', path, '-o', redacted])).code, 0);
      return { stats: stats.stdout, pcapng: readFileSync(pcapng), redacted: readFileSync(redacted, 'utf8').split('\n').slice(1) };
    };
    const v1 = await out('v1', new URL('../fixtures/captures/demo-v1.jsonl', import.meta.url).pathname);
    const v2 = await out('v2', new URL('../../captures/demo.jsonl', import.meta.url).pathname);
    assert.equal(v1.stats, v2.stats);
    assert.ok(v1.pcapng.equals(v2.pcapng));
    assert.deepEqual(v1.redacted, v2.redacted);
  });

  for (const name of ['pidgin-mra-1.8-session.pcap', 'mrim-prpl-1.22-messages.pcap']) {
    it(`${name}: no frame warning (the pidgin capture's damaged tail is the file's problem, not a frame's)`, async () => {
      const { events, problems } = await read(new URL(`../fixtures/vectors/${name}`, import.meta.url).pathname);
      assert.deepEqual(warned(events), []);
      assert.ok(problems.every((p) => /damaged record header/.test(p)), problems.join('\n'));
      const notes = events.flatMap((e) => (e.event.kind === 'frame' ? e.event.frame.notes : []));
      assert.ok(notes.length > 0 && notes.every((n) => /trailing bytes ignored \((pidgin-mra|revival servers)/.test(n)), notes.join('\n'));
    });
  }
});

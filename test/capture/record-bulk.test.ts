/**
 * Traffic that is not MRIM through the real proxy, recorded: the tap stops decoding it after 64 KiB,
 * but the capture still holds every byte relayed, each direction in order, at about 4/3 of its size.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createWriter, openCapture } from '../../src/capture/open.js';
import type { TapEvent } from '../../src/tap/events.js';
import { closedAfterAll, listenTcp, readAll, socksConnect, waitForClose } from '../helpers/net.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-record-bulk-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const { keep, proxyFor } = closedAfterAll();

/** Each direction's bytes as the capture's events carry them, checked to follow each other by offset. */
function streams(events: TapEvent[]): Record<'c2s' | 's2c', Buffer> {
  const parts: Record<'c2s' | 's2c', Buffer[]> = { c2s: [], s2c: [] };
  const next = { c2s: 0, s2c: 0 };
  for (const { event: e } of events) {
    if (!('offset' in e)) continue;
    const bytes = e.kind === 'frame' ? e.raw : e.bytes;
    assert.equal(e.offset, next[e.dir], `${e.dir} ${e.kind} at ${e.offset}`);
    next[e.dir] += bytes.length;
    parts[e.dir].push(bytes);
  }
  return { c2s: Buffer.concat(parts.c2s), s2c: Buffer.concat(parts.s2c) };
}

describe('recording traffic that is not MRIM', () => {
  it('keeps every relayed byte of both directions, in order, in about 1.34× the bytes', async () => {
    const up = randomBytes(1024 * 1024 + 17);
    const down = randomBytes(300 * 1024 + 5);
    const path = join(dir, 'bulk.jsonl');
    const writer = createWriter(path, { listen: 'test' });
    const upstream = keep(await listenTcp((s) => s.resume().on('end', () => s.end(down))));
    const proxy = await proxyFor({ onEvent: (ev) => writer.write(ev) });
    const client = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    // Written in pieces of every size, as an application would.
    for (let at = 0, n = 1; at < up.length; at += n, n = (n * 7 + 1) % 70_000) client.write(up.subarray(at, at + n));
    client.end();
    assert.deepEqual(await readAll(client), down);
    await waitForClose(proxy, 1);
    writer.close();

    const events: TapEvent[] = [];
    for await (const entry of (await openCapture(path)).entries) {
      assert.equal(entry.kind, 'event');
      if (entry.kind === 'event') events.push(entry.event);
    }
    const recorded = streams(events);
    assert.ok(recorded.c2s.equals(up), `c2s: ${recorded.c2s.length} of ${up.length} bytes`);
    assert.ok(recorded.s2c.equals(down), `s2c: ${recorded.s2c.length} of ${down.length} bytes`);
    assert.ok(events.some((e) => e.event.kind === 'note' && /not MRIM, the rest of this direction is relayed and recorded without decoding/.test(e.event.message)));
    const ratio = statSync(path).size / (up.length + down.length);
    assert.ok(ratio < 1.4, `capture ${ratio.toFixed(2)}× the relayed bytes`);
  });
});

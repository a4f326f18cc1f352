/** `mrimtap import` (pcap/pcapng → capture) and `mrimtap convert` (JSON Lines ⇄ one JSON document). */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openCapture } from '../../src/capture/open.js';
import { tapEventToJson } from '../../src/tap/line.js';
import { ROOT } from '../helpers/cli.js';
import { captureFileErrors } from '../helpers/json-schema.js';
import { tcpSessionPcap } from '../helpers/pcap-builder.js';
import { runCli } from '../helpers/server-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-convert-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const VECTORS = join(ROOT, 'test', 'fixtures', 'vectors');
const DEMO = join(ROOT, 'captures', 'demo.jsonl');

async function lines(path: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const e of (await openCapture(path)).entries) out.push(e.kind === 'event' ? tapEventToJson(e.event, { keepRaw: true }) : e.message);
  return out;
}

describe('import', () => {
  for (const name of ['pidgin-mra-1.8-session.pcap', 'mrim-prpl-1.22-messages.pcap']) {
    it(`${name}: a capture with the events decode shows for the pcap, valid by the schema, owner-only`, async () => {
      const pcap = join(VECTORS, name);
      const out = join(dir, `${name}.jsonl`);
      const r = await runCli(['import', pcap, '-o', out]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`^${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: \\d+ events, \\d+ MRIM frames, from pcap: \\d+ packets, \\d+ TCP connections`, 'm'));
      assert.equal(statSync(out).mode & 0o777, 0o600);
      assert.deepEqual(captureFileErrors(out), []);
      const fromPcap = (await lines(pcap)).filter((l) => typeof l !== 'string');
      assert.deepEqual(await lines(out), fromPcap);
      const header = JSON.parse(readFileSync(out, 'utf8').split('\n')[0]!) as { source: string; started: string };
      assert.equal(header.source, name);
      assert.equal(header.started, (fromPcap[0] as { time: string }).time);
      // The damaged tail of the pidgin capture is said on stderr, with where it is.
      if (name.startsWith('pidgin')) assert.match(r.stderr, /^mrimtap: .*: damaged record header .*\(file offset \d+\)$/m);
    });
  }

  it('lists the connections that carry no MRIM, and refuses what is not a pcap', async () => {
    const pcap = join(dir, 'mixed.pcap');
    writeFileSync(pcap, tcpSessionPcap([{ time: Date.UTC(2024, 0, 1), dir: 'c2s', data: Buffer.from('GET / HTTP/1.1\r\n\r\n') }], { serverPort: 80 }));
    const r = await runCli(['import', pcap, '-o', join(dir, 'mixed.jsonl')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^ {2}#1 192\.0\.2\.10:40001 ⇄ 192\.0\.2\.20:80: no MRIM, listed but not decoded$/m);
    const again = await runCli(['import', DEMO, '-o', join(dir, 'again.jsonl')]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /demo\.jsonl is a mrimtap capture, not pcap or pcapng\n$/);
    const same = await runCli(['import', pcap, '-o', pcap]);
    assert.match(same.stderr, /is the input file: write to another one\n$/);
    const folder = await runCli(['import', pcap, '-o', dir]);
    assert.equal(folder.code, 2);
    assert.equal(folder.stderr, `mrimtap: cannot write ${dir}: is a directory\n`);
  });
});

describe('convert', () => {
  it('JSON Lines → one document → JSON Lines gives the same file back; both shapes valid by the schema', async () => {
    const doc = join(dir, 'demo.json');
    const back = join(dir, 'demo-back.jsonl');
    const toJson = await runCli(['convert', DEMO, '--to', 'json', '-o', doc]);
    assert.equal(toJson.code, 0, toJson.stderr);
    assert.deepEqual(captureFileErrors(doc), []);
    const parsed = JSON.parse(readFileSync(doc, 'utf8')) as { format: string; events: unknown[] };
    assert.equal(parsed.format, 'mrimtap-capture');
    assert.equal(parsed.events.length, readFileSync(DEMO, 'utf8').trim().split('\n').length - 1);
    assert.equal((await openCapture(doc)).format, 'mrimtap-json');
    const toJsonl = await runCli(['convert', doc, '--to', 'jsonl', '-o', back]);
    assert.equal(toJsonl.code, 0, toJsonl.stderr);
    assert.equal(readFileSync(back, 'utf8'), readFileSync(DEMO, 'utf8'));
    // Every command reads the document shape too.
    const decoded = await runCli(['decode', doc]);
    assert.match(decoded.stdout, /^capture document by mrimtap \S+, started \d{4}-\d\d-\d\dT[\d:.]+Z on 127\.0\.0\.1:\d+\n/);
  });

  it('an empty capture converts to an empty document; a bad --to or a torn document is one line', async () => {
    const header = readFileSync(DEMO, 'utf8').split('\n')[0]!;
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, header + '\n');
    const doc = join(dir, 'empty.json');
    assert.equal((await runCli(['convert', empty, '--to', 'json', '-o', doc])).code, 0);
    assert.deepEqual((JSON.parse(readFileSync(doc, 'utf8')) as { events: unknown[] }).events, []);
    assert.deepEqual(captureFileErrors(doc), []);
    assert.equal((await runCli(['convert', DEMO, '--to', 'xml', '-o', doc])).stderr, 'mrimtap: --to must be json or jsonl, not "xml"\n');
    writeFileSync(doc, readFileSync(doc, 'utf8').slice(0, 60));
    const torn = await runCli(['decode', doc]);
    assert.equal(torn.code, 2);
    assert.match(torn.stderr, /^mrimtap: .*empty\.json: not a mrimtap capture: not valid JSON \(.*a document cut short\?\)\n$/);
  });
});

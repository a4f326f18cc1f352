// `decode -w` writes the selected part of a capture as a capture; `decode -` reads one from stdin.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openCapture } from '../../src/capture/open.js';
import { tapEventToJson } from '../../src/tap/line.js';
import { ROOT } from '../helpers/cli.js';
import { runCli } from '../helpers/server-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-decode-write-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const DEMO = join(ROOT, 'captures', 'demo.jsonl');
const PCAP = join(ROOT, 'test', 'fixtures', 'vectors', 'pidgin-mra-1.8-session.pcap');
const BIN = join(ROOT, 'bin', 'mrimtap.js');

async function events(path: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const e of (await openCapture(path)).entries) if (e.kind === 'event') out.push(tapEventToJson(e.event, { keepRaw: true }) as Record<string, unknown>);
  return out;
}

/** Runs `mrimtap decode …` with a file on its stdin. */
function decodeStdin(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'decode', ...args], { env: { ...process.env, FORCE_COLOR: '0' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    createReadStream(input).pipe(child.stdin);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('decode -w', () => {
  it('writes the selected frames with their raw bytes and their connections, a capture that decodes and gives stats', async () => {
    const out = join(dir, 'messages.jsonl');
    const r = await runCli(['decode', DEMO, '--filter', 'type == MESSAGE', '-w', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /: 3 of \d+ events selected, 7 written/);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    const all = await events(DEMO);
    const subset = await events(out);
    const messages = all.filter((e) => e.type === 'MESSAGE');
    assert.equal(messages.length, 3);
    // Every selected frame as it was recorded, raw bytes included, and nothing else but its connection's open and close.
    assert.deepEqual(subset.filter((e) => e.kind === 'frame'), messages);
    assert.ok(messages.every((m) => typeof m.raw === 'string' && m.raw.length > 0));
    // Each connection's events in their order; an open is written just before its connection's first selected event.
    const conns = new Set(messages.map((m) => m.conn));
    const byConn = (list: Record<string, unknown>[]) => [...list].sort((a, b) => Number(a.conn) - Number(b.conn));
    assert.deepEqual(byConn(subset), byConn(all).filter((e) => e.type === 'MESSAGE' || ((e.kind === 'open' || e.kind === 'close') && conns.has(e.conn))));
    const header = (await openCapture(out)).description;
    assert.equal(header, (await openCapture(DEMO)).description);
    const stats = await runCli(['stats', out]);
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(stats.stdout, /MESSAGE\s+│\s+3/);
    const again = await runCli(['decode', out]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((again.stdout.match(/C→S MESSAGE /g) ?? []).length, 3);
  });

  it('refuses to write over its input, and needs a capture', async () => {
    const r = await runCli(['decode', DEMO, '-w', DEMO]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is the input file/);
    const none = await runCli(['decode', '-w', join(dir, 'x.jsonl')]);
    assert.equal(none.code, 2);
  });
});

describe('decode -', () => {
  it('reads a pcap from stdin as it reads the file', async () => {
    const fromFile = await runCli(['decode', PCAP]);
    const fromStdin = await decodeStdin(['-'], PCAP);
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    assert.equal(fromStdin.stdout, fromFile.stdout);
    assert.equal(fromStdin.stderr, fromFile.stderr.replaceAll(PCAP, 'stdin'));
  });

  it('reads a recording from stdin, filtered and written with -w', async () => {
    const out = join(dir, 'from-stdin.jsonl');
    const r = await decodeStdin(['-', '--filter', 'type == MESSAGE', '-w', out], DEMO);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await events(out)).filter((e) => e.kind === 'frame').length, 3);
  });

  it('says when stdin is not a capture', async () => {
    const r = await decodeStdin(['-'], join(ROOT, 'README.md'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^mrimtap: stdin is not a capture/);
  });
});

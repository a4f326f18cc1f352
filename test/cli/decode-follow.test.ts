// `decode --follow` prints a recording as it is written, like tail -f, until Ctrl-C.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT, spawnCli } from '../helpers/cli.js';
import { runCli } from '../helpers/server-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-follow-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const DEMO_LINES = readFileSync(join(ROOT, 'captures', 'demo.jsonl'), 'utf8').trimEnd().split('\n');

describe('decode --follow', () => {
  it('prints lines appended to a recording as they come, a line written in two parts once, and exits 0 on Ctrl-C', async () => {
    const file = join(dir, 'growing.jsonl');
    writeFileSync(file, DEMO_LINES.slice(0, 3).join('\n') + '\n', { mode: 0o600 });
    const cli = spawnCli(['decode', '--follow', '--json', file]);
    const count = () => cli.stdout().split('\n').filter(Boolean).length;
    await cli.waitFor(/\n/, 20_000, 'stdout');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(count(), 2);
    appendFileSync(file, DEMO_LINES.slice(3, 10).join('\n') + '\n');
    // The next line arrives torn in two writes, as a recording being written may be read.
    const next = DEMO_LINES[10]!;
    appendFileSync(file, next.slice(0, 20));
    await cli.waitFor(new RegExp(`(?:.*\\n){9}`), 20_000, 'stdout');
    assert.equal(count(), 9);
    appendFileSync(file, next.slice(20) + '\n');
    await cli.waitFor(new RegExp(`(?:.*\\n){10}`), 20_000, 'stdout');
    assert.equal(await cli.stop('SIGINT'), 0);
    assert.equal(cli.stderr(), '');
    const printed = cli.stdout().trimEnd().split('\n').map((l) => JSON.parse(l) as { time: string; kind: string });
    assert.deepEqual(printed.map((p) => p.time), DEMO_LINES.slice(1, 11).map((l) => (JSON.parse(l) as { time: string }).time));
  });

  it('is for recordings: a pcap or stdin is refused with exit code 2', async () => {
    const pcap = await runCli(['decode', '--follow', join(ROOT, 'test', 'fixtures', 'vectors', 'pidgin-mra-1.8-session.pcap')]);
    assert.equal(pcap.code, 2);
    assert.match(pcap.stderr, /--follow reads a mrimtap recording .* is a pcap capture/);
    const stdin = await runCli(['decode', '--follow', '-']);
    assert.equal(stdin.code, 2);
    assert.match(stdin.stderr, /--follow/);
  });
});

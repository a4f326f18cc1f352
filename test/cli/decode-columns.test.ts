// `decode -c N`, `--time relative|absolute|delta` and `--fields` column output, over the demo recording.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/cli.js';
import { runCli } from '../helpers/server-cli.js';

const DEMO = join(ROOT, 'captures', 'demo.jsonl');

describe('decode: -c, --time, --fields', () => {
  it('-c N stops after N frames, counting those the filter selects', async () => {
    const r = await runCli(['decode', DEMO, '--json', '-c', '2', '--filter', 'dir == c2s']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { kind: string; type?: string; dir?: string });
    assert.deepEqual(lines.filter((l) => l.kind === 'frame').map((l) => l.type), ['HELLO', 'LOGIN2']);
    assert.equal(lines.at(-1)!.type, 'LOGIN2');
    for (const bad of ['0', '-1', 'x']) assert.equal((await runCli(['decode', DEMO, '-c', bad])).code, 2, bad);
  });

  it('--fields prints tab-separated columns of filter fields, secrets masked, unknown names refused', async () => {
    const r = await runCli(['decode', DEMO, '--fields', 'type,seq,conn,login,text,password', '--filter', 'type == LOGIN2,MESSAGE']);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.split('\n').slice(0, -1).map((l) => l.split('\t'));
    assert.ok(rows.every((row) => row.length === 6));
    assert.deepEqual(rows[0], ['LOGIN2', '2', '2', 'alice@mail.ru', '', '********']);
    assert.ok(rows.some((row) => row[0] === 'MESSAGE' && row[4] === 'Привет, Боб! Как дела?'));
    const secret = await runCli(['decode', DEMO, '--fields', 'password', '--filter', 'type == LOGIN2', '--show-secrets']);
    assert.doesNotMatch(secret.stdout, /\*{8}/);
    const bad = await runCli(['decode', DEMO, '--fields', 'type,txet']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--fields: unknown field "txet" \(did you mean text\?\)/);
  });

  it('--time relative counts from the first event, delta from the previous one, absolute is the time of day', async () => {
    const times = async (format: string) => {
      const r = await runCli(['decode', DEMO, '--fields', 'time', '--time', format]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trimEnd().split('\n');
    };
    const relative = (await times('relative')).map(Number);
    const delta = (await times('delta')).map(Number);
    assert.equal(relative[0], 0);
    // Each delta is the step between two relative times (to rounding).
    for (let i = 1; i < relative.length; i++) assert.ok(Math.abs(delta[i]! - (relative[i]! - relative[i - 1]!)) < 0.0021, `row ${i}`);
    assert.match((await times('absolute'))[0]!, /^\d\d:\d\d:\d\d\.\d{3}$/);
    const listing = await runCli(['decode', DEMO, '--time', 'relative', '-c', '1']);
    assert.match(listing.stdout.split('\n')[1]!, /^\s+0\.000 #1 /);
    assert.equal((await runCli(['decode', DEMO, '--time', 'epoch'])).code, 2);
  });

  it('options that shape the listing are refused where nothing is listed (-w, --raw-out) or with --raw', async () => {
    const w = await runCli(['decode', DEMO, '-w', join(ROOT, 'never-written.jsonl'), '--fields', 'type']);
    assert.equal(w.code, 2);
    assert.match(w.stderr, /--fields shapes what is printed/);
    const raw = await runCli(['decode', '--raw', DEMO, '--from', 'client', '-c', '3']);
    assert.equal(raw.code, 2);
    assert.match(raw.stderr, /--count goes with a CAPTURE/);
  });
});

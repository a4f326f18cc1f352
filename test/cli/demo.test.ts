/** `mrimtap demo --exit` (what `npm start` runs, minus staying up): the scripted session end to end. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readCapture } from '../../src/capture/jsonl.js';
import type { TapEvent } from '../../src/tap/events.js';
import { spawnCli } from '../helpers/cli.js';
import { runCli } from '../helpers/server-cli.js';
import { captureFileErrors } from '../helpers/json-schema.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-demo-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('mrimtap demo', () => {
  it('plays the scripted session through the proxy, logs it readably and records it', async () => {
    const capture = join(dir, 'demo.jsonl');
    const r = await runCli(['demo', '--exit', '--free-ports', '--record', capture], 60_000);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // Not a terminal: plain text only.
    assert.doesNotMatch(r.stdout, /\x1b\[/);
    for (const step of ['alice logs in with protocol 1.8', 'bob logs in with protocol 1.21', 'carol logs in with protocol 1.23', 'everyone logs out']) {
      assert.ok(r.stdout.includes(step), step);
    }
    assert.match(r.stdout, /#1 S→C REDIRECT → 127\.0\.0\.1:\d+/);
    assert.match(r.stdout, /#2 OPEN .* · follows redirect from #1/);
    assert.match(r.stdout, /#2 C→S LOGIN2 seq=\d+ v1\.8 \d+ B[^\n]*\n\s+login\s+alice@mail\.ru\n\s+password\s+\*{8} \(plaintext\)/);
    assert.match(r.stdout, /C→S LOGIN3 seq=\d+ v1\.23 \d+ B[^\n]*\n\s+login\s+carol@list\.ru\n\s+password\s+\*{8} \(md5\)/);
    assert.match(r.stdout, /text\s+Привет, Боб! Как дела\?/);
    assert.match(r.stdout, /S→C OFFLINE_MESSAGE_ACK/);
    assert.match(r.stdout, /S→C ANKETA_INFO seq=\d+ v1\.21 \d+ B ↩ WP_REQUEST/);
    assert.match(r.stdout, /\n  web view +http:\/\/127\.0\.0\.1:\d+\/[\w-]{24}\/  \(open it in a browser/);
    assert.doesNotMatch(r.stdout, /starts in \d+ s/, 'not a terminal: the session starts at once');
    assert.match(r.stdout, /Next:\n\s+npx mrimtap decode /);
    assert.match(r.stdout, /npx mrimtap web \S+demo\.jsonl +in the web view/);
    // With --exit its server is gone: replay goes to a server of the user's, or plays one.
    assert.match(r.stdout, /npx mrimtap replay \S+demo\.jsonl --server 127\.0\.0\.1:2041 +replay it against a server/);
    assert.match(r.stdout, /npx mrimtap replay \S+demo\.jsonl --as-server +be the recorded server for a real client\n/);
    assert.doesNotMatch(r.stdout + r.stderr, /scripted session stopped|⚠ decoder|cannot render/);

    assert.equal(statSync(capture).mode & 0o777, 0o600);
    assert.deepEqual(captureFileErrors(capture), []);
    const events: TapEvent[] = [];
    for await (const item of readCapture(capture)) {
      assert.notEqual(item.kind, 'problem');
      if (item.kind === 'event') events.push(item.event);
    }
    const logins = events.flatMap((e) => (e.event.kind === 'frame' && /^LOGIN[23]$/.test(e.event.frame.type) ? [`${e.event.frame.type} ${e.event.frame.proto} ${e.login}`] : []));
    assert.deepEqual(logins, ['LOGIN2 1.8 alice@mail.ru', 'LOGIN3 1.21 bob@mail.ru', 'LOGIN3 1.23 carol@list.ru']);
    const types = new Set(events.flatMap((e) => (e.event.kind === 'frame' ? [e.event.frame.type] : [])));
    for (const t of ['CONTACT_LIST2', 'USER_STATUS', 'CHANGE_STATUS', 'MESSAGE', 'MESSAGE_ACK', 'MESSAGE_STATUS', 'OFFLINE_MESSAGE_ACK', 'WP_REQUEST', 'ANKETA_INFO']) {
      assert.ok(types.has(t), t);
    }
    // A message both ways: CP1251 to the 1.8 client, UTF-16LE to the 1.21 one.
    const acks = events.flatMap((e) => (e.event.kind === 'frame' && e.event.frame.type === 'MESSAGE_ACK' ? [e.event.frame] : []));
    assert.deepEqual(acks.map((f) => f.proto).sort(), ['1.21', '1.8']);
    assert.equal(events.filter((e) => e.event.kind === 'close').length, 4);
    assert.ok(!events.some((e) => e.event.kind === 'garbage' || (e.event.kind === 'frame' && e.event.frame.warnings.length > 0)));
  });

  it('--script: the scripted session goes through the addon, its marks in the log and the capture', async () => {
    const script = join(dir, 'shout.mjs');
    writeFileSync(script, "export function frame(f) { if (f.type === 'MESSAGE_ACK') return { ...f, fields: { ...f.fields, text: String(f.fields.text).toUpperCase() } }; }\n");
    const capture = join(dir, 'shout.jsonl');
    const r = await runCli(['demo', '--exit', '--free-ports', '--record', capture, '--script', script], 60_000);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /addons +shout\.mjs/);
    assert.match(r.stdout, /S→C MESSAGE_ACK .* ✎ modified by shout\.mjs \(was \d+ B\)\n(.*\n)*? +text +ПРИВЕТ, БОБ! КАК ДЕЛА\?/);
    assert.deepEqual(captureFileErrors(capture), []);
    let marked = 0;
    for await (const item of readCapture(capture)) if (item.kind === 'event' && item.event.addon?.action === 'modified') marked++;
    assert.equal(marked, 2, 'the two live messages (the offline one is not a MESSAGE_ACK)');
  });

  it('falls back to a free port when 2041 is taken, and Ctrl-C mid-session stops it there', async () => {
    // Holds 2041 unless something else already does; either way the demo must not take it.
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.once('error', () => resolve()).listen(2041, '127.0.0.1', () => resolve()));
    const capture = join(dir, 'interrupted.jsonl');
    const demo = spawnCli(['demo', '--record', capture]);
    try {
      await demo.waitFor(/MRIM server +127\.0\.0\.1:\d+ \(2041 was in use\)/, 20_000, 'stdout');
      // The steps after the first take over a second (each one settles for 150 ms): the signal lands mid-session.
      await demo.waitFor(/▶ alice logs in/, 10_000, 'stdout');
      assert.equal(await demo.stop('SIGINT'), 1, demo.stdout() + demo.stderr());
      assert.match(demo.stdout(), /⚠ the scripted session stopped: interrupted \(SIGINT\)/);
      assert.doesNotMatch(demo.stdout(), /everyone logs out|stay up/);
      assert.equal(demo.stderr().split('\n').filter((l) => l.startsWith('mrimtap:')).join('\n'), 'mrimtap: the scripted session did not complete (see above)');
      for await (const item of readCapture(capture)) assert.notEqual(item.kind, 'problem');
      assert.deepEqual(captureFileErrors(capture), []);
    } finally {
      await demo.stop('SIGKILL');
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});

describe('npm start', () => {
  it('stops cleanly when npm itself gets SIGTERM (the signal reaches the demo, not only npm)', async () => {
    const { spawn } = await import('node:child_process');
    const capture = join(dir, 'npm-start.jsonl');
    const npm = spawn('npm', ['start', '--silent', '--', '--free-ports', '--record', capture], { cwd: join(import.meta.dirname, '..', '..'), env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    npm.stdout.on('data', (c: Buffer) => (out += c.toString()));
    npm.stderr.on('data', (c: Buffer) => (out += c.toString()));
    // Whatever happens, the test does not wait on the pipes of a demo left running.
    after(() => {
      npm.stdout.destroy();
      npm.stderr.destroy();
    });
    const deadline = Date.now() + 60_000;
    while (!out.includes('stay up') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(out.includes('stay up'), out);
    npm.kill('SIGTERM');
    await new Promise((r) => npm.once('exit', r));
    // The demo's own summary: it got the signal and closed its capture.
    const summaryDeadline = Date.now() + 10_000;
    while (!/events recorded in/.test(out) && Date.now() < summaryDeadline) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /events recorded in .*npm-start\.jsonl/);
    const events: TapEvent[] = [];
    for await (const item of readCapture(capture)) if (item.kind === 'event') events.push(item.event);
    const opens = events.filter((e) => e.event.kind === 'open').length;
    assert.equal(events.filter((e) => e.event.kind === 'close').length, opens, 'every connection closed in the capture');
  });
});

/** `mrimtap web`, `mrimtap diagram` and `proxy --web` as commands: what they print, their files, and their one-line errors. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { spawnCli } from '../helpers/cli.js';
import { runCli } from '../helpers/server-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-web-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body)) : reject(new Error(`${res.statusCode} ${body}`))));
    }).on('error', reject);
  });
}

/** A port on 127.0.0.1 held until `release`. */
async function takenPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  return { port: (holder.address() as net.AddressInfo).port, release: () => new Promise((r) => holder.close(() => r())) };
}

describe('mrimtap web', () => {
  it('serves a pcap file too, and says where', async () => {
    const web = spawnCli(['web', 'test/fixtures/vectors/pidgin-mra-1.8-session.pcap']);
    try {
      const [, url] = await web.waitFor(/open (http:\/\/127\.0\.0\.1:\d+\/[\w-]{24}\/) in a browser; Ctrl-C to stop/, 20_000, 'stdout');
      await web.waitFor(/\d+ events from 2 connections read/, 10_000, 'stdout');
      const info = (await getJson(url + 'api/info')) as { status: string; events: number; title: string };
      assert.equal(info.status, 'complete');
      assert.ok(info.events > 10);
      assert.match(info.title, /pidgin-mra-1\.8-session\.pcap — pcap/);
      const conns = (await getJson(url + 'api/connections')) as Array<{ login?: string; proto?: string }>;
      assert.ok(conns.some((c) => c.login === 'test@mail.ru' || c.proto === '1.8'), JSON.stringify(conns));
    } finally {
      assert.equal(await web.stop('SIGINT'), 0, web.stderr());
    }
  });

  it('stops with a one-line error: a missing file, not a capture, a bad or a taken port', async () => {
    const notCapture = join(dir, 'notes.txt');
    writeFileSync(notCapture, 'hello\n');
    for (const [args, code, message] of [
      [['web', join(dir, 'missing.jsonl')], 2, /^mrimtap: cannot read .*missing\.jsonl: no such file$/],
      [['web', notCapture], 2, /^mrimtap: .*notes\.txt is not a capture: expected/],
      [['web', 'captures/demo.jsonl', '--port', 'x'], 2, /^mrimtap: --port must be a port number 0–65535, not "x"$/],
    ] as const) {
      const r = await runCli([...args]);
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr.trim(), message);
    }
    const taken = await takenPort();
    try {
      const r = await runCli(['web', 'captures/demo.jsonl', '--port', String(taken.port)]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.trim(), `mrimtap: web view: cannot listen on 127.0.0.1:${taken.port}: the port is in use (pick another with --port)`);
    } finally {
      await taken.release();
    }
  });
});

describe('mrimtap diagram', () => {
  it('writes the SVG of one connection, or of all to standard output', async () => {
    const file = join(dir, 'alice.svg');
    const one = await runCli(['diagram', 'captures/demo.jsonl', '--conn', '2', '-o', file]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stderr, `mrimtap: 1 session diagram written to ${file}\n`);
    const svg = readFileSync(file, 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.deepEqual([...svg.matchAll(/data-conn="(\d+)"/g)].map((m) => m[1]), ['2']);
    assert.equal([...svg.matchAll(/class="row (c2s|s2c) frame"/g)].length, 16);
    assert.match(svg, />#2 · alice@mail\.ru · v1\.8 · /);

    const all = await runCli(['diagram', 'captures/demo.jsonl']);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual([...all.stdout.matchAll(/data-conn="(\d+)"/g)].map((m) => m[1]), ['1', '2', '3', '4']);
    assert.match(all.stdout, /<\/svg>\n$/);
  });

  it('stops with a one-line error: an unknown connection, a bad option, an unwritable output', async () => {
    for (const [args, message] of [
      [['diagram', 'captures/demo.jsonl', '--conn', '9'], /^mrimtap: captures\/demo\.jsonl has no connection 9 \(it has 1, 2, 3, 4\)$/],
      [['diagram', 'captures/demo.jsonl', '--conn', 'two'], /^mrimtap: --conn takes a connection number or a list \(2,3\), not "two"$/],
      [['diagram', 'captures/demo.jsonl', '--gap', 'long'], /^mrimtap: --gap takes a number of seconds, not "long"$/],
      [['diagram', 'captures/demo.jsonl', '-o', dir], /^mrimtap: cannot write .*: is a directory$/],
      [['diagram', join(dir, 'missing.pcap')], /^mrimtap: cannot read .*missing\.pcap: no such file$/],
    ] as const) {
      const r = await runCli([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr.trim(), message);
    }
  });
});

describe('mrimtap proxy --web', () => {
  it('checks the port before starting, and a taken one stops the proxy it started with a one-line error', async () => {
    const bad = await runCli(['proxy', '--port', '0', '--web', 'x']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim(), 'mrimtap: --web must be a port number 0–65535, not "x"');
    const taken = await takenPort();
    try {
      const r = await runCli(['proxy', '--port', '0', '--web', String(taken.port)]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.trim(), `mrimtap: web view: cannot listen on 127.0.0.1:${taken.port}: the port is in use (pick another with --web)`);
    } finally {
      await taken.release();
    }
  });
});

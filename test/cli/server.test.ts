// `mrimtap server` as a user runs it: banner with the real ports, one log line per session event,
// --json, the users file written on SIGINT/SIGTERM, and one-line errors with distinct exit codes.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Fields } from '../../src/protocol/fields.js';
import { selfSignedCert } from '../helpers/net.js';
import { RawClient } from '../helpers/raw-client.js';
import { runCli, startServerCli } from '../helpers/server-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-server-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('mrimtap server', () => {
  it('--user a --user b: banner with the actual ports, the users made contacts of each other; SIGTERM stops it cleanly', async () => {
    const srv = await startServerCli(['--port', '0', '--redirector-port', '0', '--user', 'alice@mail.ru:alicepw', '--user', 'bob@mail.ru:bobpw']);
    let client: RawClient | undefined;
    try {
      const banner = srv.stdout();
      assert.match(banner, /users\s+alice@mail\.ru, bob@mail\.ru — from --user, made contacts of each other/);
      assert.match(banner, new RegExp(`redirector\\s+127\\.0\\.0\\.1:${srv.redirectorPort} \\(answers "127\\.0\\.0\\.1:${srv.port}"\\)`));
      assert.match(banner, /STARTTLS\s+off/);
      assert.ok(!banner.includes('alicepw'), 'passwords given on the command line are not echoed');
      client = await RawClient.connect(srv.port, '1.8');
      const { contactList } = await client.login('alice@mail.ru', 'alicepw');
      assert.deepEqual((contactList.fields.contacts as Fields[]).map((c) => c.email), ['bob@mail.ru']);
      await waitForOutput(() => srv.stdout(), /#1\s+alice@mail\.ru v1\.8 alice@mail\.ru logged in \(LOGIN2, plain password/);
    } finally {
      await client?.close();
      assert.equal(await srv.stop('SIGTERM'), 0);
    }
    assert.match(srv.stdout(), /SIGTERM: stopping\n.*stopped/);
    assert.equal(srv.stderr(), '');
  });

  it('demo users when none are given; --users FILE is written on SIGINT and loaded on the next start', async () => {
    const file = join(dir, 'demo-users.json');
    const first = await startServerCli(['--port', '0', '--redirector-port', 'off', '--users', file]);
    assert.match(first.stdout(), /users\s+demo users \(none given\), contacts of each other: alice@mail\.ru \/ alice, bob@mail\.ru \/ bob, carol@list\.ru \/ carol/);
    assert.match(first.stdout(), /redirector\s+off/);
    assert.match(first.stdout(), /users file\s+.*demo-users\.json \(new; written on exit\)/);
    assert.equal(first.redirectorPort, undefined);
    assert.equal(await first.stop('SIGINT'), 0);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { users: Fields[] };
    assert.deepEqual(saved.users.map((u) => u.login), ['alice@mail.ru', 'bob@mail.ru', 'carol@list.ru']);

    const second = await startServerCli(['--port', '0', '--redirector-port', '0', '--users', file, '--json']);
    try {
      const banner = JSON.parse(second.stdout().split('\n')[0]) as Fields;
      assert.equal(banner.event, 'banner');
      assert.equal(banner.usersSource, 'file');
      assert.equal(banner.port, second.port);
      const c = await RawClient.connect(second.port, '1.21');
      await c.login('bob@mail.ru', 'bob');
      await c.close();
      const events = await waitForOutput(() => second.stdout(), /"event":"login"/);
      const login = events
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Fields)
        .find((e) => e.event === 'login')!;
      assert.deepEqual([login.user, login.proto, login.packet, login.level], ['bob@mail.ru', '1.21', 'LOGIN2', 'info']);
    } finally {
      assert.equal(await second.stop('SIGTERM'), 0);
    }
  });

  it('STARTTLS is on with --tls-cert/--tls-key', async (t) => {
    const cert = selfSignedCert();
    if (!cert) return t.skip('openssl is not available to make a test certificate');
    writeFileSync(join(dir, 'cert.pem'), cert.cert);
    writeFileSync(join(dir, 'key.pem'), cert.key);
    const srv = await startServerCli(['--port', '0', '--redirector-port', '0', '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')]);
    try {
      assert.match(srv.stdout(), /STARTTLS\s+on/);
      const c = await RawClient.connect(srv.port, '1.23');
      await c.hello();
      assert.equal((await c.startTls()).type, 'OK');
      const { reply } = c.sendLogin('carol@list.ru', 'carol', { via: 'LOGIN3', md5: true });
      assert.equal((await reply).type, 'LOGIN_ACK');
      await c.close();
    } finally {
      assert.equal(await srv.stop(), 0);
    }
  });

  it('user errors: one line on stderr, no stack trace, exit code 2 (1 when the port is taken)', async () => {
    const cases: [string[], RegExp][] = [
      [['--user', 'alice@mail.ru'], /--user must be LOGIN:PASSWORD/],
      [['--port', '70000'], /--port must be a port number 0–65535, not "70000"/],
      [['--tls-cert', 'x.pem'], /--tls-cert and --tls-key go together/],
      [['--ping-period', '0'], /--ping-period must be a whole number of seconds/],
      [['--users', join(dir, 'bad.json')], /users file .*bad\.json: /],
      [['--users', join(dir, 'missing', 'users.json')], /--users .*users\.json: the folder .*missing does not exist, so the users could not be saved on exit\n$/],
    ];
    writeFileSync(join(dir, 'bad.json'), '{"users": [{"login": "x"}]}');
    const results = await Promise.all(cases.map(([args]) => runCli(['server', '--port', '0', '--redirector-port', 'off', ...args])));
    results.forEach((r, i) => {
      assert.equal(r.code, 2, `${cases[i][0].join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, cases[i][1]);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^mrimtap: /);
    });

    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as net.AddressInfo).port;
      const r = await runCli(['server', '--port', String(port), '--redirector-port', 'off']);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `mrimtap: cannot listen on 127.0.0.1:${port}: address already in use\n`);
    } finally {
      taken.close();
    }
  });
});

async function waitForOutput(read: () => string, pattern: RegExp, ms = 5000): Promise<string> {
  const deadline = Date.now() + ms;
  while (!pattern.test(read())) {
    if (Date.now() > deadline) throw new Error(`output did not match ${pattern} in ${ms} ms:\n${read()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return read();
}

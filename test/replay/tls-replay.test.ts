// STARTTLS in replays: a 1.23 session recorded with the proxy's TLS interception replays against a
// server with a certificate (the replay switches to TLS where the live server accepts it), and as a
// server with a certificate to a TLS client; without interception the capture holds the rest of the
// session encrypted, and the replay says it stops at the switch.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MrimClient } from '../../src/client/index.js';
import { startSniffer } from '../../src/proxy/sniffer.js';
import { replayAgainstServer } from '../../src/replay/client-runner.js';
import { Comparer } from '../../src/replay/compare.js';
import { ReplayServer } from '../../src/replay/server-runner.js';
import { MrimServer } from '../../src/server/index.js';
import { selfSignedCert } from '../helpers/net.js';
import { CAROL, demoUsers, readSessions } from '../helpers/recorded-session.js';
import { nextEvent, until } from '../helpers/wait.js';

const cert = selfSignedCert();
const dir = mkdtempSync(join(tmpdir(), 'mrimtap-replay-tls-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** carol logs in over STARTTLS through the sniffer (intercepting TLS or not) and logs out. */
async function record(path: string, intercept: boolean): Promise<void> {
  const server = new MrimServer({ port: 0, redirectorPort: false, users: demoUsers(), tls: cert });
  const { port } = await server.listen();
  const sniffer = await startSniffer({ host: '127.0.0.1', port: 0, record: path, ...(intercept ? { tlsIntercept: cert } : {}) });
  try {
    const carol = new MrimClient({ server: `127.0.0.1:${port}`, socks: `socks5://127.0.0.1:${sniffer.address!.port}`, ...CAROL, proto: '1.23', tls: { rejectUnauthorized: false } });
    await carol.connect();
    assert.equal(carol.tls, true);
    await carol.logout();
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    await sniffer.stop();
    await server.close();
  }
}

describe('replay with STARTTLS', { skip: cert ? false : 'openssl is not available', timeout: 60_000 }, () => {
  const intercepted = join(dir, 'intercepted.jsonl');
  const encrypted = join(dir, 'encrypted.jsonl');
  before(async () => {
    await record(intercepted, true);
    await record(encrypted, false);
  });

  it('a recording with TLS intercepted replays against a TLS server: STARTTLS, the switch, then the login inside TLS', async () => {
    const { sessions } = await readSessions(intercepted);
    const server = new MrimServer({ port: 0, redirectorPort: false, users: demoUsers(), tls: cert });
    const { port } = await server.listen();
    try {
      const [report] = await replayAgainstServer(sessions, { server: { host: '127.0.0.1', port }, timing: 'step', timeoutMs: 2000, comparer: new Comparer() });
      const rows = report.rows.map((r) => `${r.what} ${r.verdict}`);
      assert.ok(rows.includes('STARTTLS sent') && rows.includes('OK match') && rows.includes('LOGIN_ACK match'), rows.join(', '));
      assert.equal(report.counts.differs + report.counts.missing + report.counts.unexpected, 0, rows.join(', '));
    } finally {
      await server.close();
    }
  });

  it('against a server without a certificate: FAILURE instead of OK, and the session goes on in clear', async () => {
    const { sessions } = await readSessions(intercepted);
    const server = new MrimServer({ port: 0, redirectorPort: false, users: demoUsers() });
    const { port } = await server.listen();
    try {
      const [report] = await replayAgainstServer(sessions, { server: { host: '127.0.0.1', port }, timing: 'step', timeoutMs: 1000, comparer: new Comparer() });
      const ok = report.rows.find((r) => r.what === 'OK')!;
      assert.equal(ok.diffs?.[0].actual, 'FAILURE');
      assert.equal(report.rows.find((r) => r.what === 'LOGIN_ACK')!.verdict, 'match');
    } finally {
      await server.close();
    }
  });

  it('as a server with a certificate: a TLS client logs in to the recording', async () => {
    const { sessions } = await readSessions(intercepted);
    const ended: string[] = [];
    const srv = new ReplayServer(sessions, { port: 0, redirectorPort: false, timing: 'step', timeoutMs: 300, comparer: new Comparer(), tls: cert, onSession: (r) => ended.push(r.login ?? '') });
    const { port } = await srv.listen();
    try {
      const carol = new MrimClient({ server: `127.0.0.1:${port}`, ...CAROL, proto: '1.23', tls: { rejectUnauthorized: false } });
      const list = nextEvent(carol, 'contactList', () => true, 5000);
      await carol.connect();
      await list;
      assert.equal(carol.tls, true);
      await carol.logout();
      await until(() => ended.length === 1, 5000);
    } finally {
      await srv.close();
    }
    assert.deepEqual(ended, [CAROL.login]);
  });

  it('without interception the capture has the session encrypted after STARTTLS: replayed up to the switch, and said so', async () => {
    const { sessions } = await readSessions(encrypted);
    assert.equal(sessions[0].encrypted, true);
    const server = new MrimServer({ port: 0, redirectorPort: false, users: demoUsers(), tls: cert });
    const { port } = await server.listen();
    try {
      const [report] = await replayAgainstServer(sessions, { server: { host: '127.0.0.1', port }, timing: 'step', timeoutMs: 1000, comparer: new Comparer() });
      assert.deepEqual(report.rows.filter((r) => r.dir !== 'conn').map((r) => `${r.what} ${r.verdict}`), ['HELLO sent', 'HELLO_ACK match', 'STARTTLS sent', 'OK match']);
      assert.ok(report.notes.some((n) => /encrypted after STARTTLS .*replayed up to the switch/.test(n)), report.notes.join('\n'));
    } finally {
      await server.close();
    }
  });
});

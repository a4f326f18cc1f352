// Server replay end to end, on real sockets: the recorded server side played to live clients — the
// reference client on every profile, another version than the recorded one, an account the capture
// does not have — and to the real client pidgin-mra, from a proxy recording and from the shared
// vector pcap (read with openCapture, as `replay x.pcap --as-server` reads it).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MrimClient, MrimClientError, type ProfileName } from '../../src/client/index.js';
import { Comparer } from '../../src/replay/compare.js';
import type { RecordedConnection } from '../../src/replay/recording.js';
import type { SessionReport } from '../../src/replay/report.js';
import { ReplayServer } from '../../src/replay/server-runner.js';
import { isPidginAvailable, pidginUnavailableReason, startPidgin, type PidginEvent } from '../interop/pidgin.js';
import { ALICE, BOB, CAROL, readSessions, recordSession } from '../helpers/recorded-session.js';
import { nextEvent, until } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-replay-server-'));
const capture = join(dir, 'session.jsonl');
const VECTOR = new URL('../fixtures/vectors/pidgin-mra-1.8-session.pcap', import.meta.url).pathname;
const WAIT = 5000;
after(() => rmSync(dir, { recursive: true, force: true }));

/** A replaying server for the test; its reports once it is closed. */
async function serve(sessions: RecordedConnection[], timeoutMs = 300) {
  const ended: SessionReport[] = [];
  const server = new ReplayServer(sessions, { port: 0, redirectorPort: 0, timing: 'step', timeoutMs, comparer: new Comparer(), onSession: (r) => ended.push(r) });
  const address = await server.listen();
  return { address, ended, close: () => server.close() };
}

function client(port: number, account: { login: string }, proto: ProfileName) {
  return new MrimClient({ server: { host: '127.0.0.1', port }, login: account.login, password: 'any password', proto, responseTimeoutMs: WAIT });
}

const verdicts = (r: SessionReport) => r.rows.map((row) => `${row.dir === 'c2s' ? 'C' : row.dir === 's2c' ? 'S' : ''}:${row.what}:${row.verdict}`);

describe('replay CAPTURE --as-server: the recorded server to a live client', { timeout: 120_000 }, () => {
  let sessions: RecordedConnection[];

  before(async () => {
    await recordSession(capture);
    ({ sessions } = await readSessions(capture));
  });

  it('the reference client (1.21) logs in as bob and gets the recorded contact list, presence and message', async () => {
    const srv = await serve(sessions);
    const bob = client(srv.address.port, BOB, '1.21');
    try {
      const message = nextEvent<{ from: string; text: string }>(bob, 'message', () => true, WAIT);
      const ready = await bob.connect();
      assert.equal(ready.login, BOB.login);
      assert.deepEqual(bob.contacts.contacts.map((c) => [c.email, c.nick]).sort(), [[ALICE.login, 'Алиса'], [CAROL.login, 'Carol']]);
      const m = await message;
      assert.deepEqual([m.from, m.text], [ALICE.login, 'Привет, Боб!']);
      await nextEvent(bob, 'contactStatus', (s: { email: string }) => s.email === CAROL.login, WAIT);
      await bob.logout();
      await until(() => srv.ended.length === 1, WAIT);
    } finally {
      await srv.close();
    }
    const [report] = srv.ended;
    assert.equal(report.login, BOB.login);
    assert.equal(report.conn, sessions.find((s) => s.login === BOB.login)!.conn);
    const v = verdicts(report);
    // What the recorded bob did and this one did not: his status change, his message, his search.
    for (const step of ['C:HELLO:match', 'C:LOGIN3:match', 'S:CONTACT_LIST2:sent', 'S:MESSAGE_ACK:sent', 'C:MESSAGE_RECV:match', 'C:CHANGE_STATUS:missing', 'C:MESSAGE:missing', 'S:MESSAGE_STATUS:not-sent', 'C:WP_REQUEST:missing']) {
      assert.ok(v.includes(step), `${step} in ${v.join(' ')}`);
    }
  });

  it('carol (1.23: CAPABILITIES, MD5 password) gets her offline message and deletes it by the recorded UIDL', async () => {
    const srv = await serve(sessions);
    const carol = client(srv.address.port, CAROL, '1.23');
    try {
      const message = nextEvent<{ text: string; offline: boolean }>(carol, 'message', () => true, WAIT);
      await carol.connect();
      const m = await message;
      assert.equal(m.text, 'Carol, позвони мне.');
      assert.equal(m.offline, true);
      await carol.logout();
      await until(() => srv.ended.length === 1, WAIT);
    } finally {
      await srv.close();
    }
    const v = verdicts(srv.ended[0]);
    assert.ok(v.includes('C:CAPABILITIES:match') && v.includes('C:DELETE_OFFLINE_MESSAGE:match'), v.join(' '));
  });

  it('a client of another version (1.21 as the 1.8 alice) gets the frames re-encoded for it', async () => {
    const srv = await serve(sessions);
    const alice = client(srv.address.port, ALICE, '1.21');
    try {
      const message = nextEvent<{ text: string }>(alice, 'message', () => true, WAIT);
      await alice.connect();
      assert.deepEqual(alice.contacts.contacts.map((c) => c.nick).sort(), ['Carol', 'Боб']);
      assert.equal((await message).text, 'Привет, Алиса!');
      await alice.logout();
      await until(() => srv.ended.length === 1, WAIT);
    } finally {
      await srv.close();
    }
    const report = srv.ended[0];
    assert.equal(report.proto, '1.21');
    assert.ok(report.rows.some((r) => r.what === 'CONTACT_LIST2' && /re-encoded for v1\.21 \(recorded v1\.8\)/.test(r.note!)));
    // Its login packet is LOGIN3 where the recorded one was LOGIN2: the counterpart, with the difference.
    assert.equal(report.rows.find((r) => r.what === 'LOGIN2')!.diffs![0].actual, 'LOGIN3');
  });

  it('an account the capture does not have gets LOGIN_REJ; the report says which accounts it has', async () => {
    const srv = await serve(sessions);
    const dave = client(srv.address.port, { login: 'dave@mail.ru' }, '1.21');
    try {
      await assert.rejects(dave.connect(), (e: MrimClientError) => e.code === 'LOGIN_REJECTED');
      await until(() => srv.ended.length === 1, WAIT);
    } finally {
      await srv.close();
    }
    const report = srv.ended[0];
    assert.equal(report.conn, undefined);
    assert.match(report.rows.find((r) => r.verdict === 'unexpected')!.note!, /no recorded session logs in as dave@mail\.ru \(the capture has alice@mail\.ru, bob@mail\.ru, carol@list\.ru\): answered LOGIN_REJ/);
  });

  it('two clients at once each get their own recorded session, and alice answers bob\'s recorded message', async () => {
    const srv = await serve(sessions);
    const alice = client(srv.address.port, ALICE, '1.8');
    const bob = client(srv.address.port, BOB, '1.21');
    try {
      const toAlice = nextEvent<{ from: string }>(alice, 'message', () => true, WAIT);
      const toBob = nextEvent<{ from: string }>(bob, 'message', () => true, WAIT);
      await Promise.all([alice.connect(), bob.connect()]);
      assert.equal((await toAlice).from, BOB.login);
      assert.equal((await toBob).from, ALICE.login);
      await Promise.all([alice.logout(), bob.logout()]);
      await until(() => srv.ended.length === 2, WAIT);
    } finally {
      await srv.close();
    }
    assert.deepEqual(srv.ended.map((r) => r.login).sort(), [ALICE.login, BOB.login]);
  });
});

const skip = (await isPidginAvailable()) ? false : ((await pidginUnavailableReason()) ?? 'pidgin-mra is not available');
const im = (from: string) => (e: PidginEvent) => e.event === 'im' && e.from === from;

describe('replay --as-server to the real client pidgin-mra (MRIM 1.8)', { skip, timeout: 60_000 }, () => {
  it('pidgin-mra logs in to a proxy recording of the reference client and gets its contact list and message', async () => {
    const { sessions } = await readSessions(capture);
    const srv = await serve(sessions, 1000);
    const pidgin = await startPidgin({ host: '127.0.0.1', port: srv.address.port, login: ALICE.login, password: 'anything' });
    try {
      await pidgin.waitFor('signed-on', WAIT);
      const list = await pidgin.waitFor('contact-list', WAIT);
      assert.deepEqual(list.buddies.map((b) => [b.name, b.alias]).sort(), [[BOB.login, 'Боб'], [CAROL.login, 'Carol']]);
      const got = await pidgin.waitFor(im(BOB.login), WAIT);
      assert.equal(got.event === 'im' && got.text, 'Привет, Алиса!');
    } finally {
      await pidgin.close();
      await srv.close();
    }
    assert.equal(pidgin.crashed, false);
    const v = verdicts(srv.ended[0]);
    assert.ok(v.includes('C:HELLO:match') && v.includes('C:MESSAGE_RECV:match'), v.join(' '));
    // pidgin-mra's LOGIN2 is not the reference client's: the report shows how.
    assert.ok(srv.ended[0].rows.find((r) => r.what === 'LOGIN2')!.diffs!.some((d) => d.path === 'description'));
  });

  it("the shared vector pcap (pidgin-mra and a revival server) replays as a server: pidgin-mra logs in as alice and gets bob's message", async () => {
    const { sessions } = await readSessions(VECTOR);
    assert.deepEqual(sessions.map((s) => s.login), [ALICE.login, BOB.login]);
    const srv = await serve(sessions);
    const pidgin = await startPidgin({ host: '127.0.0.1', port: srv.address.port, login: ALICE.login, password: 'alicepw' });
    try {
      await pidgin.waitFor('signed-on', WAIT);
      assert.deepEqual((await pidgin.waitFor('contact-list', WAIT)).buddies, []);
      const got = await pidgin.waitFor(im(BOB.login), WAIT);
      assert.equal(got.event === 'im' && got.text, 'Привет, Alice! hello from bob');
    } finally {
      await pidgin.close();
      await srv.close();
    }
    assert.equal(pidgin.crashed, false);
    // The same client as recorded: every frame it sent matches, MESSAGE_RECV with the recorded msg_id.
    const report = srv.ended[0];
    assert.deepEqual(report.rows.filter((r) => r.dir === 'c2s').map((r) => `${r.what}:${r.verdict}`), ['HELLO:match', 'LOGIN2:match', 'MESSAGE_RECV:match']);
    assert.equal(report.counts.differs + report.counts.missing + report.counts.unexpected, 0);
  });
});

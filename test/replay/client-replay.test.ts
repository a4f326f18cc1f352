// Client replay end to end, on real sockets: a session of reference clients on 1.8, 1.21 and 1.23
// recorded through the sniffing proxy, replayed against a fresh reference server (every step matches),
// against servers that behave differently (the report names the steps), through SOCKS5 and the
// redirector, and from a redacted copy with substitute credentials.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createWriter } from '../../src/capture/open.js';
import { decodeFrame } from '../../src/protocol/codec.js';
import { startSniffer } from '../../src/proxy/sniffer.js';
import { replayAgainstServer, type ClientReplayOptions } from '../../src/replay/client-runner.js';
import { Comparer } from '../../src/replay/compare.js';
import type { RecordedConnection } from '../../src/replay/recording.js';
import { buildReport, exitCodeOf, type ReplayReport, type ReportRow } from '../../src/replay/report.js';
import { MrimClient } from '../../src/client/index.js';
import { MrimServer, type ServerUser } from '../../src/server/index.js';
import { maskRaw } from '../../src/tap/mask.js';
import { ALICE, BOB, CAROL, demoUsers, readEvents, readSessions, recordSession } from '../helpers/recorded-session.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-replay-'));
const capture = join(dir, 'session.jsonl');
after(() => rmSync(dir, { recursive: true, force: true }));

async function withServer<T>(users: ServerUser[], run: (address: { port: number; redirectorPort?: number }) => Promise<T>): Promise<T> {
  const server = new MrimServer({ port: 0, redirectorPort: 0, users });
  try {
    return await run(await server.listen());
  } finally {
    await server.close();
  }
}

async function replay(sessions: RecordedConnection[], opts: Partial<ClientReplayOptions> & Pick<ClientReplayOptions, 'server'> | Partial<ClientReplayOptions>): Promise<ReplayReport> {
  const comparer = new Comparer();
  const started = Date.now();
  const reports = await replayAgainstServer(sessions, { timing: 'step', timeoutMs: 1000, comparer, ...opts });
  return buildReport({ capture, mode: 'client', timing: opts.timing ?? 'step', startedAt: new Date(started).toISOString(), durationMs: Date.now() - started, ignored: comparer.ignored, sessions: reports, notes: [] });
}

const rowsOf = (report: ReplayReport, login: string) => report.sessions.find((s) => s.login === login)!.rows;
const notMatching = (rows: ReportRow[]) => rows.filter((r) => r.verdict !== 'match' && r.verdict !== 'sent').map((r) => `${r.what} ${r.verdict}`);
const find = (rows: ReportRow[], what: string, n = 0) => rows.filter((r) => r.what === what)[n];

describe('replay CAPTURE --server: a recorded session against a live server', { timeout: 120_000 }, () => {
  let sessions: RecordedConnection[];
  const conn = (login: string) => sessions.find((s) => s.login === login)!.conn;

  before(async () => {
    await recordSession(capture);
    ({ sessions } = await readSessions(capture));
  });

  it('the capture holds the three sessions (1.8 via the redirector, 1.21, 1.23) and the redirector lookup', async () => {
    const { recording } = await readSessions(capture);
    assert.deepEqual(sessions.map((s) => [s.login, s.proto! & 0xffff]), [[ALICE.login, 8], [BOB.login, 21], [CAROL.login, 23]]);
    const lookup = recording.connections.find((c) => c.redirect);
    assert.ok(lookup && sessions[0].follows === lookup.conn);
  });

  for (const timing of ['step', 'original'] as const) {
    it(`against a fresh reference server every step matches (timing ${timing})`, async () => {
      const report = await withServer(demoUsers(), ({ port }) => replay(sessions, { server: { host: '127.0.0.1', port }, timing }));
      for (const s of report.sessions) assert.deepEqual(notMatching(s.rows), [], `${s.login}`);
      assert.equal(report.verdict, 'match');
      assert.equal(exitCodeOf(report), 0);
      assert.ok(report.totals.match >= 25, `${report.totals.match} matched`);
      // The ids the live server chose went into the frames that answer by them.
      const carol = rowsOf(report, CAROL.login);
      assert.match(find(carol, 'DELETE_OFFLINE_MESSAGE').note!, /uidl "[0-9a-f]{16}" → "[0-9a-f]{16}" \(the live server's\)/);
      assert.equal(find(carol, 'OFFLINE_MESSAGE_ACK').verdict, 'match', 'Date header and UIDL are volatile');
    });
  }

  it('a server where alice has another password: LOGIN_REJ instead of LOGIN_ACK, the rest of her session missing, exit code 1', async () => {
    const users = demoUsers((u) => u.map((x) => (x.login === ALICE.login ? { ...x, password: 'changed' } : x)));
    const report = await withServer(users, ({ port }) => replay(sessions, { server: { host: '127.0.0.1', port } }));
    const alice = rowsOf(report, ALICE.login);
    const ack = find(alice, 'LOGIN_ACK');
    assert.equal(ack.verdict, 'differs');
    assert.deepEqual(ack.diffs, [{ path: 'type', expected: 'LOGIN_ACK', actual: 'LOGIN_REJ' }, { path: 'reason', actual: '"Invalid login"' }]);
    assert.equal(find(alice, 'USER_INFO').verdict, 'missing');
    assert.equal(find(alice, 'MESSAGE').verdict, 'not-sent');
    assert.ok(alice.some((r) => r.what === 'close' && r.verdict === 'unexpected' && /server closed/.test(r.note!)));
    assert.equal(report.verdict, 'differs');
    assert.equal(exitCodeOf(report), 1);
  });

  it('a server without carol: her login is rejected, the message to her is REJECTED_NOUSER, the search finds nobody', async () => {
    const users = demoUsers((u) => u.filter((x) => x.login !== CAROL.login));
    const report = await withServer(users, ({ port }) => replay(sessions, { server: { host: '127.0.0.1', port } }));
    const toCarol = find(rowsOf(report, ALICE.login), 'MESSAGE_STATUS', 1);
    assert.deepEqual(toCarol.diffs, [{ path: 'status', expected: 'DELIVERED (0x0)', actual: 'REJECTED_NOUSER (0x8001)' }]);
    assert.equal(find(rowsOf(report, CAROL.login), 'LOGIN_ACK').diffs![0].actual, 'LOGIN_REJ');
    const search = find(rowsOf(report, BOB.login), 'ANKETA_INFO');
    assert.equal(search.verdict, 'differs');
    assert.ok(search.diffs!.some((d) => d.path === 'rows.0' && /Username="carol"/.test(d.expected!) && d.actual === undefined), JSON.stringify(search.diffs));
    assert.equal(exitCodeOf(report), 1);
  });

  it('bob offline (only alice and carol replayed): his presence and his message are missing, the message to him is stored', async () => {
    const chosen = sessions.filter((s) => s.login !== BOB.login);
    const report = await withServer(demoUsers(), ({ port }) => replay(chosen, { server: { host: '127.0.0.1', port } }));
    const alice = rowsOf(report, ALICE.login);
    assert.deepEqual(
      notMatching(alice),
      ['USER_STATUS missing', 'USER_STATUS missing', 'MESSAGE_ACK missing'],
      'bob online, bob away, bob writes',
    );
    // Offline storage answers DELIVERED too: that step matches.
    assert.equal(find(alice, 'MESSAGE_STATUS').verdict, 'match');
    assert.equal(report.sessions.length, 2);
    assert.equal(exitCodeOf(report), 1);
  });

  it('through a SOCKS5 proxy, asking the redirector: every step matches and the proxy saw every connection', async () => {
    const sniffer = await startSniffer({ host: '127.0.0.1', port: 0 });
    try {
      const report = await withServer(demoUsers(), ({ port, redirectorPort }) =>
        replay(sessions, { server: { host: '127.0.0.1', port }, redirector: { host: '127.0.0.1', port: redirectorPort! }, socks: { host: '127.0.0.1', port: sniffer.address!.port } }),
      );
      assert.equal(report.verdict, 'match', JSON.stringify(report.sessions.map((s) => notMatching(s.rows))));
      assert.match(report.sessions[0].peer!, /from the redirector/);
      // alice's redirector lookup, then the three sessions.
      assert.equal(sniffer.connections, 4);
    } finally {
      await sniffer.stop();
    }
  });

  it('a server that is not there: the session is an error (exit code 2)', async () => {
    const report = await replay(sessions.slice(0, 1), { server: { host: '127.0.0.1', port: 1 }, timeoutMs: 500 });
    assert.equal(report.verdict, 'error');
    assert.match(report.sessions[0].error!, /127\.0\.0\.1:1/);
    assert.equal(exitCodeOf(report), 2);
  });

  it('a redacted capture replays with substitute credentials: plain text for 1.8, MD5 for 1.23', async () => {
    const redacted = join(dir, 'redacted.jsonl');
    const writer = createWriter(redacted);
    for (const ev of await readEvents(capture)) {
      const e = ev.event;
      if (e.kind === 'frame') {
        const raw = maskRaw(e.raw, e.frame);
        writer.write({ ...ev, event: { ...e, raw, frame: decodeFrame(raw, { dir: e.dir, minor: e.frame.minor }) } });
      } else writer.write(ev);
    }
    writer.close();
    const { sessions: copies } = await readSessions(redacted);
    const one = (login: string) => copies.filter((s) => s.login === login);
    await withServer(demoUsers(), async ({ port }) => {
      const server = { host: '127.0.0.1', port };
      const carol = await replay(one(CAROL.login), { server, credentials: { password: CAROL.password } });
      assert.equal(find(carol.sessions[0].rows, 'LOGIN_ACK').verdict, 'match');
      assert.match(find(carol.sessions[0].rows, 'LOGIN3').note!, /password replaced \(MD5\)/);
      const alice = await replay(one(ALICE.login), { server, credentials: { password: ALICE.password } });
      assert.equal(find(alice.sessions[0].rows, 'LOGIN_ACK').verdict, 'match');
      assert.match(find(alice.sessions[0].rows, 'LOGIN2').note!, /password replaced \(plain text\)/);
      const wrong = await replay(one(CAROL.login), { server, credentials: { password: 'nope' } });
      assert.equal(find(wrong.sessions[0].rows, 'LOGIN_ACK').diffs![0].actual, 'LOGIN_REJ');
    });
  });

  it('another account: --login/--password rewrite the login packet', async () => {
    const users = demoUsers((u) => [...u, { login: 'dave@mail.ru', password: 'dave', nick: 'Dave', groups: ['Друзья'] }]);
    const report = await withServer(users, ({ port }) =>
      replay(sessions.filter((s) => s.login === BOB.login), { server: { host: '127.0.0.1', port }, credentials: { login: 'dave@mail.ru', password: 'dave' } }),
    );
    const rows = report.sessions[0].rows;
    assert.match(find(rows, 'LOGIN3').note!, /login "bob@mail\.ru" → "dave@mail\.ru"; password replaced \(plain text\)/);
    assert.equal(find(rows, 'LOGIN_ACK').verdict, 'match');
    assert.equal(find(rows, 'USER_INFO').diffs?.[0].path, 'info.MRIM.NICKNAME');
  });
});

describe('replay keeps a session alive on the live server\'s ping period', { timeout: 60_000 }, () => {
  it('the recorded PINGs are not replayed; PINGs go every period the live HELLO_ACK announces', async () => {
    const path = join(dir, 'pings.jsonl');
    const recorder = new MrimServer({ port: 0, redirectorPort: false, users: demoUsers(), pingPeriod: 1 });
    const { port } = await recorder.listen();
    const sniffer = await startSniffer({ host: '127.0.0.1', port: 0, record: path });
    try {
      const alice = new MrimClient({ server: `127.0.0.1:${port}`, socks: `socks5://127.0.0.1:${sniffer.address!.port}`, ...ALICE, proto: '1.21' });
      await alice.connect();
      await new Promise((r) => setTimeout(r, 1700));
      await alice.logout();
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await sniffer.stop();
      await recorder.close();
    }
    const { sessions: recorded } = await readSessions(path);
    assert.ok(recorded[0].frames.some((f) => f.frame.type === 'PING'), 'the recording has PINGs');
    // The live server drops a client silent for 1.5 periods: only PINGs of the replay's own keep it.
    const server = new MrimServer({ port: 0, redirectorPort: false, users: demoUsers(), pingPeriod: 1 });
    const live = await server.listen();
    try {
      const report = await replay(recorded, { server: { host: '127.0.0.1', port: live.port }, timing: 'original' });
      assert.equal(report.verdict, 'match', JSON.stringify(report.sessions[0].rows.filter((r) => r.verdict !== 'match' && r.verdict !== 'sent')));
      assert.ok(!report.sessions[0].rows.some((r) => r.what === 'PING'));
      assert.ok(report.sessions[0].notes.some((n) => /^1 PING\(s\) sent on the live server's period$/.test(n)), report.sessions[0].notes.join('; '));
    } finally {
      await server.close();
    }
  });
});


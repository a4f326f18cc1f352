// The real client pidgin-mra (Debian package, MRIM 1.8) against the reference server: login, contact
// list, Cyrillic messages both ways, offline delivery, presence, profile lookup, wrong password,
// double login, the redirector — and the CLI server started exactly as the README shows it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MESSAGE_FLAG } from '../../src/protocol/constants.js';
import { MrimServer, type ServerLogEvent } from '../../src/server/index.js';
import { isPidginAvailable, pidginUnavailableReason, startPidgin, type PidginEvent, type PidginSession } from '../interop/pidgin.js';
import { RawClient } from '../helpers/raw-client.js';
import { startServerCli } from '../helpers/server-cli.js';
import { until } from '../helpers/wait.js';

const skip = (await isPidginAvailable()) ? false : ((await pidginUnavailableReason()) ?? 'pidgin-mra is not available');
const WAIT = 5000;

const im = (from: string) => (e: PidginEvent) => e.event === 'im' && e.from === from;
const buddyStatus = (name: string, status: string) => (e: PidginEvent) =>
  (e.event === 'buddy-status' && e.name === name && e.status === status) ||
  (e.event === 'contact-list' && e.buddies.some((b) => b.name === name && b.status === status));

describe('pidgin-mra against the reference server', { skip, timeout: 60_000 }, () => {
  let server: MrimServer;
  let port: number;
  const logs: ServerLogEvent[] = [];
  const sessions: PidginSession[] = [];
  const open = async (login: string, password: string) => {
    const s = await startPidgin({ host: '127.0.0.1', port, login, password });
    sessions.push(s);
    return s;
  };

  before(async () => {
    server = new MrimServer({
      port: 0,
      redirectorPort: false,
      users: [
        { login: 'alice@mail.ru', password: 'alicepw', nick: 'Алиса', firstName: 'Алиса', contacts: [{ email: 'bob@mail.ru', nick: 'Боб' }] },
        { login: 'bob@mail.ru', password: 'bobpw', nick: 'Боб', contacts: [{ email: 'alice@mail.ru', nick: 'Алиса' }] },
        { login: 'dave@bk.ru', password: 'davepw', nick: 'Дейв' },
      ],
      log: (e) => logs.push(e),
    });
    port = (await server.listen()).port;
  });

  after(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await server.close();
    for (const s of sessions) assert.equal(s.crashed, false, `pidgin-mra of ${s.login} crashed:\n${s.stderr.slice(-2000)}`);
  });

  it('two accounts log in, see each other online and exchange Cyrillic messages', async () => {
    const alice = await open('alice@mail.ru', 'alicepw');
    await alice.waitFor('signed-on', WAIT);
    const aliceList = await alice.waitFor('contact-list', WAIT);
    assert.deepEqual(aliceList.buddies.map((b) => [b.name, b.alias, b.status]), [['bob@mail.ru', 'Боб', 'OFFLINE']]);

    const bob = await open('bob@mail.ru', 'bobpw');
    await bob.waitFor('signed-on', WAIT);
    const bobList = await bob.waitFor('contact-list', WAIT);
    assert.deepEqual(bobList.buddies.map((b) => [b.name, b.alias, b.status]), [['alice@mail.ru', 'Алиса', 'ONLINE']]);
    await alice.waitFor(buddyStatus('bob@mail.ru', 'ONLINE'), WAIT);

    const text = 'Привет, Боб! Съешь ещё этих мягких французских булок — ёжик 123';
    await alice.sendMessage('bob@mail.ru', text);
    const got = await bob.waitFor(im('alice@mail.ru'), WAIT);
    assert.equal(got.event === 'im' && got.text, text);

    await bob.sendMessage('alice@mail.ru', 'И тебе привет, Алиса');
    const reply = await alice.waitFor(im('bob@mail.ru'), WAIT);
    assert.equal(reply.event === 'im' && reply.text, 'И тебе привет, Алиса');
    // Delivered means MESSAGE_RECV came back: no "Unable to deliver" notice on either side.
    assert.ok(!alice.events.concat(bob.events).some((e) => e.event === 'notify' && /deliver/i.test(String(e.primary))));
  });

  it('status changes reach the contact; the profile lookup answers', async () => {
    const [alice, bob] = sessions;
    const since = alice.mark();
    bob.setStatus('AWAY');
    await alice.waitFor(buddyStatus('bob@mail.ru', 'AWAY'), WAIT, { since });
    alice.requestInfo('bob@mail.ru');
    const info = await alice.waitFor('userinfo', WAIT);
    assert.ok(info.event === 'userinfo' && info.pairs.some(([, v]) => v === 'Боб'), JSON.stringify(info));
  });

  it('a message sent while the receiver was offline arrives when it logs in', async () => {
    const [alice, bob] = sessions;
    const since = alice.mark();
    await bob.logout();
    await alice.waitFor(buddyStatus('bob@mail.ru', 'OFFLINE'), WAIT, { since });
    const text = 'Это сообщение ждало, пока ты войдёшь';
    await alice.sendMessage('bob@mail.ru', text);
    await until(() => server.users.get('bob@mail.ru')!.offline.length === 1, WAIT);

    const bob2 = await open('bob@mail.ru', 'bobpw');
    const got = await bob2.waitFor(im('alice@mail.ru'), WAIT);
    assert.equal(got.event === 'im' && got.text, text);
    // pidgin-mra answers with DELETE_OFFLINE_MESSAGE: the server's store is empty again.
    await until(() => server.users.get('bob@mail.ru')!.offline.length === 0, WAIT);
  });

  it('a wrong password is reported by the client as a failed login', async () => {
    const intruder = await open('alice@mail.ru', 'wrong');
    const err = await intruder.waitFor('connection-error', WAIT);
    assert.equal(err.event === 'connection-error' && err.text, 'Connection problem:\nInvalid login');
    assert.ok(!intruder.events.some((e) => e.event === 'signed-on'));
  });

  it('a second login of the same account logs the first one out', async () => {
    const first = sessions[0];
    const again = await open('alice@mail.ru', 'alicepw');
    await again.waitFor('signed-on', WAIT);
    const err = await first.waitFor('connection-error', WAIT);
    assert.match(err.event === 'connection-error' ? err.text : '', /another computer/);
  });

  it("the plugin's redirector lookup (an HTTP GET to mrim.mail.ru) gets the MRIM address and logs in", async () => {
    const own = new MrimServer({ port: 0, redirectorPort: 0, users: [{ login: 'carol@list.ru', password: 'carolpw' }] });
    const address = await own.listen();
    try {
      const carol = await startPidgin({ host: 'mrim.mail.ru', port: address.redirectorPort!, resolve: { 'mrim.mail.ru': '127.0.0.1' }, login: 'carol@list.ru', password: 'carolpw' });
      sessions.push(carol);
      await carol.waitFor('signed-on', WAIT);
    } finally {
      await own.close();
    }
  });

  it('an authorization request is granted from the client (AUTHORIZE, then its short ADD_CONTACT)', async () => {
    const [, , bob] = sessions; // bob's second session is the live one
    const dave = await RawClient.connect(port, '1.21');
    try {
      await dave.login('dave@bk.ru', 'davepw');
      dave.send('ADD_CONTACT', { flags: 0, group: 0, email: 'bob@mail.ru', name: 'Боб', phones: '', authMessage: '', actions: 0 });
      assert.equal((await dave.next('ADD_CONTACT_ACK')).fields.status, 0);
      const request = await bob.waitFor('auth-request', WAIT);
      assert.equal(request.event === 'auth-request' && request.from, 'dave@bk.ru');
      bob.authorize('dave@bk.ru');
      assert.equal((await dave.next('AUTHORIZE_ACK')).fields.email, 'bob@mail.ru');
      // pidgin-mra adds the requester back (5-field ADD_CONTACT, no auth text): dave is asked in turn.
      const back = await dave.next('MESSAGE_ACK');
      assert.equal(Number(back.fields.flags) & MESSAGE_FLAG.AUTHORIZE, MESSAGE_FLAG.AUTHORIZE);
      assert.equal(back.fields.from, 'bob@mail.ru');
      await until(() => server.users.get('bob@mail.ru')!.contacts.some((c) => c.email === 'dave@bk.ru'), WAIT);
    } finally {
      await dave.close();
    }
  });

  it("the server saw nothing it could not handle (only the plugin's known quirks)", () => {
    const quirks = [
      /^LOGIN2: 20 trailing bytes ignored$/, // 5 zero ULs after the description
    ];
    const odd = logs.filter((e) => e.level === 'warn' && e.event !== 'login-failed' && !(e.event === 'bad-frame' && quirks.some((q) => q.test(e.text))));
    assert.deepEqual(odd, []);
  });
});

describe('pidgin-mra against `mrimtap server --user alice@mail.ru:alicepw --user bob@mail.ru:bobpw`', { skip, timeout: 60_000 }, () => {
  it('both log in, see each other (made contacts by the CLI) and chat', async () => {
    const srv = await startServerCli(['--port', '0', '--redirector-port', '0', '--user', 'alice@mail.ru:alicepw', '--user', 'bob@mail.ru:bobpw']);
    const sessions: PidginSession[] = [];
    try {
      const alice = await startPidgin({ host: '127.0.0.1', port: srv.port, login: 'alice@mail.ru', password: 'alicepw' });
      sessions.push(alice);
      const bob = await startPidgin({ host: '127.0.0.1', port: srv.port, login: 'bob@mail.ru', password: 'bobpw' });
      sessions.push(bob);
      assert.deepEqual((await alice.waitFor('contact-list', WAIT)).buddies.map((b) => b.name), ['bob@mail.ru']);
      assert.deepEqual((await bob.waitFor('contact-list', WAIT)).buddies.map((b) => b.name), ['alice@mail.ru']);
      await alice.waitFor(buddyStatus('bob@mail.ru', 'ONLINE'), WAIT);
      await bob.sendMessage('alice@mail.ru', 'Привет из CLI');
      const got = await alice.waitFor(im('bob@mail.ru'), WAIT);
      assert.equal(got.event === 'im' && got.text, 'Привет из CLI');
    } finally {
      await Promise.all(sessions.map((s) => s.close()));
      assert.equal(await srv.stop(), 0);
    }
    assert.match(srv.stdout(), /bob@mail\.ru → alice@mail\.ru: "Привет из CLI" \(online, v1\.8/);
    for (const s of sessions) assert.equal(s.crashed, false);
  });
});


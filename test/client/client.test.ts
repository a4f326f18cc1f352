// The reference client against the reference server, on real sockets: each of the four protocol
// profiles, every operation, the redirector, a SOCKS5 proxy, STARTTLS, and the failure paths the
// server produces (wrong password, double login, shutdown).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MrimClient, MrimClientError, PROFILE_NAMES, type MrimClientOptions, type ProfileName } from '../../src/client/index.js';
import type { AuthRequest, ContactStatus, IncomingMessage } from '../../src/client/types.js';
import { MrimServer, type ServerUser } from '../../src/server/index.js';
import { selfSignedCert } from '../helpers/net.js';
import { startTestSocks, type TestSocks } from '../helpers/socks5.js';
import { nextEvent } from '../helpers/wait.js';

const USERS: ServerUser[] = [
  { login: 'alice@mail.ru', password: 'alicepw', nick: 'Алиса', firstName: 'Алиса', contacts: [{ email: 'bob@mail.ru' }] },
  { login: 'bob@mail.ru', password: 'bobpw', nick: 'Боб', firstName: 'Борис', contacts: [{ email: 'alice@mail.ru' }] },
  { login: 'carol@list.ru', password: 'carolpw', nick: 'Carol' },
  { login: 'dave@bk.ru', password: 'пароль', nick: 'Дэйв' },
];
const PASSWORDS = Object.fromEntries(USERS.map((u) => [u.login, u.password]));

const cert = selfSignedCert();
let server: MrimServer;
let address: { host: string; port: number; redirectorPort?: number };
const clients: MrimClient[] = [];

before(async () => {
  server = new MrimServer({ host: '127.0.0.1', port: 0, redirectorPort: 0, users: USERS, pingPeriod: 5, ...(cert ? { tls: cert } : {}) });
  address = await server.listen();
});

after(async () => {
  await Promise.all(clients.map((c) => c.logout()));
  await server.close();
});

function makeClient(login: string, proto: ProfileName = '1.21', extra: Partial<MrimClientOptions> = {}): MrimClient {
  const c = new MrimClient({
    server: `${address.host}:${address.port}`,
    login,
    password: PASSWORDS[login],
    proto,
    responseTimeoutMs: 3000,
    connectTimeoutMs: 3000,
    ...extra,
  });
  clients.push(c);
  return c;
}

async function online(login: string, proto: ProfileName = '1.21', extra: Partial<MrimClientOptions> = {}): Promise<MrimClient> {
  const c = makeClient(login, proto, extra);
  await c.connect();
  return c;
}

/** The next event matching `pred`, or a failure after 3 s. */
const waitEvent = <T>(c: MrimClient, event: string, pred?: (v: T) => boolean): Promise<T> => nextEvent(c, event, pred, 3000);

const statusOf = (c: MrimClient, email: string, pred: (s: ContactStatus) => boolean): Promise<ContactStatus> =>
  waitEvent<{ email: string; status: ContactStatus }>(c, 'contactStatus', (e) => e.email === email && pred(e.status)).then((e) => e.status);

describe('profiles', () => {
  // Each profile talks to the next one, so every pair of encodings meets once.
  for (const [i, proto] of PROFILE_NAMES.entries()) {
    const peerProto = PROFILE_NAMES[(i + 1) % PROFILE_NAMES.length];
    test(`${proto} ↔ ${peerProto}: login, contact list, presence, Cyrillic messages both ways, typing, logout`, async () => {
      const alice = makeClient('alice@mail.ru', proto);
      const list = waitEvent<{ contacts: { email: string }[] }>(alice, 'contactList');
      const ready = await alice.connect();
      assert.deepEqual([ready.login, ready.proto, ready.tls], ['alice@mail.ru', proto, false]);
      assert.deepEqual((await list).contacts.map((c) => c.email), ['bob@mail.ru']);
      assert.equal(alice.userInfo.nickname, 'Алиса');

      const bob = makeClient('bob@mail.ru', peerProto);
      const seen = statusOf(alice, 'bob@mail.ru', (s) => s.name === 'online');
      await bob.connect();
      await seen;
      assert.equal(alice.contacts.contacts[0].status.name, 'online');
      assert.equal(bob.contacts.contacts[0].status.name, 'online');

      const toBob = waitEvent<IncomingMessage>(bob, 'message');
      const delivery = await alice.sendMessage('bob@mail.ru', 'Привет, Боб!\nКак дела?');
      assert.deepEqual(delivery, { to: ['bob@mail.ru'], status: 0, statusName: 'DELIVERED', delivered: true });
      const m1 = await toBob;
      assert.deepEqual([m1.from, m1.text, m1.kind, m1.offline], ['alice@mail.ru', 'Привет, Боб!\nКак дела?', 'message', false]);

      const toAlice = waitEvent<IncomingMessage>(alice, 'message');
      assert.equal((await bob.sendMessage('alice@mail.ru', 'Всё хорошо — ёлки, «кавычки»')).delivered, true);
      assert.equal((await toAlice).text, 'Всё хорошо — ёлки, «кавычки»');

      const typing = waitEvent<{ from: string }>(bob, 'typing');
      await alice.sendTyping('bob@mail.ru');
      assert.equal((await typing).from, 'alice@mail.ru');

      const gone = statusOf(alice, 'bob@mail.ru', (s) => s.name === 'offline');
      await bob.logout();
      await gone;
      assert.equal(bob.state, 'closed');
      await alice.logout();
    });

    test(`${proto}: a wrong password is LOGIN_REJECTED`, async () => {
      const c = makeClient('alice@mail.ru', proto, { password: 'wrong' });
      await assert.rejects(c.connect(), (e: MrimClientError) => e.code === 'LOGIN_REJECTED' && e.reason === 'Invalid login');
    });
  }

  test('a Cyrillic password works in plain (1.21) and MD5 (1.23) form', async () => {
    for (const proto of ['1.8', '1.21', '1.23'] as const) {
      const dave = await online('dave@bk.ru', proto);
      await dave.logout();
    }
  });
});

describe('operations', () => {
  test('x-status with title and description, seen by a ≥1.14 contact; 1.8 falls back', async () => {
    const bob = await online('bob@mail.ru', '1.19');
    const alice = await online('alice@mail.ru', '1.23');
    const dnd = statusOf(bob, 'alice@mail.ru', (s) => s.name === 'dnd');
    await alice.setStatus('dnd', { title: 'Занят', description: 'пишу код' });
    const s = await dnd;
    assert.deepEqual([s.value, s.uri, s.title, s.description], [4, 'status_dnd', 'Занят', 'пишу код']);
    const away = statusOf(bob, 'alice@mail.ru', (st) => st.name === 'away');
    await alice.setStatus('away');
    await away;
    const invisible = statusOf(bob, 'alice@mail.ru', (st) => st.name === 'offline');
    await alice.setStatus('invisible');
    await invisible;
    await alice.logout();

    // 1.8 has no x-status: chat goes out as ONLINE, dnd as AWAY.
    const back = statusOf(bob, 'alice@mail.ru', (st) => st.name !== 'offline');
    const old = await online('alice@mail.ru', '1.8', { status: 'chat' });
    assert.equal((await back).name, 'online');
    const busy = statusOf(bob, 'alice@mail.ru', (st) => st.name !== 'online');
    await old.setStatus('dnd');
    assert.equal((await busy).name, 'away');
    await old.logout();
    await bob.logout();
  });

  test('add a contact → authorization request → grant → authorized; rename, move, remove', async () => {
    const alice = await online('alice@mail.ru', '1.21');
    const carol = await online('carol@list.ru', '1.8');
    const request = waitEvent<AuthRequest>(carol, 'authRequest');
    const added = await alice.addContact('Carol@List.ru', { nick: 'Кэрол', authText: 'Добавь меня' });
    assert.equal(added.email, 'carol@list.ru');
    assert.equal(added.authorized, false);
    assert.ok(added.id >= 20);
    const req = await request;
    assert.deepEqual([req.from, req.nick, req.text, req.offline], ['alice@mail.ru', 'Алиса', 'Добавь меня', false]);

    const granted = waitEvent<{ from: string }>(alice, 'authGranted');
    await carol.authorize('alice@mail.ru');
    assert.equal((await granted).from, 'carol@list.ru');
    assert.equal(alice.contacts.contacts.find((c) => c.email === 'carol@list.ru')?.authorized, true);

    const group = await alice.addGroup('Коллеги');
    assert.ok(group.id >= 1);
    const moved = await alice.modifyContact('carol@list.ru', { nick: 'Кэрол С.', group: group.id });
    assert.deepEqual([moved.nick, moved.group], ['Кэрол С.', group.id]);
    await alice.renameGroup(group.id, 'Работа');
    assert.equal(alice.contacts.groups.find((g) => g.id === group.id)?.name, 'Работа');

    // A fresh session sees the stored changes.
    await alice.logout();
    const again = await online('alice@mail.ru', '1.19');
    const stored = again.contacts;
    const carolEntry = stored.contacts.find((c) => c.email === 'carol@list.ru');
    assert.equal(carolEntry?.nick, 'Кэрол С.');
    assert.equal(stored.groups.find((g) => g.id === carolEntry?.group)?.name, 'Работа');

    await again.removeContact('carol@list.ru');
    await again.removeGroup(group.id);
    assert.equal(again.contacts.contacts.some((c) => c.email === 'carol@list.ru'), false);
    await assert.rejects(again.addContact('nobody@mail.ru'), (e: MrimClientError) => e.code === 'OPERATION_FAILED' && e.reason === 'NO_SUCH_USER');
    await assert.rejects(again.addContact('bob@mail.ru'), (e: MrimClientError) => e.reason === 'USER_EXISTS');
    await again.logout();
    await carol.logout();
  });

  test('re-request authorization with MESSAGE AUTHORIZE', async () => {
    const alice = await online('alice@mail.ru', '1.19');
    const carol = await online('carol@list.ru', '1.23');
    const request = waitEvent<AuthRequest>(carol, 'authRequest');
    const d = await alice.requestAuthorization('carol@list.ru', 'Ещё раз: добавь меня');
    assert.equal(d.delivered, true);
    const req = await request;
    assert.deepEqual([req.from, req.nick, req.text], ['alice@mail.ru', 'Алиса', 'Ещё раз: добавь меня']);
    await alice.logout();
    await carol.logout();
  });

  test('RTF messages carry the packed document; the plain text stays readable', async () => {
    const alice = await online('alice@mail.ru', '1.21');
    const bob = await online('bob@mail.ru', '1.19');
    const got = waitEvent<IncomingMessage>(bob, 'message');
    assert.equal((await alice.sendMessage('bob@mail.ru', 'Жирный {текст}', { rtf: true })).delivered, true);
    const m = await got;
    assert.equal(m.text, 'Жирный {текст}');
    assert.match(m.rtf ?? '', /^\{\\rtf1.*\\\{.*\\\}/);
    await alice.logout();
    await bob.logout();
  });

  test('multicast: one MESSAGE on ≥1.19, one per recipient on 1.8', async () => {
    const bob = await online('bob@mail.ru', '1.8');
    const carol = await online('carol@list.ru', '1.21');
    for (const proto of ['1.21', '1.8'] as const) {
      const alice = await online('alice@mail.ru', proto);
      const sent: string[] = [];
      alice.on('frame', (e) => e.dir === 'c2s' && e.frame.type === 'MESSAGE' && sent.push(e.frame.type));
      const atBob = waitEvent<IncomingMessage>(bob, 'message', (m) => m.text === `всем ${proto}`);
      const atCarol = waitEvent<IncomingMessage>(carol, 'message', (m) => m.text === `всем ${proto}`);
      const deliveries = await alice.sendMulticast(['bob@mail.ru', 'carol@list.ru'], `всем ${proto}`);
      assert.ok(deliveries.every((d) => d.delivered));
      assert.equal(sent.length, proto === '1.8' ? 2 : 1);
      assert.equal(deliveries.length, sent.length);
      await atBob;
      await atCarol;
      await alice.logout();
    }
    await bob.logout();
    await carol.logout();
  });

  test('a message to an unknown user resolves as not delivered', async () => {
    const alice = await online('alice@mail.ru', '1.21');
    const d = await alice.sendMessage('ghost@mail.ru', 'ау');
    assert.deepEqual([d.delivered, d.statusName], [false, 'REJECTED_NOUSER']);
    await alice.logout();
  });

  test('offline messages arrive at the next login and are deleted after it', async () => {
    const alice = await online('alice@mail.ru', '1.23');
    assert.equal((await alice.sendMessage('dave@bk.ru', 'Пока тебя не было')).delivered, true);
    await alice.logout();
    for (const proto of ['1.8', '1.19'] as const) {
      const dave = makeClient('dave@bk.ru', proto);
      const messages: IncomingMessage[] = [];
      dave.on('message', (m) => messages.push(m));
      await dave.connect();
      // The first session gets it; the deletion means the second does not.
      if (proto === '1.8') {
        await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(
          messages.map((m) => [m.from, m.text, m.offline]),
          [['alice@mail.ru', 'Пока тебя не было', true]],
        );
        assert.ok(messages[0].date);
      } else {
        await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(messages, []);
      }
      await dave.logout();
    }
  });

  test('search by address and by nickname prefix returns typed rows', async () => {
    for (const proto of ['1.8', '1.21'] as const) {
      const carol = await online('carol@list.ru', proto);
      const bob = await carol.getProfile('BOB@mail.ru');
      assert.equal(bob?.email, 'bob@mail.ru');
      assert.equal(bob?.nickname, 'Боб');
      assert.equal(bob?.firstname, 'Борис');
      assert.equal(bob?.status?.name, 'offline');
      const byNick = await carol.search({ nickname: 'Али*' });
      assert.deepEqual(byNick.rows.map((r) => r.email), ['alice@mail.ru']);
      assert.deepEqual((await carol.search({ email: 'ghost@mail.ru' })).rows, []);
      await carol.logout();
    }
  });

  test('MPOP session key', async () => {
    const alice = await online('alice@mail.ru', '1.8');
    assert.match(await alice.requestMpopSession(), /^[0-9a-f]{32}$/);
    await alice.logout();
  });
});

describe('transport', () => {
  let socks: TestSocks;
  before(async () => {
    socks = await startTestSocks({ auth: { user: 'proxyuser', password: 'proxypw' } });
  });
  after(() => socks.close());

  test('through the redirector', async () => {
    const c = makeClient('alice@mail.ru', '1.19', { server: undefined, redirector: `127.0.0.1:${address.redirectorPort}` });
    const ready = await c.connect();
    assert.deepEqual(ready.server, { host: '127.0.0.1', port: address.port });
    await c.logout();
  });

  test('through a SOCKS5 proxy, redirector included, and a message across it', async () => {
    const before = socks.connects.length;
    const c = makeClient('alice@mail.ru', '1.8', { server: undefined, redirector: `127.0.0.1:${address.redirectorPort}`, socks: socks.url });
    await c.connect();
    assert.deepEqual(socks.connects.slice(before), [`127.0.0.1:${address.redirectorPort}`, `127.0.0.1:${address.port}`]);
    const bob = await online('bob@mail.ru', '1.23', { socks: socks.url });
    const got = waitEvent<IncomingMessage>(bob, 'message');
    assert.equal((await c.sendMessage('bob@mail.ru', 'через прокси')).delivered, true);
    assert.equal((await got).text, 'через прокси');
    await c.logout();
    await bob.logout();
  });

  test('STARTTLS on 1.23: TLS on the same socket, then the session as usual', { skip: cert ? false : 'openssl is not available' }, async () => {
    const alice = makeClient('alice@mail.ru', '1.23', { tls: { ca: cert!.cert, servername: 'localhost' } });
    const frames: string[] = [];
    alice.on('frame', (e) => frames.push(`${e.dir} ${e.frame.type}`));
    const ready = await alice.connect();
    assert.equal(ready.tls, true);
    assert.equal(alice.tls, true);
    assert.deepEqual(frames.slice(0, 5), ['c2s HELLO', 's2c HELLO_ACK', 'c2s STARTTLS', 's2c OK', 'c2s CAPABILITIES']);
    const bob = await online('bob@mail.ru', '1.8');
    const got = waitEvent<IncomingMessage>(bob, 'message');
    assert.equal((await alice.sendMessage('bob@mail.ru', 'шифровано')).delivered, true);
    assert.equal((await got).text, 'шифровано');
    await alice.logout();
    await bob.logout();
  });

  test('STARTTLS with an untrusted certificate is TLS_FAILED', { skip: cert ? false : 'openssl is not available' }, async () => {
    const c = makeClient('alice@mail.ru', '1.23', { tls: true });
    await assert.rejects(c.connect(), (e: MrimClientError) => e.code === 'TLS_FAILED' && /self-signed certificate/.test(e.message));
  });
});

describe('the server ends the session', () => {
  test('a second login of the same account: the first gets LOGOUT (logged in elsewhere)', async () => {
    const first = await online('carol@list.ru', '1.21', { reconnect: { minDelayMs: 50 } });
    const kicked = waitEvent<{ error?: MrimClientError; willReconnect: boolean }>(first, 'disconnect');
    const second = await online('carol@list.ru', '1.8');
    const ev = await kicked;
    assert.equal(ev.error?.code, 'LOGGED_OUT');
    assert.equal(ev.willReconnect, false);
    await second.logout();
  });

  test('the server shutting down: disconnect with CONNECTION_CLOSED', async () => {
    const own = new MrimServer({ host: '127.0.0.1', port: 0, redirectorPort: false, users: USERS });
    const { port } = await own.listen();
    try {
      const c = makeClient('alice@mail.ru', '1.21', { server: `127.0.0.1:${port}` });
      await c.connect();
      const lost = waitEvent<{ error?: MrimClientError }>(c, 'disconnect');
      await own.close();
      assert.equal((await lost).error?.code, 'CONNECTION_CLOSED');
      assert.equal(c.state, 'closed');
    } finally {
      await own.close();
    }
  });
});

// The reference server over real sockets: every packet it handles, per protocol version, with a raw
// client built on the shared codec (test/helpers/raw-client.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import { PayloadReader } from '../../src/protocol/buffer.js';
import type { DecodedFrame } from '../../src/protocol/codec.js';
import { CONTACT_FLAG, MESSAGE_FLAG } from '../../src/protocol/constants.js';
import type { Fields } from '../../src/protocol/fields.js';
import { decodeAuthBlob, encodeAuthBlob, packRtf, type OfflineMessage } from '../../src/protocol/formats.js';
import { encodeHeader, parseProto } from '../../src/protocol/header.js';
import { PACKETS, contactMaskFor } from '../../src/protocol/packets/index.js';
import { encodeString } from '../../src/protocol/text.js';
import { MrimServer, type ServerLogEvent, type ServerOptions, type ServerUser } from '../../src/server/index.js';
import { selfSignedCert } from '../helpers/net.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';

const USERS: ServerUser[] = [
  {
    login: 'alice@mail.ru',
    password: 'alicepw',
    nick: 'Алиса',
    firstName: 'Алиса',
    lastName: 'Иванова',
    groups: ['Друзья', 'Работа'],
    contacts: [
      { email: 'bob@mail.ru', nick: 'Боб', group: 0 },
      // "always visible for carol": carol sees alice even when alice is invisible
      { email: 'carol@list.ru', nick: 'Кэрол', group: 1, flags: CONTACT_FLAG.VISIBLE },
    ],
  },
  { login: 'bob@mail.ru', password: 'bobpw', nick: 'Bob', contacts: [{ email: 'alice@mail.ru', nick: 'Alice' }, { email: 'carol@list.ru' }] },
  { login: 'carol@list.ru', password: 'carolpw', nick: 'Carol', contacts: [{ email: 'alice@mail.ru' }, { email: 'bob@mail.ru' }] },
  { login: 'dave@bk.ru', password: 'davepw', nick: 'Дейв' },
  { login: 'erin@inbox.ru', password: 'erinpw', nick: 'Erin' },
];

interface Harness {
  server: MrimServer;
  port: number;
  redirectorPort: number;
  logs: ServerLogEvent[];
  connect(proto: string): Promise<RawClient>;
  /** HELLO + login with the user's password from USERS. */
  online(login: string, proto: string, opts?: Parameters<RawClient['login']>[2]): Promise<RawClient>;
}

async function start(t: TestContext, opts: Partial<ServerOptions> = {}): Promise<Harness> {
  const logs: ServerLogEvent[] = [];
  const server = new MrimServer({ port: 0, redirectorPort: 0, users: USERS, ...opts, log: (e) => logs.push(e) });
  const address = await server.listen();
  const clients: RawClient[] = [];
  t.after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  });
  const connect = async (proto: string) => {
    const c = await RawClient.connect(address.port, proto);
    clients.push(c);
    return c;
  };
  return {
    server,
    port: address.port,
    redirectorPort: address.redirectorPort!,
    logs,
    connect,
    async online(login, proto, loginOpts) {
      const c = await connect(proto);
      await c.login(login, USERS.find((u) => u.login === login)!.password, loginOpts);
      return c;
    },
  };
}

const hasLog = (h: Harness, event: string, text: RegExp) => h.logs.some((e) => e.event === event && text.test(e.text));

/** The text LPS of a MESSAGE_ACK as raw bytes (after msg_id, flags and from). */
function messageTextBytes(raw: Buffer): Buffer {
  const r = new PayloadReader(raw, 44);
  r.ul();
  r.ul();
  r.lps();
  return r.lps() as Buffer;
}

const parsed = (f: DecodedFrame) => f.fields.parsed as OfflineMessage;
const statusOf = (f: DecodedFrame) => ({ status: f.fields.status, user: f.fields.user });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------

describe('redirector', () => {
  it('answers ip:port of the MRIM port as plain text and closes', async (t) => {
    const h = await start(t);
    const answer = await readRedirector(h.redirectorPort);
    assert.equal(answer, `127.0.0.1:${h.port}\n`);
    await sleep(50);
    assert.ok(hasLog(h, 'redirect', new RegExp(`answered "127.0.0.1:${h.port}"`)));
  });

  it("ignores the HTTP GET mrim-prpl sends first (its real request from the fixture)", async (t) => {
    const h = await start(t);
    const request = readFileSync(new URL('../fixtures/vectors/mrim-prpl-1.22.conn1.c2s.bin', import.meta.url));
    assert.equal(await readRedirector(h.redirectorPort, request), `127.0.0.1:${h.port}\n`);
    await sleep(50);
    assert.ok(hasLog(h, 'redirect', /client sent "GET 127\.0\.0\.1:12042 HTTP\/1\.0"/));
  });

  it('can be switched off', async (t) => {
    const h = await start(t, { redirectorPort: false });
    assert.equal(h.server.address.redirectorPort, undefined);
  });
});

function readRedirector(port: number, request?: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => request && s.write(request));
    let data = '';
    const timer = setTimeout(() => reject(new Error('redirector did not close')), 3000);
    s.on('data', (c) => (data += c.toString('latin1')));
    s.on('error', reject);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
  });
}

// ---------------------------------------------------------------------------------------------------

/** Every login form the server accepts, by version. */
const LOGIN_FORMS: { proto: string; via: 'LOGIN2' | 'LOGIN3'; md5?: boolean }[] = [
  { proto: '1.7', via: 'LOGIN2' },
  { proto: '1.8', via: 'LOGIN2' },
  { proto: '1.14', via: 'LOGIN2' },
  { proto: '1.16', via: 'LOGIN2' },
  { proto: '1.19', via: 'LOGIN2' },
  { proto: '1.20', via: 'LOGIN2' },
  { proto: '1.21', via: 'LOGIN2' },
  { proto: '1.21', via: 'LOGIN3' },
  { proto: '1.22', via: 'LOGIN2', md5: true },
  { proto: '1.22', via: 'LOGIN2' },
  { proto: '1.22', via: 'LOGIN3', md5: true },
  { proto: '1.23', via: 'LOGIN3', md5: true },
];

describe('HELLO and login, per version', () => {
  for (const form of LOGIN_FORMS) {
    const minor = Number(form.proto.split('.')[1]);
    it(`${form.proto} ${form.via} with a ${form.md5 ? 'MD5' : 'plain'} password`, async (t) => {
      const h = await start(t);
      const c = await h.connect(form.proto);
      const hello = await c.hello();
      assert.equal(hello.fields.pingPeriod, 30);
      assert.equal(hello.proto, form.proto, 'replies carry the client version');
      if (minor >= 20) assert.ok(Math.abs(Number(hello.fields.serverTime) - Date.now() / 1000) < 5, 'server time from 1.20');
      else assert.equal(hello.dlen, 4, 'just the ping period before 1.20');

      const { seq, reply } = c.sendLogin('Alice@Mail.ru', 'alicepw', { via: form.via, md5: form.md5 });
      const ack = await reply;
      assert.equal(ack.type, 'LOGIN_ACK');
      assert.equal(ack.seq, seq);

      const info = await c.next('USER_INFO');
      assert.deepEqual(info.fields.info, [
        { key: 'MRIM.NICKNAME', value: 'Алиса' },
        { key: 'MESSAGES.TOTAL', value: '0' },
        { key: 'MESSAGES.UNREAD', value: '0' },
        { key: 'client.endpoint', value: `127.0.0.1:${c.localPort}` },
      ]);
      // No decoder warning (exact pairs, nothing trailing) and every value in the version's encoding.
      assert.deepEqual(info.warnings, []);
      assert.deepEqual(info.enc, {});

      const cl = await c.next('CONTACT_LIST2');
      assert.deepEqual(cl.warnings, []);
      assert.deepEqual(cl.enc, {});
      assert.equal(cl.fields.contactMask, contactMaskFor(minor));
      assert.equal(cl.fields.groupMask, 'us');
      const unicode = minor >= 16 ? CONTACT_FLAG.UNICODE_NAME : 0;
      assert.deepEqual(
        (cl.fields.groups as Fields[]).map((g) => [g.name, g.flags]),
        [
          ['Друзья', CONTACT_FLAG.GROUP | unicode],
          ['Работа', CONTACT_FLAG.GROUP | unicode | (1 << 24)],
        ],
      );
      const contacts = cl.fields.contacts as Fields[];
      assert.deepEqual(
        contacts.map((x) => [x.id, x.email, x.nick, x.group, x.serverFlags, x.status]),
        [
          [20, 'bob@mail.ru', 'Боб', 0, 0, 0],
          [21, 'carol@list.ru', 'Кэрол', 1, 0, 0],
        ],
      );
      assert.equal((await c.next('MAILBOX_STATUS')).fields.unread, 0);

      const alice = h.server.users.get('alice@mail.ru')!;
      if (form.via === 'LOGIN3') {
        // LOGIN3 has no status: the client appears with its CHANGE_STATUS.
        assert.equal(alice.presence.status, 0);
        c.send('CHANGE_STATUS', { status: 1, statusUri: 'STATUS_ONLINE', statusTitle: 'В сети', statusDesc: '', features: 0xbff });
        await until(() => alice.presence.status === 1, 2000);
        assert.equal(alice.presence.statusTitle, 'В сети');
      } else {
        assert.equal(alice.presence.status, 1);
      }
      assert.ok(hasLog(h, 'login', new RegExp(`alice@mail.ru logged in \\(${form.via}, ${form.md5 ? 'MD5' : 'plain'} password`)));
    });
  }
});

describe('rejected logins', () => {
  const cases: { name: string; proto: string; login: string; password: string; via?: 'LOGIN2' | 'LOGIN3'; md5?: boolean; why: RegExp }[] = [
    { name: 'wrong password (1.8)', proto: '1.8', login: 'bob@mail.ru', password: 'nope', why: /wrong password/ },
    { name: 'unknown user (1.21)', proto: '1.21', login: 'nobody@mail.ru', password: 'x', why: /no such user/ },
    { name: 'plain password in LOGIN3 1.22', proto: '1.22', login: 'bob@mail.ru', password: 'bobpw', via: 'LOGIN3', why: /plain password where LOGIN3 v1\.22 sends MD5/ },
    // Below 1.22 a digest reads as MD5 only when no typed password could hold its bytes; either way it fails.
    { name: 'MD5 password in LOGIN2 1.21', proto: '1.21', login: 'bob@mail.ru', password: 'bobpw', md5: true, why: /MD5 password where LOGIN2 v1\.21 sends plain|wrong password/ },
    { name: 'MD5 of another password (1.23)', proto: '1.23', login: 'bob@mail.ru', password: 'other', via: 'LOGIN3', md5: true, why: /wrong password/ },
  ];
  for (const k of cases) {
    it(`${k.name} → LOGIN_REJ "Invalid login" and close`, async (t) => {
      const h = await start(t);
      const c = await h.connect(k.proto);
      await c.hello();
      const { seq, reply } = c.sendLogin(k.login, k.password, { via: k.via, md5: k.md5 });
      const rej = await reply;
      assert.equal(rej.type, 'LOGIN_REJ');
      assert.equal(rej.fields.reason, 'Invalid login');
      assert.equal(rej.seq, seq);
      await c.closed;
      assert.ok(hasLog(h, 'login-failed', k.why), JSON.stringify(h.logs.filter((e) => e.event === 'login-failed')));
      assert.equal(h.server.users.get('bob@mail.ru')!.presence.status, 0);
    });
  }

  it('legacy LOGIN (≤1.6) → LOGIN_REJ, logged as unsupported', async (t) => {
    const h = await start(t);
    const c = await h.connect('1.6');
    await c.hello();
    const seq = c.send('LOGIN', { login: 'bob@mail.ru', password: 'bobpw' });
    const rej = await c.next('LOGIN_REJ');
    assert.equal(rej.seq, seq);
    await c.closed;
    assert.ok(hasLog(h, 'unsupported', /legacy LOGIN \(protocol ≤1\.6\) is not supported/));
  });
});

describe('sessions', () => {
  it('a second login logs the first session out (LOGOUT 0x10) without flapping its presence', async (t) => {
    const h = await start(t);
    const bob = await h.online('bob@mail.ru', '1.21');
    const first = await h.online('alice@mail.ru', '1.8');
    assert.deepEqual(statusOf(await bob.next('USER_STATUS')), { status: 1, user: 'alice@mail.ru' });
    const second = await h.online('alice@mail.ru', '1.21');
    const logout = await first.next('LOGOUT');
    assert.equal(logout.fields.reason, 0x10);
    await first.closed;
    await bob.none((f) => f.type === 'USER_STATUS' && f.fields.status === 0, 300);
    assert.equal(h.server.users.get('alice@mail.ru')!.presence.status, 1);
    // The new session is the one messages go to.
    bob.send('MESSAGE', { flags: 0, to: 'alice@mail.ru', text: 'снова ты', rtf: ' ' });
    assert.equal((await second.next('MESSAGE_ACK')).fields.text, 'снова ты');
    assert.ok(hasLog(h, 'kicked', /LOGOUT \(0x10\)/));
  });

  it('drops a client that stops sending PINGs after 1.5 ping periods; PINGs keep one alive', async (t) => {
    const h = await start(t, { pingPeriod: 1 });
    const silent = await h.connect('1.8');
    const pinging = await h.connect('1.21');
    await silent.hello();
    const since = Date.now();
    await pinging.login('bob@mail.ru', 'bobpw');
    const timer = setInterval(() => pinging.send('PING'), 400);
    t.after(() => clearInterval(timer));
    await silent.closed;
    const elapsed = Date.now() - since;
    assert.ok(elapsed >= 1300 && elapsed < 3000, `closed after ${elapsed} ms`);
    await sleep(1000);
    assert.equal(pinging.isClosed, false);
    assert.ok(hasLog(h, 'timeout', /no PING for 1\.5 s/));
  });

  it('DISCONNECT ends the session and contacts see the user go offline', async (t) => {
    const h = await start(t);
    const alice = await h.online('alice@mail.ru', '1.19');
    const bob = await h.online('bob@mail.ru', '1.19');
    await alice.next((f) => f.type === 'USER_STATUS' && f.fields.user === 'bob@mail.ru');
    bob.send('DISCONNECT');
    await bob.closed;
    const off = await alice.next('USER_STATUS');
    assert.deepEqual(statusOf(off), { status: 0, user: 'bob@mail.ru' });
  });
});

// ---------------------------------------------------------------------------------------------------

describe('presence', () => {
  it('CHANGE_STATUS reaches each observer in its own version: short form and x-status → ONLINE before 1.14', async (t) => {
    const h = await start(t);
    const bob = await h.online('bob@mail.ru', '1.8');
    const carol = await h.online('carol@list.ru', '1.16');
    const alice = await h.online('alice@mail.ru', '1.19', { status: 2, fields: { statusUri: 'STATUS_AWAY' } });
    const aboutAlice = (f: DecodedFrame) => f.type === 'USER_STATUS' && f.fields.user === 'alice@mail.ru';
    const bobSaw = await bob.next(aboutAlice);
    assert.equal(bobSaw.variant, 'short');
    assert.deepEqual(statusOf(bobSaw), { status: 2, user: 'alice@mail.ru' });
    const carolSaw = await carol.next(aboutAlice);
    assert.equal(carolSaw.variant, 'extended');
    assert.equal(carolSaw.fields.statusUri, 'STATUS_AWAY');

    alice.send('CHANGE_STATUS', { status: 4, statusUri: 'status_5', statusTitle: 'Дома', statusDesc: 'готовлю ужин', features: 0x3ff });
    const short = await bob.next(aboutAlice);
    assert.deepEqual(short.fields, { status: 1, user: 'alice@mail.ru' }, 'x-status shown as ONLINE before 1.14');
    const ext = await carol.next(aboutAlice);
    assert.deepEqual(ext.fields, {
      status: 4,
      statusUri: 'status_5',
      statusTitle: 'Дома',
      statusDesc: 'готовлю ужин',
      user: 'alice@mail.ru',
      features: 0x3ff,
      userAgent: 'client="mrimtap-test"',
    });
    assert.deepEqual(ext.enc, {}, 'x-status text in UTF-16LE for 1.16');
    // Another x-status is still just "online" for bob: nothing is repeated to him.
    alice.send('CHANGE_STATUS', { status: 4, statusUri: 'status_6', statusTitle: 'Ем', statusDesc: '', features: 0x3ff });
    assert.equal((await carol.next(aboutAlice)).fields.statusUri, 'status_6');
    await bob.none(aboutAlice, 200);
  });

  it('1.14 observers get the extended form with CP1251 x-status text', async (t) => {
    const h = await start(t);
    const carol = await h.online('carol@list.ru', '1.14');
    const alice = await h.online('alice@mail.ru', '1.22', { via: 'LOGIN3', md5: true });
    alice.send('CHANGE_STATUS', { status: 4, statusUri: 'status_chat', statusTitle: 'Поболтаем', statusDesc: '', features: 0 });
    const f = await carol.next('USER_STATUS');
    assert.equal(f.variant, 'extended');
    assert.equal(f.fields.statusTitle, 'Поболтаем');
    assert.deepEqual(f.enc, {}, 'CP1251 below 1.16');
  });

  it('invisible users look offline, except to contacts on their VISIBLE list', async (t) => {
    const h = await start(t);
    const bob = await h.online('bob@mail.ru', '1.21');
    const carol = await h.online('carol@list.ru', '1.21');
    const alice = await h.online('alice@mail.ru', '1.21', { status: 0x80000001, fields: { statusUri: 'STATUS_INVISIBLE' } });
    const aboutAlice = (f: DecodedFrame) => f.type === 'USER_STATUS' && f.fields.user === 'alice@mail.ru';
    assert.deepEqual(statusOf(await carol.next(aboutAlice)), { status: 0x80000001, user: 'alice@mail.ru' });
    await bob.none(aboutAlice, 200);
    alice.send('CHANGE_STATUS', { status: 2, statusUri: 'STATUS_AWAY', statusTitle: '', statusDesc: '', features: 0 });
    assert.deepEqual(statusOf(await bob.next(aboutAlice)), { status: 2, user: 'alice@mail.ru' });
  });

  it('contacts in CONTACT_LIST2 carry their current status', async (t) => {
    const h = await start(t);
    const bob = await h.online('bob@mail.ru', '1.19');
    bob.send('CHANGE_STATUS', { status: 4, statusUri: 'status_22', statusTitle: 'Работаю', statusDesc: 'занят', features: 0x3ff });
    await until(() => h.server.users.get('bob@mail.ru')!.presence.status === 4, 2000);
    const c = await h.connect('1.16');
    const { contactList } = await c.login('alice@mail.ru', 'alicepw');
    const entry = (contactList.fields.contacts as Fields[]).find((x) => x.email === 'bob@mail.ru')!;
    assert.deepEqual([entry.status, entry.statusUri, entry.statusTitle, entry.statusDesc], [4, 'status_22', 'Работаю', 'занят']);
    const old = await h.connect('1.8');
    const carolView = await old.login('carol@list.ru', 'carolpw');
    const bobForCarol = (carolView.contactList.fields.contacts as Fields[]).find((x) => x.email === 'bob@mail.ru')!;
    assert.equal(bobForCarol.status, 1, 'x-status shown as ONLINE to 1.8');
  });
});

// ---------------------------------------------------------------------------------------------------

describe('messages', () => {
  it('routes to an online user; MESSAGE_STATUS (same seq) follows the recipient’s MESSAGE_RECV', async (t) => {
    const h = await start(t);
    const alice = await h.online('alice@mail.ru', '1.21');
    const bob = await h.online('bob@mail.ru', '1.21');
    const seq = alice.send('MESSAGE', { flags: 0, to: 'BOB@mail.ru', text: 'Привет, Боб!', rtf: ' ' });
    const ack = await bob.next('MESSAGE_ACK');
    assert.equal(ack.fields.from, 'alice@mail.ru');
    assert.equal(ack.fields.text, 'Привет, Боб!');
    assert.equal(ack.fields.flags, MESSAGE_FLAG.UNICODE);
    await alice.none('MESSAGE_STATUS', 150);
    bob.send('MESSAGE_RECV', { from: 'alice@mail.ru', msgId: ack.fields.msgId });
    const status = await alice.next('MESSAGE_STATUS');
    assert.deepEqual([status.seq, status.fields.status], [seq, 0]);
    bob.send('MESSAGE_RECV', { from: 'alice@mail.ru', msgId: 999_999 });
    await until(() => hasLog(h, 'message', /MESSAGE_RECV for unknown msg_id 999999/), 2000);
  });

  it('1.8 ↔ 1.21: the text is re-encoded for each recipient and the encoding flags follow', async (t) => {
    const h = await start(t);
    const old = await h.online('alice@mail.ru', '1.8');
    const modern = await h.online('bob@mail.ru', '1.21');
    const text = 'Съешь же ещё этих мягких французских булок\r\nда выпей чаю';

    old.send('MESSAGE', { flags: 0, to: 'bob@mail.ru', text, rtf: ' ' });
    const toModern = await modern.next('MESSAGE_ACK');
    assert.equal(toModern.fields.text, text);
    assert.equal(Number(toModern.fields.flags) & (MESSAGE_FLAG.UNICODE | MESSAGE_FLAG.CP1251), MESSAGE_FLAG.UNICODE);
    assert.deepEqual(messageTextBytes(modern.raws.get(toModern)!), encodeString(text, 'utf16le'));

    const rtf = packRtf('{\\rtf1 жирный}');
    modern.send('MESSAGE', { flags: MESSAGE_FLAG.RTF | MESSAGE_FLAG.UNICODE, to: 'alice@mail.ru', text, rtf });
    const toOld = await old.next('MESSAGE_ACK');
    assert.equal(toOld.fields.text, text);
    assert.equal(Number(toOld.fields.flags) & ~MESSAGE_FLAG.RTF, MESSAGE_FLAG.CP1251, 'UNICODE cleared, CP1251 set');
    assert.deepEqual(messageTextBytes(old.raws.get(toOld)!), encodeString(text, 'cp1251'));
    assert.equal(toOld.fields.rtf, rtf, 'RTF passes through');
    assert.equal((toOld.fields.rtfUnpacked as Fields).rtf, '{\\rtf1 жирный}');
  });

  it('unknown recipients get REJECTED_NOUSER; NORECV messages are acknowledged at once', async (t) => {
    const h = await start(t);
    const alice = await h.online('alice@mail.ru', '1.8');
    const bob = await h.online('bob@mail.ru', '1.8');
    const s1 = alice.send('MESSAGE', { flags: 0, to: 'ghost@mail.ru', text: 'эй', rtf: ' ' });
    const noUser = await alice.next('MESSAGE_STATUS');
    assert.deepEqual([noUser.seq, noUser.fields.status], [s1, 0x8001]);
    const s2 = alice.send('MESSAGE', { flags: MESSAGE_FLAG.NORECV, to: 'bob@mail.ru', text: 'без ответа', rtf: ' ' });
    const st = await alice.next('MESSAGE_STATUS');
    assert.deepEqual([st.seq, st.fields.status], [s2, 0]);
    assert.equal(Number((await bob.next('MESSAGE_ACK')).fields.flags) & MESSAGE_FLAG.NORECV, MESSAGE_FLAG.NORECV);
  });

  it('typing notifications go to online users only, with NORECV and no MESSAGE_STATUS', async (t) => {
    const h = await start(t);
    const alice = await h.online('alice@mail.ru', '1.21');
    const bob = await h.online('bob@mail.ru', '1.8');
    alice.send('MESSAGE', { flags: MESSAGE_FLAG.NOTIFY, to: 'bob@mail.ru', text: ' ', rtf: ' ' });
    const typing = await bob.next('MESSAGE_ACK');
    assert.equal(Number(typing.fields.flags) & (MESSAGE_FLAG.NOTIFY | MESSAGE_FLAG.NORECV), MESSAGE_FLAG.NOTIFY | MESSAGE_FLAG.NORECV);
    alice.send('MESSAGE', { flags: MESSAGE_FLAG.NOTIFY, to: 'dave@bk.ru', text: ' ', rtf: ' ' });
    await alice.none('MESSAGE_STATUS', 200);
    assert.equal(h.server.users.get('dave@bk.ru')!.offline.length, 0);
  });

  it('multicast: every recipient gets it, the sender one MESSAGE_STATUS', async (t) => {
    const h = await start(t);
    const alice = await h.online('alice@mail.ru', '1.21');
    const bob = await h.online('bob@mail.ru', '1.21');
    const carol = await h.online('carol@list.ru', '1.8');
    const to = Buffer.concat(['bob@mail.ru', 'carol@list.ru'].map((a) => Buffer.concat([Buffer.from([a.length, 0, 0, 0]), Buffer.from(a)]))).toString('latin1');
    const seq = alice.send('MESSAGE', { flags: MESSAGE_FLAG.MULTICAST, to, text: 'всем привет', rtf: ' ' });
    assert.equal((await bob.next('MESSAGE_ACK')).fields.text, 'всем привет');
    const forCarol = await carol.next('MESSAGE_ACK');
    assert.equal(forCarol.fields.text, 'всем привет');
    assert.equal(Number(forCarol.fields.flags) & MESSAGE_FLAG.MULTICAST, 0);
    const st = await alice.next('MESSAGE_STATUS');
    assert.deepEqual([st.seq, st.fields.status], [seq, 0]);
    await alice.none('MESSAGE_STATUS', 150);
  });

  it('a wake-up to an offline user is refused (REJECTED_DENY_OFFFLSH)', async (t) => {
    const h = await start(t);
    const alice = await h.online('alice@mail.ru', '1.21');
    alice.send('MESSAGE', { flags: MESSAGE_FLAG.ALARM, to: 'bob@mail.ru', text: 'проснись', rtf: ' ' });
    assert.equal((await alice.next('MESSAGE_STATUS')).fields.status, 0x8007);
  });

  it('a message the recipient never acknowledged is kept offline when its session ends', async (t) => {
    const h = await start(t);
    const alice = await h.online('alice@mail.ru', '1.21');
    const bob = await h.online('bob@mail.ru', '1.21');
    const seq = alice.send('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'потеряется?', rtf: ' ' });
    await bob.next('MESSAGE_ACK');
    await bob.close();
    const st = await alice.next('MESSAGE_STATUS');
    assert.deepEqual([st.seq, st.fields.status], [seq, 0]);
    assert.deepEqual(h.server.users.get('bob@mail.ru')!.offline.map((m) => m.text), ['потеряется?']);
  });
});

describe('offline messages', () => {
  it('stored for an offline 1.8 user, delivered at login in CP1251 with LF lines, deleted by UIDL', async (t) => {
    const h = await start(t);
    const alice = await h.online('alice@mail.ru', '1.21');
    const seq = alice.send('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'Привет, Боб!\r\nКак дела?', rtf: ' ' });
    const st = await alice.next('MESSAGE_STATUS');
    assert.deepEqual([st.seq, st.fields.status], [seq, 0]);
    assert.ok(hasLog(h, 'offline', /stored offline/));

    const bob = await h.connect('1.8');
    await bob.login('bob@mail.ru', 'bobpw');
    const off = await bob.next('OFFLINE_MESSAGE_ACK');
    assert.deepEqual(off.warnings, []);
    const doc = String(off.fields.message);
    assert.ok(!doc.includes('\r'), 'LF line endings only (pidgin-mra crashes on CRLF)');
    assert.match(doc, /^Boundary: \S+$/m, 'pidgin-mra needs a Boundary header to show the text');
    const m = parsed(off);
    assert.equal(m.from, 'alice@mail.ru');
    assert.equal(m.text, 'Привет, Боб!\nКак дела?');
    assert.equal(m.flags! & MESSAGE_FLAG.CP1251, MESSAGE_FLAG.CP1251);
    assert.match(m.parts[0].contentType, /charset=CP-1251/);

    // Not deleted yet: delivered again at the next login.
    await bob.close();
    const again = await h.connect('1.8');
    await again.login('bob@mail.ru', 'bobpw');
    const off2 = await again.next('OFFLINE_MESSAGE_ACK');
    assert.equal(off2.fields.uidl, off.fields.uidl);
    again.send('DELETE_OFFLINE_MESSAGE', { uidl: off2.fields.uidl });
    await until(() => h.server.users.get('bob@mail.ru')!.offline.length === 0, 2000);
    await again.close();
    const third = await h.connect('1.8');
    await third.login('bob@mail.ru', 'bobpw');
    await third.none('OFFLINE_MESSAGE_ACK', 200);
  });

  it('a 1.21 recipient gets UTF-16LE base64 text from a 1.8 sender', async (t) => {
    const h = await start(t);
    const old = await h.online('bob@mail.ru', '1.8');
    old.send('MESSAGE', { flags: 0, to: 'carol@list.ru', text: 'Ёжик в тумане', rtf: ' ' });
    await old.next('MESSAGE_STATUS');
    const carol = await h.online('carol@list.ru', '1.21');
    const m = parsed(await carol.next('OFFLINE_MESSAGE_ACK'));
    assert.equal(m.text, 'Ёжик в тумане');
    assert.match(m.parts[0].contentType, /UTF-16LE/);
    assert.equal(m.flags! & MESSAGE_FLAG.UNICODE, MESSAGE_FLAG.UNICODE);
  });
});

// ---------------------------------------------------------------------------------------------------

describe('contact list', () => {
  it('ADD_CONTACT: a group, then a contact with its authorization request, AUTHORIZE → AUTHORIZE_ACK', async (t) => {
    const h = await start(t);
    const alice = await h.online('alice@mail.ru', '1.21');
    const dave = await h.online('dave@bk.ru', '1.8');

    const gSeq = alice.send('ADD_CONTACT', { flags: CONTACT_FLAG.GROUP | CONTACT_FLAG.UNICODE_NAME | (2 << 24), group: 0, email: '', name: 'Новые', phones: '', authMessage: '', actions: 0 });
    const gAck = await alice.next('ADD_CONTACT_ACK');
    assert.deepEqual([gAck.seq, gAck.fields.status, gAck.fields.contactId], [gSeq, 0, 2]);

    const blob = encodeAuthBlob({ nick: 'Алиса', text: 'Добавь меня, пожалуйста' }, 'utf16le');
    const cSeq = alice.send('ADD_CONTACT', { flags: CONTACT_FLAG.UNICODE_NAME, group: 2, email: 'Dave@bk.ru', name: 'Дейв', phones: '', authMessage: blob, actions: 0 });
    const cAck = await alice.next('ADD_CONTACT_ACK');
    assert.deepEqual([cAck.seq, cAck.fields.status, cAck.fields.contactId], [cSeq, 0, 22]);

    const request = await dave.next('MESSAGE_ACK');
    assert.equal(request.fields.from, 'alice@mail.ru');
    const flags = Number(request.fields.flags);
    assert.equal(flags & (MESSAGE_FLAG.AUTHORIZE | MESSAGE_FLAG.NORECV), MESSAGE_FLAG.AUTHORIZE | MESSAGE_FLAG.NORECV);
    assert.deepEqual(request.fields.auth, { nick: 'Алиса', text: 'Добавь меня, пожалуйста' }, 'blob rebuilt in CP1251 for 1.8');

    dave.send('AUTHORIZE', { email: 'alice@mail.ru' });
    assert.equal((await alice.next('AUTHORIZE_ACK')).fields.email, 'dave@bk.ru');
    assert.deepEqual(statusOf(await alice.next('USER_STATUS')), { status: 1, user: 'dave@bk.ru' });

    const relogin = await h.connect('1.21');
    const { contactList } = await relogin.login('alice@mail.ru', 'alicepw');
    assert.deepEqual((contactList.fields.groups as Fields[]).map((g) => g.name), ['Друзья', 'Работа', 'Новые']);
    const added = (contactList.fields.contacts as Fields[]).find((c) => c.email === 'dave@bk.ru')!;
    assert.deepEqual([added.id, added.nick, added.group, added.serverFlags, added.status], [22, 'Дейв', 2, 0, 1]);
  });

  it('ADD_CONTACT errors: no such user, already there, own address, phone contacts', async (t) => {
    const h = await start(t);
    const alice = await h.online('alice@mail.ru', '1.8');
    const add = async (fields: Fields) => {
      const seq = alice.send('ADD_CONTACT', { flags: 0, group: 0, name: '', phones: '', authMessage: '', ...fields });
      const ack = await alice.next('ADD_CONTACT_ACK');
      assert.equal(ack.seq, seq);
      return [ack.fields.status, ack.fields.contactId];
    };
    assert.deepEqual(await add({ email: 'ghost@mail.ru' }), [3, 0xffffffff]);
    assert.deepEqual(await add({ email: 'bob@mail.ru' }), [5, 0xffffffff]);
    assert.deepEqual(await add({ email: 'alice@mail.ru' }), [4, 0xffffffff]);
    assert.deepEqual(await add({ flags: CONTACT_FLAG.PHONE, email: 'phone', phones: '+79161234567' }), [1, 0xffffffff]);
    assert.ok(hasLog(h, 'unsupported', /phone contact/));
  });

  it('a new contact that is not authorized yet: NOT_AUTHORIZED, no presence; an offline target gets the request at login', async (t) => {
    const h = await start(t);
    const alice = await h.online('alice@mail.ru', '1.16');
    alice.send('ADD_CONTACT', { flags: CONTACT_FLAG.UNICODE_NAME, group: 0, email: 'erin@inbox.ru', name: 'Эрин', phones: '', authMessage: '' });
    assert.equal((await alice.next('ADD_CONTACT_ACK')).fields.status, 0);
    const erin = await h.online('erin@inbox.ru', '1.16');
    const request = parsed(await erin.next('OFFLINE_MESSAGE_ACK'));
    assert.equal(request.from, 'alice@mail.ru');
    assert.equal(request.flags! & MESSAGE_FLAG.AUTHORIZE, MESSAGE_FLAG.AUTHORIZE);
    const blob = decodeAuthBlob(request.text!);
    assert.ok(!('error' in blob) && blob.nick === 'Алиса' && /добавьте меня/.test(blob.text), JSON.stringify(blob));
    await alice.none((f) => f.type === 'USER_STATUS' && f.fields.user === 'erin@inbox.ru', 150);
    const again = await h.connect('1.16');
    const { contactList } = await again.login('alice@mail.ru', 'alicepw');
    const entry = (contactList.fields.contacts as Fields[]).find((c) => c.email === 'erin@inbox.ru')!;
    assert.deepEqual([entry.serverFlags, entry.status], [1, 3], 'NOT_AUTHORIZED, status UNDETERMINATED');
  });

  it('MODIFY_CONTACT: rename and move, visibility lists, remove a contact, rename and remove a group', async (t) => {
    const h = await start(t);
    const alice = await h.online('alice@mail.ru', '1.21');
    const bob = await h.online('bob@mail.ru', '1.21');
    const modify = async (fields: Fields) => {
      const seq = alice.send('MODIFY_CONTACT', { phones: '', ...fields });
      const ack = await alice.next('MODIFY_CONTACT_ACK');
      assert.equal(ack.seq, seq);
      return ack.fields.status;
    };
    const user = h.server.users.get('alice@mail.ru')!;
    assert.equal(await modify({ id: 20, flags: CONTACT_FLAG.UNICODE_NAME, group: 1, email: 'bob@mail.ru', name: 'Борис' }), 0);
    assert.deepEqual(
      user.contacts.map((c) => [c.email, c.nick, c.group]),
      [
        ['bob@mail.ru', 'Борис', 1],
        ['carol@list.ru', 'Кэрол', 1],
      ],
    );
    // "always invisible for bob": bob now sees alice offline.
    assert.equal(await modify({ id: 20, flags: CONTACT_FLAG.INVISIBLE, group: 1, email: 'bob@mail.ru', name: 'Борис' }), 0);
    assert.deepEqual(statusOf(await bob.next('USER_STATUS')), { status: 0, user: 'alice@mail.ru' });

    assert.equal(await modify({ id: 1, flags: CONTACT_FLAG.GROUP, group: 0, email: '', name: 'Коллеги' }), 0);
    assert.equal(user.groups[1].name, 'Коллеги');
    assert.equal(await modify({ id: 21, flags: CONTACT_FLAG.REMOVED, group: 1, email: 'carol@list.ru', name: '' }), 0);
    assert.deepEqual(user.contacts.map((c) => c.email), ['bob@mail.ru']);
    assert.equal(await modify({ id: 1, flags: CONTACT_FLAG.GROUP | CONTACT_FLAG.REMOVED, group: 0, email: '', name: '' }), 0);
    assert.equal(user.contacts[0].group, 0, "the removed group's contacts move to group 0");
    assert.equal(await modify({ id: 40, flags: 0, group: 0, email: '', name: 'x' }), 3);
    assert.equal(await modify({ id: 7, flags: CONTACT_FLAG.GROUP, group: 0, email: '', name: 'x' }), 4);

    const again = await h.connect('1.21');
    const { contactList } = await again.login('alice@mail.ru', 'alicepw');
    const groups = contactList.fields.groups as Fields[];
    assert.equal(Number(groups[1].flags) & CONTACT_FLAG.REMOVED, CONTACT_FLAG.REMOVED, 'group ids stay stable: removed groups are flagged');
    assert.deepEqual((contactList.fields.contacts as Fields[]).map((c) => [c.id, c.email, c.nick]), [[20, 'bob@mail.ru', 'Борис']]);
  });

  it('at most 20 groups (GROUP_LIMIT)', async (t) => {
    const h = await start(t);
    const alice = await h.online('alice@mail.ru', '1.8');
    const statuses: unknown[] = [];
    for (let i = 0; i < 19; i++) {
      alice.send('ADD_CONTACT', { flags: CONTACT_FLAG.GROUP, group: 0, email: '', name: `g${i}`, phones: '', authMessage: '' });
      statuses.push((await alice.next('ADD_CONTACT_ACK')).fields.status);
    }
    assert.deepEqual(statuses, [...Array(18).fill(0), 6]);
  });

  it('ignored senders: messages are dropped but reported delivered', async (t) => {
    const h = await start(t);
    const alice = await h.online('alice@mail.ru', '1.21');
    const bob = await h.online('bob@mail.ru', '1.21');
    alice.send('MODIFY_CONTACT', { id: 20, flags: CONTACT_FLAG.IGNORE, group: 0, email: 'bob@mail.ru', name: 'Боб', phones: '' });
    await alice.next('MODIFY_CONTACT_ACK');
    bob.send('MESSAGE', { flags: 0, to: 'alice@mail.ru', text: 'спам', rtf: ' ' });
    assert.equal((await bob.next('MESSAGE_STATUS')).fields.status, 0);
    await alice.none('MESSAGE_ACK', 200);
  });
});

// ---------------------------------------------------------------------------------------------------

describe('search and web session', () => {
  for (const proto of ['1.8', '1.21']) {
    it(`WP_REQUEST → ANKETA_INFO (same seq) by login+domain, nick prefix, online only (${proto})`, async (t) => {
      const h = await start(t);
      const c = await h.online('bob@mail.ru', proto);
      const search = async (criteria: Fields[]) => {
        const seq = c.send('WP_REQUEST', { criteria });
        const a = await c.next('ANKETA_INFO');
        assert.equal(a.seq, seq);
        assert.deepEqual(a.warnings, []);
        assert.deepEqual(a.enc, {}, 'text columns in the version’s encoding');
        return a;
      };
      const one = await search([
        { field: 0, value: 'alice' },
        { field: 1, value: 'mail.ru' },
      ]);
      assert.equal(one.fields.status, 1);
      const [row] = one.fields.rows as Fields[];
      assert.deepEqual([row.Username, row.Domain, row.Nickname, row.FirstName, row.LastName, row.mrim_status], ['alice', 'mail.ru', 'Алиса', 'Алиса', 'Иванова', '0']);
      const byNick = await search([{ field: 2, value: 'ал*' }]);
      assert.deepEqual((byNick.fields.rows as Fields[]).map((r) => r.Username), ['alice']);
      const none = await search([{ field: 0, value: 'zzz' }]);
      assert.deepEqual([none.fields.status, none.fields.rows], [0, []]);
      const online = await search([
        { field: 1, value: 'mail.ru' },
        { field: 9, value: '1' },
      ]);
      assert.deepEqual((online.fields.rows as Fields[]).map((r) => [r.Username, r.mrim_status]), [['bob', '1']]);
    });
  }

  it('GET_MPOP_SESSION → MPOP_SESSION with a key, same seq', async (t) => {
    const h = await start(t);
    const c = await h.online('alice@mail.ru', '1.21');
    const seq = c.send('GET_MPOP_SESSION');
    const r = await c.next('MPOP_SESSION');
    assert.equal(r.seq, seq);
    assert.equal(r.fields.status, 1);
    assert.match(String(r.fields.session), /^[0-9a-f]{32}$/);
  });
});

// ---------------------------------------------------------------------------------------------------

describe('STARTTLS', () => {
  let cert: { cert: string; key: string } | undefined;
  before(() => {
    cert = selfSignedCert();
  });

  it('1.23: STARTTLS → OK (same seq), TLS on the same socket, CAPABILITIES, LOGIN3 MD5; chats with a plain 1.8 client', async (t) => {
    if (!cert) return t.skip('openssl is not available to make a test certificate');
    const h = await start(t, { tls: cert });
    const bob = await h.online('bob@mail.ru', '1.8');
    const c = await h.connect('1.23');
    await c.hello();
    const ok = await c.startTls();
    assert.equal(ok.type, 'OK');
    assert.match(String(c.tlsProtocol), /^TLSv1\.[23]$/);
    c.send('CAPABILITIES', { capabilities: [0, 1, 2].map((id) => ({ id, value: '' })) });
    const { seq, reply } = c.sendLogin('alice@mail.ru', 'alicepw', { via: 'LOGIN3', md5: true });
    const ack = await reply;
    assert.deepEqual([ack.type, ack.seq], ['LOGIN_ACK', seq]);
    await c.next('CONTACT_LIST2');
    c.send('CHANGE_STATUS', { status: 1, statusUri: 'STATUS_ONLINE', statusTitle: '', statusDesc: '', features: 0xbff });
    assert.deepEqual(statusOf(await bob.next('USER_STATUS')), { status: 1, user: 'alice@mail.ru' });
    c.send('MESSAGE', { flags: MESSAGE_FLAG.UNICODE, to: 'bob@mail.ru', text: 'по TLS', rtf: ' ' });
    assert.equal((await bob.next('MESSAGE_ACK')).fields.text, 'по TLS');
    assert.ok(hasLog(h, 'tls', /TLS established/));
    assert.ok(hasLog(h, 'hello', /CAPABILITIES \[ONLINE_ALERTS, OFFLINE_ALERTS, WEBRTC\]/));
  });

  it('1.22 without a certificate: FAILURE (same seq), and the client carries on in plain text', async (t) => {
    const h = await start(t);
    const c = await h.connect('1.22');
    await c.hello();
    const failure = await c.startTls();
    assert.equal(failure.type, 'FAILURE');
    assert.equal(failure.fields.code, 5);
    const { reply } = c.sendLogin('alice@mail.ru', 'alicepw', { via: 'LOGIN3', md5: true });
    assert.equal((await reply).type, 'LOGIN_ACK');
  });
});

// ---------------------------------------------------------------------------------------------------

describe('bad input', () => {
  it('garbage before a frame is skipped (logged) and the frame is served', async (t) => {
    const h = await start(t);
    const c = await h.connect('1.21');
    c.sendRaw(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01\x02'));
    await c.hello();
    assert.ok(hasLog(h, 'garbage', /bytes skipped: bad magic/));
  });

  it('a stream with no frame in 64 KiB is closed (cannot resync); the server carries on', async (t) => {
    const h = await start(t);
    const c = await h.connect('1.21');
    c.sendRaw(Buffer.alloc(70 * 1024, 0x41));
    await c.closed;
    assert.ok(hasLog(h, 'error', /stream cannot be resynced/));
    await h.online('alice@mail.ru', '1.21');
  });

  it('truncated and malformed requests get their error reply; unknown packets are logged', async (t) => {
    const h = await start(t);
    const c = await h.online('alice@mail.ru', '1.21');
    const proto = parseProto('1.21');
    // MESSAGE with only its flags.
    c.sendRaw(Buffer.concat([encodeHeader({ proto, seq: 77, msg: 0x1008, dlen: 4 }), Buffer.alloc(4)]));
    const st = await c.next('MESSAGE_STATUS');
    assert.deepEqual([st.seq, st.fields.status], [77, 0x8003]);
    // ADD_CONTACT whose e-mail LPS claims more bytes than the payload has.
    const bad = Buffer.concat([Buffer.alloc(8), Buffer.from([0xff, 0, 0, 0]), Buffer.from('abc')]);
    c.sendRaw(Buffer.concat([encodeHeader({ proto, seq: 78, msg: 0x1019, dlen: bad.length }), bad]));
    const ack = await c.next('ADD_CONTACT_ACK');
    assert.deepEqual([ack.seq, ack.fields.status], [78, 4]);
    c.send('UNKNOWN(0x1007)', { data: 'deadbeef' });
    const smsSeq = c.send('SMS', { flags: 0, phone: '+79161234567', text: 'смс' });
    const sms = await c.next('SMS_ACK');
    assert.deepEqual([sms.seq, sms.fields.status], [smsSeq, 2]);
    c.send('FILE_TRANSFER', { peer: 'bob@mail.ru', idRequest: 1, totalSize: 3, description: { files: 'a;3;' } });
    c.send('MESSAGE_ACK', { msgId: 1, flags: 0, from: 'x@mail.ru', text: 'server packet from a client' });
    await until(() => h.logs.filter((e) => e.event === 'unsupported').length >= 4, 2000);
    assert.ok(hasLog(h, 'unsupported', /UNKNOWN\(0x1007\) is not supported/));
    assert.ok(hasLog(h, 'unsupported', /FILE_TRANSFER is not supported/));
    assert.ok(hasLog(h, 'bad-frame', /ADD_CONTACT: truncated LPS/));
    const seq = c.send('GET_MPOP_SESSION');
    assert.equal((await c.next('MPOP_SESSION')).seq, seq, 'still served');
  });

  it('requests before login are ignored', async (t) => {
    const h = await start(t);
    const c = await h.connect('1.21');
    await c.hello();
    c.send('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'кто я?', rtf: ' ' });
    await c.none('MESSAGE_STATUS', 200);
    assert.ok(hasLog(h, 'unsupported', /MESSAGE before login ignored/));
  });

  it('random payloads for every client packet type (logged in, 1.8 and 1.21) never crash it', async (t) => {
    const h = await start(t);
    let state = 0x9e3779b9;
    const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const types = PACKETS.filter((p) => p.dir !== 's2c' && p.name !== 'DISCONNECT' && p.name !== 'STARTTLS');
    for (const proto of ['1.8', '1.21']) {
      const c = await h.online('carol@list.ru', proto);
      for (let round = 0; round < 4; round++) {
        for (const p of types) {
          const payload = Buffer.from(Array.from({ length: Math.floor(random() * 48) }, () => Math.floor(random() * 256)));
          c.sendRaw(Buffer.concat([encodeHeader({ proto: parseProto(proto), seq: round, msg: p.code, dlen: payload.length }), payload]));
        }
      }
      c.send('PING');
      const seq = c.send('GET_MPOP_SESSION');
      assert.equal((await c.next((f) => f.type === 'MPOP_SESSION' && f.seq === seq)).fields.status, 1);
      assert.equal(c.isClosed, false);
    }
    assert.ok(!h.logs.some((e) => e.event === 'error'), JSON.stringify(h.logs.filter((e) => e.event === 'error')));
    await h.online('alice@mail.ru', '1.21');
  });
});

// ---------------------------------------------------------------------------------------------------

describe('users', () => {
  it('without users it starts with demo users who are contacts of each other', async (t) => {
    const h = await start(t, { users: undefined });
    assert.equal(h.server.usersSource, 'demo');
    const c = await h.connect('1.21');
    const { contactList } = await c.login('alice@mail.ru', 'alice');
    assert.deepEqual((contactList.fields.contacts as Fields[]).map((x) => x.email), ['bob@mail.ru', 'carol@list.ru']);
  });

  it('rejects bad users with a readable error', () => {
    assert.throws(() => new MrimServer({ users: [{ login: 'not-an-email', password: 'x' }] }), /users\[0\]: "login" must be an e-mail address/);
    assert.throws(() => new MrimServer({ users: [{ login: 'a@mail.ru', password: '' }] }), /"password" must be a non-empty string/);
    assert.throws(
      () =>
        new MrimServer({
          users: [
            { login: 'a@mail.ru', password: 'x' },
            { login: 'A@mail.ru', password: 'y' },
          ],
        }),
      /a@mail\.ru is given twice/,
    );
    assert.throws(() => new MrimServer({ pingPeriod: 0.5 }), /pingPeriod must be a whole number/);
    assert.throws(() => new MrimServer({ tls: { cert: 'nope', key: 'nope' } }), /unusable TLS certificate or key/);
  });

  it('the users file keeps contacts, authorizations and offline messages across a restart', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mrimtap-users-'));
    const file = join(dir, 'users.json');
    const servers: MrimServer[] = [];
    try {
      const first = await start(t, { usersFile: file });
      servers.push(first.server);
      assert.equal(first.server.usersSource, 'options');
      const alice = await first.online('alice@mail.ru', '1.21');
      alice.send('ADD_CONTACT', { flags: 0, group: 1, email: 'dave@bk.ru', name: 'Дейв', phones: '', authMessage: '' });
      await alice.next('ADD_CONTACT_ACK');
      alice.send('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'до перезапуска', rtf: ' ' });
      await alice.next('MESSAGE_STATUS');
      await first.server.close();
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { users: Fields[] };
      const savedAlice = saved.users.find((u) => u.login === 'alice@mail.ru')!;
      assert.deepEqual((savedAlice.contacts as Fields[]).at(-1), { email: 'dave@bk.ru', nick: 'Дейв', group: 1, authorized: false });

      const second = await start(t, { usersFile: file, users: undefined });
      servers.push(second.server);
      assert.equal(second.server.usersSource, 'file');
      const bob = await second.online('bob@mail.ru', '1.8');
      assert.equal(parsed(await bob.next('OFFLINE_MESSAGE_ACK')).text, 'до перезапуска');
      const dave = await second.online('dave@bk.ru', '1.21');
      const request = parsed(await dave.next('OFFLINE_MESSAGE_ACK'));
      assert.equal(request.flags! & MESSAGE_FLAG.AUTHORIZE, MESSAGE_FLAG.AUTHORIZE);
    } finally {
      // The servers write the file when they close: close them before the directory goes.
      await Promise.all(servers.map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

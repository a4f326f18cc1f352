// The reference server with the shapes real peers send (issue 9): offline line endings per recipient,
// characters a recipient's encoding cannot carry, one status table with the client, wildcard search,
// the redirector's connection number. Raw clients speak each version byte for byte (RawClient).
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type { DecodedFrame } from '../../src/protocol/codec.js';
import type { OfflineMessage } from '../../src/protocol/formats.js';
import { STATUS_TABLE, baseStatus } from '../../src/protocol/status.js';
import { MrimClient } from '../../src/client/index.js';
import { resolveOptions, statusFields } from '../../src/client/settings.js';
import { MrimServer, type ServerLogEvent, type ServerUser } from '../../src/server/index.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';

const USERS: ServerUser[] = [
  { login: 'alice@mail.ru', password: 'alicepw', nick: 'Алиса', contacts: [{ email: 'bob@mail.ru' }, { email: 'carol@list.ru' }] },
  { login: 'bob@mail.ru', password: 'bobpw', nick: 'Боб', firstName: 'Борис', contacts: [{ email: 'alice@mail.ru' }, { email: 'carol@list.ru' }] },
  { login: 'carol@list.ru', password: 'carolpw', nick: 'Carol', contacts: [{ email: 'alice@mail.ru' }, { email: 'bob@mail.ru' }] },
  { login: 'boris@bk.ru', password: 'borispw', nick: 'Бориска' },
];

async function start(t: TestContext) {
  const logs: ServerLogEvent[] = [];
  const server = new MrimServer({ port: 0, redirectorPort: 0, users: USERS, log: (e) => logs.push(e) });
  const address = await server.listen();
  const clients: RawClient[] = [];
  t.after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  });
  return {
    server,
    address,
    logs,
    async online(login: string, proto: string) {
      const c = await RawClient.connect(address.port, proto);
      clients.push(c);
      await c.login(login, USERS.find((u) => u.login === login)!.password);
      return c;
    },
  };
}

const offlineDoc = (f: DecodedFrame) => String(f.fields.message);
const parsed = (f: DecodedFrame) => f.fields.parsed as OfflineMessage;

describe('offline messages: line endings by the recipient\'s version', () => {
  it('LF for a 1.8 recipient (pidgin-mra crashes on CRLF), CRLF for 1.22 (mrim-prpl loses the body with LF)', async (t) => {
    const h = await start(t);
    const alice = await h.online('alice@mail.ru', '1.21');
    for (const to of ['bob@mail.ru', 'carol@list.ru']) {
      alice.send('MESSAGE', { flags: 0, to, text: 'Первая строка\r\nвторая', rtf: ' ' });
      await alice.next('MESSAGE_STATUS');
    }
    const bob = await h.online('bob@mail.ru', '1.8');
    const old = await bob.next('OFFLINE_MESSAGE_ACK');
    assert.ok(!offlineDoc(old).includes('\r'), 'LF only');
    assert.equal(parsed(old).lineEnding, 'LF');
    assert.equal(parsed(old).text, 'Первая строка\nвторая');

    const carol = await h.online('carol@list.ru', '1.22');
    const modern = await carol.next('OFFLINE_MESSAGE_ACK');
    assert.match(offlineDoc(modern), /^From: alice@mail\.ru\r\n/);
    assert.ok(!/[^\r]\n/.test(offlineDoc(modern)), 'every line ends with CRLF');
    assert.equal(parsed(modern).lineEnding, 'CRLF');
    assert.equal(parsed(modern).text, 'Первая строка\r\nвторая');
    assert.deepEqual([old.warnings, modern.warnings], [[], []]);
  });
});

describe('characters a recipient cannot get', () => {
  it('UTF-16LE text with → to a CP1251 (1.8) recipient: "?" arrives, the log says what was delivered, a note says why', async (t) => {
    const h = await start(t);
    const bob = await h.online('bob@mail.ru', '1.8');
    const carol = await h.online('carol@list.ru', '1.22');
    carol.send('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'Смотри → туда', rtf: ' ' });
    const got = await bob.next('MESSAGE_ACK');
    assert.equal(got.fields.text, 'Смотри ? туда');
    const line = h.logs.find((e) => e.event === 'message' && e.text.includes('Смотри → туда'));
    assert.ok(line, 'the message is logged as sent');
    assert.match(line.text, /delivered as "Смотри \? туда": its encoding lacks characters/);
    assert.equal(line.level, 'warn');
    const note = h.logs.find((e) => e.event === 'note' && e.packet === 'MESSAGE_ACK');
    assert.deepEqual(note?.notes, ['"text": CP1251 has no →, sent as "?"']);
  });

  it('…and for an offline CP1251 recipient, when the message is delivered at login', async (t) => {
    const h = await start(t);
    const carol = await h.online('carol@list.ru', '1.22');
    carol.send('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'Ω и ✓', rtf: ' ' });
    await carol.next('MESSAGE_STATUS');
    const bob = await h.online('bob@mail.ru', '1.8');
    assert.equal(parsed(await bob.next('OFFLINE_MESSAGE_ACK')).text, '? и ?');
    assert.ok(h.logs.some((e) => e.event === 'offline' && /delivered as "\? и \?"/.test(e.text)));
  });

  it("pidgin-mra's raw UTF-8 (flags 0) is routed as the text it is: a 1.21 recipient gets it right, not mojibake", async (t) => {
    const h = await start(t);
    const alice = await h.online('alice@mail.ru', '1.21');
    const bob = await h.online('bob@mail.ru', '1.8');
    bob.send('MESSAGE', { flags: 0, to: 'alice@mail.ru', text: 'Смотри → туда', rtf: ' ' }, { enc: { text: 'utf8' } });
    const got = await alice.next('MESSAGE_ACK');
    assert.equal(got.fields.text, 'Смотри → туда');
    assert.ok(h.logs.some((e) => e.event === 'note' && e.packet === 'MESSAGE' && /UTF-8 where CP1251 was expected/.test(e.text)));
    assert.ok(!h.logs.some((e) => e.event === 'bad-frame'));
  });
});

describe('the reference client with text its profile cannot carry', () => {
  it('a 1.8 client sending → warns that it went as "?"', async (t) => {
    const h = await start(t);
    const client = new MrimClient({ server: `127.0.0.1:${h.address.port}`, login: 'bob@mail.ru', password: 'bobpw', proto: '1.8', responseTimeoutMs: 3000 });
    t.after(() => client.logout());
    await client.connect();
    const warned = new Promise<{ text: string }>((resolve) => client.once('warning', resolve));
    await client.sendMessage('alice@mail.ru', 'Смотри → туда');
    assert.match((await warned).text, /^MESSAGE sent with characters CP1251 lacks: "text": CP1251 has no →, sent as "\?"$/);
  });
});

describe('one status table for the server and the client', () => {
  it('what a 1.8 contact is shown: dnd → away, a 1.22 USER_DEFINED away (status_2) → away, chat → online; 1.23 sees the x-status', async (t) => {
    const h = await start(t);
    const bob = await h.online('bob@mail.ru', '1.8');
    const modern = await h.online('carol@list.ru', '1.23');
    const alice = await h.online('alice@mail.ru', '1.22');
    const ofAlice = (f: DecodedFrame) => f.type === 'USER_STATUS' && f.fields.user === 'alice@mail.ru';
    await Promise.all([bob.next(ofAlice), modern.next(ofAlice)]); // alice comes online
    // Alternating, since an unchanged presence is not sent again.
    const cases: [number, string, number][] = [
      [4, 'status_dnd', 2],
      [4, 'status_chat', 1],
      [4, 'status_2', 2], // mrim-prpl: away with a status message
      [4, 'status_27', 1],
      [2, 'STATUS_AWAY', 2],
      [1, 'STATUS_ONLINE', 1],
    ];
    for (const [status, statusUri, shown] of cases) {
      alice.send('CHANGE_STATUS', { status, statusUri, statusTitle: 'x', statusDesc: '', features: 0x13 });
      const old = await bob.next(ofAlice);
      assert.equal(old.fields.status, shown, `${status} ${statusUri} as a 1.8 contact sees it`);
      const seen = await modern.next(ofAlice);
      assert.deepEqual([seen.fields.status, seen.fields.statusUri], [status, statusUri]);
    }
  });

  it("the reference client's 1.8 profile sends each named status as the base the server shows for it", () => {
    for (const entry of STATUS_TABLE) {
      const settings = resolveOptions({ server: '127.0.0.1:1', login: 'a@mail.ru', password: 'x', proto: '1.8', status: entry.name as 'online' });
      assert.deepEqual(statusFields(settings, { name: entry.name as 'online' }), { status: entry.base }, entry.name);
      assert.equal(baseStatus(entry.value, entry.uri), entry.base, `${entry.name}: the server shows a 1.8 contact the same`);
    }
  });
});

describe('white pages', () => {
  it('"Бо*" from a 1.22 client (UTF-16LE, ONLINE "1" as UTF-16LE too) finds the online matches only', async (t) => {
    const h = await start(t);
    await h.online('bob@mail.ru', '1.8');
    const carol = await h.online('carol@list.ru', '1.22');
    const seq = carol.send('WP_REQUEST', { criteria: [{ field: 2, value: 'Бо*' }, { field: 9, value: '1' }] }, { enc: { 'criteria.1.value': 'utf16le' } });
    const reply = await carol.next('ANKETA_INFO');
    assert.equal(reply.seq, seq);
    assert.deepEqual((reply.fields.rows as { Username: string }[]).map((r) => r.Username), ['bob'], 'boris (offline) is left out');
  });

  it('"Бо**" (a client that appends its own *) and "*рис*" from a 1.8 client', async (t) => {
    const h = await start(t);
    const bob = await h.online('bob@mail.ru', '1.8');
    bob.send('WP_REQUEST', { criteria: [{ field: 2, value: 'Бо**' }] });
    const byNick = await bob.next('ANKETA_INFO');
    assert.deepEqual((byNick.fields.rows as { Username: string }[]).map((r) => r.Username).sort(), ['bob', 'boris']);
    bob.send('WP_REQUEST', { criteria: [{ field: 3, value: '*рис*' }] });
    assert.deepEqual(((await bob.next('ANKETA_INFO')).fields.rows as { Username: string }[]).map((r) => r.Username), ['bob']);
  });
});

describe('redirector', () => {
  it('its log line carries its connection number, from the one counter of the server', async (t) => {
    const h = await start(t);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect(h.address.redirectorPort!, '127.0.0.1');
      let text = '';
      s.on('data', (d) => (text += d.toString('latin1')));
      s.on('close', () => resolve(text));
      s.on('error', reject);
    });
    assert.equal(answer, `127.0.0.1:${h.address.port}\n`);
    await until(() => h.logs.some((e) => e.event === 'redirect'), 2000);
    await h.online('alice@mail.ru', '1.8');
    const redirect = h.logs.find((e) => e.event === 'redirect')!;
    const session = h.logs.find((e) => e.event === 'connect')!;
    assert.equal(redirect.conn, 1);
    assert.equal(session.conn, 2);
  });
});

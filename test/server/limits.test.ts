/**
 * What one client, or many, may take of the reference server, over real sockets: the cap on
 * connections, bytes held before login, the lockout after failed logins, offline storage by bytes,
 * and a client that reads nothing.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { encodePacket } from '../../src/protocol/codec.js';
import { MESSAGE_STATUS_CODE } from '../../src/protocol/constants.js';
import { encodeHeader, parseProto } from '../../src/protocol/header.js';
import { MrimServer, type ServerLogEvent, type ServerOptions } from '../../src/server/index.js';
import { OFFLINE_LIMITS } from '../../src/server/users.js';
import { withTimeout } from '../helpers/net.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';

const USERS = [
  { login: 'alice@mail.ru', password: 'alicepw', contacts: [{ email: 'bob@mail.ru' }] },
  { login: 'bob@mail.ru', password: 'bobpw', contacts: [{ email: 'alice@mail.ru' }] },
];

async function start(t: TestContext, opts: Partial<ServerOptions> = {}) {
  const logs: ServerLogEvent[] = [];
  const server = new MrimServer({ port: 0, redirectorPort: false, users: USERS, ...opts, log: (e) => logs.push(e) });
  const { port } = await server.listen();
  const clients: RawClient[] = [];
  t.after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  });
  const connect = async (proto = '1.21') => {
    const c = await RawClient.connect(port, proto);
    clients.push(c);
    return c;
  };
  return { server, port, logs, connect, texts: () => logs.map((l) => l.text) };
}

const closedSoon = (c: RawClient, ms = 3000) => withTimeout(c.closed, ms, 'the server closing the connection');

describe('reference server limits', () => {
  it('refuses connections over maxConnections on arrival, logged with their count; serves again once one leaves', async (t) => {
    const s = await start(t, { limits: { maxConnections: 2 } });
    const a = await s.connect();
    const b = await s.connect();
    await a.hello();
    await b.hello();
    const over = await s.connect();
    await closedSoon(over);
    await until(() => s.logs.some((l) => l.event === 'limit'), 5000);
    assert.ok(s.texts().includes('1 connection refused: 2 clients connected already (the limit)'), s.texts().join('\n'));
    await a.close();
    await until(() => s.logs.filter((l) => l.event === 'disconnect').length === 1, 5000);
    const again = await s.connect();
    await again.hello();
  });

  it('drops a connection holding more than maxPreLoginBytes of an unfinished frame before login', async (t) => {
    const s = await start(t, { limits: { maxPreLoginBytes: 4096 } });
    const c = await s.connect('1.8');
    await c.hello();
    // A frame announcing 500 KB, of which 6 KB arrive: the server would hold it all until it completes.
    c.sendRaw(Buffer.concat([encodeHeader({ seq: 2, msg: 0x1038, dlen: 500_000, proto: parseProto('1.8') }), Buffer.alloc(6000, 0x41)]));
    await closedSoon(c);
    assert.ok(s.texts().some((t) => /bytes of unfinished frames before login \(limit 4096\)/.test(t)), s.texts().join('\n'));
  });

  it('the pre-login bound does not limit a logged-in client: a 200 KB message goes through', async (t) => {
    const s = await start(t, { limits: { maxPreLoginBytes: 4096 } });
    const alice = await s.connect();
    await alice.login('alice@mail.ru', 'alicepw');
    const bob = await s.connect();
    await bob.login('bob@mail.ru', 'bobpw');
    alice.send('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'я'.repeat(100_000), rtf: ' ' });
    const got = await bob.next('MESSAGE_ACK', 5000);
    assert.equal(String(got.fields.text).length, 100_000);
  });

  it('locks an address out after repeated failed logins: refused unchecked, even with the right password, until it runs out', async (t) => {
    const s = await start(t, { limits: { loginBackoff: { free: 2, baseDelayMs: 800 } } });
    for (let i = 0; i < 3; i++) {
      const c = await s.connect();
      await c.hello();
      const rej = await c.sendLogin('alice@mail.ru', 'wrong').reply;
      assert.equal(rej.type, 'LOGIN_REJ');
      assert.equal(rej.fields.reason, 'Invalid login');
    }
    assert.ok(s.texts().some((t) => /repeated failed logins from 127\.0\.0\.1: its logins are refused unchecked for 0\.8 s/.test(t)), s.texts().join('\n'));
    const locked = await s.connect();
    await locked.hello();
    const rej = await locked.sendLogin('alice@mail.ru', 'alicepw').reply;
    assert.equal(rej.type, 'LOGIN_REJ');
    assert.equal(rej.fields.reason, 'Too many failed logins, try again in 1 s');
    await closedSoon(locked);
    await new Promise((r) => setTimeout(r, 900));
    const ok = await s.connect();
    await ok.login('alice@mail.ru', 'alicepw');
  });

  it('bounds a recipient’s offline storage by bytes as well as by count', async (t) => {
    const s = await start(t);
    const alice = await s.connect();
    await alice.login('alice@mail.ru', 'alicepw');
    // 100 KB of UTF-16 per message: the byte bound comes long before the count.
    const text = 'ю'.repeat(50_000);
    let stored = 0;
    for (;;) {
      const seq = alice.send('MESSAGE', { flags: 0, to: 'bob@mail.ru', text, rtf: ' ' });
      const status = await alice.next((f) => f.type === 'MESSAGE_STATUS' && f.seq === seq);
      if (status.fields.status !== MESSAGE_STATUS_CODE.DELIVERED) {
        assert.equal(status.fields.status, MESSAGE_STATUS_CODE.REJECTED_LIMIT_EXCEEDED);
        break;
      }
      stored++;
      assert.ok(stored < OFFLINE_LIMITS.messages, 'never refused');
    }
    assert.equal(stored, Math.floor(OFFLINE_LIMITS.bytes / (2 * (text.length + 1 + 'alice@mail.ru'.length))));
    assert.equal(s.server.users.get('bob@mail.ru')!.offline.length, stored);
  });

  it('drops a logged-in client that reads nothing once maxUnreadBytes of replies wait for it', async (t) => {
    const s = await start(t, { limits: { maxUnreadBytes: 256 * 1024 } });
    // bob logs in and never reads a byte.
    const bob = net.connect(s.port, '127.0.0.1');
    bob.on('error', () => {});
    bob.pause();
    bob.write(encodePacket('HELLO', {}, { proto: '1.21', seq: 1 }));
    bob.write(encodePacket('LOGIN3', { login: 'bob@mail.ru', password: 'bobpw', features: 0, userAgent: '', lang: 'ru', uaDataNames: [], description: '' }, { proto: '1.21', seq: 2, enc: { password: 'cp1251' } }));
    t.after(() => void bob.destroy());
    await until(() => s.logs.some((l) => l.event === 'login' && l.user === 'bob@mail.ru'), 5000);
    const alice = await s.connect();
    await alice.login('alice@mail.ru', 'alicepw');
    const text = 'x'.repeat(50_000);
    for (let i = 0; i < 400 && !s.logs.some((l) => l.event === 'error' && l.user === 'bob@mail.ru'); i++) {
      alice.send('MESSAGE', { flags: 0, to: 'bob@mail.ru', text, rtf: ' ' });
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 10));
    }
    await until(() => s.logs.some((l) => l.user === 'bob@mail.ru' && /unread \(limit 262144\): it does not read/.test(l.text)), 5000);
  });
});

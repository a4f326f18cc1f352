// The client's session rules and failure paths, against a scripted server on real sockets:
// timeouts, rejections, a server that hangs up or logs us out, reconnects, pings, offline messages,
// acknowledgements, the redirector and SOCKS5 failures.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { MrimClient, MrimClientError, type MrimClientOptions } from '../../src/client/index.js';
import type { DecodedFrame } from '../../src/protocol/codec.js';
import { MESSAGE_FLAG } from '../../src/protocol/constants.js';
import { formatOfflineMessage } from '../../src/protocol/formats.js';
import { closedPort, listenTcp } from '../helpers/net.js';
import { answerLogin, startScriptedServer, type ScriptedConnection } from '../helpers/scripted-server.js';
import { startTestSocks } from '../helpers/socks5.js';
import { nextEvent, until } from '../helpers/wait.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

function client(port: number, extra: Partial<MrimClientOptions> = {}): MrimClient {
  const c = new MrimClient({ server: `127.0.0.1:${port}`, login: 'alice@mail.ru', password: 'pw', responseTimeoutMs: 2000, connectTimeoutMs: 2000, ...extra });
  cleanup.push(() => c.logout());
  return c;
}

async function scripted(onFrame: (f: DecodedFrame, c: ScriptedConnection) => void) {
  const srv = await startScriptedServer(onFrame);
  cleanup.push(() => srv.close());
  return srv;
}

/** Resolves with the first event of that name, or fails after 3 s. */
const next = <T>(c: MrimClient, event: string): Promise<T> => nextEvent(c, event, undefined, 3000);

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<MrimClientError> {
  const err = await p.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof MrimClientError, `not a MrimClientError: ${err}`);
  assert.equal(err.code, code, err.message);
  if (message) assert.match(err.message, message);
  return err;
}

describe('connecting', () => {
  test('an unreachable server is CONNECT_FAILED with a readable reason', async () => {
    const port = await closedPort();
    await rejectsWith(client(port).connect(), 'CONNECT_FAILED', /cannot connect to 127\.0\.0\.1:\d+: connection refused/);
  });

  test('a server that never answers HELLO is a TIMEOUT', async () => {
    const srv = await scripted(() => undefined);
    const started = Date.now();
    await rejectsWith(client(srv.port, { responseTimeoutMs: 300 }).connect(), 'TIMEOUT', /no answer to HELLO/);
    assert.ok(Date.now() - started < 2000);
  });

  test('LOGIN_REJ is LOGIN_REJECTED carrying the server reason', async () => {
    const srv = await scripted((f, c) => {
      if (f.type === 'HELLO') c.send('HELLO_ACK', { pingPeriod: 30 });
      if (f.type === 'LOGIN3') {
        c.send('LOGIN_REJ', { reason: 'Invalid login' });
        c.socket.end();
      }
    });
    const err = await rejectsWith(client(srv.port).connect(), 'LOGIN_REJECTED', /Invalid login/);
    assert.equal(err.reason, 'Invalid login');
  });

  test('no CONTACT_LIST2 after LOGIN_ACK is a TIMEOUT', async () => {
    const srv = await scripted((f, c) => {
      if (f.type === 'HELLO') c.send('HELLO_ACK', { pingPeriod: 30 });
      if (f.type === 'LOGIN3') c.send('LOGIN_ACK');
    });
    await rejectsWith(client(srv.port, { responseTimeoutMs: 300 }).connect(), 'TIMEOUT', /CONTACT_LIST2/);
  });

  test('requests made while logging in go out only after CONTACT_LIST2', async () => {
    const srv = await scripted((f, c) => {
      if (f.type === 'HELLO') c.send('HELLO_ACK', { pingPeriod: 30 });
      if (f.type === 'LOGIN3') {
        c.send('LOGIN_ACK');
        setTimeout(() => answerLogin({ ...f }, c), 200);
      }
      if (f.type === 'MESSAGE') c.send('MESSAGE_STATUS', { status: 0 });
    });
    const cl = client(srv.port);
    const ready = cl.connect();
    const delivery = cl.sendMessage('bob@mail.ru', 'early');
    await ready;
    assert.equal((await delivery).delivered, true);
    const types = srv.connections[0].frames.map((f) => f.type);
    assert.deepEqual(types.slice(0, 4), ['HELLO', 'LOGIN3', 'CHANGE_STATUS', 'MESSAGE']);
  });

  test('operations before connect() are NOT_CONNECTED', async () => {
    await rejectsWith(client(1).sendMessage('bob@mail.ru', 'x'), 'NOT_CONNECTED');
  });

  test('STARTTLS answered with FAILURE continues in clear', async () => {
    const srv = await scripted((f, c) => {
      if (f.type === 'STARTTLS') c.send('FAILURE', {});
      else answerLogin(f, c);
    });
    const cl = client(srv.port, { proto: '1.23', tls: true });
    const warned = next<{ text: string }>(cl, 'warning');
    const ready = await cl.connect();
    assert.equal(ready.tls, false);
    assert.match((await warned).text, /refused STARTTLS/);
    assert.deepEqual(srv.connections[0].frames.map((f) => f.type).slice(0, 4), ['HELLO', 'STARTTLS', 'CAPABILITIES', 'LOGIN3']);
  });

  test('TLS on a profile without STARTTLS is refused up front', () => {
    assert.throws(() => new MrimClient({ server: '127.0.0.1:1', login: 'a@mail.ru', password: 'x', proto: '1.21', tls: true }), /STARTTLS needs protocol 1\.22/);
  });
});

describe('redirector', () => {
  async function redirector(answer: string | Buffer): Promise<number> {
    const srv = await listenTcp((s) => s.end(answer));
    cleanup.push(() => srv.close());
    return srv.port;
  }

  test('the answer may end in EOF, NUL or LF, with spaces around it', async () => {
    const srv = await scripted((f, c) => answerLogin(f, c));
    for (const answer of [`127.0.0.1:${srv.port}`, `127.0.0.1:${srv.port}\0`, ` 127.0.0.1:${srv.port} \r\n`]) {
      const port = await redirector(answer);
      const cl = new MrimClient({ redirector: `127.0.0.1:${port}`, login: 'alice@mail.ru', password: 'pw', responseTimeoutMs: 2000 });
      const ready = await cl.connect();
      assert.deepEqual(ready.server, { host: '127.0.0.1', port: srv.port });
      await cl.logout();
    }
  });

  test('an answer that is not HOST:PORT is REDIRECT_FAILED', async () => {
    const port = await redirector('try again later\n');
    const cl = new MrimClient({ redirector: `127.0.0.1:${port}`, login: 'alice@mail.ru', password: 'pw' });
    await rejectsWith(cl.connect(), 'REDIRECT_FAILED', /answered "try again later", not HOST:PORT/);
  });

  test('an empty answer is REDIRECT_FAILED', async () => {
    const port = await redirector('');
    const cl = new MrimClient({ redirector: `127.0.0.1:${port}`, login: 'alice@mail.ru', password: 'pw' });
    await rejectsWith(cl.connect(), 'REDIRECT_FAILED', /without an address/);
  });
});

describe('SOCKS5 failures', () => {
  test('wrong proxy credentials, a refused CONNECT and a dead proxy are PROXY_FAILED', async () => {
    const srv = await scripted((f, c) => answerLogin(f, c));
    const strict = await startTestSocks({ auth: { user: 'u', password: 'right' } });
    cleanup.push(() => strict.close());
    const refusing = await startTestSocks({ allow: () => false });
    cleanup.push(() => refusing.close());
    const dead = await closedPort();
    await rejectsWith(client(srv.port, { socks: `socks5://u:wrong@127.0.0.1:${strict.port}` }).connect(), 'PROXY_FAILED', /rejected the user name or password/);
    await rejectsWith(client(srv.port, { socks: `socks5://127.0.0.1:${strict.port}` }).connect(), 'PROXY_FAILED', /wants credentials/);
    await rejectsWith(client(srv.port, { socks: refusing.url }).connect(), 'PROXY_FAILED', /refused the connection to 127\.0\.0\.1:\d+ \(NotAllowed\)/);
    await rejectsWith(client(srv.port, { socks: `socks5://127.0.0.1:${dead}` }).connect(), 'PROXY_FAILED', /unreachable \(connection refused\)/);
    const ok = client(srv.port, { socks: `socks5://u:right@127.0.0.1:${strict.port}` });
    await ok.connect();
    assert.deepEqual(strict.connects, [`127.0.0.1:${srv.port}`]);
  });

  test('a proxy that never answers is CONNECT_TIMEOUT', async () => {
    const mute = await listenTcp(() => undefined);
    cleanup.push(() => mute.close());
    const port = mute.port;
    await rejectsWith(client(1, { socks: `socks5://127.0.0.1:${port}`, connectTimeoutMs: 300 }).connect(), 'CONNECT_TIMEOUT', /timed out after 0\.3 s/);
  });

  test('a malformed proxy URL is INVALID_ARGUMENT and does not echo the password', () => {
    assert.throws(() => client(1, { socks: 'http://u:secret@127.0.0.1:1' }), (e: Error) => /socks5:\/\//.test(e.message) && !e.message.includes('secret'));
  });
});

describe('in session', () => {
  test('the server closing the connection: disconnect event, pending request rejected', async () => {
    const srv = await scripted((f, c) => {
      if (answerLogin(f, c)) return;
      if (f.type === 'MESSAGE') c.socket.destroy();
    });
    const cl = client(srv.port);
    await cl.connect();
    const disconnected = next<{ error: MrimClientError; willReconnect: boolean }>(cl, 'disconnect');
    await rejectsWith(cl.sendMessage('bob@mail.ru', 'x'), 'CONNECTION_CLOSED');
    const ev = await disconnected;
    assert.equal(ev.error.code, 'CONNECTION_CLOSED');
    assert.equal(ev.willReconnect, false);
    assert.equal(cl.state, 'closed');
  });

  test('LOGOUT 0x10 is LOGGED_OUT and is never followed by a reconnect', async () => {
    const srv = await scripted((f, c) => {
      if (answerLogin(f, c)) return;
      if (f.type === 'MESSAGE') c.send('LOGOUT', { reason: 0x10 });
    });
    const cl = client(srv.port, { reconnect: { minDelayMs: 50 } });
    await cl.connect();
    const disconnected = next<{ error: MrimClientError; willReconnect: boolean }>(cl, 'disconnect');
    void cl.sendMessage('bob@mail.ru', 'x').catch(() => undefined);
    const ev = await disconnected;
    assert.equal(ev.error.code, 'LOGGED_OUT');
    assert.match(ev.error.message, /logged in elsewhere/);
    assert.equal(ev.willReconnect, false);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(srv.connections.length, 1);
  });

  test('reconnects with backoff after a lost connection', async () => {
    const srv = await scripted((f, c) => answerLogin(f, c));
    const cl = client(srv.port, { reconnect: { minDelayMs: 50, retries: 3 } });
    await cl.connect();
    const reconnecting = next<{ attempt: number; delayMs: number }>(cl, 'reconnecting');
    const disconnected = next<{ willReconnect: boolean }>(cl, 'disconnect');
    srv.connections[0].socket.destroy();
    assert.equal((await disconnected).willReconnect, true);
    assert.deepEqual(await reconnecting, { attempt: 1, delayMs: 50 });
    await next(cl, 'ready');
    assert.equal(cl.state, 'online');
    assert.equal(srv.connections.length, 2);
  });

  test('a request without an answer times out cleanly', async () => {
    const srv = await scripted((f, c) => answerLogin(f, c));
    const cl = client(srv.port, { responseTimeoutMs: 300 });
    await cl.connect();
    await rejectsWith(cl.sendMessage('bob@mail.ru', 'x'), 'TIMEOUT', /no answer to MESSAGE \(seq \d+\) within 0\.3 s/);
    assert.equal(cl.state, 'online');
  });

  test('PING every period from HELLO_ACK, re-armed by CONNECTION_PARAMS', async () => {
    const srv = await scripted((f, c) => {
      if (f.type === 'HELLO') c.send('HELLO_ACK', { pingPeriod: 100 });
      else if (f.type === 'LOGIN3') {
        answerLogin(f, c);
        c.send('CONNECTION_PARAMS', { pingPeriod: 1 });
      }
    });
    const cl = client(srv.port);
    await cl.connect();
    const pings = () => srv.connections[0].frames.filter((f) => f.type === 'PING').length;
    assert.equal(pings(), 0);
    await until(() => pings() >= 1, 2500);
  });

  test('incoming messages are acknowledged unless NORECV; typing is an event', async () => {
    const srv = await scripted((f, c) => {
      if (!answerLogin(f, c)) return;
      if (f.type !== 'LOGIN3') return;
      c.send('MESSAGE_ACK', { msgId: 5, flags: MESSAGE_FLAG.NOTIFY, from: 'bob@mail.ru', text: ' ', rtf: ' ' });
      c.send('MESSAGE_ACK', { msgId: 6, flags: MESSAGE_FLAG.NORECV, from: 'bob@mail.ru', text: 'no ack', rtf: ' ' });
      c.send('MESSAGE_ACK', { msgId: 7, flags: 0, from: 'bob@mail.ru', text: 'Привет\r\nмир', rtf: ' ' });
    });
    const cl = client(srv.port);
    const typing = next<{ from: string }>(cl, 'typing');
    const messages: { text: string; msgId?: number }[] = [];
    cl.on('message', (m) => messages.push(m));
    await cl.connect();
    assert.deepEqual(await typing, { from: 'bob@mail.ru' });
    await until(() => messages.length === 2, 3000);
    assert.deepEqual(messages.map((m) => m.text), ['no ack', 'Привет\nмир']);
    await until(() => srv.connections[0].frames.filter((f) => f.type === 'MESSAGE_RECV').length === 2, 3000);
    const acks = srv.connections[0].frames.filter((f) => f.type === 'MESSAGE_RECV').map((f) => f.fields.msgId);
    assert.deepEqual(acks, [5, 7]);
  });

  test('offline messages become events and are deleted by UIDL; offline auth requests too', async () => {
    const date = new Date('2024-01-02T03:04:05Z');
    const srv = await scripted((f, c) => {
      if (!answerLogin(f, c) || f.type !== 'LOGIN2') return;
      c.send('OFFLINE_MESSAGE_ACK', { uidl: '0102030405060708', message: formatOfflineMessage({ from: 'bob@mail.ru', date, flags: 0, text: 'Ты где?', unicode: false }) });
      c.send('OFFLINE_MESSAGE_ACK', {
        uidl: '1112131415161718',
        message: formatOfflineMessage({ from: 'carol@mail.ru', date, flags: MESSAGE_FLAG.AUTHORIZE, text: 'hi', unicode: false }),
      });
    });
    const cl = client(srv.port, { proto: '1.8' });
    const message = next<{ from: string; text: string; offline: boolean; date?: string }>(cl, 'message');
    const auth = next<{ from: string; offline: boolean }>(cl, 'authRequest');
    await cl.connect();
    const m = await message;
    assert.deepEqual([m.from, m.text, m.offline], ['bob@mail.ru', 'Ты где?', true]);
    assert.match(m.date ?? '', /2024 06:04:05 \+0300/);
    assert.deepEqual([(await auth).from, (await auth).offline], ['carol@mail.ru', true]);
    await until(() => srv.connections[0].frames.filter((f) => f.type === 'DELETE_OFFLINE_MESSAGE').length === 2, 3000);
    const deleted = srv.connections[0].frames.filter((f) => f.type === 'DELETE_OFFLINE_MESSAGE').map((f) => f.fields.uidl);
    assert.deepEqual(deleted, ['0102030405060708', '1112131415161718']);
  });

  test('MODIFY_CONTACT from the server (another session of the account) updates the list', async () => {
    const srv = await scripted((f, c) => {
      if (f.type === 'HELLO') return c.send('HELLO_ACK', { pingPeriod: 30 });
      if (f.type !== 'LOGIN3') return;
      c.send('LOGIN_ACK');
      c.send('CONTACT_LIST2', {
        status: 0,
        groupCount: 1,
        groupMask: 'us',
        contactMask: 'uussuus',
        groups: [{ flags: 2, name: 'Друзья' }],
        contacts: [{ flags: 0, group: 0, email: 'bob@mail.ru', nick: 'Боб', serverFlags: 0, status: 1, phones: '' }],
      });
      c.send('MODIFY_CONTACT', { id: 20, flags: 0, group: 0, email: 'bob@mail.ru', name: 'Борис', phones: '' });
      c.send('MODIFY_CONTACT', { id: 1, flags: 2, group: 0, email: '', name: 'Работа', phones: '' });
    });
    const cl = client(srv.port);
    const lists: { groups: { name: string }[]; contacts: { nick: string; status: { name: string } }[] }[] = [];
    cl.on('contactList', (l) => lists.push(l));
    await cl.connect();
    await until(() => lists.length === 3, 3000);
    assert.deepEqual(lists[2].groups.map((g) => g.name), ['Друзья', 'Работа']);
    assert.deepEqual(lists[2].contacts.map((c) => [c.nick, c.status.name]), [['Борис', 'online']]);
  });

  test('the frame event shows every frame in both directions', async () => {
    const srv = await scripted((f, c) => answerLogin(f, c));
    const cl = client(srv.port, { proto: '1.19' });
    const seen: string[] = [];
    cl.on('frame', (e) => seen.push(`${e.dir} ${e.frame.type}`));
    await cl.connect();
    assert.deepEqual(seen, ['c2s HELLO', 's2c HELLO_ACK', 'c2s LOGIN2', 's2c LOGIN_ACK', 's2c CONTACT_LIST2']);
  });
});

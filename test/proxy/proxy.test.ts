/** The sniffing proxy over real sockets: relay fidelity, SOCKS replies, decoding beside the relay. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { encodePacket } from '../../src/protocol/codec.js';
import { SessionDecoder } from '../../src/protocol/session.js';
import type { TapEvent } from '../../src/tap/events.js';
import { normalizeHost, replyForError } from '../../src/socks/server.js';
import {
  closedAfterAll,
  echoServer,
  FrameQueue,
  httpServer,
  listenTcp,
  rawSocksConnect,
  readAll,
  selfSignedCert,
  sha256,
  socksConnect,
  startProxy,
  waitForClose,
  withTimeout,
  type RecordingProxy,
} from '../helpers/net.js';
import { answerEachRequest, startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js';
import { renderTapEvent } from '../../src/render/text.js';

const { keep, proxyFor } = closedAfterAll();
const frames = (events: TapEvent[], dir: 'c2s' | 's2c') =>
  events.flatMap((e) => (e.event.kind === 'frame' && e.event.dir === dir ? [e.event] : []));
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Raw SOCKS5 handshake bytes, to see exactly what the proxy answers. */
function rawSocks(port: number): { socket: net.Socket; read: (n: number) => Promise<Buffer>; closed: Promise<void> } {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let buf = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  socket.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    wake?.();
  });
  const closed = withTimeout(new Promise<void>((r) => socket.once('close', () => r())), 5000, 'proxy closing the connection');
  const read = async (n: number) => {
    const deadline = Date.now() + 5000;
    while (buf.length < n) {
      if (Date.now() > deadline) throw new Error(`timed out reading ${n} bytes (have ${buf.length})`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    return out;
  };
  return { socket, read, closed };
}

describe('proxy: an MRIM session', () => {
  it('tags events with the login from the login packet on, even when frames before it share its chunk', async () => {
    const upstream = keep(await startScriptedServer(answerEachRequest()));
    const proxy = await proxyFor();
    const client = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    const q = new FrameQueue(client);
    // HELLO, CAPABILITIES and LOGIN3 in one write, as a pipelining client sends them.
    client.write(
      Buffer.concat([
        encodePacket('HELLO', {}, { proto: '1.23', seq: 1 }),
        encodePacket('CAPABILITIES', { capabilities: [] }, { proto: '1.23', seq: 2 }),
        encodePacket('LOGIN3', { login: 'carol@list.ru', password: '00'.repeat(16), features: 0, userAgent: '', lang: 'ru', uaDataNames: [], description: '' }, { proto: '1.23', seq: 3 }),
      ]),
    );
    await q.next();
    client.end();
    await readAll(client);
    await waitForClose(proxy);
    const tags = frames(proxy.events, 'c2s').map((f) => [f.frame.type, proxy.events.find((e) => e.event === f)!.login]);
    assert.deepEqual(tags, [
      ['HELLO', undefined],
      ['CAPABILITIES', undefined],
      ['LOGIN3', 'carol@list.ru'],
    ]);
  });

  it('relays every frame unchanged, chunk by chunk, and decodes each with its session context', async () => {
    const upstream = keep(await startScriptedServer(answerEachRequest()));
    const proxy = await proxyFor();
    const client = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    const q = new FrameQueue(client);
    const sentByClient = [
      encodePacket('HELLO', {}, { proto: '1.8', seq: 1 }),
      encodePacket('LOGIN2', { login: 'alice@mail.ru', password: 'secret', status: 1, description: 'test' }, { proto: '1.8', seq: 2 }),
      encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'Привет', rtf: ' ' }, { proto: '1.8', seq: 3 }),
    ];
    for (const f of sentByClient) {
      client.write(f);
      await q.next();
    }
    client.end();
    await readAll(client);
    await waitForClose(proxy);

    // What each side received is exactly what the other sent, one write per frame.
    assert.deepEqual(upstream.connections[0].received, sentByClient);
    const c2s = frames(proxy.events, 'c2s');
    const s2c = frames(proxy.events, 's2c');
    assert.deepEqual(c2s.map((f) => f.raw), sentByClient);
    assert.deepEqual(s2c.map((f) => f.raw), upstream.connections[0].sent);
    assert.deepEqual(c2s.map((f) => f.frame.type), ['HELLO', 'LOGIN2', 'MESSAGE']);
    assert.deepEqual(s2c.map((f) => f.frame.type), ['HELLO_ACK', 'LOGIN_ACK', 'MESSAGE_STATUS']);
    assert.equal(s2c[1].replyTo?.type, 'LOGIN2');
    assert.equal(s2c[2].replyTo?.type, 'MESSAGE');
    assert.equal(c2s[2].frame.fields.text, 'Привет');

    const kinds = proxy.events.map((e) => e.event.kind);
    assert.equal(kinds[0], 'connect');
    assert.equal(kinds[1], 'open');
    assert.equal(kinds.at(-1), 'close');
    const connect = proxy.events[0].event;
    assert.ok(connect.kind === 'connect' && connect.reply === 0 && connect.target.port === upstream.port);
    // The login is known from the LOGIN2 on, on every later event of the connection.
    const loginIndex = proxy.events.findIndex((e) => e.event.kind === 'frame' && e.event.frame.type === 'LOGIN2');
    assert.ok(proxy.events.slice(loginIndex).every((e) => e.login === 'alice@mail.ru'));
    const close = proxy.events.at(-1)!.event;
    const total = (list: Buffer[]) => list.reduce((n, b) => n + b.length, 0);
    assert.ok(close.kind === 'close');
    assert.deepEqual(close.bytes, { c2s: total(sentByClient), s2c: total(upstream.connections[0].sent) });
    assert.ok(new Set(proxy.events.map((e) => e.conn)).size === 1);
  });

  it('keeps separate writes separate (never merges frames into one write)', async () => {
    const chunks: number[] = [];
    const upstream = keep(await listenTcp((s) => s.on('data', (c: Buffer) => chunks.push(c.length)).on('end', () => s.end())));
    const proxy = await proxyFor();
    const client = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    const sizes = [44, 60, 51, 44];
    for (const [i, n] of sizes.entries()) {
      client.write(Buffer.alloc(n, i));
      await delay(40);
    }
    client.end();
    await readAll(client);
    assert.deepEqual(chunks, sizes);
  });

  it('links the connection that follows a redirector answer to it', async () => {
    const session = keep(await startScriptedServer(answerEachRequest()));
    const redirector = keep(await listenTcp((s) => s.end(`127.0.0.1:${session.port}\n`)));
    const proxy = await proxyFor();
    const r = await socksConnect(proxy.port, '127.0.0.1', redirector.port);
    assert.equal((await readAll(r)).toString(), `127.0.0.1:${session.port}\n`);
    r.end();
    await waitForClose(proxy, 1);
    const s = await socksConnect(proxy.port, '127.0.0.1', session.port);
    s.end();
    await readAll(s);
    await waitForClose(proxy, 2);
    const redirect = proxy.events.find((e) => e.event.kind === 'redirect')!;
    assert.ok(redirect.event.kind === 'redirect' && redirect.event.port === session.port);
    const opens = proxy.events.flatMap((e) => (e.event.kind === 'open' ? [{ conn: e.conn, follows: e.event.follows }] : []));
    assert.deepEqual(opens, [
      { conn: redirect.conn, follows: undefined },
      { conn: redirect.conn + 1, follows: redirect.conn },
    ]);
  });

  it('annotates a decoder failure and keeps relaying', async (t) => {
    const upstream = keep(await echoServer());
    const proxy = await proxyFor();
    t.mock.method(SessionDecoder.prototype, 'push', () => {
      throw new Error('injected failure');
    });
    const client = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    const data = randomBytes(100_000);
    client.end(data);
    assert.equal(sha256(await readAll(client)), sha256(data));
    await waitForClose(proxy);
    const notes = proxy.events.flatMap((e) => (e.event.kind === 'note' ? [e.event.message] : []));
    assert.ok(notes.some((m) => m.includes('injected failure')), notes.join('\n'));
  });
  it('closing the proxy ends every connection, each with its close event', async () => {
    const upstream = keep(await echoServer());
    const proxy = await startProxy();
    const a = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    const b = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    const closed = Promise.all([a, b].map((s) => withTimeout(new Promise((r) => s.once('close', r)), 5000, 'client closed by the proxy')));
    await withTimeout(proxy.close(), 5000, 'proxy.close()');
    await closed;
    const reasons = proxy.events.flatMap((e) => (e.event.kind === 'close' ? [e.event.reason] : []));
    assert.deepEqual(reasons, ['proxy stopped', 'proxy stopped']);
  });
});

describe('proxy: relay fidelity', () => {
  it('passes random binary and TLS-like bytes unchanged in both directions (SHA-256)', async () => {
    const fromServer = Buffer.concat([Buffer.from('160303005a0200005603', 'hex'), randomBytes(1_500_000)]);
    let serverGot: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
    const upstream = keep(
      await listenTcp((s) => {
        serverGot = readAll(s);
        // Write in uneven pieces while the client writes too.
        let at = 0;
        const pump = () => {
          while (at < fromServer.length) {
            const n = 1 + Math.floor(Math.random() * 70_000);
            const ok = s.write(fromServer.subarray(at, at + n));
            at += n;
            if (!ok) return void s.once('drain', pump);
          }
          s.end();
        };
        pump();
      }),
    );
    const proxy = await proxyFor();
    const client = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    const fromClient = Buffer.concat([Buffer.from('16030100c4010000c00303', 'hex'), randomBytes(1_200_000), Buffer.from([0xef, 0xbe, 0xad, 0xde, 1, 0, 1])]);
    const clientGot = readAll(client);
    for (let at = 0; at < fromClient.length; ) {
      const n = 1 + Math.floor(Math.random() * 50_000);
      client.write(fromClient.subarray(at, at + n));
      at += n;
    }
    client.end();
    assert.equal(sha256(await clientGot), sha256(fromServer));
    assert.equal(sha256(await serverGot), sha256(fromClient));
    await waitForClose(proxy);
    const close = proxy.events.at(-1)!.event;
    assert.ok(close.kind === 'close');
    assert.deepEqual(close.bytes, { c2s: fromClient.length, s2c: fromServer.length });
    // Not MRIM: reported as such, without thousands of garbage events; once decoding stopped, one per
    // read (every byte is still reported, for the recording).
    const garbage = proxy.events.filter((e) => e.event.kind === 'garbage').length;
    assert.ok(proxy.events.length - garbage < 20 && (fromClient.length + fromServer.length) / garbage > 8192, `${proxy.events.length} events, ${garbage} garbage`);
  });

  it('half-close: the client ends its side and still receives the whole answer', async () => {
    const answer = randomBytes(3_000_000);
    const upstream = keep(
      await listenTcp(async (s) => {
        const got = await readAll(s);
        s.end(Buffer.concat([Buffer.from(sha256(got)), answer]));
      }),
    );
    const proxy = await proxyFor();
    const client = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    const request = randomBytes(200_000);
    client.end(request);
    const got = await readAll(client);
    assert.equal(got.subarray(0, 64).toString(), sha256(request));
    assert.equal(sha256(got.subarray(64)), sha256(answer));
    await waitForClose(proxy);
    const close = proxy.events.at(-1)!.event;
    assert.ok(close.kind === 'close' && close.reason === 'client closed first', close.kind === 'close' ? close.reason : '');
  });

  it('backpressure: a client that does not read stalls the server instead of filling memory', async () => {
    const total = 96 * 1024 * 1024;
    let written = 0;
    let serverSocket: net.Socket | undefined;
    const block = randomBytes(64 * 1024);
    const upstream = keep(
      await listenTcp((s) => {
        serverSocket = s;
        const pump = () => {
          while (written < total) {
            written += block.length;
            if (!s.write(block)) return void s.once('drain', pump);
          }
          s.end();
        };
        pump();
      }),
    );
    const proxy = await proxyFor();
    const client = await rawSocksConnect(proxy.port, '127.0.0.1', upstream.port);
    await delay(700);
    // The kernel buffers and the proxy's stream buffers hold some; the rest waits in the server.
    const inFlight = written - (serverSocket?.writableLength ?? 0);
    assert.ok(inFlight < 48 * 1024 * 1024, `${inFlight} bytes left the server while the client read nothing`);
    let received = 0;
    client.on('data', (c: Buffer) => (received += c.length));
    client.resume();
    await withTimeout(new Promise((r) => client.once('end', r)), 30_000, 'the whole transfer');
    assert.equal(received, total);
    client.end();
  });

  it('curl --socks5-hostname fetches a file byte-exact', async (t) => {
    const have = await promisify(execFile)('curl', ['--version']).then(
      () => true,
      () => false,
    );
    if (!have) return t.skip('curl is not installed');
    const body = randomBytes(2_000_000);
    const web = keep(await httpServer(body));
    const proxy = await proxyFor();
    const { stdout } = await promisify(execFile)('curl', ['-sS', '--max-time', '20', '--socks5-hostname', `127.0.0.1:${proxy.port}`, `http://127.0.0.1:${web.port}/file`], {
      encoding: 'buffer',
      maxBuffer: 10_000_000,
    });
    assert.equal(sha256(stdout), sha256(body));
    await waitForClose(proxy);
    const connect = proxy.events[0].event;
    assert.ok(connect.kind === 'connect' && connect.target.host === '127.0.0.1' && connect.reply === 0);
  });
});

describe('proxy: SOCKS5', () => {
  it('username/password: wrong credentials get RFC 1929 status ≠ 0 and the connection closes', async () => {
    const upstream = keep(await echoServer());
    const proxy = await proxyFor({ auth: { user: 'alice', password: 'right' } });
    const c = rawSocks(proxy.port);
    c.socket.write(Buffer.from([5, 1, 2]));
    assert.deepEqual([...(await c.read(2))], [5, 2]);
    c.socket.write(Buffer.concat([Buffer.from([1, 5]), Buffer.from('alice'), Buffer.from([5]), Buffer.from('wrong')]));
    const status = await c.read(2);
    assert.equal(status[0], 1);
    assert.notEqual(status[1], 0);
    await c.closed;
    const refused = proxy.events.find((e) => e.event.kind === 'auth-refused');
    assert.ok(refused && refused.event.kind === 'auth-refused' && refused.event.user === 'alice');

    // The right ones pass, and the user is logged with the request.
    const ok = await socksConnect(proxy.port, '127.0.0.1', upstream.port, { user: 'alice', password: 'right' });
    ok.end('x');
    assert.equal((await readAll(ok)).toString(), 'x');
    const connect = proxy.events.find((e) => e.event.kind === 'connect')!.event;
    assert.ok(connect.kind === 'connect' && connect.user === 'alice');
  });

  it('a client offering no acceptable method gets 05 FF, and the log says what it offered', async () => {
    const proxy = await proxyFor({ auth: { user: 'a', password: 'b' } });
    const c = rawSocks(proxy.port);
    c.socket.write(Buffer.from([5, 1, 0]));
    assert.deepEqual([...(await c.read(2))], [5, 0xff]);
    await c.closed;
    const refused = proxy.events.find((e) => e.event.kind === 'auth-refused')?.event;
    assert.ok(refused && refused.kind === 'auth-refused');
    assert.deepEqual(refused.methods, ['no-auth']);
    assert.match(renderTapEvent(proxy.events.find((e) => e.event === refused)!), /no acceptable authentication method from 127\.0\.0\.1:\d+ \(it offered: no-auth\) → 05 FF/);
  });

  it('an upstream that refuses gets reply 5 (connection refused), as a full reply', async () => {
    const closed = await listenTcp(() => {});
    const port = closed.port;
    await closed.close();
    const proxy = await proxyFor();
    const c = rawSocks(proxy.port);
    c.socket.write(Buffer.from([5, 1, 0]));
    assert.deepEqual([...(await c.read(2))], [5, 0]);
    const req = Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, 0, 0]);
    req.writeUInt16BE(port, 8);
    c.socket.write(req);
    const reply = await c.read(10);
    assert.equal(reply[0], 5);
    assert.equal(reply[1], 5);
    assert.equal(reply[3], 1);
    await c.closed;
    const connect = proxy.events[0].event;
    assert.ok(connect.kind === 'connect' && connect.reply === 5 && connect.error === 'ECONNREFUSED');
  });

  it('maps errno codes to reply codes', () => {
    const code = (c: string) => replyForError(Object.assign(new Error(c), { code: c }));
    assert.deepEqual(
      ['ECONNREFUSED', 'EHOSTUNREACH', 'ENOTFOUND', 'ENETUNREACH', 'ETIMEDOUT', 'EPERM'].map(code),
      [5, 4, 4, 3, 6, 1],
    );
    assert.equal(replyForError(Object.assign(new AggregateError([Object.assign(new Error(), { code: 'ECONNREFUSED' })]), {})), 5);
  });

  it('IPv6 destinations arrive intact ([::1] and a v4-mapped address as ATYP 4)', async () => {
    const v6 = keep(await listenTcp((s) => s.end('six'), '::1'));
    const proxy = await proxyFor();
    const a = await socksConnect(proxy.port, '::1', v6.port);
    assert.equal((await readAll(a)).toString(), 'six');
    a.end();
    const v4 = keep(await listenTcp((s) => s.end('four')));
    // ::ffff:127.0.0.1 = ::ffff:7f00:1 — groups with leading zeros inside, easy to mangle.
    const c = rawSocks(proxy.port);
    c.socket.write(Buffer.from([5, 1, 0]));
    await c.read(2);
    const req = Buffer.concat([Buffer.from([5, 1, 0, 4]), Buffer.from('00000000000000000000ffff7f000001', 'hex'), Buffer.alloc(2)]);
    req.writeUInt16BE(v4.port, 20);
    c.socket.write(req);
    const reply = await c.read(10);
    assert.equal(reply[1], 0);
    assert.equal((await c.read(4)).toString(), 'four');
    await waitForClose(proxy, 2);
    const targets = proxy.events.flatMap((e) => (e.event.kind === 'connect' ? [e.event.target.host] : []));
    assert.deepEqual(targets, ['::1', '::ffff:7f00:1']);
    assert.equal(normalizeHost('2001:0db8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
  });

  it('--map sends a named destination elsewhere (the name is not resolved)', async () => {
    const upstream = keep(await echoServer());
    const proxy = await proxyFor({ map: [{ from: { host: 'mrim.mail.ru', port: 2042 }, to: { host: '127.0.0.1', port: upstream.port } }] });
    const c = await socksConnect(proxy.port, 'MRIM.mail.ru', 2042);
    c.end('mapped');
    assert.equal((await readAll(c)).toString(), 'mapped');
    const connect = proxy.events[0].event;
    assert.ok(connect.kind === 'connect' && connect.mapped?.port === upstream.port && connect.upstream?.port === upstream.port);
  });
});

describe('proxy: STARTTLS', () => {
  const cert = selfSignedCert();

  async function tlsSession(proxy: RecordingProxy, upstreamPort: number): Promise<void> {
    const raw = await socksConnect(proxy.port, 'localhost', upstreamPort);
    const q = new FrameQueue(raw);
    raw.write(encodePacket('HELLO', {}, { proto: '1.22', seq: 1 }));
    await q.next();
    raw.write(encodePacket('STARTTLS', {}, { proto: '1.22', seq: 2 }));
    const ok = await q.next();
    assert.equal(ok.readUInt32LE(12), 0x1087);
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false, servername: 'localhost' });
    await withTimeout(new Promise((r) => secure.once('secureConnect', r)), 5000, 'TLS handshake through the proxy');
    q.attach(secure);
    secure.write(encodePacket('LOGIN2', { login: 'tls@mail.ru', password: 'pw', status: 1, description: '' }, { proto: '1.8', seq: 3 }));
    assert.equal((await q.next()).readUInt32LE(12), 0x1004);
    secure.end();
    await readAll(secure).catch(() => Buffer.alloc(0));
  }

  it('without interception: TLS after OK is reported as encrypted, not decoded', async (t) => {
    if (!cert) return t.skip('openssl is not available to make a test certificate');
    const upstream = keep(await startScriptedServer(answerEachRequest(cert)));
    const proxy = await proxyFor();
    await tlsSession(proxy, upstream.port);
    await waitForClose(proxy);
    const tlsEvents = proxy.events.filter((e) => e.event.kind === 'tls');
    assert.ok(tlsEvents.length > 0);
    assert.ok(tlsEvents[0].event.kind === 'tls' && tlsEvents[0].event.start);
    assert.ok(!frames(proxy.events, 'c2s').some((f) => f.frame.type === 'LOGIN2'));
  });

  it('--tls-intercept terminates TLS after STARTTLS and keeps decoding the MRIM inside', async (t) => {
    if (!cert) return t.skip('openssl is not available to make a test certificate');
    const upstream = keep(await startScriptedServer(answerEachRequest(cert)));
    const proxy = await proxyFor({ tlsIntercept: selfSignedCert()! });
    await tlsSession(proxy, upstream.port);
    await waitForClose(proxy);
    const c2s = frames(proxy.events, 'c2s').map((f) => f.frame.type);
    const s2c = frames(proxy.events, 's2c').map((f) => f.frame.type);
    assert.deepEqual(c2s, ['HELLO', 'STARTTLS', 'LOGIN2']);
    assert.deepEqual(s2c, ['HELLO_ACK', 'OK', 'LOGIN_ACK']);
    assert.ok(!proxy.events.some((e) => e.event.kind === 'tls'));
    assert.ok(proxy.events.some((e) => e.event.kind === 'note' && e.event.message.startsWith('TLS intercepted')));
    assert.deepEqual(upstream.connections[0].received.map((f) => f.readUInt32LE(12)), [0x1001, 0x1086, 0x1038]);
  });

  it('with addons: the frames inside intercepted TLS go through the hooks; without interception the TLS bytes pass untouched', async (t) => {
    if (!cert) return t.skip('openssl is not available to make a test certificate');
    for (const intercept of [true, false]) {
      const seen: string[] = [];
      const upstream: ScriptedServer = keep(await startScriptedServer(answerEachRequest(cert)));
      const proxy = await proxyFor({ ...(intercept ? { tlsIntercept: selfSignedCert()! } : {}), addons: [{ name: 'watch', frame: (f) => void seen.push(f.type) }] });
      await tlsSession(proxy, upstream.port);
      await waitForClose(proxy);
      assert.deepEqual(seen, intercept ? ['HELLO', 'HELLO_ACK', 'STARTTLS', 'OK', 'LOGIN2', 'LOGIN_ACK'] : ['HELLO', 'HELLO_ACK', 'STARTTLS', 'OK'], `intercept ${intercept}`);
      assert.deepEqual(upstream.connections[0].received.map((f) => f.readUInt32LE(12)), [0x1001, 0x1086, 0x1038]);
    }
  });
});

/**
 * The SOCKS5 handshake as the proxy runs it, byte by byte over real sockets: the deadline for the whole
 * handshake, full replies for every refusal, the lockout after failed passwords.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { closedAfterAll, echoServer, readAll, socksConnect, withTimeout, type RecordingProxy } from '../helpers/net.js';

const { keep, proxyFor } = closedAfterAll();

/** A raw client: writes what it is told, collects everything, and knows when the proxy closed. */
function rawClient(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  return { socket, received: () => Buffer.concat(chunks), closed: (ms = 5000) => withTimeout(closed, ms, 'the proxy closing the connection') };
}

const notes = (p: RecordingProxy) => p.events.flatMap((e) => (e.event.kind === 'note' ? [e.event.message] : []));
const GREETING = Buffer.from([5, 1, 0]);
const request = (cmd: number, atyp = 1) => Buffer.from([5, cmd, 0, atyp, 127, 0, 0, 1, 0x1f, 0x90]);

describe('SOCKS5 handshake deadline', () => {
  it('drops a client that trickles its handshake a byte at a time (slow-loris), at the deadline', async () => {
    const proxy = await proxyFor({ handshakeTimeoutMs: 400 });
    const c = rawClient(proxy.port);
    const started = Date.now();
    // Greeting, then a request one byte every 100 ms: each byte would have reset an idle timer.
    c.socket.write(GREETING);
    const bytes = request(1);
    let i = 0;
    const drip = setInterval(() => (i < bytes.length - 1 && !c.socket.destroyed ? c.socket.write(bytes.subarray(i, ++i)) : undefined), 100);
    const closedAt = await c.closed(3000);
    clearInterval(drip);
    assert.ok(closedAt - started >= 350 && closedAt - started < 1500, `closed after ${closedAt - started} ms`);
    assert.ok(notes(proxy).some((m) => /handshake not done within 400 ms/.test(m)), notes(proxy).join('\n'));
  });

  it('the deadline ends with the request: a slow upstream connect has its own limit', async () => {
    const upstream = await echoServer();
    keep(upstream);
    const proxy = await proxyFor({ handshakeTimeoutMs: 300 });
    const s = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    await new Promise((r) => setTimeout(r, 500));
    s.end('still here');
    assert.equal((await readAll(s)).toString(), 'still here');
  });
});

describe('SOCKS5 refusals are full RFC 1928 replies', () => {
  for (const [cmd, name] of [
    [2, 'BIND'],
    [3, 'UDP_ASSOCIATE'],
    [9, '0x9'],
  ] as const) {
    it(`${name} gets 05 07 00 01 0.0.0.0:0 (10 bytes) and a note`, async () => {
      const proxy = await proxyFor();
      const c = rawClient(proxy.port);
      c.socket.write(Buffer.concat([GREETING, request(cmd)]));
      await c.closed();
      assert.equal(c.received().toString('hex'), '0500' + '05070001000000000000');
      assert.ok(notes(proxy).some((m) => m.includes(`${name} 127.0.0.1:8080 refused: only CONNECT`)), notes(proxy).join('\n'));
    });
  }

  it('an address type that does not exist gets reply 8', async () => {
    const proxy = await proxyFor();
    const c = rawClient(proxy.port);
    c.socket.write(GREETING);
    await new Promise((r) => setTimeout(r, 30));
    c.socket.write(request(1, 7));
    await c.closed();
    assert.equal(c.received().toString('hex'), '0500' + '05080001000000000000');
  });

  it('a CONNECT split across many writes still goes through, with the bytes after it', async () => {
    const upstream = await echoServer();
    keep(upstream);
    const proxy = await proxyFor();
    const c = rawClient(proxy.port);
    const req = Buffer.from([5, 1, 0, 3, 9, ...Buffer.from('127.0.0.1'), upstream.port >> 8, upstream.port & 255]);
    const all = Buffer.concat([GREETING, req, Buffer.from('payload')]);
    for (const byte of all) {
      c.socket.write(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    const deadline = Date.now() + 3000;
    while (!c.received().toString('latin1').endsWith('payload') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(c.received().subarray(0, 12).toString('hex'), '0500' + '05000001000000000000');
    assert.equal(c.received().subarray(12).toString(), 'payload');
    c.socket.end();
  });
});

describe('SOCKS5 username/password', () => {
  const auth = { user: 'alice', password: 'right' };
  function tryLogin(port: number, password: string): Promise<{ status: number; notes?: string[] }> {
    const c = rawClient(port);
    c.socket.write(Buffer.from([5, 1, 2]));
    c.socket.write(Buffer.concat([Buffer.from([1, auth.user.length]), Buffer.from(auth.user), Buffer.from([password.length]), Buffer.from(password)]));
    c.socket.write(request(1));
    return c.closed().then(() => ({ status: c.received()[3] }));
  }

  it('locks an address out after repeated failures: even the right password is refused until the lockout ends', async () => {
    const proxy = await proxyFor({ auth, authBackoff: { free: 2, baseDelayMs: 600 } });
    for (let i = 0; i < 3; i++) assert.equal((await tryLogin(proxy.port, 'wrong')).status, 1);
    assert.ok(notes(proxy).some((m) => /repeated failed logins from 127\.0\.0\.1: its attempts are refused unchecked for 0\.6 s/.test(m)), notes(proxy).join('\n'));
    assert.equal((await tryLogin(proxy.port, 'right')).status, 1, 'locked out');
    await new Promise((r) => setTimeout(r, 700));
    const ok = await socksConnect(proxy.port, '127.0.0.1', 9, auth).catch((e: Error) => e);
    // Port 9 refuses: the SOCKS reply is 5, after a successful login.
    assert.ok(ok instanceof Error && /connection refused|Socks5 proxy rejected connection - ConnectionRefused/i.test(ok.message), String(ok));
    assert.equal(proxy.events.filter((e) => e.event.kind === 'auth-refused').length, 4);
  });
});

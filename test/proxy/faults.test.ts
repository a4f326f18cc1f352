/**
 * The proxy under faults, over real sockets: resets mid-frame on either side, an upstream that refuses,
 * never completes the connection or never answers, a client that never reads. Each ends with the right
 * SOCKS reply or close, an annotated event, and the proxy still serving others.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { encodePacket } from '../../src/protocol/codec.js';
import type { TapEvent } from '../../src/tap/events.js';
import { closedPort, echoServer, listenTcp, rawSocksConnect, readAll, sha256, socksConnect, startProxy, waitForClose, withTimeout, type Listening, type RecordingProxy } from '../helpers/net.js';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});
async function proxyFor(opts: Parameters<typeof startProxy>[0] = {}): Promise<RecordingProxy> {
  const p = await startProxy(opts);
  cleanups.push(() => p.close());
  return p;
}
function keep<T extends Listening>(l: T): T {
  cleanups.push(() => l.close());
  return l;
}
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the error code the socket ends with ('FIN' for a clean end). */
function howItEnds(s: net.Socket, ms = 5000): Promise<string> {
  return withTimeout(
    new Promise<string>((resolve) => {
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      s.on('end', () => resolve('FIN'));
      s.resume();
    }),
    ms,
    'the socket ending',
  );
}

const closeOf = (events: TapEvent[]) => events.flatMap((e) => (e.event.kind === 'close' ? [e.event] : []));
const garbageOf = (events: TapEvent[]) => events.flatMap((e) => (e.event.kind === 'garbage' ? [e.event] : []));

/** The proxy still relays a fresh connection byte-exact. */
async function stillServes(proxy: RecordingProxy): Promise<void> {
  const echo = keep(await echoServer());
  const c = await socksConnect(proxy.port, '127.0.0.1', echo.port);
  const data = randomBytes(50_000);
  c.end(data);
  assert.equal(sha256(await readAll(c)), sha256(data));
}

const HELLO_ACK = encodePacket('HELLO_ACK', { pingPeriod: 30 }, { proto: '1.8', seq: 1, dir: 's2c' });
const LOGIN2 = encodePacket('LOGIN2', { login: 'alice@mail.ru', password: 'x', status: 1, description: '' }, { proto: '1.8', seq: 2 });

describe('proxy faults: resets', () => {
  it('an upstream reset mid-frame reaches the client as a reset, and the half frame is reported', async () => {
    const upstream = keep(
      await listenTcp((s) => {
        s.write(HELLO_ACK.subarray(0, HELLO_ACK.length - 2));
        setTimeout(() => s.resetAndDestroy(), 50);
      }),
    );
    const proxy = await proxyFor();
    const client = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    assert.equal(await howItEnds(client), 'ECONNRESET');
    await waitForClose(proxy);
    assert.equal(closeOf(proxy.events)[0].reason, 'server reset the connection');
    const half = garbageOf(proxy.events).find((g) => g.dir === 's2c');
    assert.ok(half && /incomplete frame/.test(half.reason) && half.bytes.length === HELLO_ACK.length - 2, JSON.stringify(half?.reason));
    await stillServes(proxy);
  });

  it('a client reset mid-frame reaches the server as a reset', async () => {
    let serverEnd!: Promise<string>;
    const upstream = keep(await listenTcp((s) => (serverEnd = howItEnds(s))));
    const proxy = await proxyFor();
    const client = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    client.write(LOGIN2.subarray(0, LOGIN2.length - 5));
    await delay(50);
    client.resetAndDestroy();
    await waitForClose(proxy);
    assert.equal(await serverEnd, 'ECONNRESET');
    assert.equal(closeOf(proxy.events)[0].reason, 'client reset the connection');
    assert.ok(garbageOf(proxy.events).some((g) => g.dir === 'c2s' && /incomplete frame/.test(g.reason)));
    await stillServes(proxy);
  });

  it('a FIN stays a FIN: a clean end is not turned into a reset', async () => {
    const upstream = keep(await listenTcp((s) => s.end(HELLO_ACK)));
    const proxy = await proxyFor();
    const client = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    assert.equal(await howItEnds(client), 'FIN');
    client.end();
    await waitForClose(proxy);
    assert.equal(closeOf(proxy.events)[0].reason, 'server closed first');
  });
});

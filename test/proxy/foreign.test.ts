// Traffic that is not MRIM through the proxy is labelled from its first bytes: an HTTP response, a TLS hello.
import assert from 'node:assert/strict';
import http from 'node:http';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import type { TapEvent } from '../../src/tap/events.js';
import { renderTapEvent } from '../../src/render/text.js';
import { closedAfterAll, listenTcp, readAll, socksConnect, waitForClose } from '../helpers/net.js';

const { keep, proxyFor } = closedAfterAll();

const garbage = (events: TapEvent[], dir: 'c2s' | 's2c') =>
  events.flatMap((e) => (e.event.kind === 'garbage' && e.event.dir === dir ? [e.event.reason] : []));

describe('proxy: non-MRIM traffic', () => {
  it('an HTTP exchange: the request kept as the redirector request it may be, the response labelled HTTP', async () => {
    const server = http.createServer((_req, res) => res.end('hello'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    keep({ close: () => new Promise<void>((r) => server.close(() => r())) });
    const port = (server.address() as { port: number }).port;
    const proxy = await proxyFor();
    const client = await socksConnect(proxy.port, '127.0.0.1', port);
    client.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match((await readAll(client)).toString(), /^HTTP\/1\.1 200 OK/);
    await waitForClose(proxy, 1);
    assert.deepEqual(garbage(proxy.events, 's2c'), ['not MRIM: HTTP response "HTTP/1.1 200 OK"']);
    assert.ok(proxy.events.some((e) => e.event.kind === 'redirect' && e.event.dir === 'c2s' && e.event.text === 'GET / HTTP/1.1'));
    const listing = proxy.events.map((e) => renderTapEvent(e)).join('\n');
    assert.doesNotMatch(listing, /bad magic/);
  });

  it('a TLS client hello is labelled as one, and the rest of the stream not resynced as MRIM', async () => {
    const upstream = keep(await listenTcp((s) => s.once('data', () => s.end())));
    const proxy = await proxyFor();
    const socket = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    const client = tls.connect({ socket, servername: 'example.org', rejectUnauthorized: false });
    client.on('error', () => {});
    await new Promise((r) => socket.once('close', r));
    await waitForClose(proxy, 1);
    const reasons = garbage(proxy.events, 'c2s');
    assert.equal(reasons[0], 'not MRIM: TLS ClientHello');
    assert.ok(reasons.slice(1).every((r) => r === 'not MRIM: more of the TLS ClientHello'), reasons.join('\n'));
  });
});

/** Where the proxy agrees to connect: --allow patterns, and never to its own address. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { isLoopback, reachesListener } from '../../src/net/local.js';
import { AllowRuleError, parseAllowRule } from '../../src/proxy/allow.js';
import { closedAfterAll, closedPort, echoServer, readAll, socksConnect, withTimeout } from '../helpers/net.js';

const { keep, proxyFor } = closedAfterAll();

/** The reply code the proxy gives a CONNECT to host:port (by name when host is not an IP). */
function replyTo(proxyPort: number, host: string, port: number): Promise<number> {
  const socket = net.connect(proxyPort, '127.0.0.1');
  socket.on('error', () => {});
  const addr = net.isIPv4(host) ? Buffer.from([1, ...host.split('.').map(Number)]) : Buffer.from([3, host.length, ...Buffer.from(host)]);
  socket.write(Buffer.concat([Buffer.from([5, 1, 0, 5, 1, 0]), addr, Buffer.from([port >> 8, port & 255])]));
  return withTimeout(
    new Promise<number>((resolve) => {
      let got = Buffer.alloc(0);
      socket.on('data', (c: Buffer) => {
        got = Buffer.concat([got, c]);
        if (got.length >= 12) {
          socket.destroy();
          resolve(got[3]);
        }
      });
    }),
    5000,
    `SOCKS reply for ${host}:${port}`,
  );
}

describe('--allow patterns', () => {
  const m = (pattern: string, host: string, port: number) => parseAllowRule(pattern).matches({ host, port });

  it('match names with wildcards, addresses however written, subnets and port ranges', () => {
    assert.ok(m('mrim.mail.ru:2041', 'MRIM.mail.ru', 2041));
    assert.ok(!m('mrim.mail.ru:2041', 'mrim.mail.ru', 2042));
    assert.ok(m('*.mail.ru:*', 'mrim.mail.ru', 443));
    assert.ok(!m('*.mail.ru:*', 'mail.ru.evil.com', 443));
    assert.ok(m('127.0.0.1:2041-2042', '127.0.0.1', 2042));
    assert.ok(!m('127.0.0.1:2041-2042', '127.0.0.1', 2043));
    assert.ok(m('10.0.0.0/8:2041', '10.20.30.40', 2041));
    assert.ok(m('10.0.0.0/8:2041', '::ffff:10.1.1.1', 2041));
    assert.ok(!m('10.0.0.0/8:2041', '11.0.0.1', 2041));
    assert.ok(m('[::1]:2041', '0:0:0:0:0:0:0:1', 2041));
    assert.ok(m('[fd00::]/8:*', 'fd12::5', 1));
    assert.ok(!m('[fd00::]/8:*', 'fe80::1', 1));
    // A name pattern does not match an address, nor an address pattern a name (no resolving).
    assert.ok(!m('localhost:2041', '127.0.0.1', 2041));
    assert.ok(!m('127.0.0.1:2041', 'localhost', 2041));
  });

  it('a pattern that cannot be read is an error that says what is expected', () => {
    for (const bad of ['mrim.mail.ru', ':2041', 'a:b', 'host:0', 'host:70000', 'host:5-3', '::1:2041', '10.0.0.0/33:1', 'bad host:1']) {
      assert.throws(() => parseAllowRule(bad), AllowRuleError, bad);
    }
  });

  it('the proxy connects only where a pattern allows; others get reply 2 and a connect event that says why', async () => {
    const upstream = await echoServer();
    keep(upstream);
    const proxy = await proxyFor({ allow: [parseAllowRule(`127.0.0.1:${upstream.port}`)] });
    const ok = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    ok.end('allowed');
    assert.equal((await readAll(ok)).toString(), 'allowed');
    assert.equal(await replyTo(proxy.port, '127.0.0.1', upstream.port + 1), 2);
    assert.equal(await replyTo(proxy.port, 'localhost', upstream.port), 2);
    const refused = proxy.events.flatMap((e) => (e.event.kind === 'connect' && e.event.reply === 2 ? [e.event.error] : []));
    assert.deepEqual(refused, ['not an allowed destination', 'not an allowed destination']);
  });
});

describe("the proxy's own address", () => {
  it('a CONNECT to the proxy itself is refused with reply 2, by address, by name and through --map', async () => {
    const port = await closedPort();
    const proxy = await proxyFor({ port, map: [{ from: { host: 'loop.example', port: 1 }, to: { host: '127.0.0.1', port } }] });
    assert.equal(await replyTo(proxy.port, '127.0.0.1', proxy.port), 2);
    assert.equal(await replyTo(proxy.port, 'localhost', proxy.port), 2);
    assert.equal(await replyTo(proxy.port, 'loop.example', 1), 2);
    const reasons = proxy.events.flatMap((e) => (e.event.kind === 'connect' ? [`${e.event.reply} ${e.event.error}`] : []));
    assert.deepEqual(reasons, Array(3).fill("2 the proxy's own address"));
  });

  it('knows which addresses reach a listener: its own, or any local one behind a wildcard bind', () => {
    assert.ok(reachesListener('127.0.0.1', 1080, { host: '127.0.0.1', port: 1080 }));
    assert.ok(reachesListener('::ffff:127.0.0.1', 1080, { host: '127.0.0.1', port: 1080 }));
    assert.ok(!reachesListener('127.0.0.2', 1080, { host: '127.0.0.1', port: 1080 }));
    assert.ok(!reachesListener('127.0.0.1', 1081, { host: '127.0.0.1', port: 1080 }));
    assert.ok(reachesListener('127.0.0.2', 1080, { host: '0.0.0.0', port: 1080 }));
    assert.ok(!reachesListener('192.0.2.1', 1080, { host: '0.0.0.0', port: 1080 }));
    assert.ok(isLoopback('localhost') && isLoopback('127.1.2.3') && isLoopback('::1') && isLoopback('[::1]') && isLoopback('::ffff:127.0.0.1'));
    assert.ok(!isLoopback('0.0.0.0') && !isLoopback('::') && !isLoopback('192.168.1.1') && !isLoopback('example.com'));
  });
});

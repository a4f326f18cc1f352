// Reverse mode over real sockets: plain TCP listeners relaying to a fixed upstream, byte-exact, with the
// reference client and server logging in and messaging through them; the redirector's answer rewritten
// so the client's second connection comes back (on the answered port when it is free, through an
// existing listener when one goes there); one id counter with SOCKS; refused and looping upstreams.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { MrimClient } from '../../src/client/index.js';
import { encodePacket } from '../../src/protocol/codec.js';
import { formatEndpoint, type Endpoint } from '../../src/net/endpoint.js';
import { parseAllowRule } from '../../src/proxy/allow.js';
import { MrimProxy, type ProxyOptions } from '../../src/proxy/proxy.js';
import { parseReverseRule, ReverseRuleError } from '../../src/proxy/reverse.js';
import { renderTapEvent } from '../../src/render/text.js';
import { MrimServer, type ServerUser } from '../../src/server/index.js';
import type { TapEvent } from '../../src/tap/events.js';
import { closedPort, echoServer, listenTcp, readAll, sha256, socksConnect, withTimeout } from '../helpers/net.js';
import { nextEvent, until } from '../helpers/wait.js';

const USERS: ServerUser[] = [
  { login: 'alice@mail.ru', password: 'alicepw', nick: 'Алиса', contacts: [{ email: 'bob@mail.ru' }] },
  { login: 'bob@mail.ru', password: 'bobpw', nick: 'Боб', contacts: [{ email: 'alice@mail.ru' }] },
];
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

interface Reverse {
  proxy: MrimProxy;
  /** The SOCKS5 listener, when it runs. */
  socks?: Endpoint;
  events: TapEvent[];
  /** The listener of the rule at this index. */
  at(i: number): Endpoint;
}

async function startReverse(opts: Partial<ProxyOptions>): Promise<Reverse> {
  const events: TapEvent[] = [];
  const proxy = new MrimProxy({ host: '127.0.0.1', port: 0, socks: false, ...opts, onEvent: (ev) => events.push(ev) });
  const socks = await proxy.listen();
  closers.push(() => proxy.close());
  return { proxy, socks, events, at: (i) => proxy.reverseListeners[i]!.address };
}

const kinds = (events: TapEvent[], conn: number) => events.filter((e) => e.conn === conn).map((e) => e.event.kind);

/** A server on `host` (redirector included: it answers the address it was reached on). */
async function startServer(host: string): Promise<{ port: number; redirectorPort: number }> {
  const server = new MrimServer({ host, port: 0, redirectorPort: 0, users: USERS });
  const a = await server.listen();
  closers.push(() => server.close());
  return { port: a.port, redirectorPort: a.redirectorPort! };
}

function client(login: string, target: { server?: string; redirector?: string }): MrimClient {
  const c = new MrimClient({ login, password: login === 'alice@mail.ru' ? 'alicepw' : 'bobpw', proto: '1.21', responseTimeoutMs: 3000, connectTimeoutMs: 3000, ...target });
  closers.push(async () => void (await c.logout().catch(() => {})));
  return c;
}

describe('reverse relay', () => {
  test('bytes both ways arrive unchanged, chunk boundaries aside', async () => {
    const echo = await echoServer();
    closers.push(() => echo.close());
    const r = await startReverse({ reverse: [{ listen: { port: 0 }, upstream: { host: '127.0.0.1', port: echo.port } }] });
    const payload = randomBytes(512 * 1024);
    const socket = net.connect(r.at(0).port, '127.0.0.1');
    const back = readAll(socket);
    socket.end(payload);
    assert.equal(sha256(await back), sha256(payload));
    await until(() => r.events.some((e) => e.event.kind === 'close'), 5000);
    const close = r.events.find((e) => e.event.kind === 'close')!.event;
    assert.deepEqual(close.kind === 'close' && close.bytes, { c2s: payload.length, s2c: payload.length });
    const connect = r.events.find((e) => e.event.kind === 'connect')!;
    assert.deepEqual(connect.event.kind === 'connect' && [connect.event.reply, connect.event.listener, connect.event.target], [0, r.at(0), { host: '127.0.0.1', port: echo.port }]);
    assert.match(renderTapEvent(connect), /REVERSE 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ → connected/);
  });

  test('the reference client logs in and messages through a reverse listener, decoded', async () => {
    const server = await startServer('127.0.0.1');
    const r = await startReverse({ reverse: [{ listen: { port: 0 }, upstream: { host: '127.0.0.1', port: server.port } }] });
    const alice = client('alice@mail.ru', { server: formatEndpoint(r.at(0)) });
    const bob = client('bob@mail.ru', { server: `127.0.0.1:${server.port}` });
    await alice.connect();
    await bob.connect();
    const got = nextEvent<{ text: string }>(bob, 'message');
    assert.equal((await alice.sendMessage('bob@mail.ru', 'привет через reverse')).delivered, true);
    assert.equal((await got).text, 'привет через reverse');
    const back = nextEvent<{ text: string }>(alice, 'message');
    await bob.sendMessage('alice@mail.ru', 'и обратно');
    assert.equal((await back).text, 'и обратно');
    const frames = r.events.filter((e) => e.event.kind === 'frame').map((e) => e.event.kind === 'frame' && e.event.frame.type);
    assert.ok(frames.includes('LOGIN2') || frames.some((t) => String(t).startsWith('LOGIN')), String(frames));
    assert.ok(frames.includes('MESSAGE') && frames.includes('MESSAGE_ACK'), String(frames));
    assert.ok(r.events.every((e) => e.login === undefined || e.login === 'alice@mail.ru'));
  });
});

describe('redirector rewrite', () => {
  let server: { port: number; redirectorPort: number };
  before(async () => {
    // On 127.0.0.2, so the answered port is free on 127.0.0.1 for mrimtap's listener.
    server = await startServer('127.0.0.2');
  });

  test("the answer names a listener on the answered port; the client's second connection follows the first", async () => {
    const r = await startReverse({ reverse: [{ listen: { port: 0 }, upstream: { host: '127.0.0.2', port: server.redirectorPort }, redirector: true }] });
    const alice = client('alice@mail.ru', { redirector: formatEndpoint(r.at(0)) });
    const ready = await alice.connect();
    assert.deepEqual(ready.server, { host: '127.0.0.1', port: server.port });
    const opened = r.proxy.reverseListeners[1]!;
    assert.deepEqual([opened.address, opened.upstream, opened.forRedirect], [{ host: '127.0.0.1', port: server.port }, { host: '127.0.0.2', port: server.port }, true]);
    const redirect = r.events.find((e) => e.event.kind === 'redirect' && e.event.dir === 's2c')!;
    assert.ok(redirect.event.kind === 'redirect');
    assert.equal(redirect.event.text, `127.0.0.2:${server.port}`);
    assert.equal(redirect.event.bytes.toString(), `127.0.0.2:${server.port}\n`);
    assert.deepEqual(redirect.event.rewritten && [redirect.event.rewritten.text, redirect.event.rewritten.bytes.toString()], [`127.0.0.1:${server.port}`, `127.0.0.1:${server.port}\n`]);
    assert.match(renderTapEvent(redirect), /REDIRECT → 127\.0\.0\.2:\d+ .*rewritten for the client: → 127\.0\.0\.1:\d+/);
    const open2 = r.events.find((e) => e.event.kind === 'open' && e.conn !== redirect.conn)!;
    assert.ok(open2.event.kind === 'open');
    assert.equal(open2.event.follows, redirect.conn);
    assert.ok(kinds(r.events, redirect.conn).includes('note'), 'a note says the listener was opened');
  });

  test('an existing listener to the answered address is reused; another run of the client gets it too', async () => {
    const r = await startReverse({
      reverse: [
        { listen: { port: 0 }, upstream: { host: '127.0.0.2', port: server.redirectorPort }, redirector: true },
        { listen: { port: 0 }, upstream: { host: '127.0.0.2', port: server.port } },
      ],
    });
    for (let i = 0; i < 2; i++) {
      const c = client('bob@mail.ru', { redirector: formatEndpoint(r.at(0)) });
      const ready = await c.connect();
      assert.deepEqual(ready.server, r.at(1));
      await c.logout();
    }
    assert.equal(r.proxy.reverseListeners.length, 2);
    const opens = r.events.filter((e) => e.event.kind === 'open');
    assert.deepEqual(opens.map((e) => e.event.kind === 'open' && e.event.follows), [undefined, 1, undefined, 3]);
  });

  test('a redirector listener on 0.0.0.0: the answer names the address the client reached, never the wildcard', async () => {
    const r = await startReverse({ reverse: [{ listen: { host: '0.0.0.0', port: 0 }, upstream: { host: '127.0.0.2', port: server.redirectorPort }, redirector: true }] });
    const c = client('alice@mail.ru', { redirector: `127.0.0.1:${r.at(0).port}` });
    const ready = await c.connect();
    assert.equal(ready.server.host, '127.0.0.1');
    assert.equal(r.proxy.reverseListeners[1]!.address.host, '0.0.0.0');
    await c.logout();
  });

  test('an answer to a destination --allow does not match goes on unchanged, with a warning', async () => {
    const r = await startReverse({
      allow: [parseAllowRule(`127.0.0.2:${server.redirectorPort}`)],
      reverse: [{ listen: { port: 0 }, upstream: { host: '127.0.0.2', port: server.redirectorPort }, redirector: true }],
    });
    const c = client('alice@mail.ru', { redirector: formatEndpoint(r.at(0)) });
    const ready = await c.connect();
    assert.deepEqual(ready.server, { host: '127.0.0.2', port: server.port });
    await until(() => r.events.some((e) => e.event.kind === 'note' && e.event.level === 'warn'), 3000);
    const note = r.events.find((e) => e.event.kind === 'note')!;
    assert.match(note.event.kind === 'note' ? note.event.message : '', /passed on unchanged: not an allowed destination/);
  });
});

describe('redirector rewrite, byte by byte', () => {
  /** A redirector listener in front of an upstream that writes `parts` (one write each, a pause between) and ends. */
  async function through(parts: Buffer[]): Promise<{ got: Buffer; events: TapEvent[] }> {
    const upstream = await listenTcp((s) => {
      void (async () => {
        for (const p of parts) {
          s.write(p);
          await new Promise((r) => setTimeout(r, 5));
        }
        s.end();
      })();
    });
    closers.push(() => upstream.close());
    const r = await startReverse({ reverse: [{ listen: { port: 0 }, upstream: { host: '127.0.0.1', port: upstream.port }, redirector: true }] });
    const socket = net.connect(r.at(0).port, '127.0.0.1');
    const got = await readAll(socket);
    await until(() => r.events.some((e) => e.event.kind === 'close'), 5000);
    return { got, events: r.events };
  }

  test('an answer in single bytes, without a newline before the FIN, is rewritten; nothing else changes', async () => {
    const target = await echoServer();
    closers.push(() => target.close());
    const answer = `127.0.0.3:${target.port}`;
    const { got, events } = await through([...Buffer.from(answer)].map((b) => Buffer.from([b])));
    assert.match(got.toString(), /^127\.0\.0\.1:\d+$/);
    const redirect = events.find((e) => e.event.kind === 'redirect')!;
    assert.ok(redirect.event.kind === 'redirect');
    assert.equal(redirect.event.bytes.toString(), answer);
    assert.equal(redirect.event.rewritten?.bytes.toString(), got.toString());
  });

  test('a stream that is no redirector answer (MRIM frames, one larger than an answer, in parts) goes on byte for byte', async () => {
    const big = encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'x'.repeat(3000), rtf: ' ' }, { proto: '1.21', seq: 1 });
    const bytes = Buffer.concat([big, encodePacket('LOGIN_ACK', {}, { proto: '1.21', seq: 2 })]);
    const parts = Array.from({ length: Math.ceil(bytes.length / 500) }, (_, i) => bytes.subarray(i * 500, (i + 1) * 500));
    const { got, events } = await through(parts);
    assert.equal(sha256(got), sha256(bytes));
    assert.deepEqual(events.filter((e) => e.event.kind === 'frame').map((e) => e.event.kind === 'frame' && e.event.frame.type), ['MESSAGE', 'LOGIN_ACK']);
  });
});

describe('ids, failures, loops', () => {
  test('SOCKS and reverse connections share one counter', async () => {
    const echo = await echoServer();
    closers.push(() => echo.close());
    const r = await startReverse({ socks: true, reverse: [{ listen: { port: 0 }, upstream: { host: '127.0.0.1', port: echo.port } }] });
    const socksPort = r.socks!.port;
    const a = await socksConnect(socksPort, '127.0.0.1', echo.port);
    const b = net.connect(r.at(0).port, '127.0.0.1');
    const c = await socksConnect(socksPort, '127.0.0.1', echo.port);
    await Promise.all(
      [a, b, c].map((s) => {
        const echoed = readAll(s);
        s.end('x');
        return echoed;
      }),
    );
    await until(() => r.events.filter((e) => e.event.kind === 'close').length === 3, 5000);
    const ids = r.events.filter((e) => e.event.kind === 'open').map((e) => e.conn).sort();
    assert.deepEqual(ids, [1, 2, 3]);
  });

  test('an upstream that refuses: the client is reset, the connect event says why', async () => {
    const port = await closedPort();
    const r = await startReverse({ reverse: [{ listen: { port: 0 }, upstream: { host: '127.0.0.1', port } }] });
    const socket = net.connect(r.at(0).port, '127.0.0.1');
    const ended = new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      socket.once('error', resolve);
      socket.once('close', () => resolve(undefined));
    });
    const error = await withTimeout(ended, 5000, 'client reset');
    assert.equal(error?.code, 'ECONNRESET');
    const connect = r.events.find((e) => e.event.kind === 'connect')!;
    assert.ok(connect.event.kind === 'connect');
    assert.deepEqual([connect.event.reply, connect.event.error], [5, 'ECONNREFUSED']);
    assert.match(renderTapEvent(connect), /REVERSE .* → failed \(ECONNREFUSED\), client reset/);
  });

  test("a reverse upstream that is the proxy's own listener is refused", async () => {
    const events: TapEvent[] = [];
    const probe = new MrimProxy({ host: '127.0.0.1', port: 0, onEvent: (ev) => events.push(ev) });
    const socks = (await probe.listen())!;
    await probe.close();
    // The SOCKS listener takes the port the probe had; the reverse rule points at it.
    const r = await startReverse({ socks: true, port: socks.port, reverse: [{ listen: { port: 0 }, upstream: socks }] });
    const socket = net.connect(r.at(0).port, '127.0.0.1');
    socket.on('error', () => {});
    await until(() => r.events.some((e) => e.event.kind === 'connect'), 5000);
    const connect = r.events.find((e) => e.event.kind === 'connect')!;
    assert.deepEqual(connect.event.kind === 'connect' && [connect.event.reply, connect.event.error], [2, "the proxy's own address"]);
  });
});

describe('parseReverseRule', () => {
  test('LISTEN=UPSTREAM forms', () => {
    assert.deepEqual(parseReverseRule('2041=mrim.example:2041'), { listen: { port: 2041 }, upstream: { host: 'mrim.example', port: 2041 } });
    assert.deepEqual(parseReverseRule('127.0.0.1:2042=10.0.0.5:2042'), { listen: { host: '127.0.0.1', port: 2042 }, upstream: { host: '10.0.0.5', port: 2042 } });
    assert.deepEqual(parseReverseRule('[::1]:0=[fd00::1]:2041'), { listen: { host: '::1', port: 0 }, upstream: { host: 'fd00::1', port: 2041 } });
  });
  for (const bad of ['2041', '70000=a:1', 'x y=a:1', '2041=mrim.example', '2041=mrim.example:0', '2041=']) {
    test(`"${bad}" is refused with what is expected`, () => assert.throws(() => parseReverseRule(bad), ReverseRuleError));
  }
});

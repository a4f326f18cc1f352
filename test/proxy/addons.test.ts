/**
 * Addons on real sockets: the reference client and server through the proxy with hooks that change,
 * drop, answer and inject frames; the seq rules; hook errors; async hooks keeping order; the capture
 * marks; and the hostile-stream transparency property with a hook that changes nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { MrimClient } from '../../src/client/index.js';
import { readCapture } from '../../src/capture/jsonl.js';
import { startSniffer } from '../../src/proxy/sniffer.js';
import { encodePacket, type DecodedFrame } from '../../src/protocol/codec.js';
import type { Addon } from '../../src/proxy/addons.js';
import { MrimServer, type ServerAddress } from '../../src/server/index.js';
import { renderTapEvent, renderTapEventLine } from '../../src/render/text.js';
import { recordToTapEvent, tapEventToJson } from '../../src/tap/line.js';
import type { TapEvent } from '../../src/tap/events.js';
import { captureFileErrors } from '../helpers/json-schema.js';
import { closedAfterAll, listenTcp, socksConnect, startProxy, withTimeout, type RecordingProxy } from '../helpers/net.js';
import { runCli } from '../helpers/server-cli.js';

const { keep } = closedAfterAll();
const dir = mkdtempSync(join(tmpdir(), 'mrimtap-addons-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let server: { address: ServerAddress } | undefined;
async function mrimServer(): Promise<ServerAddress> {
  if (!server) {
    const s = keep(new MrimServer({ host: '127.0.0.1', port: 0, redirectorPort: 0 }));
    server = { address: await s.listen() };
  }
  return server.address;
}

async function session(addons: Addon[]): Promise<{ proxy: RecordingProxy; alice: MrimClient; bob: MrimClient; done: () => Promise<void> }> {
  const address = await mrimServer();
  const proxy = await startProxy({ addons });
  const socks = `socks5://127.0.0.1:${proxy.port}`;
  const at = { host: '127.0.0.1', port: address.port };
  const alice = new MrimClient({ socks, server: at, login: 'alice@mail.ru', password: 'alice', proto: '1.8', responseTimeoutMs: 3000 });
  const bob = new MrimClient({ socks, server: at, login: 'bob@mail.ru', password: 'bob', proto: '1.21', responseTimeoutMs: 3000 });
  await alice.connect();
  await bob.connect();
  return {
    proxy,
    alice,
    bob,
    done: async () => {
      await alice.logout();
      await bob.logout();
      await proxy.close();
    },
  };
}

const nextMessage = (c: MrimClient) => withTimeout(new Promise<{ text: string }>((r) => c.once('message', r)), 3000, 'a message');
const notes = (p: RecordingProxy) => p.events.flatMap((e) => (e.event.kind === 'note' ? [e.event.message] : []));

describe('addons: the reference client and server through the proxy', () => {
  it('a message rewritten in flight arrives rewritten, is marked with its original bytes, and both clients keep working', async () => {
    const s = await session([
      {
        name: 'upper',
        frame(f) {
          if (f.type === 'MESSAGE' && f.fields.text === 'hello bob') return { ...f, fields: { ...f.fields, text: 'HELLO BOB, rewritten' } };
        },
      },
    ]);
    const got = nextMessage(s.bob);
    const delivery = await s.alice.sendMessage('bob@mail.ru', 'hello bob');
    assert.equal((await got).text, 'HELLO BOB, rewritten');
    assert.equal(delivery.status, 0);
    const back = nextMessage(s.alice);
    await s.bob.sendMessage('alice@mail.ru', 'and back, untouched');
    assert.equal((await back).text, 'and back, untouched');
    await s.done();
    const marked = s.proxy.events.filter((e) => e.addon);
    assert.equal(marked.length, 1);
    const [m] = marked;
    assert.ok(m.event.kind === 'frame' && m.event.frame.fields.text === 'HELLO BOB, rewritten');
    assert.deepEqual({ action: m.addon!.action, by: m.addon!.by }, { action: 'modified', by: 'upper' });
    assert.ok(m.addon!.original!.includes(Buffer.from('hello bob', 'latin1')));
    assert.match(renderTapEvent(m), /✎ modified by upper/);
    // The line keeps the mark, and reads back to the same event.
    const line = tapEventToJson(m, { keepRaw: true });
    assert.equal(line.addon?.original, m.addon!.original!.toString('hex'));
    assert.deepEqual(recordToTapEvent(JSON.parse(JSON.stringify(line))).addon, m.addon);
  });

  it('a dropped typing notification never arrives; the drop is a marked note; the message after it does', async () => {
    const s = await session([{ name: 'no-typing', frame: (f) => (f.type === 'MESSAGE' && (Number(f.fields.flags) & 0x400) ? null : undefined) }]);
    let typing = 0;
    s.bob.on('typing', () => typing++);
    await s.alice.sendTyping('bob@mail.ru');
    const got = nextMessage(s.bob);
    await s.alice.sendMessage('bob@mail.ru', 'after typing');
    assert.equal((await got).text, 'after typing');
    await s.done();
    assert.equal(typing, 0);
    const dropped = s.proxy.events.filter((e) => e.addon?.action === 'dropped');
    assert.equal(dropped.length, 1);
    assert.ok(dropped[0].event.kind === 'note' && /MESSAGE seq=\d+ not passed on/.test(dropped[0].event.message) && dropped[0].addon?.by === 'no-typing');
    assert.ok(!s.proxy.events.some((e) => e.event.kind === 'frame' && e.event.frame.type === 'MESSAGE' && Number(e.event.frame.fields.flags) & 0x400));
  });

  it('a throwing hook (and one returning junk) leaves the session intact: the frame passes unchanged, a note says why', async () => {
    const s = await session([
      { name: 'thrower', frame: () => { throw new Error('boom'); } },
      { name: 'junk', frame: () => 42 as never },
    ]);
    const got = nextMessage(s.bob);
    await s.alice.sendMessage('bob@mail.ru', 'still fine');
    assert.equal((await got).text, 'still fine');
    await s.done();
    assert.ok(notes(s.proxy).some((n) => /addon thrower: its frame hook failed \(boom\)/.test(n)));
    assert.ok(notes(s.proxy).some((n) => /addon junk: .*neither a frame/.test(n)));
    assert.ok(!s.proxy.events.some((e) => e.addon));
  });

  it('reply() answers the request with its seq; an injected request gets its reply handed to the injector, never to the client', async () => {
    let replyToInjected: Promise<DecodedFrame | undefined> | undefined;
    const s = await session([
      {
        name: 'pages',
        frame(f, ctx) {
          if (f.type === 'WP_REQUEST' && ctx.login === 'bob@mail.ru') {
            ctx.reply('ANKETA_INFO', { status: 1, maxRows: 1, serverTime: 0, columns: ['Username', 'Domain', 'Nickname'], rows: [{ Username: 'zed', Domain: 'mail.ru', Nickname: 'Zed' }] });
            // The same search, asked of the server by mrimtap: its answer must not reach bob twice.
            replyToInjected = ctx.inject('c2s', 'WP_REQUEST', { criteria: f.fields.criteria });
            return null;
          }
        },
      },
    ]);
    const result = await s.bob.search({ email: 'zed@mail.ru' });
    assert.deepEqual(result.rows.map((r) => r.nickname), ['Zed']);
    const reply = await withTimeout(replyToInjected!, 3000, 'the reply to the injected request');
    assert.equal(reply?.type, 'ANKETA_INFO');
    assert.ok(reply!.seq >= 0xf0000000, `seq ${reply!.seq.toString(16)} from the injected range`);
    // bob goes on working after it.
    const got = nextMessage(s.alice);
    await s.bob.sendMessage('alice@mail.ru', 'after the search');
    assert.equal((await got).text, 'after the search');
    await s.done();
    const toBob = s.proxy.events.filter((e) => e.event.kind === 'frame' && e.event.frame.type === 'ANKETA_INFO');
    assert.equal(toBob.length, 1, 'bob got one ANKETA_INFO: the addon\'s');
    assert.equal(toBob[0].addon?.action, 'injected');
    assert.ok(s.proxy.events.some((e) => e.event.kind === 'note' && /answers WP_REQUEST injected by pages/.test(e.event.message) && e.addon?.by === 'mrimtap'));
  });

  it('async hooks: a direction waits for them in order, the other goes on', async () => {
    const order: string[] = [];
    const s = await session([
      {
        name: 'slow',
        async frame(f) {
          if (f.type !== 'MESSAGE' || !String(f.fields.text).startsWith('n')) return;
          await new Promise((r) => setTimeout(r, 30 - Number(String(f.fields.text).slice(1)) * 10));
          order.push(String(f.fields.text));
          return { ...f, fields: { ...f.fields, text: `${f.fields.text}!` } };
        },
      },
    ]);
    const texts: string[] = [];
    s.bob.on('message', (m: { text: string }) => texts.push(m.text));
    await Promise.all(['n0', 'n1', 'n2'].map((t) => s.alice.sendMessage('bob@mail.ru', t)));
    await withTimeout((async () => { while (texts.length < 3) await new Promise((r) => setTimeout(r, 10)); })(), 3000, 'three messages');
    await s.done();
    assert.deepEqual(order, ['n0', 'n1', 'n2']);
    assert.deepEqual(texts, ['n0!', 'n1!', 'n2!']);
  });

  it('frames wait for an async connect hook; a frame hook injects; close runs at the end; startSniffer records a valid, marked capture', async () => {
    const path = join(dir, 'marked.jsonl');
    const closed: number[] = [];
    let firstFrameAfterConnect: boolean | undefined;
    const address = await mrimServer();
    const sniffer = await startSniffer({
      host: '127.0.0.1',
      port: 0,
      record: path,
      addons: [
        {
          name: 'greeter',
          async connect(ctx) {
            await new Promise((r) => setTimeout(r, 30));
            ctx.state.connected = true;
          },
          frame(f, ctx) {
            firstFrameAfterConnect ??= ctx.state.connected === true;
            if (f.type === 'LOGIN_ACK') setImmediate(() => void ctx.inject('s2c', 'MESSAGE_ACK', { msgId: 77, flags: 4, from: 'robot@mail.ru', text: 'injected hello', rtf: ' ' }));
          },
          close: (ctx) => void closed.push(ctx.conn),
        },
      ],
    });
    const alice = new MrimClient({ socks: `socks5://127.0.0.1:${sniffer.address!.port}`, server: { host: '127.0.0.1', port: address.port }, login: 'alice@mail.ru', password: 'alice', proto: '1.8' });
    const got = nextMessage(alice);
    await alice.connect();
    assert.equal((await got).text, 'injected hello');
    await alice.logout();
    await sniffer.stop();
    assert.equal(firstFrameAfterConnect, true);
    assert.equal(closed.length, 1);
    assert.deepEqual(captureFileErrors(path), []);
    const events: TapEvent[] = [];
    for await (const item of readCapture(path)) if (item.kind === 'event') events.push(item.event);
    const injected = events.filter((e) => e.addon?.action === 'injected');
    assert.equal(injected.length, 1);
    assert.ok(injected[0].event.kind === 'frame' && injected[0].event.frame.fields.text === 'injected hello');
    assert.equal(renderTapEventLine(injected[0]).endsWith('✚ injected by greeter'), true);
    assert.ok(!events.some((e) => e.event.kind === 'garbage'));
    // The capture tools read it as any other.
    const decoded = await runCli(['decode', path, '--filter', 'addon == injected']);
    assert.equal(decoded.code, 0, decoded.stderr);
    assert.match(decoded.stdout, /S→C MESSAGE_ACK .*✚ injected by greeter\n(.*\n)*\s+text +injected hello/);
    const stats = await runCli(['stats', path]);
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(stats.stdout, /MESSAGE_ACK/);
  });
});

describe('addons: the connect hook', () => {
  it('can inject at once, to both sides, before anything is relayed', async () => {
    let serverGot = Buffer.alloc(0);
    const upstream = keep(await listenTcp((sock) => {
      sock.on('data', (c: Buffer) => (serverGot = Buffer.concat([serverGot, c])));
      sock.write('from the server');
    }));
    const proxy = keep(await startProxy({ addons: [{ name: 'early', connect: (ctx) => void (ctx.inject('s2c', Buffer.from('[early s2c]')), ctx.inject('c2s', Buffer.from('[early c2s]'))) }] }));
    const client = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    let clientGot = Buffer.alloc(0);
    client.on('data', (c: Buffer) => (clientGot = Buffer.concat([clientGot, c])));
    client.write('from the client');
    await withTimeout((async () => { while (clientGot.length < 26 || serverGot.length < 26) await new Promise((r) => setTimeout(r, 5)); })(), 3000, 'both sides');
    client.destroy();
    assert.equal(clientGot.toString(), '[early s2c]from the server');
    assert.equal(serverGot.toString(), '[early c2s]from the client');
  });
});

describe('addons: a frame held too long', () => {
  it('is passed on as it came after a second, and unchanged when it completes (a peer waiting mid-frame does not stall)', async () => {
    let serverGot = Buffer.alloc(0);
    const upstream = keep(await listenTcp((sock) => sock.on('data', (c: Buffer) => (serverGot = Buffer.concat([serverGot, c])))));
    const hooked: string[] = [];
    const proxy = keep(await startProxy({ addons: [{ name: 'upper', frame: (f) => (hooked.push(f.type), { ...f, seq: f.seq + 1 }) }] }));
    const client = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
    const frame = encodePacket('MESSAGE', { flags: 0, to: 'b@mail.ru', text: 'slow', rtf: ' ' }, { proto: '1.21', seq: 5 });
    const started = Date.now();
    client.write(frame.subarray(0, 50));
    await withTimeout((async () => { while (serverGot.length < 50) await new Promise((r) => setTimeout(r, 20)); })(), 3000, 'the held part');
    assert.ok(Date.now() - started >= 900, 'held for about a second first');
    client.write(frame.subarray(50));
    const next = encodePacket('PING', {}, { proto: '1.21', seq: 6 });
    client.write(next);
    await withTimeout((async () => { while (serverGot.length < frame.length + next.length) await new Promise((r) => setTimeout(r, 5)); })(), 3000, 'the rest');
    client.destroy();
    // The slow frame went on as it was; the next one went through the hook (its seq changed).
    assert.ok(serverGot.subarray(0, frame.length).equals(frame));
    assert.equal(serverGot.readUInt32LE(frame.length + 8), 7);
    assert.deepEqual(hooked, ['PING']);
  });
});

describe('addons: transparency', () => {
  /** Sends the streams through a proxy with a hook that returns every frame (edited back to the same), and collects what arrives. */
  async function relayThrough(proxy: RecordingProxy, c2s: Buffer[], s2c: Buffer[]): Promise<{ c2s: Buffer; s2c: Buffer }> {
    let serverGot!: Promise<Buffer>;
    const upstream = await listenTcp((sock) => {
      serverGot = collect(sock);
      // The server ends after the client did: the SOCKS client socket is not half-open.
      void writeAll(sock, s2c, serverGot);
    });
    try {
      const client = await socksConnect(proxy.port, '127.0.0.1', upstream.port);
      const clientGot = collect(client);
      await writeAll(client, c2s);
      const [a, b] = await withTimeout(Promise.all([clientGot, (async () => { while (!serverGot) await new Promise((r) => setTimeout(r, 2)); return serverGot; })()]), 5000, 'both streams');
      return { c2s: b, s2c: a };
    } finally {
      await upstream.close();
    }
  }
  const collect = (s: net.Socket) => new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', () => resolve(Buffer.concat(chunks)));
  });
  async function writeAll(s: net.Socket, chunks: Buffer[], endAfter?: Promise<unknown>): Promise<void> {
    for (const c of chunks) {
      s.write(c);
      await new Promise((r) => setImmediate(r));
    }
    await endAfter;
    s.end();
  }

  const frame = fc.oneof(
    fc.record({ to: fc.string(), text: fc.string(), seq: fc.nat() }).map(({ to, text, seq }) => encodePacket('MESSAGE', { flags: 0, to, text, rtf: ' ' }, { proto: '1.21', seq })),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    // A frame cut short, a bare magic, a header announcing more than comes, SOCKS/TLS/redirector-looking bytes.
    fc.nat({ max: 60 }).map((n) => encodePacket('PING', {}, { proto: '1.21', seq: 1 }).subarray(0, n)),
    fc.constantFrom(Buffer.from('efbeadde', 'hex'), Buffer.from('050100', 'hex'), Buffer.from('160301020001', 'hex'), Buffer.from('127.0.0.1:2041\n')),
  );
  const stream = fc.array(frame, { maxLength: 12 }).chain((parts) => {
    const all = Buffer.concat(parts);
    return fc.array(fc.nat({ max: Math.max(all.length, 1) }), { maxLength: 6 }).map((cuts) => {
      const at = [...new Set(cuts.filter((c) => c > 0 && c < all.length))].sort((a, b) => a - b);
      return [0, ...at].map((c, i) => all.subarray(c, at[i] ?? all.length)).filter((b) => b.length);
    });
  });

  it('hostile streams through a hook that returns every frame (edited and edited back): output bytes === input bytes', async () => {
    let seen = 0;
    const proxy = keep(
      await startProxy({
        addons: [
          {
            name: 'identity',
            frame(f) {
              seen++;
              const copy = structuredClone(f);
              if (typeof copy.fields.text === 'string') copy.fields.text = String(copy.fields.text);
              return copy;
            },
          },
        ],
      }),
    );
    await fc.assert(
      fc.asyncProperty(stream, stream, async (c2s, s2c) => {
        const got = await relayThrough(proxy, c2s, s2c);
        assert.ok(got.c2s.equals(Buffer.concat(c2s)), 'c2s');
        assert.ok(got.s2c.equals(Buffer.concat(s2c)), 's2c');
      }),
      { numRuns: 100 },
    );
    assert.ok(seen > 0);
    assert.ok(!proxy.events.some((e) => e.addon));
  });
});

describe('addons: --script', () => {
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const cases: Array<[string, string, RegExp]> = [
    ['a missing file', join(dir, 'nope.mjs'), /--script .*nope\.mjs: no such file/],
    ['a syntax error', write('syntax.mjs', 'export function frame( {'), /syntax\.mjs: does not load: /],
    ['no hooks', write('empty.mjs', 'export const x = 1;'), /empty\.mjs: exports none of the hooks connect, frame, close/],
    ['a hook that is not a function', write('notfn.mjs', 'export const frame = 3;'), /notfn\.mjs: its frame hook is a number, not a function/],
  ];
  for (const [what, path, message] of cases) {
    it(`${what} is an error at start, exit 2`, async () => {
      const r = await runCli(['proxy', '--port', '0', '--script', path]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    });
  }

  it('a good script loads and the banner names it', async () => {
    const path = write('ok.mjs', 'export default { frame() {} };');
    const { spawnCli } = await import('../helpers/cli.js');
    const cli = spawnCli(['proxy', '--port', '0', '--script', path]);
    try {
      await cli.waitFor(/addons: ok\.mjs/);
    } finally {
      assert.equal(await cli.stop(), 0);
    }
    assert.ok(readFileSync(path, 'utf8'));
  });
});

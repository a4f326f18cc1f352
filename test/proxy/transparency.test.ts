/**
 * The proxy is transparent: thousands of random sessions — MRIM frames, garbage, a mix, SOCKS- and
 * TLS-looking bytes — each side writing in random chunks and closing its direction (FIN) in a random
 * order, while the proxy decodes. What each side received has the SHA-256 of what the other sent, and
 * the close event counts every byte.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { describe, it } from 'node:test';
import { encodePacket } from '../../src/protocol/codec.js';
import type { TapEvent } from '../../src/tap/events.js';
import { closedAfterAll, listenTcp, startProxy, withTimeout, type Listening } from '../helpers/net.js';

const SESSIONS = 2000;
const CONCURRENCY = 48;

interface Plan {
  c2s: Buffer;
  s2c: Buffer;
  /** Chunk sizes each side writes with. */
  cuts: { c2s: number[]; s2c: number[] };
  /** Whether the server waits for the client's FIN before sending its own. */
  serverWaits: boolean;
}

/** A small seeded generator, so a failing session can be told apart and reproduced. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 2 ** 32);
}

function stream(r: () => number, dir: 'c2s' | 's2c'): Buffer {
  const parts: Buffer[] = [];
  const kind = Math.floor(r() * 4);
  const pieces = Math.floor(r() * 12);
  for (let i = 0; i < pieces; i++) {
    const mrim = kind === 0 || (kind === 2 && r() < 0.6);
    if (mrim) {
      const text = randomBytes(Math.floor(r() * 300)).toString('latin1');
      parts.push(
        dir === 'c2s'
          ? encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text, rtf: ' ' }, { proto: '1.21', seq: i + 1 })
          : encodePacket('MESSAGE_ACK', { msgId: i, flags: 0, from: 'alice@mail.ru', text, rtf: ' ' }, { proto: '1.21', seq: i + 1, dir: 's2c' }),
      );
    } else if (kind === 3 && i === 0) {
      // Bytes that make a decoder guess: a SOCKS greeting, a TLS record header, a redirector answer.
      parts.push([Buffer.from('050100', 'hex'), Buffer.from('1603010200', 'hex'), Buffer.from('127.0.0.1:2041\n')][Math.floor(r() * 3)]);
    } else {
      parts.push(randomBytes(Math.floor(r() * 1500)));
    }
  }
  return Buffer.concat(parts);
}

function plan(seed: number): Plan {
  const r = rng(seed);
  const sizes = (n: number) => {
    const out: number[] = [];
    for (let left = n; left > 0; ) {
      const k = 1 + Math.floor(r() * (r() < 0.3 ? 8 : 3000));
      out.push(Math.min(k, left));
      left -= k;
    }
    return out;
  };
  // The session id leads the client's stream: the server finds its plan by it.
  const c2s = Buffer.concat([Buffer.from(`S${String(seed).padStart(7, '0')}`), stream(r, 'c2s')]);
  const s2c = stream(r, 's2c');
  return { c2s, s2c, cuts: { c2s: sizes(c2s.length), s2c: sizes(s2c.length) }, serverWaits: r() < 0.5 };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Writes in the planned chunks, a tick apart now and then, then FIN. */
async function send(s: net.Socket, data: Buffer, cuts: number[]): Promise<void> {
  let at = 0;
  for (const [i, n] of cuts.entries()) {
    if (!s.write(data.subarray(at, at + n))) await new Promise((r) => s.once('drain', r));
    at += n;
    if (i % 4 === 3) await new Promise((r) => setImmediate(r));
  }
  s.end();
}

function collect(s: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

/** A SOCKS5 CONNECT by hand, as fast as it goes (no auth, IPv4). */
function socks(proxyPort: number, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port: proxyPort, host: '127.0.0.1', allowHalfOpen: true });
    s.once('error', reject);
    s.write(Buffer.from([5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 255]));
    let got = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (got.length < 12) return;
      s.off('data', onData);
      s.pause();
      if (got[3] !== 0) return reject(new Error(`SOCKS reply ${got[3]}`));
      if (got.length > 12) s.unshift(got.subarray(12));
      resolve(s);
    };
    s.on('data', onData);
  });
}

const { keep } = closedAfterAll();

describe('proxy transparency', () => {
  it(`${SESSIONS} random sessions (MRIM, garbage, mixed; random chunks and half-closes): SHA-256 equal both ways, every byte counted`, async () => {
    const plans = new Map<number, Plan>();
    /** What the server received on each session, once it knows the session. */
    const serverGot = new Map<number, (got: Promise<Buffer>) => void>();
    const upstream: Listening = await listenTcp((s) => {
      const head: Buffer[] = [];
      let received = 0;
      const onData = (c: Buffer) => {
        head.push(c);
        received += c.length;
        if (received < 8) return;
        s.off('data', onData);
        s.pause();
        const first = Buffer.concat(head);
        const id = Number(first.subarray(1, 8).toString());
        const p = plans.get(id)!;
        s.unshift(first);
        const got = collect(s);
        serverGot.get(id)!(got);
        s.resume();
        void (p.serverWaits ? got.then(() => send(s, p.s2c, p.cuts.s2c)) : send(s, p.s2c, p.cuts.s2c));
      };
      s.on('data', onData);
    });
    keep(upstream);
    const events: TapEvent[] = [];
    const proxy = await startProxy({ onEvent: (ev) => void (ev.event.kind === 'close' && events.push(ev)) });
    keep(proxy);

    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < SESSIONS) {
        const id = next++;
        const p = plan(id + 1);
        plans.set(id + 1, p);
        const atServerPromise = new Promise<Promise<Buffer>>((resolve) => serverGot.set(id + 1, resolve)).then((got) => got);
        const client = await socks(proxy.port, upstream.port);
        const got = collect(client);
        client.resume();
        await send(client, p.c2s, p.cuts.c2s);
        const [fromServer, atServer] = await Promise.all([got, atServerPromise]);
        if (sha(fromServer) !== sha(p.s2c)) failures.push(`session ${id + 1}: client got ${fromServer.length} of ${p.s2c.length} bytes, or other bytes`);
        if (sha(atServer) !== sha(p.c2s)) failures.push(`session ${id + 1}: server got ${atServer.length} of ${p.c2s.length} bytes, or other bytes`);
        client.destroy();
      }
    };
    await withTimeout(Promise.all(Array.from({ length: CONCURRENCY }, worker)), 120_000, `${SESSIONS} sessions`);
    assert.deepEqual(failures, []);

    const deadline = Date.now() + 10_000;
    while (events.length < SESSIONS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(events.length, SESSIONS, 'a close event per session');
    let total = 0;
    for (const e of events) {
      assert.ok(e.event.kind === 'close');
      total += e.event.bytes.c2s + e.event.bytes.s2c;
    }
    const expected = [...plans.values()].reduce((n, p) => n + p.c2s.length + p.s2c.length, 0);
    assert.equal(total, expected, 'close events count every byte');
  });
});

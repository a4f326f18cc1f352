// A client going through two SOCKS proxies — here the sniffing proxy chained to itself, as proxychains
// would — shows one connection in two legs, linked, each decoding the same MRIM session.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { encodePacket } from '../../src/protocol/codec.js';
import { renderTapEvent } from '../../src/render/text.js';
import { FrameQueue, rawSocksConnect, startProxy, waitForClose, withTimeout } from '../helpers/net.js';
import { answerEachRequest, startScriptedServer } from '../helpers/scripted-server.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A second SOCKS5 handshake through an established tunnel: no auth, CONNECT to an IPv4 address. */
async function socksThrough(socket: net.Socket, port: number): Promise<void> {
  socket.write(Buffer.concat([Buffer.from([5, 1, 0]), Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff])]));
  socket.resume();
  let got = Buffer.alloc(0);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (got.length < 12) return;
        socket.off('data', onData);
        socket.pause();
        if (got[1] !== 0 || got[3] !== 0) reject(new Error(`inner SOCKS refused: ${got.toString('hex')}`));
        // Anything after the reply belongs to the relayed stream; the server speaks only when asked.
        else resolve();
      };
      socket.on('data', onData);
    }),
    5000,
    'inner SOCKS handshake',
  );
}

describe('proxy: the SOCKS legs of one connection', () => {
  it('client → proxy → the same proxy → server: the second leg is linked to the first, both decode the session', async () => {
    const server = await startScriptedServer(answerEachRequest());
    cleanups.push(() => server.close());
    const proxy = await startProxy();
    cleanups.push(() => proxy.close());

    const tunnel = await rawSocksConnect(proxy.port, '127.0.0.1', proxy.port);
    await socksThrough(tunnel, server.port);
    const replies = new FrameQueue(tunnel);
    tunnel.resume();
    tunnel.write(encodePacket('HELLO', {}, { proto: '1.21', seq: 1 }));
    assert.equal((await replies.next()).readUInt32LE(12), 0x1002, 'HELLO_ACK through both legs');
    tunnel.end();
    await waitForClose(proxy, 2);

    const opens = proxy.events.flatMap((e) => (e.event.kind === 'open' ? [{ conn: e.conn, legOf: e.event.legOf }] : []));
    assert.deepEqual(opens, [
      { conn: 1, legOf: undefined },
      { conn: 2, legOf: 1 },
    ]);
    const helloAcks = proxy.events.filter((e) => e.event.kind === 'frame' && e.event.frame.type === 'HELLO_ACK').map((e) => e.conn);
    assert.deepEqual(helloAcks.sort(), [1, 2]);
    const inner = proxy.events.filter((e) => e.conn === 1 && e.event.kind === 'socks');
    assert.ok(inner.length >= 2, 'the first leg shows the inner handshake as SOCKS, not garbage');
    assert.ok(!proxy.events.some((e) => e.event.kind === 'garbage'));
    assert.match(renderTapEvent(proxy.events.find((e) => e.conn === 2 && e.event.kind === 'open')!), /· onward SOCKS leg of #1$/);
  });
});

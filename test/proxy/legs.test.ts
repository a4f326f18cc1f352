// A client going through two SOCKS proxies shows one connection in two legs, linked, each decoding the
// same MRIM session. The sniffing proxy refuses to be chained to itself (its own address), so the chain
// here is client → sniffer → a second SOCKS relay whose own onward connection goes through the sniffer
// again — as proxychains over two proxies on one machine would look to it.
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

/**
 * A minimal second SOCKS5 relay: answers one CONNECT and makes the onward connection through the
 * sniffer (`via`), so the sniffer sees both legs.
 */
async function chainedRelay(via: number): Promise<net.Server> {
  const server = net.createServer((client) => {
    let got = Buffer.alloc(0);
    const onData = async (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      // Greeting (05 01 00) and an IPv4 CONNECT (10 bytes) arrive together from socksThrough.
      if (got.length < 13) return;
      client.off('data', onData);
      const port = got.readUInt16BE(11);
      const onward = await rawSocksConnect(via, `${got[7]}.${got[8]}.${got[9]}.${got[10]}`, port);
      client.write(Buffer.from([5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
      client.pipe(onward).pipe(client);
      onward.resume();
    };
    client.on('data', onData);
    client.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

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
  it('client → proxy → a second relay → (through the proxy) → server: the second leg is linked to the first, both decode the session', async () => {
    const server = await startScriptedServer(answerEachRequest());
    cleanups.push(() => server.close());
    const proxy = await startProxy();
    cleanups.push(() => proxy.close());
    const relay = await chainedRelay(proxy.port);
    cleanups.push(() => new Promise((r) => relay.close(() => r())));
    const relayPort = (relay.address() as net.AddressInfo).port;

    const tunnel = await rawSocksConnect(proxy.port, '127.0.0.1', relayPort);
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

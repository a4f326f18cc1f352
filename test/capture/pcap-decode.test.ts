/** pcap/pcapng files as session logs: odd timestamps, connections without MRIM, badly reordered TCP. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCapture } from '../../src/capture/pcap/index.js';
import { TCP_FLAG } from '../../src/capture/pcap/packet.js';
import { decodePcap } from '../../src/capture/pcap-decode.js';
import { encodePacket } from '../../src/protocol/codec.js';
import type { TapEvent } from '../../src/tap/events.js';
import { ethernet, ipPacket, pcap, tcpSessionPcap, type Rec } from '../helpers/pcap-builder.js';

const T0 = 1_700_000_000_000;
const hello = encodePacket('HELLO', {}, { proto: '1.8', seq: 1 });
const helloAck = encodePacket('HELLO_ACK', { pingPeriod: 30 }, { proto: '1.8', seq: 1 });

function decode(file: Buffer): TapEvent[] {
  const events: TapEvent[] = [];
  decodePcap(parseCapture(file), (ev) => events.push(ev));
  return events;
}

const kinds = (events: TapEvent[]) => events.map((e) => (e.event.kind === 'frame' ? e.event.frame.type : e.event.kind));

/** Sets the timestamp of the n-th record of a classic little-endian pcap (µs resolution). */
function restamp(file: Buffer, n: number, ms: number): void {
  let off = 24;
  for (let i = 0; i < n; i++) off += 16 + file.readUInt32LE(off + 8);
  file.writeUInt32LE(Math.floor(ms / 1000), off);
  file.writeUInt32LE(Math.round((ms % 1000) * 1000), off + 4);
}

describe('decodePcap', () => {
  it('a handshake stamped after its data still opens the connection first (used to throw a TypeError)', () => {
    const file = tcpSessionPcap([
      { time: T0 + 5, dir: 'c2s', data: hello },
      { time: T0 + 6, dir: 's2c', data: helloAck },
    ]);
    restamp(file, 0, T0 + 900);
    restamp(file, 1, T0 + 901);
    const events = decode(file);
    assert.deepEqual(kinds(events), ['open', 'HELLO', 'HELLO_ACK', 'close']);
    assert.equal(events[0]!.event.time, T0 + 5);
  });

  it('data stamped earlier than the data before it stays in stream order', () => {
    const login = encodePacket('LOGIN2', { login: 'a@mail.ru', password: 'pw', status: 1, description: '' }, { proto: '1.8', seq: 2 });
    const file = tcpSessionPcap([
      { time: T0 + 10, dir: 'c2s', data: hello },
      { time: T0 + 11, dir: 's2c', data: helloAck },
      { time: T0 + 12, dir: 'c2s', data: login },
    ]);
    restamp(file, 4, T0 + 1); // LOGIN2 stamped before everything else
    const events = decode(file);
    assert.deepEqual(kinds(events).filter((k) => k !== 'note'), ['open', 'HELLO', 'LOGIN2', 'HELLO_ACK', 'no-reply', 'close'], 'the LOGIN2 never got its LOGIN_ACK');
  });

  it('lists a connection without MRIM with what it carried, and decodes none of it', () => {
    const http = tcpSessionPcap(
      [
        { time: T0 + 1, dir: 'c2s', data: Buffer.from('GET / HTTP/1.1\r\nHost: example.org\r\n\r\n') },
        { time: T0 + 2, dir: 's2c', data: Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok') },
      ],
      { serverPort: 80 },
    );
    const events = decode(http);
    assert.deepEqual(kinds(events), ['open', 'note', 'close']);
    const note = events[1]!.event;
    assert.ok(note.kind === 'note');
    assert.equal(note.message, 'no MRIM on 192.0.2.10:40001 ⇄ 192.0.2.20:80 (starts with "GET / HTTP/1.1"): listed, not decoded');
    const close = events[2]!.event;
    assert.ok(close.kind === 'close');
    assert.deepEqual(close.bytes, { c2s: 37, s2c: 40 });
  });

  it('recognises MRIM on any port, after a SOCKS5 handshake, and a redirector answer', () => {
    const socks = Buffer.from('050100', 'hex');
    const request = Buffer.from('050100017f00000107f9', 'hex');
    const viaProxy = tcpSessionPcap(
      [
        { time: T0 + 1, dir: 'c2s', data: socks },
        { time: T0 + 2, dir: 's2c', data: Buffer.from('0500', 'hex') },
        { time: T0 + 3, dir: 'c2s', data: request },
        { time: T0 + 4, dir: 's2c', data: Buffer.from('05000001000000000000', 'hex') },
        { time: T0 + 5, dir: 'c2s', data: hello },
        { time: T0 + 6, dir: 's2c', data: helloAck },
      ],
      { serverPort: 1080 },
    );
    assert.deepEqual(kinds(decode(viaProxy)), ['open', 'socks', 'socks', 'socks', 'socks', 'HELLO', 'HELLO_ACK', 'close']);
    const redirector = tcpSessionPcap([{ time: T0 + 1, dir: 's2c', data: Buffer.from('127.0.0.1:2041\n') }], { serverPort: 9999 });
    assert.deepEqual(kinds(decode(redirector)), ['open', 'redirect', 'close']);
  });

  // Bounded by a timeout, not timed: with a re-sort per hole this took minutes.
  it('reassembles a stream delivered in reverse with a hole before every segment', { timeout: 30_000 }, () => {
    const records: Rec[] = [];
    const c = { addr: '192.0.2.1', port: 40000 };
    const s = { addr: '192.0.2.2', port: 2041 };
    const n = 20_000;
    const add = (seq: number, payload: Buffer) =>
      records.push({ sec: 1_700_000_000, frac: records.length, data: ethernet(ipPacket({ src: c.addr, dst: s.addr, sport: c.port, dport: s.port, seq, flags: TCP_FLAG.ACK, payload })) });
    add(1000, hello);
    // 10-byte slices with a 1-byte hole before each, newest first: every one waits until the capture ends.
    for (let i = n - 1; i >= 0; i--) add(1000 + hello.length + 1 + i * 11, Buffer.alloc(10, 0x41));
    const conn = parseCapture(pcap(records)).connections[0]!;
    assert.equal(conn.gaps.length, n);
    assert.equal(conn.chunks.reduce((sum, ch) => sum + ch.data.length, 0), hello.length + n * 10);
    const notes = decode(pcap(records)).flatMap((e) => (e.event.kind === 'note' ? [e.event.message] : []));
    assert.equal(notes.filter((m) => m.includes('missing from the capture')).length, n);
  });
});

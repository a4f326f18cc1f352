// What the tap layer adds to the decoded stream for a researcher: requests left without their reply at
// the close, frames that arrived together in one read, and the SOCKS legs of one connection linked —
// fed with byte streams as a proxy or a pcap would, and read back through the capture line format.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Endpoint } from '../../src/net/endpoint.js';
import { encodePacket } from '../../src/protocol/codec.js';
import { MESSAGE_FLAG } from '../../src/protocol/constants.js';
import type { Direction, Fields } from '../../src/protocol/fields.js';
import { packetByName, type PacketName } from '../../src/protocol/packets/index.js';
import { SessionDecoder } from '../../src/protocol/session.js';
import { renderTapEvent } from '../../src/render/text.js';
import type { TapEvent } from '../../src/tap/events.js';
import { recordToTapEvent, tapEventToJson } from '../../src/tap/line.js';
import { TapHub } from '../../src/tap/tap.js';

const at = (port: number): Endpoint => ({ host: '127.0.0.1', port });
const frame = (dir: Direction) => (type: PacketName, fields: Fields, seq: number, proto = '1.21') =>
  encodePacket(packetByName(type)!.code, fields, { proto, seq, dir });
const c2s = frame('c2s');
const s2c = frame('s2c');

/** A hub recording its events as the capture line format reads them back (so the lines carry it all). */
function hub(): { hub: TapHub; events: TapEvent[]; kinds: () => string[] } {
  const events: TapEvent[] = [];
  const h = new TapHub((ev) => events.push(recordToTapEvent(JSON.parse(JSON.stringify(tapEventToJson(ev))))));
  return { hub: h, events, kinds: () => events.map((e) => (e.event.kind === 'frame' ? e.event.frame.type : e.event.kind)) };
}

describe('requests that never got their reply are flagged when the connection closes', () => {
  it('a MESSAGE without MESSAGE_STATUS and a MESSAGE_ACK without MESSAGE_RECV; answered ones, typing and NORECV are not', () => {
    const { hub: h, events } = hub();
    const tap = h.open(1, at(50000), at(2041), 1000);
    tap.push('c2s', c2s('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'ответишь?', rtf: ' ' }, 3), 1001);
    tap.push('c2s', c2s('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'да', rtf: ' ' }, 4), 1002);
    tap.push('s2c', s2c('MESSAGE_STATUS', { status: 0 }, 4), 1003);
    tap.push('c2s', c2s('MESSAGE', { flags: MESSAGE_FLAG.NOTIFY, to: 'bob@mail.ru', text: ' ', rtf: ' ' }, 5), 1004);
    tap.push('s2c', s2c('MESSAGE_ACK', { msgId: 9, flags: MESSAGE_FLAG.NORECV | MESSAGE_FLAG.NOTIFY, from: 'bob@mail.ru', text: ' ', rtf: ' ' }, 1), 1005);
    tap.push('s2c', s2c('MESSAGE_ACK', { msgId: 10, flags: 0, from: 'bob@mail.ru', text: 'эй', rtf: ' ' }, 2), 1006);
    tap.close('client closed first', 2000);
    const flagged = events.flatMap((e) => (e.event.kind === 'no-reply' ? [e.event] : []));
    assert.deepEqual(
      flagged.map((f) => ({ dir: f.dir, request: f.request, expected: f.expected })),
      [
        { dir: 'c2s', request: { type: 'MESSAGE', seq: 3, index: 0, time: 1001 }, expected: ['MESSAGE_STATUS'] },
        { dir: 's2c', request: { type: 'MESSAGE_ACK', seq: 2, index: 5, time: 1006 }, expected: ['MESSAGE_RECV'] },
      ],
    );
    assert.equal(events.at(-1)!.event.kind, 'close', 'flagged before the close line');
    const line = renderTapEvent(events.find((e) => e.event.kind === 'no-reply')!);
    assert.match(line, /#1 C→S ✗ no reply: MESSAGE seq=3 sent \d\d:\d\d:\d\d\.001 never got MESSAGE_STATUS$/);
  });

  it('alternatives count as the reply (LOGIN_REJ answers LOGIN2 as well as LOGIN_ACK)', () => {
    const { hub: h, events } = hub();
    const tap = h.open(1, at(50000), at(2041), 0);
    tap.push('c2s', c2s('HELLO', {}, 1), 1);
    tap.push('s2c', s2c('HELLO_ACK', { pingPeriod: 30 }, 1), 2);
    tap.push('c2s', c2s('LOGIN2', { login: 'a@mail.ru', password: 'x', status: 1 }, 2, '1.8'), 3);
    tap.push('s2c', s2c('LOGIN_REJ', { reason: 'Invalid login' }, 2, '1.8'), 4);
    tap.close('server closed first', 5);
    assert.deepEqual(events.filter((e) => e.event.kind === 'no-reply'), []);
  });
});

describe('frames that arrived in one read are marked', () => {
  const frameEvents = (events: TapEvent[]) => events.flatMap((e) => (e.event.kind === 'frame' ? [e.event] : []));

  it('every frame a chunk completes, when it completes more than one — also the one it finished', () => {
    const { hub: h, events } = hub();
    const tap = h.open(1, at(50000), at(2041), 0);
    const hello = c2s('HELLO', {}, 1);
    const login = c2s('LOGIN2', { login: 'a@mail.ru', password: 'x', status: 1 }, 2, '1.8');
    const ping = c2s('PING', {}, 3);
    tap.push('c2s', Buffer.concat([hello, login]), 1);
    tap.push('c2s', ping.subarray(0, 10), 2);
    tap.push('c2s', Buffer.concat([ping.subarray(10), c2s('PING', {}, 4), c2s('PING', {}, 5)]), 3);
    tap.push('c2s', c2s('PING', {}, 6), 4);
    const marks = frameEvents(events).map((f) => f.sameRead);
    assert.deepEqual(marks, [
      { position: 1, frames: 2 },
      { position: 2, frames: 2 },
      { position: 1, frames: 3 },
      { position: 2, frames: 3 },
      { position: 3, frames: 3 },
      undefined,
    ]);
    assert.match(renderTapEvent(events.find((e) => e.event.kind === 'frame')!), /HELLO seq=1 v1\.21 44 B ⧉ 1\/2 in one read/);
  });

  it("a file's buffers are no reads: a SessionDecoder on its own (decode --raw) marks nothing", () => {
    const events = new SessionDecoder().push('c2s', Buffer.concat([c2s('HELLO', {}, 1), c2s('PING', {}, 2)]));
    assert.deepEqual(events.map((e) => (e.kind === 'frame' ? e.sameRead : 'not a frame')), [undefined, undefined]);
  });
});

describe('the SOCKS legs of one connection are linked', () => {
  const greeting = Buffer.from([5, 1, 0]);
  const method = Buffer.from([5, 0]);
  const connect = (port: number) => Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff]);
  const granted = (port: number) => Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff]);

  it('a client through two proxies, as a pcap shows it: client → P1 (1080) → P2 (1081) → server (2041)', () => {
    const { hub: h, events, kinds } = hub();
    // Leg 1 carries both handshakes: the outer one to P1 (CONNECT P2), then, through it, P2's (CONNECT server).
    const leg1 = h.open(1, at(40001), at(1080), 0);
    leg1.push('c2s', Buffer.concat([greeting, connect(1081)]), 1);
    const leg2 = h.open(2, at(40002), at(1081), 2);
    leg1.push('s2c', Buffer.concat([method, granted(1081)]), 3);
    leg1.push('c2s', Buffer.concat([greeting, connect(2041)]), 4);
    leg2.push('c2s', Buffer.concat([greeting, connect(2041)]), 5);
    const leg3 = h.open(3, at(40003), at(2041), 6);
    for (const [tap, withSocks] of [[leg1, true], [leg2, true], [leg3, false]] as const) {
      if (withSocks) tap.push('s2c', Buffer.concat([method, granted(2041)]), 7);
      tap.push('c2s', c2s('HELLO', {}, 1), 8);
      tap.push('s2c', s2c('HELLO_ACK', { pingPeriod: 30 }, 1), 9);
    }
    const opens = events.flatMap((e) => (e.event.kind === 'open' ? [{ conn: e.conn, legOf: e.event.legOf }] : []));
    assert.deepEqual(opens, [
      { conn: 1, legOf: undefined },
      { conn: 2, legOf: 1 },
      { conn: 3, legOf: 2 },
    ]);
    assert.ok(!kinds().includes('garbage'), 'the second handshake on leg 1 is read as SOCKS, the MRIM after it as frames');
    assert.equal(events.filter((e) => e.event.kind === 'frame' && e.event.frame.type === 'HELLO_ACK').length, 3);
    assert.match(renderTapEvent(events.find((e) => e.conn === 3 && e.event.kind === 'open')!), /OPEN 127\.0\.0\.1:40003 ⇄ 127\.0\.0\.1:2041 · onward SOCKS leg of #2$/);
  });
});

describe('a direction that is not MRIM', () => {
  it('is decoded for its first 64 KiB, then reported as it comes, so every byte is in the events', () => {
    const { hub: h, events } = hub();
    const tap = h.open(1, at(50000), at(2041), 1000);
    // Not MRIM, and not random either: bytes that keep a resynchronising decoder busy.
    const sent = Buffer.from(Array.from({ length: 300 * 1024 + 7 }, (_, i) => (i * 131 + (i >> 9)) & 0xff));
    for (let i = 0, n = 1; i < sent.length; i += n, n = (n * 5 + 3) % 9000) tap.push('c2s', sent.subarray(i, i + n), 1001);
    tap.close('client closed first', 2000);
    const pieces = events.flatMap((e) => (e.event.kind === 'garbage' ? [e.event] : []));
    let next = 0;
    for (const g of pieces) {
      assert.equal(g.offset, next);
      next += g.bytes.length;
    }
    assert.ok(Buffer.concat(pieces.map((g) => g.bytes)).equals(sent));
    assert.ok(pieces.at(-1)!.reason === 'not MRIM: not decoded');
    assert.ok(events.some((e) => e.event.kind === 'note' && /^\d+ bytes without an MRIM frame: not MRIM/.test(e.event.message)));
  });

  it('after a decoder failure: the chunk it failed on and every one after are reported undecoded', () => {
    const { hub: h, events } = hub();
    const tap = h.open(1, at(50000), at(2041), 1000);
    const push = SessionDecoder.prototype.push;
    let calls = 0;
    SessionDecoder.prototype.push = function (...args) {
      if (++calls === 2) throw new Error('a bug');
      return push.apply(this, args);
    };
    try {
      const first = encodePacket('HELLO', {}, { proto: '1.21', seq: 1 });
      const second = Buffer.from('second chunk');
      const third = Buffer.from('third');
      for (const chunk of [first, second, third]) tap.push('c2s', chunk, 1001);
      const undecoded = events.flatMap((e) => (e.event.kind === 'garbage' ? [e.event] : []));
      assert.deepEqual(undecoded.map((g) => [g.offset, g.bytes.toString()]), [[first.length, 'second chunk'], [first.length + second.length, 'third']]);
      assert.ok(undecoded.every((g) => g.reason === 'not decoded: the decoder failed'));
      assert.ok(events.some((e) => e.event.kind === 'note' && e.event.message.startsWith('decoder failed (a bug)')));
    } finally {
      SessionDecoder.prototype.push = push;
    }
  });
});

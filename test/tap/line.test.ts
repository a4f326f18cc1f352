/** The capture line format both ways: every kind of event → JSON line → the same event. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePacket } from '../../src/protocol/codec.js';
import type { TapEvent } from '../../src/tap/events.js';
import { recordToTapEvent, tapEventToJson } from '../../src/tap/line.js';
import { MASK } from '../../src/tap/mask.js';
import { TapHub } from '../../src/tap/tap.js';

const client = { host: '127.0.0.1', port: 50000 };
const server = { host: '127.0.0.1', port: 2041 };
const T0 = Date.UTC(2024, 0, 31, 12, 0, 0, 5);

/** Events as the proxy reports them: decoded from bytes by a TapHub, plus the SOCKS outcomes it reports itself. */
function session(): TapEvent[] {
  const events: TapEvent[] = [];
  const hub = new TapHub((ev) => events.push(ev));
  hub.report(1, client, undefined, { kind: 'auth-refused', time: T0, client, user: 'mallory' });
  hub.report(2, client, undefined, { kind: 'auth-refused', time: T0, client, user: '', methods: ['no-auth', 'gssapi'] });
  hub.report(3, client, undefined, { kind: 'connect', time: T0, client, target: { host: 'mrim.mail.ru', port: 2042 }, user: 'u', reply: 5, error: 'ECONNREFUSED' });
  const mapped = { host: '127.0.0.1', port: 2042 };
  hub.report(4, client, mapped, { kind: 'connect', time: T0, client, target: { host: 'mrim.mail.ru', port: 2042 }, mapped, upstream: mapped, reply: 0 });

  const redirector = hub.open(4, client, mapped, T0, [{ host: 'mrim.mail.ru', port: 2042 }, mapped]);
  redirector.push('s2c', Buffer.from('127.0.0.1:2041\n'), T0 + 1);
  redirector.close('server closed first', T0 + 2);

  // Follows the redirect; a client that goes through a SOCKS5 proxy of its own, so the handshake is in the stream.
  const tap = hub.open(5, client, server, T0 + 3);
  tap.push('c2s', Buffer.from('050102' + '010475736572027077' + '050100010102030407e9', 'hex'), T0 + 4);
  tap.push('s2c', Buffer.from('050201000500000100000000' + '0000', 'hex'), T0 + 5);
  tap.push('c2s', encodePacket('HELLO', {}, { proto: '1.8', seq: 1 }), T0 + 6);
  tap.push('s2c', encodePacket('HELLO_ACK', { pingPeriod: 30 }, { proto: '1.8', seq: 1 }), T0 + 7);
  tap.push('c2s', encodePacket('LOGIN2', { login: 'alice@mail.ru', password: 'hunter2', status: 1, description: 'hi' }, { proto: '1.8', seq: 2 }), T0 + 8);
  tap.push('s2c', encodePacket('LOGIN_ACK', {}, { proto: '1.8', seq: 2 }), T0 + 20);
  tap.push('c2s', Buffer.from('not mrim at all'), T0 + 21);
  tap.note('a note', 'info', T0 + 22, 'c2s');
  tap.note('a warning', 'warn', T0 + 23);
  tap.close('client closed first', T0 + 30);

  // TLS and compression start after an accepted request; as the framer reports them.
  const base = { conn: 6, client, server, login: 'bob@mail.ru' };
  events.push({ ...base, event: { kind: 'tls', dir: 'c2s', offset: 88, time: T0 + 40, bytes: Buffer.from('160301', 'hex'), start: true } });
  events.push({ ...base, event: { kind: 'tls', dir: 'c2s', offset: 91, time: T0 + 41, bytes: Buffer.from('00ff', 'hex'), start: false } });
  events.push({ ...base, event: { kind: 'compressed', dir: 's2c', offset: 100, time: T0 + 42, bytes: Buffer.from('789c', 'hex'), start: true } });
  events.push({ ...base, event: { kind: 'garbage', dir: 's2c', offset: 3, time: T0 + 43, bytes: Buffer.from('ef', 'hex'), reason: 'resynchronised', skipped: 12 } });
  return events;
}

// As a capture stores them: raw bytes whole whatever the fields show.
const roundTrip = (ev: TapEvent, showSecrets: boolean) => recordToTapEvent(JSON.parse(JSON.stringify(tapEventToJson(ev, { showSecrets, keepRaw: true }))));

describe('capture lines', () => {
  const events = session();

  it('cover every kind of event', () => {
    const kinds = new Set(events.map((e) => e.event.kind));
    for (const k of ['connect', 'auth-refused', 'open', 'close', 'note', 'frame', 'garbage', 'socks', 'redirect', 'tls', 'compressed']) assert.ok(kinds.has(k as never), k);
    const frames = events.flatMap((e) => (e.event.kind === 'frame' ? [e.event] : []));
    assert.ok(frames.some((f) => f.replyTo?.latencyMs === 12 && f.login === 'alice@mail.ru'));
    assert.ok(events.some((e) => e.event.kind === 'socks' && e.event.message.type === 'auth'));
  });

  it('read back as the same events, secrets shown', () => {
    for (const ev of events) assert.deepStrictEqual(roundTrip(ev, true), ev, JSON.stringify(tapEventToJson(ev, { showSecrets: true })));
  });

  it('read back as the same events with secrets masked: frames from their whole raw bytes, SOCKS passwords stay masked', () => {
    for (const ev of events) {
      const back = roundTrip(ev, false);
      const e = ev.event;
      if (e.kind === 'socks' && e.message.type === 'auth') {
        assert.deepStrictEqual(back, { ...ev, event: { ...e, message: { ...e.message, password: MASK } } });
      } else {
        assert.deepStrictEqual(back, ev);
      }
    }
    const login = events.find((e) => e.event.kind === 'frame' && e.event.frame.type === 'LOGIN2')!;
    const stored = tapEventToJson(login, { keepRaw: true }) as { fields: Record<string, unknown>; raw: string };
    assert.equal(stored.fields.password, MASK);
    assert.ok(stored.raw.includes(Buffer.from('hunter2').toString('hex')));
    // What is displayed (decode --json, proxy --json) hides the password in the bytes too.
    const shown = tapEventToJson(login) as { raw: string };
    assert.ok(!shown.raw.includes(Buffer.from('hunter2').toString('hex')));
    assert.ok(shown.raw.includes(Buffer.from('*******').toString('hex')));
    const socks = events.find((e) => e.event.kind === 'socks' && e.event.message.type === 'auth')!;
    const socksShown = tapEventToJson(socks) as { bytes: string };
    const socksStored = tapEventToJson(socks, { keepRaw: true }) as { bytes: string };
    assert.notEqual(socksShown.bytes, socksStored.bytes);
    assert.equal(socksShown.bytes.length, socksStored.bytes.length);
  });

  it('refuse what is not a record, with the reason', () => {
    const good = tapEventToJson(events[0]) as Record<string, unknown>;
    assert.throws(() => recordToTapEvent([1]), /not a JSON object/);
    assert.throws(() => recordToTapEvent({ ...good, conn: 'x' }), /missing or invalid conn/);
    assert.throws(() => recordToTapEvent({ ...good, time: 'yesterday' }), /invalid time/);
    assert.throws(() => recordToTapEvent({ ...good, client: 'nowhere' }), /missing or invalid client address/);
    assert.throws(() => recordToTapEvent({ ...good, kind: 'frame', dir: 'c2s', offset: 0, index: 0, raw: 'zz' }), /raw is not hex/);
    assert.throws(() => recordToTapEvent({ ...good, kind: 'socks', dir: 'c2s', offset: 0, bytes: '', message: 'auth' }), /missing or invalid message/);
    assert.throws(() => recordToTapEvent({ ...good, kind: 'teleport', dir: 's2c', offset: 0 }), /unknown event kind "teleport"/);
  });

  it('an addon mark: kept whole in a recording, its original bytes masked like raw in --json, read back, a bad action refused', () => {
    const events: TapEvent[] = [];
    const tap = new TapHub((ev) => events.push(ev)).open(9, client, server, T0);
    const original = encodePacket('LOGIN2', { login: 'a@mail.ru', password: 'Mark-Secret-9', status: 1, description: '' }, { proto: '1.8', seq: 1 });
    const changed = encodePacket('LOGIN2', { login: 'b@mail.ru', password: 'Mark-Secret-9', status: 1, description: '' }, { proto: '1.8', seq: 1 });
    tap.push('c2s', changed, T0 + 1, { action: 'modified', by: 'x.mjs', original });
    tap.note('PING seq=2 not passed on', 'info', T0 + 2, 'c2s', { action: 'dropped', by: 'x.mjs', original: encodePacket('PING', {}, { proto: '1.8', seq: 2 }) });
    const [modified, dropped] = events.filter((e) => e.addon);
    const secretHex = Buffer.from('Mark-Secret-9').toString('hex');
    const recorded = tapEventToJson(modified, { keepRaw: true });
    assert.equal(recorded.addon?.original, original.toString('hex'));
    const shown = tapEventToJson(modified);
    assert.ok(!shown.addon!.original!.includes(secretHex) && shown.addon!.original!.length === original.length * 2);
    for (const ev of [modified, dropped]) assert.deepEqual(recordToTapEvent(JSON.parse(JSON.stringify(tapEventToJson(ev, { keepRaw: true })))).addon, ev.addon);
    const line = JSON.parse(JSON.stringify(recorded));
    assert.throws(() => recordToTapEvent({ ...line, addon: { action: 'teleported', by: 'x' } }), /invalid addon\.action "teleported"/);
  });
});


/** The capture line format both ways: every kind of event → JSON line → the same event. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Endpoint } from '../../src/net/endpoint.js';
import { decodeFrame, encodePacket } from '../../src/protocol/codec.js';
import { PACKETS } from '../../src/protocol/packets/index.js';
import type { SessionEvent } from '../../src/protocol/session.js';
import { captureLine, captureLineParts, FIELDS_MAX, INLINE_RAW_MAX, type LinePart } from '../../src/tap/capture-line.js';
import type { TapEvent } from '../../src/tap/events.js';
import { recordToTapEvent, tapEventToJson } from '../../src/tap/line.js';
import { MASK } from '../../src/tap/mask.js';
import { TapHub } from '../../src/tap/tap.js';
import { anyPacketArbitrary } from '../helpers/packet-arbitrary.js';

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

// A capture's line of version 2, read back.
const v2 = (ev: TapEvent, showSecrets: boolean) => recordToTapEvent(JSON.parse(captureLine(ev, showSecrets)));

// fc.record makes objects without a prototype; a reader's are plain ones.
const plain = <T extends object>(o: T): T => ({ ...o });
const endpointArb: fc.Arbitrary<Endpoint> = fc.record({ host: fc.constantFrom('127.0.0.1', '::1', 'fe80::1', 'mrim.mail.ru'), port: fc.nat({ max: 65535 }) }).map(plain);
const bytesArb = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
const timeArb = fc.integer({ min: 0, max: Date.UTC(2100, 0, 1) });
const dirArb = fc.constantFrom('c2s' as const, 's2c' as const);
const MINORS = [8, 14, 21, 23];

/** A frame as a reader makes it: decoded from its bytes with the layout of `minor`; a generated packet or any bytes. */
const frameArb = fc.constantFrom(...MINORS).chain((minor) =>
  fc.record({
    minor: fc.constant(minor),
    raw: fc.oneof(
      fc.tuple(anyPacketArbitrary(PACKETS, minor), fc.nat({ max: 0xffff })).map(([p, seq]) => encodePacket(p.def.code, p.fields, { proto: `1.${minor}`, seq, dir: p.dir })),
      bytesArb,
    ),
    index: fc.nat(),
    replyTo: fc.option(fc.record({ type: fc.constantFrom('HELLO', 'LOGIN2'), seq: fc.nat(), index: fc.nat(), latencyMs: fc.double({ min: 0, max: 1e6, noNaN: true }) }, { requiredKeys: ['type', 'seq', 'index'] }).map(plain), { nil: undefined }),
    sameRead: fc.option(fc.record({ position: fc.nat(), frames: fc.nat() }).map(plain), { nil: undefined }),
  }),
);

/** Any session event: frames (large and small), garbage, SOCKS messages, redirects, TLS and compressed bytes. */
const sessionEventArb = (login: string | undefined): fc.Arbitrary<SessionEvent> =>
  fc.record({ dir: dirArb, offset: fc.nat(), time: timeArb }).chain((base) =>
    fc.oneof(
      frameArb.map(({ minor, raw, index, replyTo, sameRead }): SessionEvent => ({
        kind: 'frame', ...base, index, raw, frame: decodeFrame(raw, { dir: base.dir, minor }),
        ...(replyTo ? { replyTo } : {}), ...(login !== undefined ? { login } : {}), ...(sameRead ? { sameRead } : {}),
      })),
      fc.record({ bytes: bytesArb, reason: fc.string(), skipped: fc.nat() }).map(({ bytes, reason, skipped }): SessionEvent => ({ kind: 'garbage', ...base, bytes, reason, ...(skipped ? { skipped } : {}) })),
      fc.record({ bytes: bytesArb, user: fc.string(), password: fc.string() }).map(({ bytes, user, password }): SessionEvent => ({ kind: 'socks', ...base, bytes, message: { type: 'auth', user, password } })),
      fc.record({ bytes: bytesArb, text: fc.string(), port: fc.option(fc.nat({ max: 65535 }), { nil: undefined }) }).map(({ bytes, text, port }): SessionEvent => ({
        kind: 'redirect', ...base, bytes, text, ...(port !== undefined ? { address: `127.0.0.1:${port}`, host: '127.0.0.1', port } : {}),
      })),
      fc.record({ kind: fc.constantFrom('tls' as const, 'compressed' as const), bytes: bytesArb, start: fc.boolean() }).map((e): SessionEvent => ({ ...e, ...base })),
    ),
  );

const tapEventArb: fc.Arbitrary<TapEvent> = fc
  .record({ conn: fc.nat(), client: endpointArb, server: fc.option(endpointArb, { nil: undefined }), login: fc.option(fc.string(), { nil: undefined }) })
  .chain(({ conn, client, server, login }) =>
    sessionEventArb(login).map((event) => ({ conn, client, ...(server ? { server } : {}), ...(login !== undefined ? { login } : {}), event })),
  );

describe('capture lines, version 2', () => {
  it('read back as the same events as version 1 lines do, for every kind of event', () => {
    for (const ev of session()) assert.deepStrictEqual(v2(ev, true), roundTrip(ev, true), captureLine(ev, true));
    for (const ev of session()) assert.deepStrictEqual(v2(ev, false), roundTrip(ev, false), captureLine(ev, false));
  });

  it('property: any event → line → the same event (bytes whole, frames decoded again from them)', () => {
    fc.assert(
      fc.property(tapEventArb, (ev) => {
        // A SOCKS password is masked unless shown; everything else comes back as it was.
        assert.deepStrictEqual(v2(ev, true), ev);
        assert.deepStrictEqual(v2(ev, true), roundTrip(ev, true));
        const masked = v2(ev, false);
        assert.deepStrictEqual(ev.event.kind === 'socks' ? { ...masked, event: ev.event } : masked, ev);
      }),
      { numRuns: 300 },
    );
  });

  it('in parts, make the same line (bytes as base64); only the fields part of a frame carries text beyond ASCII that the event does not', () => {
    const ascii = (s: string) => /^[\x00-\x7f]*$/.test(s);
    const text = (p: LinePart) => (typeof p === 'string' ? p : p.toString('base64'));
    const joined = (parts: LinePart[]) => parts.map(text).join('');
    for (const ev of session()) {
      for (const showSecrets of [true, false]) {
        const parts = captureLineParts(ev, showSecrets);
        assert.equal(joined(parts), captureLine(ev, showSecrets));
        // Garbage's and TLS records' bytes are a part of their own, never text; a frame's when it is large.
        const bytes = 'raw' in ev.event ? (ev.event.raw.length > INLINE_RAW_MAX ? ev.event.raw : undefined) : ['garbage', 'tls', 'compressed'].includes(ev.event.kind) ? (ev.event as { bytes: Buffer }).bytes : undefined;
        assert.deepEqual(parts.filter((p) => typeof p !== 'string'), bytes ? [bytes] : []);
        if (ev.event.kind === 'frame' && !ev.login && !ev.event.frame.warnings.length) assert.ok(parts.every((p, i) => i === 1 || ascii(text(p))), joined(parts));
      }
    }
    fc.assert(fc.property(tapEventArb, (ev) => assert.equal(joined(captureLineParts(ev, false)), captureLine(ev, false))), { numRuns: 100 });
    // A small frame's line without fields is one string; a large frame's bytes are a part of their own.
    const login = session().find((e) => e.event.kind === 'frame' && e.event.frame.type === 'LOGIN2')!;
    assert.equal(captureLineParts(login, false, false).length, 1);
    const raw = encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'Ы'.repeat(INLINE_RAW_MAX / 2), rtf: ' ' }, { proto: '1.21', seq: 9 });
    const large = { ...login, event: { kind: 'frame', dir: 'c2s', offset: 0, time: T0, index: 9, raw, frame: decodeFrame(raw, { dir: 'c2s', minor: 21 }) } } as TapEvent;
    const parts = captureLineParts(large, false);
    assert.deepEqual(parts.filter((p) => typeof p !== 'string'), [raw]);
    assert.equal(joined(parts), captureLine(large, false));
  });

  it('keep bytes in base64, the fields of small frames (secrets masked) and no fields for large ones', () => {
    const login = session().find((e) => e.event.kind === 'frame' && e.event.frame.type === 'LOGIN2')!;
    const stored = JSON.parse(captureLine(login, false)) as { fields: Record<string, unknown>; raw64: string; raw?: string };
    assert.equal(stored.fields.password, MASK);
    assert.ok(Buffer.from(stored.raw64, 'base64').includes('hunter2'));
    assert.equal(stored.raw, undefined);
    const text = 'Ы'.repeat(FIELDS_MAX);
    const big = { ...login, event: { kind: 'frame', dir: 'c2s', offset: 0, time: T0, index: 9, raw: encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text, rtf: ' ' }, { proto: '1.21', seq: 9 }) } } as TapEvent;
    if (big.event.kind === 'frame') big.event.frame = decodeFrame(big.event.raw, { dir: 'c2s', minor: 21 });
    const line = JSON.parse(captureLine(big, false)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(line), ['conn', 'kind', 'dir', 'offset', 'time', 'index', 'seq', 'type', 'raw64', 'client', 'server', 'login', 'minor']);
    assert.equal(line.type, 'MESSAGE');
    const back = recordToTapEvent(line);
    assert.ok(back.event.kind === 'frame' && back.event.frame.fields.text === text);
  });

  it('times: milliseconds as Date keeps them, across seconds', () => {
    const ev = session().find((e) => e.event.kind === 'garbage')!;
    for (const t of [0, 999, 1000, 1001.7, T0, T0 + 59_999, Date.UTC(2099, 11, 31, 23, 59, 59, 9)]) {
      const line = JSON.parse(captureLine({ ...ev, event: { ...ev.event, time: t } } as TapEvent, false)) as { time: string };
      assert.equal(line.time, new Date(t).toISOString());
    }
  });

  it("a no-reply event's line, made as a string, is the line its JSON object makes", () => {
    const noReplyArb = fc.record({
      conn: fc.nat(),
      client: endpointArb,
      server: fc.option(endpointArb, { nil: undefined }),
      login: fc.option(fc.string(), { nil: undefined }),
      time: fc.double({ min: 0, max: Date.UTC(2100, 0, 1), noNaN: true }),
      dir: dirArb,
      request: fc.record({ type: fc.string(), seq: fc.nat(), index: fc.nat(), time: fc.double({ min: 0, max: Date.UTC(2100, 0, 1), noNaN: true }) }, { requiredKeys: ['type', 'seq', 'index'] }).map(plain),
      expected: fc.array(fc.string(), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(noReplyArb, ({ conn, client, server, login, time, dir, request, expected }) => {
        const ev: TapEvent = { conn, client, ...(server ? { server } : {}), ...(login !== undefined ? { login } : {}), event: { kind: 'no-reply', time, dir, request, expected } };
        assert.equal(captureLine(ev, false), JSON.stringify(tapEventToJson(ev)));
        assert.deepStrictEqual(v2(ev, false), { ...ev, event: { ...ev.event, time: Math.trunc(time), request: { ...request, ...(request.time !== undefined ? { time: Math.trunc(request.time) } : {}) } } });
      }),
      { numRuns: 300 },
    );
  });

  it('refuse bytes that are not base64, with the reason', () => {
    const good = JSON.parse(captureLine(session().find((e) => e.event.kind === 'tls')!, false)) as Record<string, unknown>;
    assert.throws(() => recordToTapEvent({ ...good, bytes64: 'ab c' }), /bytes64 is not base64/);
    assert.throws(() => recordToTapEvent({ ...good, bytes64: 'abc' }), /bytes64 is not base64/);
    assert.throws(() => recordToTapEvent({ ...good, bytes64: 'ab*=' }), /bytes64 is not base64/);
  });
});

// Server replay's decisions without sockets: which recorded session a live client gets, what goes out
// when (replies on their request with its seq, unsolicited frames in order or after the timeout), and
// how the live client's frames are judged.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFrame, encodePacket, type DecodedFrame } from '../../src/protocol/codec.js';
import type { Fields } from '../../src/protocol/fields.js';
import { headerField, parseProto } from '../../src/protocol/header.js';
import type { PacketName } from '../../src/protocol/packets/index.js';
import { Comparer } from '../../src/replay/compare.js';
import type { RecordedConnection } from '../../src/replay/recording.js';
import { rewriteServerFrame } from '../../src/replay/rewrite.js';
import { ServedSession, SessionPool, type Outgoing } from '../../src/replay/server-script.js';
import { recordingOf, type Line } from '../helpers/recording-builder.js';

const opts = { timing: 'step' as const, timeoutMs: 1000, comparer: new Comparer(), tls: false };
const V121 = parseProto('1.21');

const fromClient = (type: PacketName, fields: Fields = {}, seq = 1, proto = '1.21'): DecodedFrame =>
  decodeFrame(encodePacket(type, fields as never, { proto, seq, dir: 'c2s' }), { dir: 'c2s' });

const shown = (out: Outgoing[]) => out.map((o) => `${o.kind === 'recorded' ? o.frame.type : `${o.type}*`}/${o.seq}`);

/** One account's session: login, contact list, a message it answers, one it sends. */
const session = (conn: number, login: string): Line[] => [
  { conn, dir: 'c2s', type: 'HELLO' },
  { conn, dir: 's2c', type: 'HELLO_ACK', fields: { pingPeriod: 30 }, answers: 0 },
  { conn, dir: 'c2s', type: 'LOGIN2', fields: { login, password: 'pw', status: 1 } },
  { conn, dir: 's2c', type: 'LOGIN_ACK', answers: 2 },
  { conn, dir: 's2c', type: 'CONTACT_LIST2', fields: { status: 0, groupCount: 0, groupMask: 'us', contactMask: 'uussuu', groups: [], contacts: [] } },
  { conn, dir: 'c2s', type: 'CHANGE_STATUS', fields: { status: 2 } },
  { conn, dir: 's2c', type: 'MESSAGE_ACK', fields: { msgId: 41, flags: 0, from: 'bob@mail.ru', text: 'Привет' } },
  { conn, dir: 'c2s', type: 'MESSAGE_RECV', fields: { from: 'bob@mail.ru', msgId: 41 } },
];

function two(): RecordedConnection[] {
  const a = session(1, 'alice@mail.ru');
  const b = session(2, 'bob@mail.ru').map((l) => (l.answers !== undefined ? { ...l, answers: l.answers + a.length } : l));
  return recordingOf([...a, ...b]).connections;
}

describe('ServedSession', () => {
  it('plays the session of the account that logs in; replies carry the live seq', () => {
    const served = new ServedSession(new SessionPool(two()), opts, 1, '127.0.0.1:5000');
    assert.deepEqual(served.pump(0).send, [], 'nothing before the client speaks');
    served.receive(fromClient('HELLO', {}, 7), undefined, V121, 0);
    assert.deepEqual(shown(served.pump(0).send), ['HELLO_ACK/7']);
    served.receive(fromClient('LOGIN2', { login: 'bob@mail.ru', password: 'other', status: 1 }, 8), undefined, V121, 0);
    assert.equal(served.playing.login, 'bob@mail.ru');
    // Up to the CHANGE_STATUS the recorded bob sent next.
    const r = served.pump(0);
    assert.deepEqual(shown(r.send), ['LOGIN_ACK/8', 'CONTACT_LIST2/1']);
    assert.equal(r.wakeAt, 1000);
  });

  it('an unsolicited frame waits for the client frames recorded before it, at most the timeout; their absence is reported', () => {
    const served = new ServedSession(new SessionPool(two()), opts, 1, 'x');
    served.receive(fromClient('HELLO'), undefined, V121, 0);
    served.receive(fromClient('LOGIN2', { login: 'alice@mail.ru', password: 'pw', status: 1 }, 2), undefined, V121, 0);
    served.pump(0);
    // No CHANGE_STATUS: bob's message goes after the timeout all the same.
    assert.deepEqual(served.pump(999).send, []);
    const late = served.pump(1000);
    assert.deepEqual(shown(late.send), ['MESSAGE_ACK/2'], 'unsolicited: the recorded server\'s own numbering');
    assert.equal(late.close, false, 'the recorded client closed: the live one decides when');
    served.receive(fromClient('MESSAGE_RECV', { from: 'bob@mail.ru', msgId: 41 }, 3), undefined, V121, 1001);
    served.closed();
    const v = served.report().rows.map((r) => `${r.dir === 'conn' ? '' : r.dir === 'c2s' ? 'C ' : 'S '}${r.what} ${r.verdict}`);
    assert.deepEqual(v, ['C HELLO match', 'S HELLO_ACK sent', 'C LOGIN2 match', 'S LOGIN_ACK sent', 'S CONTACT_LIST2 sent', 'C CHANGE_STATUS missing', 'S MESSAGE_ACK sent', 'C MESSAGE_RECV match', 'close match']);
  });

  it('a reply held back for a request that comes late goes out when it comes', () => {
    const lines: Line[] = [
      { conn: 1, dir: 'c2s', type: 'LOGIN2', fields: { login: 'a@mail.ru', password: 'pw', status: 1 } },
      { conn: 1, dir: 's2c', type: 'LOGIN_ACK', answers: 0 },
      { conn: 1, dir: 'c2s', type: 'WP_REQUEST', fields: { criteria: [{ field: 0, value: 'bob' }] } },
      { conn: 1, dir: 's2c', type: 'ANKETA_INFO', fields: { status: 1, maxRows: 1, serverTime: 5, columns: ['Username'], rows: [{ Username: 'bob' }] }, answers: 2 },
      { conn: 1, dir: 's2c', type: 'MAILBOX_STATUS', fields: { unread: 3 } },
    ];
    const served = new ServedSession(new SessionPool(recordingOf(lines).connections), opts, 1, 'x');
    served.receive(fromClient('LOGIN2', { login: 'a@mail.ru', password: 'pw', status: 1 }), undefined, V121, 0);
    assert.deepEqual(shown(served.pump(0).send), ['LOGIN_ACK/1']);
    assert.deepEqual(shown(served.pump(1000).send), ['MAILBOX_STATUS/1'], 'no WP_REQUEST within the timeout: the mailbox status goes on, the answer waits');
    served.receive(fromClient('WP_REQUEST', { criteria: [{ field: 0, value: 'bob' }] }, 9), undefined, V121, 2000);
    assert.deepEqual(shown(served.pump(2000).send), ['ANKETA_INFO/9']);
    assert.equal(served.report().rows.find((r) => r.what === 'WP_REQUEST')!.verdict, 'match', 'late, but it came');
  });

  it('an account the capture does not have: LOGIN_REJ, then the connection is closed', () => {
    const served = new ServedSession(new SessionPool(two()), opts, 1, 'x');
    served.receive(fromClient('LOGIN2', { login: 'dave@mail.ru', password: 'pw', status: 1 }, 4), undefined, V121, 0);
    const r = served.pump(0);
    assert.deepEqual(shown(r.send), ['LOGIN_REJ*/4']);
    assert.equal(r.close, true);
    const out = r.send[0];
    assert.ok(out.kind === 'generated' && out.fields.reason === 'Invalid login');
  });

  it('a request the recording has no answer for gets the table\'s error reply', () => {
    const served = new ServedSession(new SessionPool(two()), opts, 1, 'x');
    served.receive(fromClient('LOGIN2', { login: 'alice@mail.ru', password: 'pw', status: 1 }), undefined, V121, 0);
    served.pump(0);
    served.receive(fromClient('SMS', { flags: 0, phone: '+7', text: 'hi' }, 5), undefined, V121, 0);
    assert.deepEqual(shown(served.pump(0).send), ['SMS_ACK*/5']);
    assert.match(served.report().rows.find((r) => r.what === 'SMS')!.note!, /answered SMS_ACK, as a server without it/);
  });

  it('a client of another version gets the frames in its version', () => {
    const served = new ServedSession(new SessionPool(two()), opts, 1, 'x');
    const v18 = parseProto('1.8');
    served.receive(fromClient('HELLO', {}, 1, '1.8'), undefined, v18, 0);
    const [ack] = served.pump(0).send;
    assert.ok(ack.kind === 'recorded');
    assert.equal(headerField(ack.raw, 'proto'), v18);
    assert.equal(decodeFrame(ack.raw, { dir: 's2c' }).fields.pingPeriod, 30);
  });

  it('two clients of one account get one recorded session each while there are', () => {
    const recorded = recordingOf([...session(1, 'alice@mail.ru'), ...session(2, 'alice@mail.ru').map((l) => (l.answers !== undefined ? { ...l, answers: l.answers + 8 } : l))]).connections;
    const pool = new SessionPool(recorded);
    const login = (s: ServedSession) => s.receive(fromClient('LOGIN2', { login: 'alice@mail.ru', password: 'pw', status: 1 }), undefined, V121, 0);
    const first = new ServedSession(pool, opts, 1, 'x');
    const second = new ServedSession(pool, opts, 2, 'y');
    login(first);
    login(second);
    assert.deepEqual([first.playing.conn, second.playing.conn], [1, 2]);
  });

  it('a reply by field takes the live request\'s id (a file transfer answered by id_request)', () => {
    const lines: Line[] = [
      { conn: 1, dir: 'c2s', type: 'FILE_TRANSFER', fields: { peer: 'bob@mail.ru', idRequest: 5, totalSize: 3 } },
      { conn: 1, dir: 's2c', type: 'FILE_TRANSFER_ACK', fields: { status: 0, peer: 'bob@mail.ru', idRequest: 5 } },
    ];
    const [rec] = recordingOf(lines).connections;
    assert.equal(rec.frames[1].answers, rec.frames[0], 'the capture links the reply to its request');
    const out = rewriteServerFrame(rec.frames[1], { request: fromClient('FILE_TRANSFER', { peer: 'bob@mail.ru', idRequest: 9, totalSize: 3 }, 4) });
    assert.equal(decodeFrame(out.raw, { dir: 's2c' }).fields.idRequest, 9);
    assert.deepEqual(out.changes, ["idRequest 5 → 9 (the live client's)"]);
  });

  it('a recorded frame the encoder cannot write again (for another version) goes out as recorded, and says why', () => {
    const lines: Line[] = [{ conn: 1, dir: 's2c', type: 'USER_BLOG_STATUS', fields: { flags: 0, user: 'bob@mail.ru', postId: '5', time: 1, text: 'hi' } }];
    const [rec] = recordingOf(lines).connections;
    // A damaged value, as a hand-edited capture could hold.
    const frame = rec.frames[0];
    frame.frame = { ...frame.frame, fields: { ...frame.frame.fields, postId: 'not a number' } };
    const out = rewriteServerFrame(frame, { proto: parseProto('1.8') });
    assert.equal(out.raw, frame.raw);
    assert.match(out.changes[0], /^not rewritten \(.*\): sent as recorded$/);
  });
});


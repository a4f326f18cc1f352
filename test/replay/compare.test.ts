// What a replay compares: volatile values from the packet table (times, secrets, reply ids), the
// documented defaults, --ignore patterns, and how differences are named.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFrame, encodePacket, type DecodedFrame } from '../../src/protocol/codec.js';
import type { Fields } from '../../src/protocol/fields.js';
import { formatOfflineMessage } from '../../src/protocol/formats.js';
import type { PacketName } from '../../src/protocol/packets/index.js';
import { Comparer, DEFAULT_IGNORE, IgnoreError, parseIgnore } from '../../src/replay/compare.js';

function frame(type: PacketName, fields: Fields, proto = '1.21', dir: 'c2s' | 's2c' = 's2c'): DecodedFrame {
  return decodeFrame(encodePacket(type, fields as never, { proto, seq: 1, dir }), { dir });
}

const contact = (email: string, extra: Fields = {}) => ({ flags: 0, group: 0, email, nick: email.split('@')[0], serverFlags: 0, status: 1, ...extra });
const list = (contacts: Fields[]) =>
  frame('CONTACT_LIST2', { status: 0, groupCount: 1, groupMask: 'us', contactMask: 'uussuuu', groups: [{ flags: 0, name: 'Друзья' }], contacts });

describe('Comparer: what differs between a recorded frame and a live one', () => {
  const c = new Comparer();

  it('leaves out what the table marks volatile: times, secrets, the ids replies are matched by', () => {
    assert.deepEqual(c.diff(frame('HELLO_ACK', { pingPeriod: 30, serverTime: 1000, serverTimeNs: 5 }), frame('HELLO_ACK', { pingPeriod: 30, serverTime: 2000, serverTimeNs: 9 })), []);
    assert.deepEqual(c.diff(frame('MPOP_SESSION', { status: 1, session: 'aaaa' }), frame('MPOP_SESSION', { status: 1, session: 'bbbb' })), []);
    assert.deepEqual(c.diff(frame('MESSAGE_ACK', { msgId: 1, flags: 0, from: 'a@mail.ru', text: 'hi' }), frame('MESSAGE_ACK', { msgId: 7, flags: 0, from: 'a@mail.ru', text: 'hi' })), []);
    assert.deepEqual(c.diff(frame('OFFLINE_MESSAGE_ACK', { uidl: '0102030405060708', message: 'x' }), frame('OFFLINE_MESSAGE_ACK', { uidl: '0807060504030201', message: 'x' })), []);
    // ...nested too: the blog time of each contact record (CONTACT_LIST2 columns by mask).
    const withBlog = (t: number) =>
      frame('CONTACT_LIST2', { status: 0, groupCount: 0, groupMask: 'us', contactMask: 'uussuussssusuuusssssu', groups: [], contacts: [{ email: 'a@mail.ru', blogTime: t }] }, '1.23');
    assert.deepEqual(c.diff(withBlog(1), withBlog(2)), []);
  });

  it('leaves out the documented defaults: the client address in USER_INFO, the storing time of an offline message', () => {
    const info = (endpoint: string) => frame('USER_INFO', { info: [{ key: 'MRIM.NICKNAME', value: 'Алиса' }, { key: 'client.endpoint', value: endpoint }] });
    assert.deepEqual(c.diff(info('127.0.0.1:1'), info('127.0.0.1:2')), []);
    const offline = (date: string) =>
      frame('OFFLINE_MESSAGE_ACK', { uidl: '0102030405060708', message: formatOfflineMessage({ from: 'a@mail.ru', date: new Date(date), flags: 0, text: 'Привет', unicode: true }) });
    assert.deepEqual(c.diff(offline('2026-01-01T10:00:00Z'), offline('2026-02-02T11:11:11Z')), []);
    const other = frame('OFFLINE_MESSAGE_ACK', { uidl: '01', message: formatOfflineMessage({ from: 'a@mail.ru', date: new Date(), flags: 0, text: 'Пока', unicode: true }) });
    assert.ok(c.diff(offline('2026-01-01T10:00:00Z'), other).some((d) => /text/.test(d.path)), 'the text itself is compared');
    for (const p of DEFAULT_IGNORE) assert.doesNotThrow(() => parseIgnore([p]), p);
  });

  it('names a changed packet type, changed fields with their constants, and an absent record once', () => {
    const rej = c.diff(frame('LOGIN_ACK', {}), frame('LOGIN_REJ', { reason: 'Invalid login' }));
    assert.deepEqual(rej, [{ path: 'type', expected: 'LOGIN_ACK', actual: 'LOGIN_REJ' }, { path: 'reason', actual: '"Invalid login"' }]);
    assert.deepEqual(c.diff(frame('MESSAGE_STATUS', { status: 0 }), frame('MESSAGE_STATUS', { status: 0x8001 })), [
      { path: 'status', expected: 'DELIVERED (0x0)', actual: 'REJECTED_NOUSER (0x8001)' },
    ]);
    const diffs = c.diff(list([contact('b@mail.ru'), contact('c@list.ru')]), list([contact('b@mail.ru', { status: 0 })]));
    assert.deepEqual(diffs.map((d) => d.path), ['contacts.0.status', 'contacts.1']);
    assert.match(diffs[1].expected!, /^\{flags=0 group=0 email="c@list\.ru" nick="c" .*\}$/);
    assert.equal(diffs[1].actual, undefined);
  });

  it('keys {key, value} lists by their keys: an added pair is one difference, the others do not shift', () => {
    const info = (pairs: [string, string][]) => frame('USER_INFO', { info: pairs.map(([key, value]) => ({ key, value })) });
    const diffs = c.diff(info([['MRIM.NICKNAME', 'Алиса'], ['MESSAGES.TOTAL', '0']]), info([['micblog.status.id', '0'], ['MRIM.NICKNAME', 'Алиса'], ['MESSAGES.TOTAL', '0']]));
    assert.deepEqual(diffs, [{ path: 'info.micblog.status.id', actual: '"0"' }]);
  });

  it('--ignore: a field name anywhere, a path, a packet-scoped path, wildcards; unused patterns are told', () => {
    const a = list([contact('b@mail.ru', { nick: 'Боб', status: 1 })]);
    const b = list([contact('b@mail.ru', { nick: 'bob', status: 2 })]);
    assert.equal(c.diff(a, b).length, 2);
    assert.deepEqual(new Comparer(['nick', 'status']).diff(a, b), []);
    assert.deepEqual(new Comparer(['contacts.*.nick', 'CONTACT_LIST2.contacts.0.status']).diff(a, b), []);
    assert.deepEqual(new Comparer(['CONTACT_*.nick', 'USER_STATUS.status']).diff(a, b).map((d) => d.path), ['contacts.0.status'], 'scoped to other packets: still compared');
    const info = (nick: string) => frame('USER_INFO', { info: [{ key: 'MRIM.NICKNAME', value: nick }] });
    const byKey = new Comparer(['MRIM.NICKNAME', 'typo']);
    assert.deepEqual(byKey.diff(info('Алиса'), info('alice')), [], 'MRIM is no packet: the pattern is a USER_INFO key');
    assert.deepEqual(byKey.unused, ['typo']);
  });

  it('parseIgnore: comma lists, and a clear error for what is no pattern', () => {
    assert.deepEqual(parseIgnore(['a,b', ' c ']), ['a', 'b', 'c']);
    assert.throws(() => parseIgnore(['USER_STATUS']), (e: Error) => e instanceof IgnoreError && /names packets but no field/.test(e.message));
    assert.throws(() => parseIgnore(['a..b']), IgnoreError);
    assert.throws(() => parseIgnore(['.a']), IgnoreError);
  });

  it('summary: the compared fields in short, volatile ones left out', () => {
    const s = c.summary(frame('MESSAGE_ACK', { msgId: 9, flags: 0, from: 'bob@mail.ru', text: 'Привет, как дела? '.repeat(5) }));
    assert.match(s, /^flags=0 from="bob@mail\.ru" … ?$|^flags=0 from="bob@mail\.ru" text=/);
    assert.doesNotMatch(s, /msgId/);
    assert.ok(s.length <= 74);
  });
});

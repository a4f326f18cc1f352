/** The field tree of a frame: layout order, described values, masked secrets, and the bytes of every field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFrame, encodePacket } from '../../src/protocol/codec.js';
import type { Direction } from '../../src/protocol/fields.js';
import { frameSummary, frameTree, type FieldNode } from '../../src/render/tree.js';

function decoded(raw: Buffer, dir: Direction) {
  return { raw, frame: decodeFrame(raw, { dir }) };
}

const byName = (nodes: FieldNode[], name: string) => {
  const n = nodes.find((x) => x.name === name);
  assert.ok(n, `no node ${name} in ${nodes.map((x) => x.name)}`);
  return n;
};

/** The bytes an LPS field's span covers, read as its text (after the 4-byte length). */
const lpsText = (raw: Buffer, span: [number, number] | undefined) => raw.subarray(span![0] + 4, span![1]).toString('latin1');

describe('frameTree', () => {
  const { raw, frame } = decoded(encodePacket('LOGIN2', { login: 'alice@mail.ru', password: 'hunter2', status: 1, description: 'pidgin-mra' }, { proto: '1.8', seq: 2 }), 'c2s');

  it('names the header fields with their bytes', () => {
    const { header } = frameTree(raw, frame);
    assert.deepEqual(header.map((n) => n.name), ['magic', 'proto', 'seq', 'msg', 'dlen', 'from', 'fromPort', 'reserved']);
    assert.deepEqual(byName(header, 'magic'), { name: 'magic', text: '0xdeadbeef', span: [0, 4] });
    assert.equal(byName(header, 'proto').text, '1.8 (0x00010008)');
    assert.equal(byName(header, 'msg').text, 'LOGIN2 (0x1038)');
    assert.deepEqual(byName(header, 'reserved').span, [28, 44]);
  });

  it('lists the fields in layout order with the bytes each was read from, secrets masked unless asked', () => {
    const { fields } = frameTree(raw, frame);
    assert.deepEqual(fields.map((n) => n.name), ['login', 'password', 'status', 'description']);
    const login = byName(fields, 'login');
    assert.equal(login.text, 'alice@mail.ru');
    assert.equal(lpsText(raw, login.span), 'alice@mail.ru');
    assert.equal(byName(fields, 'status').text, 'ONLINE (0x1)');
    assert.equal(byName(fields, 'password').text, '******** (plaintext)');
    assert.equal(lpsText(raw, byName(fields, 'password').span), 'hunter2', 'the span still points at the bytes (the caller masks the hexdump)');
    assert.equal(byName(frameTree(raw, frame, { showSecrets: true }).fields, 'password').text, 'hunter2');
  });

  it('gives list items their own bytes, and says when only the enclosing field\'s are known', () => {
    const info = decoded(encodePacket('USER_INFO', { info: [{ key: 'MRIM.NICKNAME', value: 'Alice' }, { key: 'MESSAGES.TOTAL', value: '3' }] }, { proto: '1.21' }), 's2c');
    const list = byName(frameTree(info.raw, info.frame).fields, 'info');
    assert.equal(list.count, 2);
    const [first] = list.children!;
    assert.equal(first.name, '[0]');
    assert.equal(first.within, true);
    assert.deepEqual(first.span, list.span);
    const key = byName(first.children!, 'key');
    assert.equal(key.text, 'MRIM.NICKNAME');
    assert.equal(key.within, undefined);
    assert.equal(lpsText(info.raw, key.span), 'MRIM.NICKNAME');

    // Contact list records come from masks: their fields have no spans of their own, only the records'.
    const cl = decoded(
      encodePacket('CONTACT_LIST2', { status: 0, groups: [{ flags: 0, name: 'Friends' }], contacts: [{ flags: 0, group: 0, email: 'bob@mail.ru', nick: 'Bob', serverFlags: 0, status: 1 }] }, { proto: '1.8' }),
      's2c',
    );
    const contacts = byName(frameTree(cl.raw, cl.frame).fields, 'contacts');
    const email = byName(contacts.children![0].children!, 'email');
    assert.equal(email.text, 'bob@mail.ru');
    assert.equal(email.within, true);
    assert.ok(cl.raw.subarray(email.span![0], email.span![1]).includes(Buffer.from('bob@mail.ru')));
  });

  it('ends with the trailing bytes and marks decode-only annotations', () => {
    const withTail = Buffer.concat([encodePacket('HELLO_ACK', { pingPeriod: 30 }, { proto: '1.8' }), Buffer.from('abcd', 'hex')]);
    withTail.writeUInt32LE(withTail.length - 44, 16);
    const t = decoded(withTail, 's2c');
    const trailing = byName(frameTree(t.raw, t.frame).fields, 'trailing');
    assert.deepEqual(trailing, { name: 'trailing', text: 'abcd', span: [withTail.length - 2, withTail.length] });

    const offline = decoded(
      encodePacket('OFFLINE_MESSAGE_ACK', { uidl: '0102030405060708', message: 'From: bob@mail.ru\nDate: Wed, 25 Nov 2026 21:04:54 +0300\nX-MRIM-Flags: 00000000\n\nhi' }, { proto: '1.21' }),
      's2c',
    );
    const nodes = frameTree(offline.raw, offline.frame).fields;
    assert.ok(nodes.some((n) => n.derived && n.span === undefined), JSON.stringify(nodes.map((n) => [n.name, n.derived])));
    assert.ok(!byName(nodes, 'message').derived);
  });
});

describe('frameSummary', () => {
  it('puts the fields on one line: constants named, secrets masked, records counted, long values cut', () => {
    const login = decodeFrame(encodePacket('LOGIN2', { login: 'alice@mail.ru', password: 'hunter2', status: 2, description: 'x' }, { proto: '1.8' }), { dir: 'c2s' });
    assert.equal(frameSummary(login), 'login=alice@mail.ru password=******** (plaintext) status=AWAY (0x2) description=x');
    assert.match(frameSummary(login, { showSecrets: true }), /password=hunter2 /);
    const info = decodeFrame(encodePacket('USER_INFO', { info: [{ key: 'a', value: 'b' }] }, { proto: '1.21' }), { dir: 's2c' });
    assert.equal(frameSummary(info), 'info=(1)');
    const long = decodeFrame(encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'x'.repeat(500), rtf: '' }, { proto: '1.8' }), { dir: 'c2s' });
    assert.match(frameSummary(long), /text=x{80}… \(500 chars\)/);
  });
});

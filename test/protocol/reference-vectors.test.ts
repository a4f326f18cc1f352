// Byte-exact examples from the protocol reference (/work/shared/mrim-protocol.md): every example the
// reference spells out in bytes is encoded to exactly those bytes and decodes back to its meaning.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PayloadReader, PayloadWriter } from '../../src/protocol/buffer.js';
import { decodeFrame, encodePacket, reencode } from '../../src/protocol/codec.js';
import type { FieldContext } from '../../src/protocol/fields.js';
import { clpsType, fixedEncoding, textType } from '../../src/protocol/text-fields.js';
import { parseOfflineMessage } from '../../src/protocol/formats.js';

/** `"ef be ad de …"` (spaces, newlines and `|` separators allowed) → bytes. */
const hex = (text: string) => Buffer.from(text.replace(/[\s|]+/g, ''), 'hex');
const ascii = (text: string) => Buffer.from(text, 'latin1');
const lps = (content: Buffer) => Buffer.concat([u32(content.length), content]);
function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

function ctx(minor = 23): FieldContext {
  return { minor, dir: 'c2s', fields: {}, root: {}, enc: {}, warnings: [], notes: [] };
}

describe('§3.1 the 44-byte header', () => {
  it('HELLO from a 1.23 client with seq 1', () => {
    const expected = hex(`
      ef be ad de 17 00 01 00 01 00 00 00 01 10 00 00
      00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
      00 00 00 00 00 00 00 00 00 00 00 00`);
    assert.equal(encodePacket('HELLO', {}, { proto: '1.23', seq: 1 }).toString('hex'), expected.toString('hex'));
    const d = decodeFrame(expected, { dir: 'c2s' });
    assert.deepEqual(
      { type: d.type, proto: d.proto, seq: d.seq, dlen: d.dlen, fields: d.fields, warnings: d.warnings },
      { type: 'HELLO', proto: '1.23', seq: 1, dlen: 0, fields: {}, warnings: [] },
    );
  });

  it('HELLO_ACK (pre-1.20 form) with ping period 30', () => {
    const frame = encodePacket('HELLO_ACK', { pingPeriod: 30 }, { proto: '1.8', seq: 0 });
    assert.equal(frame.length, 48);
    assert.equal(frame.subarray(12, 16).toString('hex'), '02100000', 'msg');
    assert.equal(frame.subarray(16, 20).toString('hex'), '04000000', 'dlen');
    assert.equal(frame.subarray(44).toString('hex'), '1e000000', 'payload');
    const expected = Buffer.concat([hex('efbeadde 08000100 00000000 02100000 04000000'), Buffer.alloc(24), hex('1e000000')]);
    assert.equal(frame.toString('hex'), expected.toString('hex'));
    const d = decodeFrame(frame, { dir: 's2c' });
    assert.deepEqual(d.fields, { pingPeriod: 30 });
    assert.deepEqual(d.warnings, []);
  });
});

describe('§3.4 primitive types', () => {
  it('LPS "ru" is 02 00 00 00 72 75', () => {
    const type = textType(fixedEncoding('cp1251'));
    const w = new PayloadWriter();
    type.encode(w, 'ru', ctx(), 'lang');
    assert.equal(w.finish().toString('hex'), '020000007275');
    assert.equal(type.decode(new PayloadReader(hex('02 00 00 00 72 75')), ctx(), 'lang'), 'ru');
  });

  it('CLPS with the one name "geo-list" (outer length 0x10 = 4 + 4 + 8)', () => {
    const bytes = hex('10 00 00 00 | 01 00 00 00 | 08 00 00 00 67 65 6f 2d 6c 69 73 74');
    const type = clpsType(fixedEncoding('cp1251'));
    const w = new PayloadWriter();
    type.encode(w, ['geo-list'], ctx(), 'uaDataNames');
    assert.equal(w.finish().toString('hex'), bytes.toString('hex'));
    const c = ctx();
    const r = new PayloadReader(bytes);
    assert.deepEqual(type.decode(r, c, 'uaDataNames'), ['geo-list']);
    assert.ok(r.atEnd);
    assert.deepEqual(c.warnings, []);
  });
});

describe('§10.1 CONTACT_LIST2 worked example (1 group, 1 contact, mask uussuussssus, 1.16+)', () => {
  const utf16 = (s: string) => Buffer.from(s, 'utf16le');
  const payload = Buffer.concat([
    hex('00 00 00 00'), // status OK
    hex('01 00 00 00'), // 1 group
    hex('02 00 00 00 75 73'), // group mask "us"
    hex('0c 00 00 00 75 75 73 73 75 75 73 73 73 73 75 73'), // contact mask
    hex('02 02 00 00'), // group flags GROUP|UNICODE_NAME
    hex('0e 00 00 00 47 00 65 00 6e 00 65 00 72 00 61 00 6c 00'), // "General"
    hex('00 00 00 00'), // contact flags
    hex('00 00 00 00'), // group 0
    lps(ascii('friend@mail.ru')),
    hex('04 00 00 00 46 00 72 00'), // nick "Fr"
    hex('00 00 00 00'), // server flags
    hex('01 00 00 00'), // ONLINE
    hex('00 00 00 00'), // phones ""
    lps(ascii('STATUS_ONLINE')),
    hex('00 00 00 00'), // title
    hex('00 00 00 00'), // desc
    hex('ff 03 00 00'), // features
    hex('1e 00 00 00'),
    ascii('client="magent" version="5.10"'),
  ]);
  assert.equal(utf16('General').length, 0x0e);
  const fields = {
    status: 0,
    groupCount: 1,
    groupMask: 'us',
    contactMask: 'uussuussssus',
    groups: [{ flags: 0x202, name: 'General' }],
    contacts: [
      {
        flags: 0,
        group: 0,
        email: 'friend@mail.ru',
        nick: 'Fr',
        serverFlags: 0,
        status: 1,
        phones: '',
        statusUri: 'STATUS_ONLINE',
        statusTitle: '',
        statusDesc: '',
        features: 0x3ff,
        userAgent: 'client="magent" version="5.10"',
      },
    ],
  };

  it('decodes to the group and the contact (id 20 = 20 + index)', () => {
    const frame = Buffer.concat([encodePacket('CONTACT_LIST2', {}, { proto: '1.16' }).subarray(0, 16), u32(payload.length), Buffer.alloc(24), payload]);
    const d = decodeFrame(frame, { dir: 's2c' });
    assert.deepEqual(d.warnings, []);
    assert.deepEqual(d.fields, { ...fields, contacts: [{ ...fields.contacts[0], id: 20 }] });
    assert.equal(reencode(d).toString('hex'), frame.toString('hex'));
  });

  it('encodes the fields to exactly the example bytes', () => {
    const frame = encodePacket('CONTACT_LIST2', fields, { proto: '1.16', seq: 5 });
    assert.equal(frame.subarray(44).toString('hex'), payload.toString('hex'));
    assert.equal(frame.readUInt32LE(16), payload.length);
  });
});

describe('§7.2 LOGIN3 of a real MRA 5.10 / 1.23 (the annotated KOP dump)', () => {
  const login = 'mra510.user1@inbox.ru';
  const md5 = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
  const userAgent = 'client="magent" version="5.10" build="5282"';
  const description = 'MRA 5.10 (build 5282);';
  const stats = [
    { id: 0, type: 2, value: 0x14a2 },
    { id: 1, type: 2, value: 30 },
    { id: 2, type: 2, value: 18 },
    { id: 3, type: 2, value: 0x2efdca58 },
    { id: 5, type: 2, value: 0 },
    { id: 4, type: 2, value: 0xffffffff },
    { id: 0x2c, type: 1, value: '0123456789abcdef0123456789abcdef' },
    { id: 0x45, type: 1, value: '0419' },
  ];
  const fields = { login, password: md5, features: 0xbff, userAgent, lang: 'ru', uaDataNames: ['geo-list'], description, stats };
  const frame = encodePacket('LOGIN3', fields, { proto: '1.23', seq: 3 });
  const payload = frame.subarray(44);

  it('has the dump lengths: login 0x15, user agent 0x2B, description 0x16', () => {
    assert.equal(login.length, 0x15);
    assert.equal(userAgent.length, 0x2b);
    assert.equal(description.length, 0x16);
  });

  it('puts every field at the dump offset', () => {
    const at = (off: number, bytes: Buffer) => assert.equal(payload.subarray(off, off + bytes.length).toString('hex'), bytes.toString('hex'), `offset 0x${off.toString(16)}`);
    at(0x00, lps(ascii(login)));
    at(0x19, lps(hex(md5)));
    at(0x19, hex('10 00 00 00'));
    at(0x2d, hex('ff 0b 00 00'));
    at(0x31, lps(ascii(userAgent)));
    at(0x31, hex('2b 00 00 00'));
    at(0x60, hex('02 00 00 00 72 75'));
    at(0x66, hex('10 00 00 00 01 00 00 00 08 00 00 00 67 65 6f 2d 6c 69 73 74'));
    at(0x7a, lps(ascii(description)));
    at(0x7a, hex('16 00 00 00'));
    // stats: {id 0, type 2, UL 0x14A2 (= build 5282)} {id 1, 2, 30} …
    at(0x94, hex('00 00 00 00 02 a2 14 00 00 | 01 00 00 00 02 1e 00 00 00'));
  });

  it('decodes back to the same fields with no warning (MD5 shown as hex)', () => {
    const d = decodeFrame(frame, { dir: 'c2s' });
    assert.deepEqual(d.warnings, []);
    assert.deepEqual(d.fields, fields);
    assert.deepEqual(d.enc, {});
    assert.equal(d.trailing, undefined);
    assert.equal(reencode(d).toString('hex'), frame.toString('hex'));
  });
});

describe('§19 offline message example', () => {
  const doc = [
    'From: friend@mail.ru',
    'Date: Sat, 01 Sep 2012 12:34:56 +0300',
    'X-MRIM-Flags: 00100000',
    'Content-Type: text/plain; charset=UTF-16LE',
    'Content-Transfer-Encoding: base64',
    '',
    'HwRABDgEMgQ1BEIE',
  ];

  it('HwRABDgEMgQ1BEIE is "Привет" in UTF-16LE', () => {
    assert.equal(Buffer.from('HwRABDgEMgQ1BEIE', 'base64').toString('utf16le'), 'Привет');
    assert.equal(Buffer.from('Привет', 'utf16le').toString('base64'), 'HwRABDgEMgQ1BEIE');
  });

  for (const nl of ['\r\n', '\n']) {
    it(`parses the message with ${nl === '\n' ? 'LF' : 'CRLF'} line endings`, () => {
      const m = parseOfflineMessage(doc.join(nl));
      assert.equal(m.from, 'friend@mail.ru');
      assert.equal(m.date, 'Sat, 01 Sep 2012 12:34:56 +0300');
      assert.equal(m.flags, 0x100000);
      assert.equal(m.text, 'Привет');
      assert.equal(m.lineEnding, nl === '\n' ? 'LF' : 'CRLF');
    });
  }

  it('OFFLINE_MESSAGE_ACK carries it byte-exact and derives the parsed text', () => {
    const message = doc.join('\r\n');
    const frame = encodePacket('OFFLINE_MESSAGE_ACK', { uidl: '0102030405060708', message }, { proto: '1.16', seq: 9 });
    assert.equal(frame.subarray(44).toString('hex'), Buffer.concat([hex('0102030405060708'), lps(ascii(message))]).toString('hex'));
    const d = decodeFrame(frame, { dir: 's2c' });
    assert.deepEqual(d.warnings, []);
    assert.equal(d.fields.message, message);
    assert.equal((d.fields.parsed as { text: string }).text, 'Привет');
    assert.equal(reencode(d).toString('hex'), frame.toString('hex'));
  });
});

// What real third-party peers showed the decoder getting wrong (issue 9), each case built byte by byte
// from the reference's layout — the shapes pidgin-mra 1.8, mrim-prpl 1.22 and a revival server send.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PayloadWriter } from '../../src/protocol/buffer.js';
import { decodeFrame, encodePacket, reencode, type DecodedFrame } from '../../src/protocol/codec.js';
import type { Direction, Fields } from '../../src/protocol/fields.js';
import { packRtf, rtfText } from '../../src/protocol/formats.js';
import { encodeHeader, parseProto } from '../../src/protocol/header.js';
import { packetByName, type PacketName } from '../../src/protocol/packets/index.js';
import { SessionDecoder } from '../../src/protocol/session.js';
import { encodeString } from '../../src/protocol/text.js';
import { renderFrameFields } from '../../src/render/text.js';
import { eventToJson } from '../../src/tap/line.js';

const cp = (s: string) => encodeString(s, 'cp1251');
const u16 = (s: string) => encodeString(s, 'utf16le');
const u8 = (s: string) => Buffer.from(s, 'utf8');

/** A frame of `msg` with the payload written field by field. */
function frame(msg: number, proto: string, write: (w: PayloadWriter) => void, seq = 7): Buffer {
  const w = new PayloadWriter();
  write(w);
  const payload = w.finish();
  return Buffer.concat([encodeHeader({ proto: parseProto(proto), seq, msg, dlen: payload.length }), payload]);
}

function decoded(raw: Buffer, dir: Direction): DecodedFrame {
  const d = decodeFrame(raw, { dir });
  assert.equal(reencode(d).toString('hex'), raw.toString('hex'), 'the frame re-encodes byte for byte');
  return d;
}

const listing = (d: DecodedFrame) => renderFrameFields(d).join('\n');

describe('server→client CHANGE_STATUS has the USER_STATUS layout: the direction decides', () => {
  it('1.8: status and the contact\'s e-mail, no false "truncated"', () => {
    const d = decoded(frame(0x1022, '1.8', (w) => w.ul(2).lps(cp('bob@mail.ru'))), 's2c');
    assert.equal(d.variant, 'contact-short');
    assert.deepEqual(d.fields, { status: 2, user: 'bob@mail.ru' });
    assert.deepEqual(d.warnings, []);
  });

  it('1.22/1.23: x-status, title, description, e-mail, features, user agent — no trailing bytes', () => {
    const raw = frame(0x1022, '1.22', (w) =>
      w.ul(4).lps(cp('status_dnd')).lps(u16('Занят')).lps(u16('на встрече')).lps(cp('bob@mail.ru')).ul(0x13).lps(cp('client="mrim-prpl"')),
    );
    const d = decoded(raw, 's2c');
    assert.equal(d.variant, 'contact-extended');
    assert.deepEqual(d.fields, {
      status: 4,
      statusUri: 'status_dnd',
      statusTitle: 'Занят',
      statusDesc: 'на встрече',
      user: 'bob@mail.ru',
      features: 0x13,
      userAgent: 'client="mrim-prpl"',
    });
    assert.equal(d.trailing, undefined);
    assert.deepEqual(d.warnings, []);
    const encoded = encodePacket('CHANGE_STATUS', d.fields, { proto: '1.22', seq: 7, dir: 's2c' });
    assert.equal(encoded.toString('hex'), raw.toString('hex'), 'the encoder picks the same form by direction');
  });

  it('client→server keeps the client layout (short 1.8, extended 1.22 as mrim-prpl sends it)', () => {
    assert.deepEqual(decoded(frame(0x1022, '1.8', (w) => w.ul(2)), 'c2s').fields, { status: 2 });
    const d = decoded(frame(0x1022, '1.22', (w) => w.ul(4).lps(cp('status_2')).lps(u16('Обедаю')).lps(u16('')).ul(0x13)), 'c2s');
    assert.equal(d.variant, 'extended');
    assert.deepEqual(d.fields, { status: 4, statusUri: 'status_2', statusTitle: 'Обедаю', statusDesc: '', features: 0x13 });
  });
});

describe('WP_REQUEST values are text in the connection\'s encoding', () => {
  const wp = (proto: string, pairs: [number, Buffer][]) => frame(0x1029, proto, (w) => pairs.forEach(([id, v]) => w.ul(id).lps(v)));

  it('a 1.22 client (mrim-prpl) sends every criterion as UTF-16LE: "2" is 32 00, not "2\\u0000"', () => {
    const d = decoded(wp('1.22', [[2, u16('Бо*')], [5, u16('2')], [7, u16('18')], [9, u16('1')]]), 'c2s');
    assert.deepEqual(d.fields.criteria, [
      { field: 2, value: 'Бо*' },
      { field: 5, value: '2' },
      { field: 7, value: '18' },
      { field: 9, value: '1' },
    ]);
    assert.deepEqual(d.warnings, []);
  });

  it('ASCII numbers and address parts (the reference table, MRA, our client) still read as ASCII from 1.16 on', () => {
    const d = decoded(wp('1.21', [[0, cp('bob')], [1, cp('mail.ru')], [2, u16('Бо*')], [5, cp('2')], [9, cp('1')]]), 'c2s');
    assert.deepEqual(
      (d.fields.criteria as { value: string }[]).map((c) => c.value),
      ['bob', 'mail.ru', 'Бо*', '2', '1'],
    );
    assert.deepEqual(d.enc, {}, 'the encoder writes the same: ASCII for all but the names');
  });

  it('1.8: CP1251 throughout', () => {
    const d = decoded(wp('1.8', [[2, cp('Бо*')], [9, cp('1')]]), 'c2s');
    assert.deepEqual(d.fields.criteria, [{ field: 2, value: 'Бо*' }, { field: 9, value: '1' }]);
  });
});

describe('UTF-8 where CP1251 is expected (pidgin-mra, flags 0, a character CP1251 lacks)', () => {
  const message = (text: Buffer) => frame(0x1008, '1.8', (w) => w.ul(0).lps(cp('bob@mail.ru')).lps(text).lps(cp(' ')));

  it('reads the text as UTF-8, says so in a note, re-encodes byte for byte', () => {
    const d = decoded(message(u8('Смотри → туда ✓')), 'c2s');
    assert.equal(d.fields.text, 'Смотри → туда ✓');
    assert.equal(d.enc.text, 'utf8');
    assert.deepEqual(d.warnings, []);
    assert.deepEqual(d.notes, ['"text": UTF-8 where CP1251 was expected (it holds → ✓, which CP1251 lacks): read as UTF-8']);
  });

  it('CP1251 text stays CP1251 without a note, even the rare strings that are valid UTF-8 ("ЕЁ")', () => {
    for (const text of ['Привет, Боб!', 'ЕЁ', 'ВСЁ ОК', '№5']) {
      const d = decoded(message(cp(text)), 'c2s');
      assert.equal(d.fields.text, text);
      assert.deepEqual(d.notes, [], text);
    }
  });
});

describe('packed RTF: the plain text beside the source', () => {
  it('resolves \\uN (skipping its fallback) and \\\'hh (CP1251), drops the tables, keeps paragraphs', () => {
    const rtf =
      "{\\rtf1\\ansi\\ansicpg1251\\deff0{\\fonttbl{\\f0\\fnil\\fcharset204 Tahoma;}}{\\colortbl;\\red0\\green0\\blue0;}" +
      "{\\*\\generator Msftedit;}\\uc1\\pard\\f0\\fs18 \\u1041?\\u1091?\\u1076?\\u1080?\\u1083?\\u1100?\\u1085?\\u1080?\\u1082? \\'cf\\'f0\\'e8\\'e2\\'e5\\'f2\\par \\{x\\}\\tab \\u8594?\\par}";
    assert.equal(rtfText(rtf), 'Будильник Привет\n{x}\t→');
    const d = decoded(frame(0x1008, '1.22', (w) => w.ul(0x4080).lps(cp('bob@mail.ru')).lps(u16('Будильник')).lps(cp(packRtf(rtf)))), 'c2s');
    const unpacked = d.fields.rtfUnpacked as { rtf: string; text: string };
    assert.equal(unpacked.rtf, rtf);
    assert.equal(unpacked.text, 'Будильник Привет\n{x}\t→');
    assert.match(listing(d), /text +"Будильник Привет\\n\{x\}\\t→"/);
  });

  it('the real "buzz" of mrim-prpl 1.22 reads as its Russian text', () => {
    const s = new SessionDecoder();
    const events = s.push('c2s', readFileSync(new URL('../fixtures/vectors/mrim-prpl-1.22.conn4.c2s.bin', import.meta.url)));
    const alarm = events.find((e) => e.kind === 'frame' && e.frame.type === 'MESSAGE' && Number(e.frame.fields.flags) & 0x4000);
    assert.ok(alarm && alarm.kind === 'frame');
    const text = (alarm.frame.fields.rtfUnpacked as { text: string }).text;
    assert.match(text, /^Собеседник попытался вас разбудить, однако .* "Будильник"\. .*http:\/\/agent\.mail\.ru\/$/);
  });
});

describe('known peer quirks are notes, not warnings', () => {
  const login2 = (tail: Buffer) =>
    frame(0x1038, '1.8', (w) => w.lps(cp('alice@mail.ru')).lps(cp('alice')).ul(1).lps(cp('pidgin-mra 0.1.4')).bytes(tail));

  it("pidgin-mra's 20 zero bytes after LOGIN2: a note (kept as trailing, in JSON too)", () => {
    const d = decoded(login2(Buffer.alloc(20)), 'c2s');
    assert.deepEqual(d.warnings, []);
    assert.deepEqual(d.notes, ['20 trailing bytes ignored (pidgin-mra appends 5 zero ULs)']);
    assert.equal(d.trailing, '00'.repeat(20));
    const json = eventToJson({ kind: 'frame', dir: 'c2s', offset: 0, index: 0, raw: login2(Buffer.alloc(20)), frame: d });
    assert.ok(json.kind === 'frame' && json.notes?.length === 1 && json.warnings.length === 0);
  });

  it('other trailing bytes after LOGIN2 still warn', () => {
    const d = decoded(login2(Buffer.from('0102030405', 'hex')), 'c2s');
    assert.deepEqual(d.warnings, ['5 trailing bytes ignored']);
    assert.deepEqual(d.notes, []);
  });

  it("a revival server's 12 zero bytes after MESSAGE_ACK: a note", () => {
    const d = decoded(frame(0x1009, '1.22', (w) => w.ul(1).ul(0x100000).lps(cp('bob@mail.ru')).lps(u16('hi')).lps(cp(' ')).bytes(Buffer.alloc(12))), 's2c');
    assert.deepEqual(d.warnings, []);
    assert.match(d.notes[0], /^12 trailing bytes ignored \(revival servers/);
  });

  it('a 1-byte typing text in a UTF-16LE session: read as CP1251 (§4.3 sanity rule), a note', () => {
    const d = decoded(frame(0x1008, '1.23', (w) => w.ul(0x400).lps(cp('bob@mail.ru')).lps(cp(' ')).lps(cp(' '))), 'c2s');
    assert.equal(d.fields.text, ' ');
    assert.deepEqual(d.warnings, []);
    assert.deepEqual(d.notes, ['"text": odd byte length 1: not UTF-16LE, read as CP1251']);
    assert.match(listing(d), /text {9}" "/);
  });
});

describe('flags and status codes print named', () => {
  it('offline-message flags: CP1251|…, not 2097152', () => {
    const doc = 'From: bob@mail.ru\nDate: Sat, 01 Sep 2012 12:34:56 +0300\nX-MRIM-Flags: 00200080\n\nПривет';
    const d = decoded(frame(0x101d, '1.8', (w) => w.bytes(Buffer.alloc(8, 1)).lps(cp(doc))), 's2c');
    assert.equal((d.fields.parsed as { flags: number }).flags, 0x200080, 'JSON keeps the number');
    assert.match(listing(d), /flags +RTF\|CP1251 \(0x200080\)/);
  });

  it('search results: mrim_status by name — 3 is UNDETERMINATED, not offline; ANKETA status 3 is RATELIMERR', () => {
    const columns = ['Username', 'Domain', 'mrim_status'];
    const d = decoded(
      frame(0x1028, '1.22', (w) => {
        w.ul(1).ul(columns.length).ul(50).ul(0);
        for (const c of columns) w.lps(cp(c));
        for (const v of ['bob', 'mail.ru', '3', 'alice', 'mail.ru', '80000001']) w.lps(cp(v));
      }),
      's2c',
    );
    const text = listing(d);
    assert.match(text, /mrim_status=UNDETERMINATED \(0x3\)/);
    assert.match(text, /mrim_status=INVISIBLE \(0x80000001\)/);
    assert.match(text, /^ {4}maxRows {6}50$/m, 'the result keys are fields, shown in order');
    const limited = decoded(frame(0x1028, '1.22', (w) => w.ul(3)), 's2c');
    assert.match(listing(limited), /status +RATELIMERR \(0x3\)/);
  });

  it('login statistics ids are named', () => {
    const d = decoded(
      frame(0x1078, '1.23', (w) => {
        w.lps(cp('a@mail.ru')).lps(Buffer.alloc(16, 0x01)).ul(1).lps(cp('ua')).lps(cp('ru')).lps(Buffer.from('00000000', 'hex')).lps(cp('x'));
        w.ul(0).byte(2).ul(5678).ul(1).byte(2).ul(3);
      }),
      'c2s',
    );
    assert.match(listing(d), /\[0\] id=BUILD \(0x0\) type=2 value=5678/);
    assert.match(listing(d), /\[1\] id=LOGIN_CNT \(0x1\) type=2 value=3/);
  });
});

describe('replies linked to the request that caused them', () => {
  const c2s = (s: SessionDecoder, type: PacketName, fields: Fields, seq: number) => s.push('c2s', encodePacket(packetByName(type)!.code, fields, { proto: '1.21', seq }), seq * 10);
  const s2c = (s: SessionDecoder, type: PacketName, fields: Fields, seq: number, time = seq * 10 + 5) =>
    s.push('s2c', encodePacket(packetByName(type)!.code, fields, { proto: '1.21', seq, dir: 's2c' }), time);
  const replyOf = (events: ReturnType<SessionDecoder['push']>) => (events[0].kind === 'frame' ? events[0].replyTo : undefined);

  it('AUTHORIZE_ACK → the ADD_CONTACT that asked for it (after ADD_CONTACT_ACK answered it), by address in any case', () => {
    const s = new SessionDecoder();
    c2s(s, 'ADD_CONTACT', { flags: 0x2 | (3 << 24), group: 0, email: '', name: 'Новые', phones: '' }, 4);
    c2s(s, 'ADD_CONTACT', { flags: 0, group: 0, email: 'Dave@bk.ru', name: 'Дейв', phones: '' }, 5);
    assert.equal(replyOf(s2c(s, 'ADD_CONTACT_ACK', { status: 0, contactId: 3 }, 4))?.type, 'ADD_CONTACT');
    assert.equal(replyOf(s2c(s, 'ADD_CONTACT_ACK', { status: 0, contactId: 22 }, 5))?.seq, 5);
    const ack = replyOf(s2c(s, 'AUTHORIZE_ACK', { email: 'dave@bk.ru' }, 9, 500));
    assert.deepEqual(ack, { type: 'ADD_CONTACT', seq: 5, index: 1, latencyMs: 450 });
    assert.deepEqual(s.unanswered(), [], 'an authorization that may never come is not awaited');
  });

  it('AUTHORIZE_ACK → a MESSAGE with AUTHORIZE (a repeated request), not an ordinary message to the same user', () => {
    const s = new SessionDecoder();
    c2s(s, 'MESSAGE', { flags: 0, to: 'dave@bk.ru', text: 'привет', rtf: ' ' }, 2);
    c2s(s, 'MESSAGE', { flags: 0x8, to: 'dave@bk.ru', text: 'AgAAAAAAAAAAAAAA', rtf: ' ' }, 3);
    assert.equal(replyOf(s2c(s, 'AUTHORIZE_ACK', { email: 'dave@bk.ru' }, 1))?.seq, 3);
    assert.equal(replyOf(s2c(s, 'AUTHORIZE_ACK', { email: 'dave@bk.ru' }, 1)), undefined);
  });

  it('a flood that is never answered keeps the newest 4,096 requests: older ones are dropped, newer and answered ones trimmed', () => {
    const s = new SessionDecoder();
    const message = { flags: 0, to: 'dave@bk.ru', text: 'привет', rtf: ' ' };
    for (let seq = 1; seq <= 5000; seq++) c2s(s, 'MESSAGE', message, seq);
    const waiting = s.unanswered();
    assert.equal(waiting.length, 4096);
    assert.deepEqual([waiting[0]!.seq, waiting.at(-1)!.seq], [905, 5000]);
    assert.deepEqual(waiting[0], { type: 'MESSAGE', seq: 905, dir: 'c2s', index: 904, time: 9050, expected: ['MESSAGE_STATUS'] });
    // Answered out of order: the newest, one in the middle, the oldest; one already dropped finds nothing.
    for (const seq of [5000, 3000, 905]) assert.equal(replyOf(s2c(s, 'MESSAGE_STATUS', { status: 0 }, seq))?.seq, seq);
    assert.equal(replyOf(s2c(s, 'MESSAGE_STATUS', { status: 0 }, 904)), undefined);
    const left = s.unanswered().map((r) => r.seq);
    assert.equal(left.length, 4093);
    assert.deepEqual([left[0], left.at(-1), left.includes(3000)], [906, 4999, false]);
    // Room again for new ones, which answer as before.
    c2s(s, 'MESSAGE', message, 6000);
    assert.equal(s.unanswered().at(-1)!.seq, 6000);
    assert.equal(replyOf(s2c(s, 'MESSAGE_STATUS', { status: 0 }, 6000))?.index, 5004);
  });

  it('USER_BLOG_STATUS echoing a post (SRV) → its CHANGE_USER_BLOG_STATUS; none is awaited', () => {
    const s = new SessionDecoder();
    c2s(s, 'CHANGE_USER_BLOG_STATUS', { flags: 1, text: 'Слушаю музыку' }, 6);
    c2s(s, 'CHANGE_USER_BLOG_STATUS', { flags: 1, text: 'ещё один' }, 7);
    const echo = s2c(s, 'USER_BLOG_STATUS', { flags: 1, user: 'me@mail.ru', postId: '42', time: 0, text: 'Слушаю музыку', replyNick: '' }, 6);
    assert.equal(replyOf(echo)?.seq, 6);
    const other = s2c(s, 'USER_BLOG_STATUS', { flags: 1, user: 'bob@mail.ru', postId: '43', time: 0, text: 'моё', replyNick: '' }, 1);
    assert.equal(replyOf(other), undefined, "a contact's post answers nothing");
    assert.deepEqual(s.unanswered(), []);
  });
});

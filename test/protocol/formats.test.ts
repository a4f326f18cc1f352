// Formats carried inside MRIM strings (reference §4, §18, §19): text encodings, packed RTF, the
// authorization blob, offline messages and multicast recipient lists.
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import {
  decodeAuthBlob,
  decodeEncodedWords,
  encodeAuthBlob,
  formatOfflineMessage,
  formatRecipients,
  offlineDate,
  packRtf,
  parseOfflineMessage,
  parseRecipients,
  plainTextRtf,
  unpackRtf,
} from '../../src/protocol/formats.js';
import { decodeString, encodeString, looksLikeUtf16, textEncodingFor } from '../../src/protocol/text.js';

const h = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const cyrillicAscii = fc.string({ unit: fc.constantFrom(...'abcXYZ 019.,!?@АБВгдеЁёжЯя№'), maxLength: 30 });
const anyText = fc.string({ unit: 'binary', maxLength: 30 });

describe('text encodings (§4)', () => {
  it('CP1251 and UTF-16LE of "Привет"', () => {
    assert.equal(encodeString('Привет', 'cp1251').toString('hex'), 'cff0e8e2e5f2');
    assert.equal(encodeString('Привет', 'utf16le').toString('hex'), '1f0440043804320435044204');
    assert.deepEqual(decodeString(h('cff0e8e2e5f2'), 'cp1251'), { value: 'Привет', encoding: 'cp1251' });
    assert.deepEqual(decodeString(h('1f0440043804320435044204'), 'utf16le'), { value: 'Привет', encoding: 'utf16le' });
  });

  it('every CP1251 byte is a character of its own: decoding by the table equals iconv and round-trips', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, b) => b));
    const text = decodeString(all, 'cp1251').value;
    assert.equal(text, iconv.decode(all, 'win1251'));
    assert.equal(new Set(text).size, 256);
    assert.deepEqual(encodeString(text, 'cp1251'), all);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const d = decodeString(Buffer.from(bytes), 'cp1251');
        return d.encoding !== 'cp1251' || d.value === iconv.decode(Buffer.from(bytes), 'win1251');
      }),
    );
  });

  it('MD5 digests travel as hex', () => {
    assert.equal(encodeString('00ff10', 'hex').toString('hex'), '00ff10');
    assert.deepEqual(decodeString(h('00ff10'), 'hex'), { value: '00ff10', encoding: 'hex' });
    assert.throws(() => encodeString('secret', 'hex'), /not a hex string/);
    assert.throws(() => encodeString('abc', 'hex'), /not a hex string/);
  });

  it('every encoding decodes what it encoded (any text for the Unicode ones)', () => {
    fc.assert(
      fc.property(anyText, cyrillicAscii, (text, cp) => {
        assert.deepEqual(decodeString(encodeString(text, 'utf16le'), 'utf16le'), { value: text, encoding: 'utf16le' });
        assert.deepEqual(decodeString(encodeString(text, 'utf8'), 'utf8'), { value: text, encoding: 'utf8' });
        assert.deepEqual(decodeString(encodeString(cp, 'cp1251'), 'cp1251'), { value: cp, encoding: 'cp1251' });
      }),
      { numRuns: 300 },
    );
  });

  it('any bytes decode (with a fallback and a warning or a note when they must) and re-encode to themselves', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.constantFrom('cp1251', 'utf16le', 'utf8', 'latin1', 'hex'), (bytes, wanted) => {
        const d = decodeString(Buffer.from(bytes), wanted);
        assert.equal(encodeString(d.value, d.encoding).toString('hex'), Buffer.from(bytes).toString('hex'));
        if (d.encoding !== wanted) assert.ok(d.warning ?? d.note);
      }),
      { numRuns: 500 },
    );
  });

  it('looksLikeUtf16: ASCII and Cyrillic in UTF-16LE yes, CP1251 and odd lengths no', () => {
    assert.equal(looksLikeUtf16(encodeString('Привет, world', 'utf16le')), true);
    assert.equal(looksLikeUtf16(encodeString('Привет, world', 'cp1251')), false);
    assert.equal(looksLikeUtf16(h('410042')), false);
    assert.equal(looksLikeUtf16(Buffer.alloc(0)), false);
    fc.assert(
      // (№ is in CP1251 but outside the 0x00/0x04 blocks the heuristic counts.)
      fc.property(cyrillicAscii.map((s) => s.replace(/№/g, '')).filter((s) => s.length > 0), (s) => {
        assert.equal(looksLikeUtf16(encodeString(s, 'utf16le')), true);
        assert.equal(looksLikeUtf16(encodeString(s, 'cp1251')), false);
      }),
    );
  });

  it('the 1.16 boundary', () => {
    assert.deepEqual([7, 14, 15, 16, 17, 23].map(textEncodingFor), ['cp1251', 'cp1251', 'cp1251', 'utf16le', 'utf16le', 'utf16le']);
  });
});

describe('packed RTF (§18.2, §18.3)', () => {
  it('packs base64(zlib(UL 2, LPS rtf, LPS colour)) and unpacks it', () => {
    const packed = packRtf('{\\rtf1 Привет}', '#102030');
    const raw = Buffer.from(packed, 'base64');
    assert.equal(raw[0], 0x78, 'a zlib stream (RFC 1950), not gzip');
    assert.deepEqual(unpackRtf(packed), { parts: 2, rtf: '{\\rtf1 Привет}', text: 'Привет', background: '#102030' });
  });

  it('the 4-part flash form: fallback text, colour, mult tag CP1251 and UTF-16LE', () => {
    const lps = (b: Buffer) => Buffer.concat([Buffer.from([b.length, 0, 0, 0]), b]);
    const body = Buffer.concat([
      h('04000000'),
      lps(encodeString('Мульт', 'cp1251')),
      lps(h('ffffff00')),
      lps(encodeString("<SMILE>id=1 alt=':кот:'</SMILE>", 'cp1251')),
      lps(encodeString("<SMILE>id=1 alt=':кот:'</SMILE>", 'utf16le')),
    ]);
    assert.deepEqual(unpackRtf(deflateSync(body).toString('base64')), {
      parts: 4,
      rtf: 'Мульт',
      background: '#ffffff',
      multTag: "<SMILE>id=1 alt=':кот:'</SMILE>",
      multTagUnicode: "<SMILE>id=1 alt=':кот:'</SMILE>",
    });
  });

  it('what is no packed RTF is an error, not an exception', () => {
    for (const bad of [' ', '', 'not base64!', Buffer.from('plain').toString('base64'), deflateSync(Buffer.alloc(0)).toString('base64')]) {
      assert.ok('error' in unpackRtf(bad), JSON.stringify(bad));
    }
  });

  it('round trip for any RTF text and colour', () => {
    fc.assert(
      fc.property(cyrillicAscii, fc.integer({ min: 0, max: 0xffffff }), (text, colour) => {
        const bg = '#' + colour.toString(16).padStart(6, '0');
        assert.deepEqual(unpackRtf(packRtf(text, bg)), { parts: 2, rtf: text, background: bg });
      }),
      { numRuns: 200 },
    );
  });

  it('plainTextRtf escapes RTF specials and non-ASCII', () => {
    const rtf = plainTextRtf('a{b}\\c\r\nПр€Ω');
    assert.match(rtf, /^\{\\rtf1\\ansi\\ansicpg1251/);
    assert.ok(rtf.includes("a\\{b\\}\\\\c\\par \\'cf\\'f0\\'88\\u937?}"), rtf);
  });
});

describe('authorization blob (§18.4)', () => {
  it('base64 of UL 2, LPS nick, LPS text — in either encoding', () => {
    for (const enc of ['cp1251', 'utf16le'] as const) {
      const blob = encodeAuthBlob({ nick: 'Алиса', text: 'Добавь меня, пожалуйста' }, enc);
      const raw = Buffer.from(blob, 'base64');
      assert.equal(raw.readUInt32LE(0), 2);
      assert.equal(raw.readUInt32LE(4), encodeString('Алиса', enc).length);
      assert.deepEqual(decodeAuthBlob(blob), { nick: 'Алиса', text: 'Добавь меня, пожалуйста' });
    }
  });

  it('an empty nick (MIR) and garbage', () => {
    assert.deepEqual(decodeAuthBlob(encodeAuthBlob({ nick: '', text: 'hi' }, 'cp1251')), { nick: '', text: 'hi' });
    assert.ok('error' in decodeAuthBlob('hello'));
    assert.ok('error' in decodeAuthBlob(''));
  });
});

describe('offline messages (§19)', () => {
  const when = new Date(Date.UTC(2012, 8, 1, 9, 34, 56));

  it('the date is RFC 2822 in Moscow time', () => {
    assert.equal(offlineDate(when), 'Sat, 01 Sep 2012 12:34:56 +0300');
  });

  it('multipart/alternative with a UTF-16LE text part and a packed RTF part, LF or CRLF', () => {
    const rtf = packRtf('{\\rtf1 Привет}');
    for (const lineEnding of ['LF', 'CRLF'] as const) {
      const doc = formatOfflineMessage({ from: 'bob@mail.ru', date: when, flags: 0x100080, text: 'Привет Ω', unicode: true, rtf, lineEnding, boundary: 'B0UND' });
      assert.equal(doc.includes('\r\n'), lineEnding === 'CRLF');
      const m = parseOfflineMessage(doc);
      assert.deepEqual([m.from, m.date, m.flags, m.text, m.lineEnding], ['bob@mail.ru', 'Sat, 01 Sep 2012 12:34:56 +0300', 0x100080, 'Привет Ω', lineEnding]);
      assert.equal(m.parts.length, 2);
      assert.deepEqual(m.parts[1].rtf, { parts: 2, rtf: '{\\rtf1 Привет}', text: 'Привет', background: '#ffffff' });
    }
  });

  it('a CP1251 body, as old clients get it', () => {
    const m = parseOfflineMessage(formatOfflineMessage({ from: 'a@mail.ru', date: when, flags: 0, text: 'строка 1\nстрока 2', unicode: false }));
    assert.equal(m.text, 'строка 1\nстрока 2');
  });

  it('an authorization request part, folded headers, a multichat subject in RFC 2047', () => {
    const auth = encodeAuthBlob({ nick: 'Боб', text: 'привет' }, 'utf16le');
    const subject = `=?UTF-16LE?B?${Buffer.from('Чат', 'utf16le').toString('base64')}?=`;
    const doc = [
      'From: 123@chat.agent',
      'Sender: bob@mail.ru',
      `Subject: ${subject}`,
      'X-MRIM-Flags: 00000008',
      'Content-Type: multipart/alternative;',
      '\tboundary=XYZ',
      '',
      '--XYZ',
      'Content-Type: application/x-mrim-auth-req',
      'Content-Transfer-Encoding: base64',
      '',
      auth,
      '--XYZ--',
      '',
    ].join('\r\n');
    const m = parseOfflineMessage(doc);
    assert.deepEqual([m.from, m.sender, m.subject, m.flags], ['123@chat.agent', 'bob@mail.ru', 'Чат', 8]);
    assert.deepEqual(m.parts[0].auth, { nick: 'Боб', text: 'привет' });
  });

  it('round trip for any text, both body forms', () => {
    fc.assert(
      fc.property(cyrillicAscii, anyText, fc.boolean(), (cp, unicode, crlf) => {
        const lineEnding = crlf ? 'CRLF' : 'LF';
        assert.equal(parseOfflineMessage(formatOfflineMessage({ from: 'a@b.c', date: when, flags: 0x100000, text: unicode, unicode: true, lineEnding })).text, unicode);
        assert.equal(parseOfflineMessage(formatOfflineMessage({ from: 'a@b.c', date: when, flags: 0, text: cp, unicode: false, lineEnding })).text, cp);
      }),
      { numRuns: 200 },
    );
  });

  it('anything at all parses without throwing', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (doc) => void parseOfflineMessage(doc)),
      { numRuns: 300 },
    );
    assert.deepEqual(parseOfflineMessage('').parts.length, 1);
  });

  it('RFC 2047 encoded words: B and Q, UTF-16LE, CP1251 and UTF-8; unknown charsets kept', () => {
    assert.equal(decodeEncodedWords('=?UTF-8?B?0J/RgNC40LLQtdGC?= world'), 'Привет world');
    assert.equal(decodeEncodedWords('=?windows-1251?Q?=CF=F0=E8=E2=E5=F2_=F2=E5=E1=E5?='), 'Привет тебе');
    assert.equal(decodeEncodedWords(`=?UTF-16LE?B?${Buffer.from('Чат', 'utf16le').toString('base64')}?=`), 'Чат');
    assert.equal(decodeEncodedWords('=?KOI8-R?B?8NLJ18XU?='), '=?KOI8-R?B?8NLJ18XU?=');
  });
});

describe('multicast recipients (§8.1): nested LPS list or comma list', () => {
  it('both forms', () => {
    assert.equal(formatRecipients(['a@mail.ru', 'bc@bk.ru']).toString('hex'), '09000000' + Buffer.from('a@mail.ru').toString('hex') + '08000000' + Buffer.from('bc@bk.ru').toString('hex'));
    assert.deepEqual(parseRecipients(formatRecipients(['a@mail.ru', 'bc@bk.ru'])), { form: 'lps-list', addresses: ['a@mail.ru', 'bc@bk.ru'] });
    assert.deepEqual(parseRecipients(Buffer.from('a@mail.ru,bc@bk.ru, d@list.ru')), { form: 'comma-list', addresses: ['a@mail.ru', 'bc@bk.ru', 'd@list.ru'] });
    assert.deepEqual(parseRecipients(Buffer.from('single@mail.ru')), { form: 'comma-list', addresses: ['single@mail.ru'] });
  });

  it('round trip of any address list', () => {
    const address = fc.stringMatching(/^[a-z0-9._-]{1,12}@[a-z]{1,8}\.ru$/);
    fc.assert(
      fc.property(fc.array(address, { minLength: 1, maxLength: 50 }), (addresses) => {
        assert.deepEqual(parseRecipients(formatRecipients(addresses)), { form: 'lps-list', addresses });
        assert.deepEqual(parseRecipients(Buffer.from(addresses.join(','))), { form: 'comma-list', addresses });
      }),
      { numRuns: 200 },
    );
  });
});

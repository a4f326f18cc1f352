// Every packet type of the table, in every version whose layout differs, both directions of `both`
// packets and every wire form: fields generated from the layout encode to a frame that decodes with no
// warning to the same fields and re-encodes to the same bytes. The packet list is PACKETS itself, so a
// packet added to the table is covered (or fails here, if it brings a field type the generator lacks).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeFrame, encodePacket, reencode } from '../../src/protocol/codec.js';
import { formatRecipients } from '../../src/protocol/formats.js';
import { usualDir } from '../../src/protocol/fields.js';
import { CONTACT_COLUMNS, PACKETS, type PacketName } from '../../src/protocol/packets/index.js';
import { encodeString } from '../../src/protocol/text.js';
import { baseContext, fieldsArbitrary, packetCases, pickLike, type PacketCase } from '../helpers/packet-arbitrary.js';

/** Minors where some layout, encoding rule or mask changes (legacy, 1.7 … 1.24). */
const MINORS = [6, 7, 8, 10, 13, 14, 15, 16, 17, 19, 20, 21, 22, 23, 24] as const;
const RUNS = Number(process.env.ROUNDTRIP_RUNS ?? 12);

function checkRoundTrip(pc: PacketCase, fields: Record<string, unknown>, seq: number): void {
  const label = `${pc.def.name} 1.${pc.minor} ${pc.dir}${pc.variant ? ` ${pc.variant.name}` : ''}`;
  const frame = encodePacket(pc.def.code, fields, { proto: `1.${pc.minor}`, seq, dir: pc.dir });
  const d = decodeFrame(frame, { dir: pc.dir });
  assert.deepEqual(d.warnings, [], `${label}: warnings for ${JSON.stringify(fields)}`);
  assert.equal(d.type, pc.def.name, label);
  assert.equal(d.variant, pc.variant?.name, `${label}: wire form`);
  assert.deepEqual(pickLike(d.fields, fields), fields, `${label}: fields`);
  // …and nothing the fields did not ask for: every other key is derived or an encoder default.
  const derivedFrom = structuredClone(fields);
  const derived = pc.def.derive?.(derivedFrom, baseContext(pc.minor, pc.dir)) ?? {};
  for (const key of Object.keys(derived)) assert.ok(pc.def.derived?.some((s) => s.name === key), `${label}: derived "${key}" is not listed in the row's "derived"`);
  const defaults = (pc.variant?.layout ?? pc.def.layout ?? []).filter((s) => s.default).map((s) => s.name);
  const allowed = new Set([...Object.keys(derivedFrom), ...Object.keys(derived), ...defaults]);
  for (const key of Object.keys(d.fields)) assert.ok(allowed.has(key), `${label}: decoded "${key}" that was not encoded`);
  assert.equal(d.trailing, undefined, `${label}: trailing bytes`);
  assert.equal(reencode(d).toString('hex'), frame.toString('hex'), `${label}: re-encodes byte for byte`);
  // A session that already knows the client's version decodes with it: the same result.
  const withMinor = decodeFrame(frame, { dir: pc.dir, minor: pc.minor });
  assert.deepEqual(withMinor.fields, d.fields, `${label}: explicit minor`);
}

describe('round trip of every packet type (fields generated from the table)', () => {
  for (const def of PACKETS) {
    it(`${def.name} (0x${def.code.toString(16)})`, () => {
      const cases = packetCases(def, MINORS);
      if (def.variant) assert.ok(def.variants && def.variants.length >= 2, `${def.name} has wire forms: list them in "variants"`);
      for (const pc of cases) {
        fc.assert(
          fc.property(fieldsArbitrary(pc), fc.integer({ min: 0, max: 0xffffffff }), (fields, seq) => checkRoundTrip(pc, fields, seq)),
          { numRuns: RUNS },
        );
      }
    });
  }
});

describe('encoder defaults', () => {
  it('CONTACT_LIST2 without counts or masks gets the group count and the masks of its version', () => {
    for (const [minor, mask] of [
      [7, 'uussuu'],
      [8, 'uussuus'],
      [14, 'uussuus'],
      [15, 'uussuussssus'],
      [20, 'uussuussssusuuusss'],
      [21, 'uussuussssusuuusssssu'],
      [23, 'uussuussssusuuusssssu'],
    ] as const) {
      const groups = [{ flags: 2, name: 'Друзья' }, { flags: 0x01000002, name: 'Work' }];
      const contacts = [{ flags: 0, group: 1, email: 'bob@mail.ru', nick: 'Боб', status: 1 }];
      const frame = encodePacket('CONTACT_LIST2', { status: 0, groups, contacts }, { proto: `1.${minor}` });
      const d = decodeFrame(frame, { dir: 's2c' });
      assert.deepEqual(d.warnings, [], `1.${minor}`);
      assert.equal(d.fields.groupCount, 2);
      assert.equal(d.fields.groupMask, 'us');
      assert.equal(d.fields.contactMask, mask, `1.${minor}`);
      assert.deepEqual(pickLike(d.fields.groups, groups), groups);
      assert.deepEqual(pickLike(d.fields.contacts, contacts), contacts);
    }
  });

  it('CONTACT_LIST2 with an error status is the status alone', () => {
    const frame = encodePacket('CONTACT_LIST2', { status: 1 }, { proto: '1.21' });
    assert.equal(frame.subarray(44).toString('hex'), '01000000');
    assert.deepEqual(decodeFrame(frame, { dir: 's2c' }).fields, { status: 1 });
  });
});

// ---------------------------------------------------------------------------------------------------
// Where the reference disagrees (README "Where the reference disagrees"): every variant decodes to its
// meaning and re-encodes byte for byte.

const md5 = '9a0364b9e99bb480dd25e1f0284c8555';

/** Encodes, decodes (as the given side) and checks the re-encode; returns the decoded frame. */
function viaWire(type: PacketName, fields: Record<string, unknown>, proto: string, opts: { enc?: Record<string, 'cp1251' | 'utf16le' | 'hex'>; dir?: 'c2s' | 's2c' } = {}) {
  const frame = encodePacket(type, fields, { proto, seq: 7, enc: opts.enc, dir: opts.dir });
  const d = decodeFrame(frame, { dir: opts.dir ?? usualDir(PACKETS.find((p) => p.name === type)!.dir) });
  assert.equal(reencode(d).toString('hex'), frame.toString('hex'), `${type} ${proto} re-encodes byte for byte`);
  return { frame, d, payload: frame.subarray(44) };
}

describe('where the reference disagrees: both sides decode', () => {
  const title = 'Дома Ω';
  const cpTitle = 'Дома';

  for (const minor of [14, 15]) {
    it(`x-status title/description at 1.${minor}: CP1251 (OMRA, SRV) and UTF-16LE (P1412)`, () => {
      const base = { status: 4, statusUri: 'status_5', user: 'bob@mail.ru', features: 0x3ff, userAgent: 'client="magent"' };
      const cp = viaWire('USER_STATUS', { ...base, statusTitle: cpTitle, statusDesc: 'нет' }, `1.${minor}`);
      assert.deepEqual(cp.d.warnings, []);
      assert.equal(cp.d.fields.statusTitle, cpTitle);
      assert.ok(cp.payload.includes(Buffer.from([0xc4, 0xee, 0xec, 0xe0])), 'CP1251 bytes on the wire');
      const u16 = viaWire('USER_STATUS', { ...base, statusTitle: title, statusDesc: 'нет' }, `1.${minor}`, { enc: { statusTitle: 'utf16le', statusDesc: 'utf16le' } });
      assert.deepEqual(u16.d.warnings, []);
      assert.equal(u16.d.fields.statusTitle, title);
      assert.equal(u16.d.fields.statusDesc, 'нет');
      assert.deepEqual(u16.d.enc, { statusTitle: 'utf16le', statusDesc: 'utf16le' });
      for (const [type, extra] of [
        ['LOGIN2', { login: 'a@mail.ru', password: 'pw', status: 4, features: 0, userAgent: '', description: '' }],
        ['CHANGE_STATUS', { status: 4, features: 0x3ff }],
      ] as const) {
        for (const [text, enc] of [
          [cpTitle, undefined],
          [title, { statusTitle: 'utf16le' as const, statusDesc: 'utf16le' as const }],
        ] as const) {
          const { d } = viaWire(type, { ...extra, statusUri: 'status_5', statusTitle: text, statusDesc: 'x' }, `1.${minor}`, { enc });
          assert.deepEqual(d.warnings, [], `${type} ${text}`);
          assert.equal(d.fields.statusTitle, text, type);
        }
      }
    });
  }

  for (const minor of [13, 14, 15, 16]) {
    it(`USER_STATUS short and extended at 1.${minor}, CHANGE_STATUS short and extended`, () => {
      const short = viaWire('USER_STATUS', { status: 1, user: 'bob@mail.ru' }, `1.${minor}`).d;
      assert.equal(short.variant, 'short');
      assert.deepEqual(short.fields, { status: 1, user: 'bob@mail.ru' });
      const ext = viaWire('USER_STATUS', { status: 1, statusUri: 'STATUS_ONLINE', statusTitle: '', statusDesc: '', user: 'bob@mail.ru', features: 0x2ff, userAgent: 'x' }, `1.${minor}`).d;
      assert.equal(ext.variant, 'extended');
      assert.equal(ext.fields.user, 'bob@mail.ru');
      assert.deepEqual(ext.warnings, []);
      // The extended form without its optional features/user agent (older SRV builds).
      const bare = viaWire('USER_STATUS', { status: 2, statusUri: 'STATUS_AWAY', statusTitle: 'a', statusDesc: 'b', user: 'c@d.e' }, `1.${minor}`).d;
      assert.equal(bare.variant, 'extended');
      assert.deepEqual(bare.warnings, []);
      const cs = viaWire('CHANGE_STATUS', { status: 0x80000001 }, `1.${minor}`).d;
      assert.equal(cs.variant, 'short');
      const csx = viaWire('CHANGE_STATUS', { status: 4, statusUri: 'status_dnd', statusTitle: 'Не беспокоить', statusDesc: '', features: 0xbff }, `1.${minor}`).d;
      assert.equal(csx.variant, 'extended');
      assert.equal(csx.fields.statusTitle, 'Не беспокоить');
      assert.deepEqual([cs.warnings, csx.warnings], [[], []]);
    });
  }

  for (const type of ['LOGIN2', 'LOGIN3'] as const) {
    for (const minor of [21, 22, 23]) {
      it(`${type} password at 1.${minor}: 16-byte MD5 and plain text`, () => {
        const rest = type === 'LOGIN2'
          ? { login: 'a@mail.ru', status: 1, statusUri: '', statusTitle: '', statusDesc: '', features: 0, userAgent: '', lang: 'ru', uaSession: '', replacedUaSession: '', description: 'x' }
          : { login: 'a@mail.ru', features: 0xbff, userAgent: '', lang: 'ru', uaDataNames: [], description: 'x' };
        const hashed = viaWire(type, { ...rest, password: md5 }, `1.${minor}`, { enc: minor < 22 ? { password: 'hex' } : undefined });
        assert.deepEqual(hashed.d.warnings, []);
        assert.equal(hashed.d.fields.password, md5, 'MD5 shown as hex');
        assert.ok(hashed.payload.includes(Buffer.concat([Buffer.from([16, 0, 0, 0]), Buffer.from(md5, 'hex')])), 'raw 16-byte digest');
        const plain = viaWire(type, { ...rest, password: 'пароль123' }, `1.${minor}`, { enc: minor >= 22 ? { password: 'cp1251' } : undefined });
        assert.deepEqual(plain.d.warnings, []);
        assert.equal(plain.d.fields.password, 'пароль123');
        // 16 printable ASCII characters are text in any version; 16 Cyrillic letters before 1.22.
        const ascii16 = viaWire(type, { ...rest, password: 'correct horse 16' }, `1.${minor}`, { enc: minor >= 22 ? { password: 'cp1251' } : undefined });
        assert.deepEqual([ascii16.d.fields.password, ascii16.d.enc.password ?? 'cp1251'], ['correct horse 16', 'cp1251']);
        if (minor < 22) assert.equal(viaWire(type, { ...rest, password: 'пароль_от_почты!' }, `1.${minor}`).d.fields.password, 'пароль_от_почты!');
      });
    }
  }

  it('NEW_MAIL last 8 bytes: kept as the id, read both as date + uidl and as an 8-byte id', () => {
    const { d, payload } = viaWire('NEW_MAIL', { unread: 3, from: 'Иван <ivan@mail.ru>', subject: '=?UTF-8?B?0J/RgNC40LLQtdGC?=', id: '5800425000000102' }, '1.21');
    assert.deepEqual(d.warnings, []);
    assert.equal(payload.subarray(-8).toString('hex'), '5800425000000102');
    assert.equal(d.fields.id, '5800425000000102');
    assert.equal(d.fields.date, new Date(0x50420058 * 1000).toISOString());
    assert.equal(d.fields.uidl, 0x02010000);
    assert.equal(d.fields.subjectDecoded, 'Привет');
  });

  it('multicast `to`: a nested LPS list (MYA, SRV) and a comma list (DOC17)', () => {
    const lpsList = formatRecipients(['a@mail.ru', 'b@bk.ru']).toString('latin1');
    const nested = viaWire('MESSAGE', { flags: 0x1000, to: lpsList, text: 'hi', rtf: ' ' }, '1.21').d;
    assert.deepEqual(nested.warnings, []);
    assert.deepEqual([nested.fields.recipients, nested.fields.recipientsForm], [['a@mail.ru', 'b@bk.ru'], 'lps-list']);
    const comma = viaWire('MESSAGE', { flags: 0x1000, to: 'a@mail.ru, b@bk.ru', text: 'hi', rtf: ' ' }, '1.7').d;
    assert.deepEqual(comma.warnings, []);
    assert.deepEqual([comma.fields.recipients, comma.fields.recipientsForm], [['a@mail.ru', 'b@bk.ru'], 'comma-list']);
  });

  it('SPAM flag: 0x10000 (P1412, PHP) and 0x20000 (MIR, QUT, PRPL) are both named', () => {
    const flagsSpec = PACKETS.find((p) => p.name === 'MESSAGE')!.layout!.find((s) => s.name === 'flags')!;
    assert.equal(flagsSpec.type.describe!(0x10000), 'SPAM (0x10000)');
    assert.equal(flagsSpec.type.describe!(0x20000), 'SPAMF_SPAM (0x20000)');
    for (const flags of [0x10000, 0x20000]) {
      const { d } = viaWire('MESSAGE', { flags, to: 'spam@mail.ru', text: 'x', rtf: '' }, '1.21');
      assert.deepEqual([d.fields.flags, d.warnings], [flags, []]);
    }
  });

  describe('message text rule (§4.3)', () => {
    const cases = [
      { what: 'CP1251 flag at 1.21 → CP1251', minor: 21, flags: 0x200000, text: 'Привет', wire: 'cp1251' },
      { what: 'UNICODE flag at 1.8 → UTF-16LE', minor: 8, flags: 0x100000, text: 'Привет Ω', wire: 'utf16le' },
      { what: 'no flag at 1.16 → UTF-16LE', minor: 16, flags: 0, text: 'Ω ✓ 日本 😀', wire: 'utf16le' },
      { what: 'no flag at 1.15 → CP1251', minor: 15, flags: 0, text: 'Привет', wire: 'cp1251' },
      { what: 'both flags → CP1251 wins', minor: 21, flags: 0x300000, text: 'Привет', wire: 'cp1251' },
    ] as const;
    for (const { what, minor, flags, text, wire } of cases) {
      it(what, () => {
        for (const [type, fields] of [
          ['MESSAGE', { flags, to: 'b@mail.ru', text, rtf: ' ' }],
          ['MESSAGE_ACK', { msgId: 5, flags, from: 'a@mail.ru', text, rtf: ' ' }],
        ] as const) {
          const { d, payload } = viaWire(type, fields, `1.${minor}`);
          assert.deepEqual(d.warnings, []);
          assert.equal(d.fields.text, text);
          assert.ok(payload.includes(encodeString(text, wire)), `${type}: text bytes in ${wire}`);
        }
      });
    }

    it('odd byte length where UTF-16LE is expected → CP1251 (SRV, §4.3 sanity rule), with a note, byte-exact', () => {
      const { d } = viaWire('MESSAGE_ACK', { msgId: 1, flags: 0, from: 'a@mail.ru', text: 'Привет!', rtf: '' }, '1.21', { enc: { text: 'cp1251' } });
      assert.equal(d.fields.text, 'Привет!');
      assert.equal(d.enc.text, 'cp1251');
      assert.deepEqual(d.warnings, []);
      assert.deepEqual(d.notes, ['"text": odd byte length 7: not UTF-16LE, read as CP1251']);
    });
  });

  describe('CONTACT_LIST2 masks of §10.1', () => {
    const masks = {
      6: 'uussuu',
      7: 'uussuus',
      12: 'uussuussssus',
      18: 'uussuussssusuuusss',
      19: 'uussuussssusuuussss',
      20: 'uussuussssusuuusssss',
      21: 'uussuussssusuuusssssu',
    };
    const full = {
      flags: 0x200, group: 0, email: 'bob@mail.ru', nick: 'Боб ✓', serverFlags: 1, status: 4, phones: '+79161234567',
      statusUri: 'status_5', statusTitle: 'Дома', statusDesc: 'скоро', features: 0xbff, userAgent: 'client="magent"',
      blogIdLow: 7, blogIdHigh: 1, blogTime: 1_300_000_000, blogText: 'пост', blogExtra: '', blogReplyNick: 'Алиса',
      col18: 'geo', col19: '', col20: 5,
    };
    for (const [columns, mask] of Object.entries(masks)) {
      it(`${columns} columns "${mask}" (and unknown extra columns)`, () => {
        for (const extra of ['', 'usz']) {
          const contactMask = mask + extra;
          // Columns are named by position; ones past the known 21 are colN. `z` columns are single-byte text.
          const contact = Object.fromEntries(
            [...contactMask].map((ch, i) => {
              const name = CONTACT_COLUMNS[i] ?? `col${i}`;
              const known = full[name as keyof typeof full];
              if (ch === 'u') return [name, typeof known === 'number' ? known : 9];
              return [name, ch === 'z' ? 'z-строка' : typeof known === 'string' ? known : 'extra'];
            }),
          );
          const fields = { status: 0, groupCount: 1, groupMask: 'us', contactMask, groups: [{ flags: 0x202, name: 'Друзья' }], contacts: [contact, { ...contact, email: 'c@mail.ru' }] };
          const { d } = viaWire('CONTACT_LIST2', fields, '1.21');
          assert.deepEqual(d.warnings, [], contactMask);
          assert.deepEqual(pickLike(d.fields, fields), fields, contactMask);
          assert.deepEqual((d.fields.contacts as { id: number }[]).map((c) => c.id), [20, 21]);
        }
      });
    }
  });

  it('ANKETA_INFO values: text columns UTF-16LE (MIR) and every value UTF-16LE (P1412)', () => {
    const columns = ['Username', 'Domain', 'Nickname', 'FirstName', 'Sex', 'Birthday', 'Location'];
    const row = { Username: 'bob', Domain: 'mail.ru', Nickname: 'Бобби ✓', FirstName: 'Боб', Sex: '1', Birthday: '1990-01-02', Location: 'Москва' };
    const base = { status: 1, maxRows: 50, serverTime: 1_300_000_000, columns, rows: [row] };
    const mir = viaWire('ANKETA_INFO', base, '1.21');
    assert.deepEqual(mir.d.warnings, []);
    assert.deepEqual(pickLike(mir.d.fields, base), base);
    assert.ok(mir.payload.includes(Buffer.concat([Buffer.from([3, 0, 0, 0]), Buffer.from('bob')])), 'Username as ASCII');
    const every = Object.fromEntries(columns.map((col) => [`rows.0.${col}`, 'utf16le' as const]));
    const p1412 = viaWire('ANKETA_INFO', base, '1.21', { enc: every });
    assert.deepEqual(p1412.d.warnings, []);
    assert.deepEqual(pickLike(p1412.d.fields, base), base);
    assert.ok(p1412.payload.includes(Buffer.concat([Buffer.from([6, 0, 0, 0]), Buffer.from('bob', 'utf16le')])), 'Username as UTF-16LE');
    const old = viaWire('ANKETA_INFO', base, '1.15');
    assert.equal((old.d.fields.rows as Record<string, string>[])[0].Location, 'Москва');
  });

  it("HELLO's optional ULs: none (every client), the ping period, and the disputed second one (named flags)", () => {
    assert.deepEqual(viaWire('HELLO', {}, '1.21').d.fields, {});
    assert.deepEqual(viaWire('HELLO', { pingPeriod: 30 }, '1.21').d.fields, { pingPeriod: 30 });
    const mprpl = viaWire('HELLO', { pingPeriod: 30, flags: 30 }, '1.22');
    assert.deepEqual([mprpl.d.fields, mprpl.d.warnings, mprpl.payload.toString('hex')], [{ pingPeriod: 30, flags: 30 }, [], '1e0000001e000000']);
  });

  it('UTF-16LE boundary for names and USER_INFO values: CP1251 to 1.15, UTF-16LE from 1.16 (and 1.17), UNICODE_NAME in any version', () => {
    for (const [minor, wire] of [[15, 'cp1251'], [16, 'utf16le'], [17, 'utf16le']] as const) {
      const info = viaWire('USER_INFO', { info: [{ key: 'MRIM.NICKNAME', value: 'Алиса' }] }, `1.${minor}`);
      assert.deepEqual(info.d.warnings, []);
      assert.ok(info.payload.includes(encodeString('Алиса', wire)), `USER_INFO 1.${minor}`);
      const add = viaWire('ADD_CONTACT', { flags: 0, group: 0, email: 'b@mail.ru', name: 'Боб', phones: '', authMessage: '' }, `1.${minor}`);
      assert.ok(add.payload.includes(encodeString('Боб', wire)), `ADD_CONTACT 1.${minor}`);
      const flagged = viaWire('MODIFY_CONTACT', { id: 20, flags: 0x200, group: 0, email: 'b@mail.ru', name: 'Боб ✓', phones: '' }, `1.${minor}`);
      assert.deepEqual([flagged.d.fields.name, flagged.d.warnings], ['Боб ✓', []]);
      assert.ok(flagged.payload.includes(encodeString('Боб ✓', 'utf16le')), `UNICODE_NAME 1.${minor}`);
    }
  });

  it("USER_INFO with SRV's unpaired trailing LPS (the phone): a warning, no crash, byte-exact", () => {
    const pairs = encodePacket('USER_INFO', { info: [{ key: 'MRIM.NICKNAME', value: 'Алиса' }, { key: 'client.endpoint', value: '127.0.0.1:5000' }] }, { proto: '1.21' });
    const phone = Buffer.from('0c000000' + Buffer.from('+79161234567').toString('hex'), 'hex');
    const frame = Buffer.concat([pairs, phone]);
    frame.writeUInt32LE(frame.length - 44, 16);
    const d = decodeFrame(frame, { dir: 's2c' });
    assert.deepEqual(d.fields.info, [{ key: 'MRIM.NICKNAME', value: 'Алиса' }, { key: 'client.endpoint', value: '127.0.0.1:5000' }]);
    assert.deepEqual(d.warnings, ['16 trailing bytes ignored']);
    assert.equal(d.trailing, phone.toString('hex'));
    assert.equal(reencode(d).toString('hex'), frame.toString('hex'));
  });
});

// ---------------------------------------------------------------------------------------------------
// Bad input: decode never throws; it returns what it could read and says what was wrong.

/** A frame with the given header fields and payload; `dlen` defaults to the payload's length. */
function rawFrame(msg: number, payload: Buffer, opts: { dlen?: number; proto?: string } = {}): Buffer {
  const header = encodePacket(msg, {}, { proto: opts.proto ?? '1.21', seq: 1 }).subarray(0, 44);
  header.writeUInt32LE(opts.dlen ?? payload.length, 16);
  return Buffer.concat([header, payload]);
}
const h = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('bad input: warnings, never an exception', () => {
  it('truncated LPS: the length prefix points past the payload', () => {
    const d = decodeFrame(rawFrame(0x1020, h('64000000 6162636465')), { dir: 'c2s' });
    assert.equal(d.type, 'AUTHORIZE');
    assert.deepEqual(d.fields, {});
    assert.deepEqual(d.warnings, ['truncated LPS "email": length 100 but only 5 bytes left', 'truncated: field "email" runs past the end of the payload']);
  });

  it('a field missing at the end of the payload', () => {
    const d = decodeFrame(rawFrame(0x1011, h('03000000 612e62')), { dir: 'c2s' });
    assert.deepEqual(d.fields, { from: 'a.b' });
    assert.deepEqual(d.warnings, ['truncated: field "msgId" missing (payload ended)']);
  });

  it('dlen beyond the bytes present: what is there is decoded', () => {
    const d = decodeFrame(rawFrame(0x1012, h('0180'), { dlen: 50 }), { dir: 's2c' });
    assert.equal(d.type, 'MESSAGE_STATUS');
    assert.deepEqual(d.warnings, [
      'length beyond payload: dlen 50 but 2 bytes present',
      'truncated: field "status" runs past the end of the payload',
      '2 trailing bytes ignored',
    ]);
    assert.equal(d.trailing, '0180');
  });

  it('bytes after dlen are ignored (the payload is cut by dlen)', () => {
    const d = decodeFrame(rawFrame(0x1012, h('01800000 ffff'), { dlen: 4 }), { dir: 's2c' });
    assert.deepEqual(d.fields, { status: 0x8001 });
    assert.deepEqual(d.warnings, ["2 bytes after the frame's dlen ignored"]);
  });

  it('trailing bytes after the last field are kept and re-encoded', () => {
    const frame = rawFrame(0x1033, h('05000000 0000000000'));
    const d = decodeFrame(frame, { dir: 's2c' });
    assert.deepEqual([d.fields, d.warnings, d.trailing], [{ unread: 5 }, ['5 trailing bytes ignored'], '0000000000']);
    assert.equal(reencode(d).toString('hex'), frame.toString('hex'));
  });

  it('frame shorter than the header', () => {
    for (const n of [0, 1, 4, 43]) {
      const d = decodeFrame(Buffer.alloc(n, 0xef), { dir: 'c2s' });
      assert.equal(d.type, 'TRUNCATED');
      assert.deepEqual(d.warnings, [`frame shorter than the 44-byte header (${n} bytes)`]);
    }
  });

  it('bad magic is reported, the rest still decoded', () => {
    const frame = rawFrame(0x1033, h('07000000'));
    frame.writeUInt32LE(0x12345678, 0);
    const d = decodeFrame(frame, { dir: 's2c' });
    assert.deepEqual([d.type, d.fields, d.warnings], ['MAILBOX_STATUS', { unread: 7 }, ['bad magic 0x12345678']]);
  });

  it('unknown packet type: payload kept as hex, re-encoded byte for byte', () => {
    const frame = rawFrame(0x1234, h('0102030405'));
    const d = decodeFrame(frame, { dir: 's2c' });
    assert.deepEqual([d.type, d.fields, d.warnings], ['UNKNOWN(0x1234)', { data: '0102030405' }, ['unknown packet type 0x1234']]);
    assert.equal(reencode(d).toString('hex'), frame.toString('hex'));
    assert.equal(encodePacket('UNKNOWN(0x1234)', { data: '0102030405' }, { proto: '1.21', seq: 1 }).toString('hex'), frame.toString('hex'));
  });

  it('a packet sent by the wrong side is decoded with a warning', () => {
    const d = decodeFrame(rawFrame(0x1033, h('07000000')), { dir: 'c2s' });
    assert.deepEqual([d.fields, d.warnings], [{ unread: 7 }, ['MAILBOX_STATUS is a server packet but was sent by the client']]);
  });

  describe('invalid string bytes', () => {
    const messageAck = (text: string, proto = '1.21') => rawFrame(0x1009, h(`01000000 00000000 01000000 61 ${text} 00000000`), { proto });
    const cases = [
      { what: 'unpaired UTF-16 surrogate', text: '04000000 3d0400d8', value: 'н\ud800', warning: 'unpaired UTF-16 surrogate' },
      { what: 'CP1251 byte 0x98', text: '03000000 419842', proto: '1.8', value: 'A\ufffdB', warning: 'byte 0x98 is no CP1251 character (shown as U+FFFD)' },
      { what: 'invalid UTF-8 (MY_ACTION_ACK) → latin1', msg: 0x1095, text: '02000000 c328', value: '\u00c3(', warning: '2 bytes are not valid utf8; kept byte for byte' },
    ];
    for (const { what, text, proto, value, warning, msg } of cases) {
      it(`${what}: warned, value kept, re-encoded byte for byte`, () => {
        const frame = msg ? rawFrame(msg, h(text)) : messageAck(text, proto);
        const d = decodeFrame(frame, { dir: 's2c' });
        assert.equal(msg ? d.fields.xml : d.fields.text, value);
        assert.deepEqual(d.warnings, [`invalid string bytes in "${msg ? 'xml' : 'text'}": ${warning}`]);
        assert.equal(reencode(d).toString('hex'), frame.toString('hex'));
      });
    }
  });

  it('huge counts over short payloads stop at once (CAPABILITIES, CLPS, CONTACT_LIST2)', () => {
    const started = Date.now();
    const caps = decodeFrame(rawFrame(0x1090, h('ffffffff 0000')), { dir: 'c2s' });
    assert.equal((caps.fields.capabilities as unknown[]).length, 1);
    assert.ok(caps.warnings.some((w) => /announces 4294967295 records but holds 1/.test(w)), caps.warnings.join('; '));
    const clps = decodeFrame(rawFrame(0x1080, h('08000000 ffffffff 01000000')), { dir: 'c2s' });
    assert.ok(clps.warnings.some((w) => /announces 4294967295 items but holds 0/.test(w)), clps.warnings.join('; '));
    const groups = decodeFrame(rawFrame(0x1037, h('00000000 ffffffff 02000000 7573 06000000 757373757575 02000000 00000000')), { dir: 's2c' });
    assert.ok(groups.warnings.includes('CONTACT_LIST2 announces 4294967295 groups but holds 1'), groups.warnings.join('; '));
    assert.ok(Date.now() - started < 1000);
  });

  it('CONTACT_LIST2 with empty or unknown masks: records kept as trailing bytes, no endless loop', () => {
    const empty = decodeFrame(rawFrame(0x1037, h('00000000 00000000 00000000 00000000 aabbccdd')), { dir: 's2c' });
    assert.deepEqual(empty.warnings, ['CONTACT_LIST2 contact mask: empty mask; records kept as trailing bytes', '4 trailing bytes ignored']);
    const emptyGroups = decodeFrame(rawFrame(0x1037, h('00000000 ffffffff 00000000 00000000')), { dir: 's2c' });
    assert.deepEqual(emptyGroups.warnings, ['CONTACT_LIST2 group mask: empty mask; records kept as trailing bytes']);
    const unknown = rawFrame(0x1037, h('00000000 00000000 02000000 7573 02000000 7578 01000000 02000000'));
    const d = decodeFrame(unknown, { dir: 's2c' });
    assert.deepEqual(d.warnings, ['CONTACT_LIST2 contact mask: unknown mask character in "ux"; records kept as trailing bytes', '8 trailing bytes ignored']);
    assert.equal(reencode(d).toString('hex'), unknown.toString('hex'));
  });

  it('a statistics entry of the unpublished nested type 3 ends the list; the rest is trailing', () => {
    const login = encodePacket('LOGIN3', { login: 'a', password: md5, features: 0, userAgent: '', lang: 'ru', uaDataNames: [], description: 'd', stats: [{ id: 0, type: 2, value: 1 }] }, { proto: '1.23' });
    const frame = Buffer.concat([login, h('07000000 03 0400000001020304')]);
    frame.writeUInt32LE(frame.length - 44, 16);
    const d = decodeFrame(frame, { dir: 'c2s' });
    assert.deepEqual(d.fields.stats, [{ id: 0, type: 2, value: 1 }]);
    assert.deepEqual(d.warnings, ['statistics entry 7 has type 3 (no public layout): rest kept as trailing bytes', '13 trailing bytes ignored']);
    assert.equal(reencode(d).toString('hex'), frame.toString('hex'));
  });

  it('binary fields given text are refused instead of silently sent as nothing', () => {
    assert.throws(() => encodePacket('LOGIN3', { login: 'a', password: 'secret' }, { proto: '1.23' }), /not a hex string/);
    assert.throws(() => encodePacket('DELETE_OFFLINE_MESSAGE', { uidl: 'zz' }, { proto: '1.21' }), /not a hex string/);
  });
});

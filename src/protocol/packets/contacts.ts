/** The contact list: CONTACT_LIST2 and its mask-described records, edits, authorization, the legacy list. */
import * as K from '../constants.js';
import { annotations, annotationType, childContext, field, lpsRecordType, restType, since, spread, TRUNCATED, ul, type FieldContext, type FieldSpec, type FieldType, type Fields, type Layout } from '../fields.js';
import { clpsType, cstringType, type EncodingRule } from '../text-fields.js';
import { decodeAuthBlob } from '../formats.js';
import { decodeString } from '../text.js';
import { packet } from './def.js';
import { ascii, utf16, xstatusText, guessed, nameText, str, flagSet, flagged } from './rules.js';

/** Column names of CONTACT_LIST2 records by position (§10.1); unknown columns are `colN`. */
export const GROUP_COLUMNS = ['flags', 'name'] as const;
export const CONTACT_COLUMNS = [
  'flags',
  'group',
  'email',
  'nick',
  'serverFlags',
  'status',
  'phones',
  'statusUri',
  'statusTitle',
  'statusDesc',
  'features',
  'userAgent',
  'blogIdLow',
  'blogIdHigh',
  'blogTime',
  'blogText',
  'blogExtra',
  'blogReplyNick',
] as const;

const CONTACT_COLUMN_TEXT: Record<string, EncodingRule> = {
  name: nameText,
  nick: nameText,
  statusTitle: xstatusText,
  statusDesc: xstatusText,
  blogText: utf16,
  blogExtra: utf16,
  blogReplyNick: utf16,
  email: ascii,
  phones: ascii,
  statusUri: ascii,
  userAgent: ascii,
};

/**
 * Contact masks a server sends by version (§10.1). [CONFLICT] for 1.13–1.14 (chosen: 7 columns until
 * 1.14, as SRV) and 1.21–1.22 (chosen: SRV's 21 columns, the same as real 1.23). Decoding never needs
 * this table: masks are self-describing.
 */
export function contactMaskFor(minor: number): string {
  if (minor < 8) return 'uussuu';
  if (minor < 15) return 'uussuus';
  if (minor < 20) return 'uussuussssus';
  if (minor < 21) return 'uussuussssusuuusss';
  return 'uussuussssusuuusssssu';
}
export const GROUP_MASK = 'us';

const CONTACT_COLUMN_UL: Record<string, FieldSpec> = {
  flags: ul('flags', { flags: K.CONTACT_FLAGS }),
  serverFlags: ul('serverFlags', { flags: K.SERVER_FLAGS }),
  status: ul('status', { values: K.STATUS }),
  features: ul('features', { flags: K.FEATURES }),
  blogTime: ul('blogTime', { time: true }),
};

/** The layout a mask describes, with names and constant tables for the known columns. */
export function maskSpecs(mask: string, names: readonly string[]): Layout {
  return [...mask].map((ch, i) => {
    const name = names[i] ?? `col${i}`;
    if (ch === 'u') return CONTACT_COLUMN_UL[name] ?? ul(name);
    // A NUL-terminated string cannot hold UTF-16LE (its ASCII code units contain NUL bytes): `z` columns
    // are single-byte text whatever the column.
    if (ch === 'z') return field(name, cstringType(ascii));
    return str(name, CONTACT_COLUMN_TEXT[name] ?? guessed);
  });
}

/**
 * Why records cannot be read with a mask, if they cannot: an empty mask describes records of no bytes,
 * so neither a count nor the payload's end would ever be reached.
 */
function unreadableMask(mask: string): string | undefined {
  if (mask === '') return 'empty mask';
  return /[^usz]/.test(mask) ? `unknown mask character in "${mask}"` : undefined;
}

/** Group and contact records of CONTACT_LIST2, walked generically by their masks (§10.1). */
const contactRecordsType: FieldType<Fields> = {
  wire: 'records by mask',
  empty: {},
  keys: ['groups', 'contacts'],
  acceptsEmpty: true,
  recordLayouts: (f) => ({
    groups: maskSpecs(String(f.groupMask ?? GROUP_MASK), GROUP_COLUMNS),
    contacts: maskSpecs(String(f.contactMask ?? ''), CONTACT_COLUMNS),
  }),
  decode(r, c) {
    // String(): in a lazy decode (strings: 'lazy') the masks are still their bytes, a LazyText.
    const groupMask = String(c.fields.groupMask ?? '');
    const contactMask = String(c.fields.contactMask ?? '');
    const groups: Fields[] = [];
    const contacts: Fields[] = [];
    const count = Number(c.fields.groupCount ?? 0);
    const unreadable = (mask: string, what: string) => {
      const problem = unreadableMask(mask);
      if (problem) c.warnings.push(`CONTACT_LIST2 ${what}: ${problem}; records kept as trailing bytes`);
      return problem !== undefined;
    };
    if (count > 0 && unreadable(groupMask, 'group mask')) return { groups, contacts };
    // One layout per mask, shared by every record it describes, and one context, emptied for each
    // record (a context spread per record cost more than reading its fields).
    const probe: FieldContext = { ...c, fields: {}, warnings: [], notes: [] };
    const readRecord = (specs: Layout, prefix: string): Fields | undefined => {
      const start = r.pos;
      const record: Fields = {};
      probe.fields = record;
      for (const spec of specs) {
        const v = spec.type.decode(r, probe, prefix + spec.name);
        if (v === TRUNCATED) {
          r.pos = start;
          probe.warnings.length = probe.notes.length = 0;
          return undefined;
        }
        record[spec.name] = v;
      }
      if (probe.warnings.length) c.warnings.push(...probe.warnings.splice(0));
      if (probe.notes.length) c.notes.push(...probe.notes.splice(0));
      return record;
    };
    const groupSpecs = maskSpecs(groupMask, GROUP_COLUMNS);
    for (let i = 0; i < count; i++) {
      const g = readRecord(groupSpecs, `groups.${i}.`);
      if (!g) {
        c.warnings.push(`CONTACT_LIST2 announces ${count} groups but holds ${i}`);
        return { groups, contacts };
      }
      groups.push(g);
    }
    if (!r.atEnd && unreadable(contactMask, 'contact mask')) return { groups, contacts };
    const contactSpecs = maskSpecs(contactMask, CONTACT_COLUMNS);
    while (!r.atEnd) {
      const ct = readRecord(contactSpecs, `contacts.${contacts.length}.`);
      if (!ct) break;
      contacts.push(ct);
    }
    return { groups, contacts };
  },
  encode(w, v, c) {
    const fields = v as Fields;
    const write = (mask: string, names: readonly string[], records: unknown, prefix: string) => {
      const specs = maskSpecs(mask, names);
      (Array.isArray(records) ? (records as Fields[]) : []).forEach((record, i) => {
        const rc = childContext(c, record);
        for (const spec of specs) {
          spec.type.encode(w, record[spec.name] ?? spec.type.empty, rc, `${prefix}.${i}.${spec.name}`);
        }
      });
    };
    write(String(fields.groupMask ?? GROUP_MASK), GROUP_COLUMNS, fields.groups, 'groups');
    write(String(fields.contactMask ?? contactMaskFor(c.minor)), CONTACT_COLUMNS, fields.contacts, 'contacts');
  },
};

/** Legacy CONTACT_LIST_ACK area (§10.6): 20 × 128-byte group texts, then 256-byte contact texts. */
function parseLegacyContactList(area: Buffer): Fields {
  const text = (b: Buffer) => {
    const nul = b.indexOf(0);
    return decodeString(nul === -1 ? b : b.subarray(0, nul), 'cp1251').value.replace(/\n$/, '');
  };
  const groups: Fields[] = [];
  for (let i = 0; i < 20 && (i + 1) * 128 <= area.length; i++) {
    const t = text(area.subarray(i * 128, i * 128 + 127));
    const m = /^([0-9a-fA-F]{8}) (.*)$/.exec(t);
    if (m) groups.push({ index: i, flags: parseInt(m[1], 16), name: m[2] });
  }
  const contacts: Fields[] = [];
  for (let off = 0xa00; off + 256 <= area.length; off += 256) {
    const rec = area.subarray(off, off + 256);
    const m = /^([0-9a-fA-F]{8}) ([0-9a-fA-F]{8}) (\S+) ([0-9a-fA-F]{2})(.*)$/.exec(text(rec.subarray(0, 0xfb)));
    if (!m) continue;
    contacts.push({
      flags: parseInt(m[1], 16),
      group: parseInt(m[2], 16),
      email: m[3],
      nick: m[5].slice(0, parseInt(m[4], 16)),
      serverFlags: parseInt(text(rec.subarray(0xfb, 0xff)) || '0', 16),
    });
  }
  return { groups, contacts };
}

export const CONTACT_PACKETS = [
  packet({
    code: 0x100a,
    name: 'CONTACT_LIST',
    dir: 'c2s',
    section: '10.6',
    since: '≤1.6',
    summary: 'legacy contact list request',
    layout: [],
  }),
  packet({
    code: 0x100b,
    name: 'CONTACT_LIST_ACK',
    dir: 's2c',
    section: '10.6',
    since: '≤1.6',
    summary: 'legacy fixed-record contact list',
    layout: [ul('count'), ul('length'), field('records', restType)],
    reply: { requests: ['CONTACT_LIST'], by: 'last' },
    derive: (f) => ({ parsed: parseLegacyContactList(Buffer.from(String(f.records), 'hex')) }),
    derived: [
      field(
        'parsed',
        annotationType([
          field('groups', annotationType([ul('flags', { flags: K.CONTACT_FLAGS })])),
          field('contacts', annotationType([ul('flags', { flags: K.CONTACT_FLAGS }), ul('serverFlags', { flags: K.SERVER_FLAGS })])),
        ]),
      ),
    ],
  }),
  packet({
    code: 0x1019,
    name: 'ADD_CONTACT',
    dir: 'c2s',
    section: '10.2',
    summary: 'add a contact, group, phone contact or chat',
    layout: [
      ul('flags', { flags: K.CONTACT_FLAGS }),
      ul('group'),
      str('email', ascii),
      str('name', nameText),
      str('phones', ascii),
      // Optional: pidgin-mra (1.8) ends its ADD_CONTACT after the phones.
      str('authMessage', ascii, { optional: true, doc: 'base64 authorization blob (§18.4)' }),
      ul('actions', { flags: K.ADD_CONTACT_ACTIONS, optional: true, when: since(15) }),
      field('multichat', lpsRecordType([field('members', clpsType(ascii)), str('owner', ascii, { optional: true })]), {
        optional: true,
        when: (c) => c.minor >= 20 && flagSet(c, K.CONTACT_FLAG.MULTICHAT),
      }),
    ],
    derived: annotations('auth'),
    derive: (f) => {
      const blob = typeof f.authMessage === 'string' && f.authMessage ? decodeAuthBlob(f.authMessage) : undefined;
      return blob && !('error' in blob) ? { auth: blob } : undefined;
    },
  }),
  packet({
    code: 0x101a,
    name: 'ADD_CONTACT_ACK',
    dir: 's2c',
    section: '10.2',
    summary: 'result and id of ADD_CONTACT (same seq)',
    layout: [ul('status', { values: K.CONTACT_OPER }), ul('contactId'), str('chatAddress', ascii, { optional: true })],
    reply: { requests: ['ADD_CONTACT'], by: 'seq' },
  }),
  packet({
    code: 0x101b,
    name: 'MODIFY_CONTACT',
    dir: 'both',
    section: '10.3',
    summary: 'rename/move/delete a contact or group (S→C: sync from another session)',
    layout: [
      ul('id'),
      ul('flags', { flags: K.CONTACT_FLAGS }),
      ul('group'),
      str('email', ascii),
      str('name', nameText),
      str('phones', ascii, { optional: true }),
    ],
  }),
  packet({
    code: 0x101c,
    name: 'MODIFY_CONTACT_ACK',
    dir: 's2c',
    section: '10.3',
    summary: 'result of MODIFY_CONTACT (same seq)',
    layout: [ul('status', { values: K.CONTACT_OPER })],
    reply: { requests: ['MODIFY_CONTACT'], by: 'seq' },
  }),
  packet({
    code: 0x1020,
    name: 'AUTHORIZE',
    dir: 'c2s',
    section: '10.4',
    summary: 'grant authorization to a user',
    layout: [str('email', ascii)],
  }),
  packet({
    code: 0x1021,
    name: 'AUTHORIZE_ACK',
    dir: 's2c',
    section: '10.4',
    summary: 'a user authorized you',
    layout: [str('email', ascii)],
    // Caused by the request for authorization: an ADD_CONTACT (of a user, not a group, phone, chat or
    // ignored stranger) or a MESSAGE with AUTHORIZE. It comes if and when the other user agrees.
    reply: {
      requests: ['ADD_CONTACT', 'MESSAGE'],
      by: 'field',
      field: 'email',
      requestField: { ADD_CONTACT: 'email', MESSAGE: 'to' },
      extra: true,
      answers: (request, type) =>
        type === 'MESSAGE'
          ? flagged(request, K.MESSAGE_FLAG.AUTHORIZE)
          : !flagged(request, K.CONTACT_FLAG.GROUP | K.CONTACT_FLAG.PHONE | K.CONTACT_FLAG.MULTICHAT | K.CONTACT_FLAG.SHADOW),
    },
  }),
  packet({
    code: 0x1037,
    name: 'CONTACT_LIST2',
    dir: 's2c',
    section: '10.1',
    since: '1.7',
    summary: 'groups and contacts, records described by masks',
    layout: [
      ul('status', { values: K.GET_CONTACTS }),
      ul('groupCount', { when: (c) => c.fields.status === 0, default: (c) => (Array.isArray(c.fields.groups) ? c.fields.groups.length : 0) }),
      str('groupMask', ascii, { when: (c) => c.fields.status === 0, default: () => GROUP_MASK }),
      str('contactMask', ascii, { when: (c) => c.fields.status === 0, default: (c) => contactMaskFor(c.minor) }),
      spread('records', contactRecordsType, { when: (c) => c.fields.status === 0 }),
    ],
    derive: (f) => {
      if (!Array.isArray(f.contacts)) return undefined;
      (f.contacts as Fields[]).forEach((ct, i) => (ct.id = K.FIRST_CONTACT_ID + i));
      return undefined;
    },
  }),
];

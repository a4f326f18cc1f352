/**
 * THE packet table: every MRIM packet type of the reference's master table (§6), declared once.
 * Decoding, encoding, pretty-printing, filters and the packet list in the README are all driven by it.
 * Where the reference marks a point [CONFLICT], the rule chosen is named in a comment next to it.
 */
import { PayloadReader } from './buffer.js';
import * as K from './constants.js';
import {
  childContext,
  clpsType,
  countedType,
  cstringType,
  decodeText,
  encodeText,
  field,
  fixedBytes,
  fixedEncoding,
  guidType,
  lpsBytesType,
  lpsRecordType,
  readLps,
  repeatType,
  restType,
  since,
  textType,
  TRUNCATED,
  u64Type,
  uidlType,
  ul,
  type EncodingRule,
  type FieldContext,
  type FieldSpec,
  type FieldType,
  type Fields,
  type Layout,
} from './fields.js';
import {
  decodeAuthBlob,
  decodeEncodedWords,
  parseOfflineMessage,
  parseRecipients,
  unpackRtf,
} from './formats.js';
import { decodeString, encodeString, looksLikeUtf16, textEncodingFor, type Encoding } from './text.js';

// ---------------------------------------------------------------------------------------------------
// Encoding rules (reference §4)

/** Logins, URIs, user agents, keys: ASCII / CP1251 in every version. */
const ascii: EncodingRule = fixedEncoding('cp1251');
const utf16: EncodingRule = fixedEncoding('utf16le');
const utf8: EncodingRule = fixedEncoding('utf8');
const binary: EncodingRule = fixedEncoding('hex');

/** Names, USER_INFO values, search text: UTF-16LE from 1.16 (the 1.16 boundary of SRV/OMRA, §4.2). */
const versionText: EncodingRule = (c) => textEncodingFor(c.minor);

/**
 * X-status title/description. [CONFLICT §4.2/§22.1] P1412 says UTF-16LE from 1.14, OMRA/SRV (real MRA
 * 5.0 clients) say CP1251 until 1.15. Chosen: 1.16 for encoding; for 1.14–1.15 the decoder reads UTF-16LE
 * when the bytes look like it, so both variants decode.
 */
const xstatusText: EncodingRule = (c, bytes) => {
  if (c.minor >= 16) return 'utf16le';
  return c.minor >= 14 && bytes && looksLikeUtf16(bytes) ? 'utf16le' : 'cp1251';
};

/** Where no source fixes the encoding: UTF-16LE when the bytes look like it, otherwise CP1251. */
const guessed: EncodingRule = (_c, bytes) => (bytes && looksLikeUtf16(bytes) ? 'utf16le' : 'cp1251');

/** Contact/group names: UTF-16LE when the record says UNICODE_NAME (0x200) or the version is ≥1.16. */
const nameText: EncodingRule = (c) =>
  (Number(c.fields.flags) & K.CONTACT_FLAG.UNICODE_NAME) !== 0 ? 'utf16le' : versionText(c);

/**
 * Message text (§4.3, recommended decoder): CP1251 flag → CP1251; UNICODE flag or ≥1.16 → UTF-16LE;
 * otherwise CP1251 (odd lengths fall back to CP1251 inside decodeString). Authorization blobs are
 * base64, sent by some clients as ASCII even in UTF-16 sessions, so their encoding is read off the bytes.
 */
const messageText: EncodingRule = (c, bytes) => {
  const flags = Number(c.fields.flags);
  if (flags & K.MESSAGE_FLAG.CP1251) return 'cp1251';
  if (bytes && flags & K.MESSAGE_FLAG.AUTHORIZE) return looksLikeUtf16(bytes) ? 'utf16le' : 'cp1251';
  if (flags & K.MESSAGE_FLAG.UNICODE) return 'utf16le';
  return versionText(c);
};

/**
 * Passwords. [CONFLICT §7.2.1/§22.8] ≥1.22 senders put the 16 raw MD5 bytes in LOGIN3 and (PRPL, VAD)
 * in LOGIN2; older ones send plain CP1251. Chosen: MD5 is written from 1.22. Read in any version: from
 * 1.22, where digests are the norm, 16 bytes that are not all printable ASCII are MD5 (shown as hex);
 * before, only 16 bytes no typed password holds (control bytes, CP1251's undefined 0x98) are, so a
 * 16-letter Cyrillic password stays text. Everything else is plain text.
 */
const passwordText: EncodingRule = (c, bytes) => {
  if (!bytes) return c.minor >= 22 ? 'hex' : 'cp1251';
  if (bytes.length !== 16) return 'cp1251';
  const text = bytes.toString('latin1');
  const digest = c.minor >= 22 ? !/^[\x20-\x7e]*$/.test(text) : /[\x00-\x1f\x7f\x98]/.test(text);
  return digest ? 'hex' : 'cp1251';
};

const str = (name: string, rule: EncodingRule, extra: Omit<FieldSpec, 'name' | 'type'> = {}): FieldSpec =>
  field(name, textType(rule), extra);

const flagSet = (c: FieldContext, bit: number) => (Number(c.fields.flags) & bit) !== 0;

// ---------------------------------------------------------------------------------------------------
// Composite field types specific to one packet family

/** LOGIN2/LOGIN3 statistics trailer (§7.2.3): `UL id, BYTE type, value` until the end. */
const statsType: FieldType<Fields[]> = {
  wire: 'stats…',
  empty: [],
  acceptsEmpty: true,
  decode(r, c, path) {
    const items: Fields[] = [];
    while (!r.atEnd) {
      const start = r.pos;
      const id = r.ul();
      const type = r.byte();
      const item: Fields = { id, type };
      if (id === undefined || type === undefined) {
        r.pos = start;
        break;
      }
      if (type === 1) {
        const b = r.lps();
        if (!Buffer.isBuffer(b)) {
          r.pos = start;
          break;
        }
        item.value = decodeText(b, guessed, c, `${path}.${items.length}.value`);
      } else if (type === 2) {
        const v = r.ul();
        if (v === undefined) {
          r.pos = start;
          break;
        }
        item.value = v;
      } else {
        // Nested statistics packets (type 3) have no public layout: stop and leave the rest as trailing.
        r.pos = start;
        c.warnings.push(`statistics entry ${id} has type ${type} (no public layout): rest kept as trailing bytes`);
        break;
      }
      items.push(item);
    }
    return items;
  },
  encode(w, v, c, path) {
    (Array.isArray(v) ? (v as Fields[]) : []).forEach((item, i) => {
      w.ul(Number(item.id)).byte(Number(item.type));
      if (Number(item.type) === 1) w.lps(encodeText(item.value, guessed, c, `${path}.${i}.value`));
      else w.ul(Number(item.value));
    });
  },
};

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
    // One layout per mask, shared by every record it describes.
    const readRecord = (specs: Layout, prefix: string): Fields | undefined => {
      const start = r.pos;
      const record: Fields = {};
      const probe: FieldContext = { ...c, fields: record, warnings: [] };
      for (const spec of specs) {
        const v = spec.type.decode(r, probe, prefix + spec.name);
        if (v === TRUNCATED) {
          r.pos = start;
          return undefined;
        }
        record[spec.name] = v;
      }
      c.warnings.push(...probe.warnings);
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

/** ANKETA_INFO columns and rows (§11.2): rows are objects keyed by column name, in column order. */
const anketaRule =
  (column: string): EncodingRule =>
  (c, bytes) => {
    if (c.minor < 16) return 'cp1251';
    // [CONFLICT] MIR: only the text columns are UTF-16LE; P1412: every value. Text columns follow MIR;
    // the others are read as UTF-16LE when their bytes look like it.
    if (K.ANKETA_TEXT_COLUMNS.has(column.toLowerCase())) return 'utf16le';
    return bytes && looksLikeUtf16(bytes) ? 'utf16le' : 'cp1251';
  };

const anketaType: FieldType<Fields> = {
  wire: 'F × LPS names, rows × F × LPS',
  empty: {},
  keys: ['maxRows', 'serverTime', 'columns', 'rows'],
  decode(r, c) {
    const count = r.ul();
    const maxRows = r.ul();
    const serverTime = r.ul();
    if (count === undefined || maxRows === undefined || serverTime === undefined) return TRUNCATED;
    const columns: string[] = [];
    for (let i = 0; i < count; i++) {
      const b = readLps(r, c, `columns.${i}`);
      if (b === TRUNCATED) return { maxRows, serverTime, columns, rows: [] };
      columns.push(decodeText(b, ascii, c, `columns.${i}`));
    }
    const rows: Fields[] = [];
    while (!r.atEnd && columns.length > 0) {
      const start = r.pos;
      const row: Fields = {};
      for (const [i, name] of columns.entries()) {
        const b = readLps(r, c, `rows.${rows.length}.${name}`);
        if (b === TRUNCATED) {
          r.pos = start;
          c.warnings.push(`ANKETA_INFO row ${rows.length} is incomplete: kept as trailing bytes`);
          return { maxRows, serverTime, columns, rows };
        }
        row[columns[i]] = decodeText(b, anketaRule(name), c, `rows.${rows.length}.${name}`);
      }
      rows.push(row);
    }
    return { maxRows, serverTime, columns, rows };
  },
  encode(w, v, c) {
    const f = v as Fields;
    const columns = (Array.isArray(f.columns) ? f.columns : []) as string[];
    w.ul(columns.length).ul(Number(f.maxRows ?? 0)).ul(Number(f.serverTime ?? 0));
    columns.forEach((name, i) => w.lps(encodeText(name, ascii, c, `columns.${i}`)));
    ((Array.isArray(f.rows) ? f.rows : []) as Fields[]).forEach((row, i) =>
      columns.forEach((name) => w.lps(encodeText(row[name] ?? '', anketaRule(name), c, `rows.${i}.${name}`))),
    );
  },
};

// ---------------------------------------------------------------------------------------------------
// Shared record layouts

/** Multichat data of MESSAGE (C→S, §8.1/§15.2). */
const multichatRequest: Layout = [
  ul('type', { values: K.MULTICHAT_TYPE }),
  field('members', clpsType(ascii), { when: (c) => c.fields.type === 3 || c.fields.type === 8, optional: true }),
];

/** Multichat data of MESSAGE_ACK (S→C, §15.2): the fields after the chat name depend on the type. */
const multichatEvent: Layout = [
  ul('type', { values: K.MULTICHAT_TYPE }),
  str('chatName', utf16),
  str('sender', ascii, { when: (c) => [0, 3, 7, 8].includes(Number(c.fields.type)) }),
  field('members', clpsType(ascii), { when: (c) => [2, 3, 8].includes(Number(c.fields.type)) }),
  str('owner', ascii, { when: (c) => c.fields.type === 2, optional: true }),
  str('member', ascii, { when: (c) => c.fields.type === 4 || c.fields.type === 5 }),
  str('by', ascii, { when: (c) => c.fields.type === 9 }),
];

const xstatusFields: Layout = [
  str('statusUri', ascii),
  str('statusTitle', xstatusText),
  str('statusDesc', xstatusText),
];

const proxyFields: Layout = [
  str('peer', ascii, { doc: 'to (C→S) / from (S→C)' }),
  ul('idRequest'),
  ul('dataType', { values: K.PROXY_TYPE }),
  str('userData', ascii, { doc: 'for FILES: CP1251 list name;size;…' }),
  str('addresses', ascii, { doc: 'proxy ip:port;… (filled by the server)' }),
  field('sessionId', guidType),
  str('userData2', utf16, { optional: true, doc: '≥1.16; for FILES: UTF-16LE file list' }),
];

const udpMediaList = field('params', clpsType(guessed), { optional: true });

// ---------------------------------------------------------------------------------------------------
// The table

export type PacketDirection = 'c2s' | 's2c' | 'both';

/** How a reply finds the request it answers (reference §3.2). */
export type ReplyRule =
  | { requests: string[]; by: 'seq' }
  /** The most recent outstanding request of that type (HELLO_ACK, LOGIN_ACK). */
  | { requests: string[]; by: 'last' }
  /** A field of the reply equals a field of the request (msg_id, id_request, UIDL). */
  | { requests: string[]; by: 'field'; field: string; requestField: string };

export interface Variant {
  name: string;
  layout: Layout;
}

export interface PacketDef {
  code: number;
  name: string;
  aliases?: string[];
  dir: PacketDirection;
  /** Reference section with the layout. */
  section: string;
  /** Earliest version where a source shows it, for documentation. */
  since?: string;
  summary: string;
  layout?: Layout;
  /**
   * For packets with several wire forms: picks one from the payload when decoding (payload given) or
   * from the fields when encoding.
   */
  variant?: (c: FieldContext, payload?: Buffer) => Variant;
  /** Every wire form `variant` can pick, for documentation and tests. */
  variants?: readonly Variant[];
  /** Decode-only annotations derived from the fields (unpacked RTF, parsed offline mail…). */
  derive?: (f: Fields, c: FieldContext) => Fields | undefined;
  reply?: ReplyRule;
  /** The reference has no public layout: the payload is kept as raw bytes. */
  unknownLayout?: boolean;
}

const USER_STATUS_SHORT: Variant = {
  name: 'short',
  layout: [ul('status', { values: K.STATUS }), str('user', ascii)],
};
const USER_STATUS_EXTENDED: Variant = {
  name: 'extended',
  layout: [
    ul('status', { values: K.STATUS }),
    ...xstatusFields,
    str('user', ascii),
    ul('features', { flags: K.FEATURES, optional: true }),
    str('userAgent', ascii, { optional: true }),
  ],
};
const CHANGE_STATUS_SHORT: Variant = { name: 'short', layout: [ul('status', { values: K.STATUS })] };
const CHANGE_STATUS_EXTENDED: Variant = {
  name: 'extended',
  layout: [ul('status', { values: K.STATUS }), ...xstatusFields, ul('features', { flags: K.FEATURES, optional: true })],
};

/** Unpacked RTF / authorization blob / multicast recipients of MESSAGE and MESSAGE_ACK. */
function deriveMessage(f: Fields, c: FieldContext): Fields | undefined {
  const out: Fields = {};
  const flags = Number(f.flags);
  const rtf = typeof f.rtf === 'string' ? f.rtf.trim() : '';
  if (flags & (K.MESSAGE_FLAG.RTF | K.MESSAGE_FLAG.FLASH) && rtf) {
    const unpacked = unpackRtf(rtf);
    if ('error' in unpacked) c.warnings.push(`rtf: ${unpacked.error}`);
    else out.rtfUnpacked = unpacked;
  }
  if (flags & K.MESSAGE_FLAG.AUTHORIZE && typeof f.text === 'string' && f.text) {
    const blob = decodeAuthBlob(f.text);
    if (!('error' in blob)) out.auth = blob;
  }
  if (flags & K.MESSAGE_FLAG.MULTICAST && typeof f.to === 'string') {
    const recipients = parseRecipients(encodeString(f.to, c.enc.to ?? 'cp1251'));
    out.recipients = recipients.addresses;
    out.recipientsForm = recipients.form;
  }
  return Object.keys(out).length ? out : undefined;
}

const empty: Layout = [];

export const PACKETS: readonly PacketDef[] = [
  {
    code: 0x1001,
    name: 'HELLO',
    dir: 'c2s',
    section: '7.1',
    summary: 'first packet of a session; payload normally empty',
    layout: [
      ul('pingPeriod', { optional: true, doc: 'desired ping period (P1412, rarely sent)' }),
      // [CONFLICT inside P1412] flags (MRIM_HELLO_FLAG_SERVER_PINGS) or "server's ping period": named by its text.
      ul('flags', { optional: true, hex: true }),
    ],
  },
  {
    code: 0x1002,
    name: 'HELLO_ACK',
    dir: 's2c',
    section: '7.1',
    summary: 'ping period; ≥1.20 servers add their time',
    layout: [ul('pingPeriod'), ul('serverTime', { optional: true, time: true }), ul('serverTimeNs', { optional: true })],
    reply: { requests: ['HELLO'], by: 'last' },
  },
  {
    code: 0x1003,
    name: 'LOGIN',
    dir: 'c2s',
    section: '7.2',
    since: '≤1.6',
    summary: 'legacy login (MRA 2–4)',
    layout: [str('login', ascii), str('password', ascii, { secret: true })],
  },
  {
    code: 0x1004,
    name: 'LOGIN_ACK',
    dir: 's2c',
    section: '7.2',
    summary: 'login accepted',
    layout: empty,
    reply: { requests: ['LOGIN2', 'LOGIN3', 'LOGIN'], by: 'last' },
  },
  {
    code: 0x1005,
    name: 'LOGIN_REJ',
    dir: 's2c',
    section: '7.2',
    summary: 'login rejected with a reason (Invalid login, Access denied…)',
    layout: [str('reason', ascii), str('data', ascii, { optional: true })],
    reply: { requests: ['LOGIN2', 'LOGIN3', 'LOGIN'], by: 'last' },
  },
  {
    code: 0x1006,
    name: 'PING',
    dir: 'both',
    section: '7.1',
    summary: 'keep-alive, every ping period',
    layout: empty,
  },
  {
    code: 0x1008,
    name: 'MESSAGE',
    dir: 'c2s',
    section: '8.1',
    summary: 'send a message (also typing, auth request, alarm, multicast…)',
    layout: [
      ul('flags', { flags: K.MESSAGE_FLAGS }),
      str('to', ascii, { doc: 'recipient; MULTICAST: concatenated LPS addresses' }),
      str('text', messageText),
      str('rtf', ascii, { optional: true, doc: 'packed RTF (base64 of zlib) or " "' }),
      field('multichat', lpsRecordType(multichatRequest), {
        optional: true,
        when: (c) => c.minor >= 20 && flagSet(c, K.MESSAGE_FLAG.MULTICHAT),
      }),
    ],
    derive: deriveMessage,
  },
  {
    code: 0x1009,
    name: 'MESSAGE_ACK',
    dir: 's2c',
    section: '8.2',
    summary: 'incoming message',
    layout: [
      ul('msgId'),
      ul('flags', { flags: K.MESSAGE_FLAGS }),
      str('from', ascii),
      str('text', messageText),
      str('rtf', ascii, { optional: true }),
      // Only with the MULTICHAT flag; anything else after rtf (SRV's 12 zero bytes, P1412's archive id)
      // is kept as trailing bytes, as the reference advises.
      field('multichat', lpsRecordType(multichatEvent), {
        optional: true,
        when: (c) => c.minor >= 20 && flagSet(c, K.MESSAGE_FLAG.MULTICHAT),
      }),
    ],
    derive: deriveMessage,
  },
  {
    code: 0x100a,
    name: 'CONTACT_LIST',
    dir: 'c2s',
    section: '10.6',
    since: '≤1.6',
    summary: 'legacy contact list request',
    layout: empty,
  },
  {
    code: 0x100b,
    name: 'CONTACT_LIST_ACK',
    dir: 's2c',
    section: '10.6',
    since: '≤1.6',
    summary: 'legacy fixed-record contact list',
    layout: [ul('count'), ul('length'), field('records', restType)],
    reply: { requests: ['CONTACT_LIST'], by: 'last' },
    derive: (f) => ({ parsed: parseLegacyContactList(Buffer.from(String(f.records), 'hex')) }),
  },
  {
    code: 0x100f,
    name: 'USER_STATUS',
    dir: 's2c',
    section: '9.1',
    summary: "a contact's presence changed",
    // [CONFLICT §22.2] extended form from 1.14 (P1412, OMRA) or 1.15 (SRV). Decoded by shape, as the
    // reference advises (payload ends after UL + one LPS → short form); encoded by the fields given.
    variant: (c, payload) => {
      if (payload) {
        const r = new PayloadReader(payload);
        r.ul();
        r.lps();
        return r.atEnd ? USER_STATUS_SHORT : USER_STATUS_EXTENDED;
      }
      return c.fields.statusUri !== undefined ? USER_STATUS_EXTENDED : USER_STATUS_SHORT;
    },
    variants: [USER_STATUS_SHORT, USER_STATUS_EXTENDED],
  },
  {
    code: 0x1011,
    name: 'MESSAGE_RECV',
    dir: 'c2s',
    section: '8.3',
    summary: 'acknowledges an incoming MESSAGE_ACK',
    layout: [str('from', ascii), ul('msgId')],
    reply: { requests: ['MESSAGE_ACK'], by: 'field', field: 'msgId', requestField: 'msgId' },
  },
  {
    code: 0x1012,
    name: 'MESSAGE_STATUS',
    dir: 's2c',
    section: '8.4',
    summary: 'delivery status of a MESSAGE (same seq)',
    layout: [ul('status', { values: K.MESSAGE_STATUS })],
    reply: { requests: ['MESSAGE'], by: 'seq' },
  },
  {
    code: 0x1013,
    name: 'LOGOUT',
    dir: 's2c',
    section: '7.3',
    summary: 'server ends the session (0x10: logged in elsewhere)',
    layout: [ul('reason', { flags: K.LOGOUT_REASON })],
  },
  {
    code: 0x1014,
    name: 'CONNECTION_PARAMS',
    dir: 's2c',
    section: '7.3',
    summary: 'new ping period',
    layout: [ul('pingPeriod')],
  },
  {
    code: 0x1015,
    name: 'USER_INFO',
    dir: 's2c',
    section: '7.4',
    summary: 'key/value pairs about the own account',
    layout: [field('info', repeatType([str('key', ascii), str('value', versionText)], '(LPS key, LPS value)…'))],
  },
  {
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
    derive: (f) => {
      const blob = typeof f.authMessage === 'string' && f.authMessage ? decodeAuthBlob(f.authMessage) : undefined;
      return blob && !('error' in blob) ? { auth: blob } : undefined;
    },
  },
  {
    code: 0x101a,
    name: 'ADD_CONTACT_ACK',
    dir: 's2c',
    section: '10.2',
    summary: 'result and id of ADD_CONTACT (same seq)',
    layout: [ul('status', { values: K.CONTACT_OPER }), ul('contactId'), str('chatAddress', ascii, { optional: true })],
    reply: { requests: ['ADD_CONTACT'], by: 'seq' },
  },
  {
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
  },
  {
    code: 0x101c,
    name: 'MODIFY_CONTACT_ACK',
    dir: 's2c',
    section: '10.3',
    summary: 'result of MODIFY_CONTACT (same seq)',
    layout: [ul('status', { values: K.CONTACT_OPER })],
    reply: { requests: ['MODIFY_CONTACT'], by: 'seq' },
  },
  {
    code: 0x101d,
    name: 'OFFLINE_MESSAGE_ACK',
    dir: 's2c',
    section: '8.6',
    summary: 'a stored offline message (RFC822-like text)',
    layout: [field('uidl', uidlType), str('message', ascii)],
    derive: (f) => ({ parsed: parseOfflineMessage(String(f.message ?? '')) }),
  },
  {
    code: 0x101e,
    name: 'DELETE_OFFLINE_MESSAGE',
    dir: 'c2s',
    section: '8.6',
    summary: 'deletes an offline message by UIDL',
    layout: [field('uidl', uidlType)],
    reply: { requests: ['OFFLINE_MESSAGE_ACK'], by: 'field', field: 'uidl', requestField: 'uidl' },
  },
  {
    code: 0x1020,
    name: 'AUTHORIZE',
    dir: 'c2s',
    section: '10.4',
    summary: 'grant authorization to a user',
    layout: [str('email', ascii)],
  },
  {
    code: 0x1021,
    name: 'AUTHORIZE_ACK',
    dir: 's2c',
    section: '10.4',
    summary: 'a user authorized you',
    layout: [str('email', ascii)],
  },
  {
    code: 0x1022,
    name: 'CHANGE_STATUS',
    dir: 'both',
    section: '9.2',
    summary: 'set own status (x-status, title, description ≥1.14)',
    // [CONFLICT §22.2] extended from 1.14 (P1412) or 1.15 (SRV): decoded by shape (a bare UL is the
    // short form), encoded by the fields given.
    variant: (c, payload) => {
      if (payload) return payload.length <= 4 ? CHANGE_STATUS_SHORT : CHANGE_STATUS_EXTENDED;
      return c.fields.statusUri !== undefined ? CHANGE_STATUS_EXTENDED : CHANGE_STATUS_SHORT;
    },
    variants: [CHANGE_STATUS_SHORT, CHANGE_STATUS_EXTENDED],
  },
  {
    code: 0x1023,
    name: 'CLIENT_VER_REPORT',
    dir: 'c2s',
    section: '7.2',
    since: '≤1.6',
    summary: 'legacy client build number',
    layout: [ul('build')],
  },
  {
    code: 0x1024,
    name: 'GET_MPOP_SESSION',
    dir: 'c2s',
    section: '12.3',
    summary: 'ask for a web session key',
    layout: empty,
  },
  {
    code: 0x1025,
    name: 'MPOP_SESSION',
    aliases: ['GET_MPOP_SESSION_ACK'],
    dir: 's2c',
    section: '12.3',
    summary: 'web session key (same seq)',
    layout: [ul('status', { values: K.MPOP_STATUS }), str('session', ascii, { secret: true })],
    reply: { requests: ['GET_MPOP_SESSION'], by: 'seq' },
  },
  {
    code: 0x1026,
    name: 'FILE_TRANSFER',
    dir: 'both',
    section: '13.1',
    since: '~1.10',
    summary: 'offer files (the server forwards it, replacing to by from)',
    layout: [
      str('peer', ascii, { doc: 'to (C→S) / from (S→C)' }),
      ul('idRequest'),
      ul('totalSize'),
      field(
        'description',
        lpsRecordType([
          str('files', ascii, { doc: 'name;size;…' }),
          field('extension', lpsRecordType([ul('version'), str('files', utf16)]), { optional: true }),
          str('addresses', ascii, { optional: true, doc: 'ip:port;…' }),
        ]),
      ),
    ],
  },
  {
    code: 0x1027,
    name: 'FILE_TRANSFER_ACK',
    dir: 'both',
    section: '13.1',
    since: '~1.10',
    summary: 'accept/decline/mirror a file transfer',
    layout: [
      ul('status', { values: K.FILE_TRANSFER_STATUS }),
      str('peer', ascii),
      ul('idRequest'),
      str('description', ascii),
      str('userData2', utf16, { optional: true }),
    ],
    reply: { requests: ['FILE_TRANSFER'], by: 'field', field: 'idRequest', requestField: 'idRequest' },
  },
  {
    code: 0x1028,
    name: 'ANKETA_INFO',
    dir: 's2c',
    section: '11.2',
    summary: 'search results / profile (same seq as WP_REQUEST)',
    layout: [ul('status', { values: K.ANKETA_STATUS }), field('result', anketaType, { spread: true, optional: true })],
    reply: { requests: ['WP_REQUEST'], by: 'seq' },
  },
  {
    code: 0x1029,
    name: 'WP_REQUEST',
    dir: 'c2s',
    section: '11.1',
    summary: 'search ("white pages") by criteria',
    layout: [
      field(
        'criteria',
        repeatType(
          [
            ul('field', { values: K.WP_FIELD }),
            str('value', (c) => (K.WP_TEXT_FIELDS.has(Number(c.fields.field)) ? versionText(c) : 'cp1251')),
          ],
          '(UL field, LPS value)…',
        ),
      ),
    ],
  },
  {
    code: 0x1031,
    name: 'CALL',
    dir: 'both',
    section: '13.4',
    summary: 'old voice call request (name only in SRV)',
    layout: [field('data', restType)],
    unknownLayout: true,
  },
  {
    code: 0x1032,
    name: 'TALK_ACK',
    aliases: ['CALL_ACK'],
    dir: 'both',
    section: '13.4',
    summary: 'answer to TALK2',
    layout: [
      ul('status', { values: K.TALK_STATUS }),
      str('peer', ascii),
      ul('idRequest'),
      str('data', ascii, { optional: true }),
    ],
    reply: { requests: ['TALK2'], by: 'field', field: 'idRequest', requestField: 'idRequest' },
  },
  {
    code: 0x1033,
    name: 'MAILBOX_STATUS',
    dir: 's2c',
    section: '12.1',
    summary: 'unread letters in the mailbox',
    layout: [ul('unread')],
  },
  {
    code: 0x1034,
    name: 'TALK_SUCCESS',
    aliases: ['TRANSFER_SUCCEED'],
    dir: 'both',
    section: '13.4',
    summary: 'call/transfer established [ONE SOURCE]',
    layout: [ul('session'), ul('param', { hex: true }), str('email', ascii, { optional: true })],
  },
  {
    code: 0x1035,
    name: 'GAME',
    dir: 'both',
    section: '14',
    summary: 'game messages (forwarded between users)',
    layout: [
      str('peer', ascii),
      ul('session'),
      ul('gameMsg', { values: K.GAME_MSG }),
      ul('msgId'),
      ul('timeSend', { when: since(15), time: true }),
      // SRV: before 1.15 the rest of the payload is raw data without an LPS.
      field('data', lpsBytesType, { when: since(15), optional: true }),
      field('data', restType, { when: (c) => c.minor < 15, optional: true }),
    ],
  },
  {
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
      field('records', contactRecordsType, { spread: true, when: (c) => c.fields.status === 0 }),
    ],
    derive: (f) => {
      if (!Array.isArray(f.contacts)) return undefined;
      (f.contacts as Fields[]).forEach((ct, i) => (ct.id = K.FIRST_CONTACT_ID + i));
      return undefined;
    },
  },
  {
    code: 0x1038,
    name: 'LOGIN2',
    dir: 'c2s',
    section: '7.2',
    since: '1.7',
    summary: 'login; layout grows with the version',
    layout: [
      str('login', ascii),
      str('password', passwordText, { secret: true }),
      ul('status', { values: K.STATUS }),
      ...xstatusFields.map((f) => ({ ...f, when: since(14) })),
      ul('features', { flags: K.FEATURES, when: since(14) }),
      str('userAgent', ascii, { when: since(14) }),
      str('lang', ascii, { when: since(16) }),
      str('uaSession', ascii, { when: since(20) }),
      str('replacedUaSession', ascii, { when: since(20) }),
      str('description', ascii),
      field('stats', statsType, { when: since(17), optional: true }),
    ],
  },
  {
    code: 0x1039,
    name: 'SMS',
    dir: 'c2s',
    section: '12.4',
    summary: 'send an SMS',
    layout: [ul('flags', { hex: true }), str('phone', ascii), str('text', utf16)],
  },
  {
    code: 0x1040,
    name: 'SMS_ACK',
    dir: 's2c',
    section: '12.4',
    summary: 'SMS accepted or not (same seq)',
    layout: [ul('status', { values: K.SMS_STATUS })],
    reply: { requests: ['SMS'], by: 'seq' },
  },
  {
    code: 0x1042,
    name: 'LOOKUP_USER_BY_ID',
    dir: 'c2s',
    section: '11.3',
    summary: 'resolve web-link ids to addresses',
    layout: [field('ids', countedType([str('id', ascii)]))],
  },
  {
    code: 0x1043,
    name: 'LOOKUP_USER_BY_ID_ANSWER',
    dir: 's2c',
    section: '11.3',
    summary: 'addresses for LOOKUP_USER_BY_ID',
    layout: [ul('status', { values: K.LOOKUP_STATUS }), field('emails', countedType([str('email', ascii)]))],
    reply: { requests: ['LOOKUP_USER_BY_ID'], by: 'seq' },
  },
  {
    code: 0x1044,
    name: 'PROXY',
    dir: 'both',
    section: '13.2',
    since: '~1.12',
    summary: 'relay a P2P stream through the MRIM proxy',
    layout: proxyFields,
  },
  {
    code: 0x1045,
    name: 'PROXY_ACK',
    dir: 'both',
    section: '13.2',
    since: '~1.12',
    summary: 'answer to PROXY',
    layout: [ul('status', { values: K.PROXY_STATUS }), ...proxyFields],
    reply: { requests: ['PROXY'], by: 'field', field: 'idRequest', requestField: 'idRequest' },
  },
  {
    code: 0x1046,
    name: 'PROXY_HELLO',
    dir: 'c2s',
    section: '13.3',
    since: '~1.12',
    summary: 'first packet on a connection to the MRIM proxy',
    layout: [field('sessionId', guidType)],
  },
  {
    code: 0x1047,
    name: 'PROXY_HELLO_ACK',
    dir: 's2c',
    section: '13.3',
    since: '~1.12',
    summary: 'proxy ready; raw relay from here',
    layout: empty,
    reply: { requests: ['PROXY_HELLO'], by: 'last' },
  },
  {
    code: 0x1048,
    name: 'NEW_MAIL',
    aliases: ['MAILBOX_STATUS_2'],
    dir: 's2c',
    section: '12.2',
    summary: 'a new letter arrived',
    layout: [
      ul('unread'),
      str('from', ascii),
      str('subject', ascii),
      // [CONFLICT §22.4] UL date + UL uidl (MIR, qutIM, Delphi) or an 8-byte id (P1412): kept as the
      // 8 bytes, and both readings are derived below.
      field('id', fixedBytes(8, '8 bytes')),
    ],
    derive: (f) => {
      const id = Buffer.from(String(f.id ?? ''), 'hex');
      const out: Fields = { subjectDecoded: decodeEncodedWords(String(f.subject ?? '')) };
      if (id.length === 8) {
        out.date = new Date(id.readUInt32LE(0) * 1000).toISOString();
        out.uidl = id.readUInt32LE(4);
      }
      return out;
    },
  },
  {
    code: 0x1049,
    name: 'TALK2',
    aliases: ['CALL2'],
    dir: 'both',
    section: '13.4',
    summary: 'voice call request',
    layout: [str('peer', ascii), ul('idRequest'), str('data', ascii)],
  },
  {
    code: 0x1053,
    name: 'GET_UA_DATA',
    dir: 'c2s',
    section: '16.1',
    summary: 'read a server-stored per-user blob',
    layout: [str('name', ascii)],
  },
  {
    code: 0x1054,
    name: 'UA_DATA',
    dir: 's2c',
    section: '16.1',
    summary: 'a server-stored per-user blob',
    layout: [str('name', ascii), str('value', guessed)],
    reply: { requests: ['GET_UA_DATA'], by: 'seq' },
  },
  {
    code: 0x1055,
    name: 'PUT_UA_DATA',
    dir: 'c2s',
    section: '16.1',
    summary: 'store a per-user blob',
    layout: [str('name', ascii), str('value', guessed)],
  },
  {
    code: 0x1056,
    name: 'PUT_UA_DATA_STATUS',
    dir: 's2c',
    section: '16.1',
    summary: 'result of PUT_UA_DATA',
    layout: [ul('status', { values: K.UA_DATA_STATUS })],
    reply: { requests: ['PUT_UA_DATA'], by: 'seq' },
  },
  {
    code: 0x1059,
    name: 'UDP_MEDIA',
    dir: 'both',
    section: '13.5',
    summary: 'UDP / WebRTC media negotiation',
    layout: [str('peer', ascii), ul('idRequest'), ul('type', { values: K.PROXY_TYPE }), udpMediaList],
  },
  {
    code: 0x1060,
    name: 'UDP_MEDIA_ACK',
    dir: 'both',
    section: '13.5',
    summary: 'answer to UDP_MEDIA',
    layout: [
      str('peer', ascii),
      ul('status', { values: K.PROXY_STATUS }),
      ul('idRequest'),
      ul('type', { values: K.PROXY_TYPE }),
      udpMediaList,
    ],
    reply: { requests: ['UDP_MEDIA'], by: 'field', field: 'idRequest', requestField: 'idRequest' },
  },
  {
    code: 0x1061,
    name: 'CLIENT_ACTION',
    dir: 's2c',
    section: '16.2',
    since: '1.19',
    summary: 'web page asks the client to open a window / call',
    layout: [
      ul('codepage', { values: K.CLIENT_ACTION_CODEPAGE }),
      str('action', (c) => (c.fields.codepage === 0x200000 ? 'cp1251' : 'utf16le')),
    ],
  },
  {
    code: 0x1062,
    name: 'DISCONNECT',
    dir: 'c2s',
    section: '7.3',
    since: '1.19',
    summary: 'graceful logout request',
    layout: empty,
  },
  {
    code: 0x1063,
    name: 'USER_BLOG_STATUS',
    aliases: ['MICROBLOG_RECV'],
    dir: 's2c',
    section: '15.1',
    since: '1.20',
    summary: "a contact's microblog post",
    layout: [
      ul('flags', { flags: K.BLOG_FLAGS }),
      str('user', ascii),
      field('postId', u64Type),
      ul('time', { time: true }),
      str('text', utf16),
      str('replyNick', utf16),
      str('xml', guessed, { optional: true }),
    ],
  },
  {
    code: 0x1064,
    name: 'CHANGE_USER_BLOG_STATUS',
    aliases: ['MICROBLOG_POST'],
    dir: 'c2s',
    section: '15.1',
    since: '1.20',
    summary: 'post to the microblog',
    layout: [ul('flags', { flags: K.BLOG_FLAGS }), str('text', utf16), field('originalPostId', u64Type, { optional: true })],
  },
  {
    code: 0x1072,
    name: 'LOGIN_COOKIE',
    dir: 'c2s',
    section: '7.2.2',
    since: '1.20',
    summary: 'login with a session cookie [UNKNOWN layout]',
    layout: [field('data', restType)],
    unknownLayout: true,
  },
  {
    code: 0x1073,
    name: 'MAIL_DELETED',
    dir: 's2c',
    section: '12.2',
    summary: 'a letter was deleted',
    layout: [field('uidl', uidlType)],
  },
  {
    code: 0x1074,
    name: 'MAIL_READED',
    dir: 's2c',
    section: '12.2',
    summary: 'a letter was read',
    layout: [field('uidl', uidlType)],
  },
  {
    code: 0x1075,
    name: 'SET_USER_EXT_STATUS',
    dir: 'c2s',
    section: '9.4',
    summary: 'set an extended (e.g. geo) status',
    layout: [
      ul('flags', { flags: K.EXT_STATUS_FLAGS }),
      field('to', clpsType(ascii)),
      str('type', ascii),
      str('status', guessed),
    ],
  },
  {
    code: 0x1076,
    name: 'CLEAR_USER_EXT_STATUS',
    dir: 'c2s',
    section: '9.4',
    summary: 'clear an extended status',
    layout: [field('to', clpsType(ascii)), str('type', ascii)],
  },
  {
    code: 0x1077,
    name: 'USER_EXT_STATUS',
    aliases: ['USER_GEO'],
    dir: 's2c',
    section: '9.4',
    summary: "a contact's extended statuses (type/status pairs)",
    layout: [str('from', ascii), field('list', clpsType(guessed))],
  },
  {
    code: 0x1078,
    name: 'LOGIN3',
    dir: 'c2s',
    section: '7.2',
    since: '1.21',
    summary: 'login (MRA 5.8+): MD5 password from 1.22, no status',
    layout: [
      str('login', ascii),
      str('password', passwordText, { secret: true }),
      ul('features', { flags: K.FEATURES }),
      str('userAgent', ascii),
      str('lang', ascii),
      field('uaDataNames', clpsType(ascii)),
      str('description', ascii),
      field('stats', statsType, { optional: true }),
    ],
  },
  {
    code: 0x1079,
    name: 'USER_SETTINGS',
    aliases: ['SERVER_SETTINGS'],
    dir: 's2c',
    section: '16.3',
    summary: 'user settings (alternating names and values)',
    layout: [field('list', clpsType(guessed))],
    reply: { requests: ['GET_USER_SETTINGS'], by: 'seq' },
  },
  {
    code: 0x1080,
    name: 'GET_USER_SETTINGS',
    dir: 'c2s',
    section: '16.3',
    summary: 'read user settings',
    layout: [field('names', clpsType(ascii))],
  },
  {
    code: 0x1081,
    name: 'GET_USER_SETTINGS_ERROR',
    dir: 's2c',
    section: '16.3',
    summary: 'GET_USER_SETTINGS failed',
    layout: [ul('status', { values: K.USER_SETTINGS_STATUS }), str('name', ascii, { optional: true })],
    reply: { requests: ['GET_USER_SETTINGS'], by: 'seq' },
  },
  {
    code: 0x1082,
    name: 'SET_USER_SETTINGS',
    dir: 'c2s',
    section: '16.3',
    summary: 'store user settings',
    layout: [field('list', clpsType(guessed))],
  },
  {
    code: 0x1083,
    name: 'SET_USER_SETTINGS_STATUS',
    dir: 's2c',
    section: '16.3',
    summary: 'result of SET_USER_SETTINGS',
    layout: [ul('status', { values: K.USER_SETTINGS_STATUS }), str('name', ascii, { optional: true })],
    reply: { requests: ['SET_USER_SETTINGS'], by: 'seq' },
  },
  {
    code: 0x1086,
    name: 'STARTTLS',
    aliases: ['SSL'],
    dir: 'both',
    section: '2.3',
    since: '1.22',
    summary: 'switch this connection to TLS',
    layout: empty,
  },
  {
    code: 0x1087,
    name: 'OK',
    aliases: ['SSL_ACK'],
    dir: 'both',
    section: '2.3',
    since: '1.22',
    summary: 'request accepted (after STARTTLS: TLS from the next byte)',
    layout: empty,
    reply: { requests: ['STARTTLS', 'COMPRESS_SERVER_STREAM'], by: 'seq' },
  },
  {
    code: 0x1088,
    name: 'FAILURE',
    dir: 'both',
    section: '2.3',
    since: '1.22',
    summary: 'request refused (SRV sends it empty)',
    layout: [
      ul('code', { values: K.FAILURE_CODE, optional: true }),
      str('reason', ascii, { optional: true }),
      ul('failedMethod', { optional: true, hex: true }),
    ],
    reply: { requests: ['STARTTLS', 'COMPRESS_SERVER_STREAM'], by: 'seq' },
  },
  {
    code: 0x1089,
    name: 'COMPRESS_SERVER_STREAM',
    dir: 'c2s',
    section: '2.4',
    summary: 'ask for a zlib-compressed server stream',
    layout: [ul('method', { values: K.COMPRESS_METHOD, optional: true })],
  },
  {
    code: 0x1090,
    name: 'CAPABILITIES',
    dir: 'c2s',
    section: '7.5',
    since: '1.22',
    summary: 'client capabilities (sent before LOGIN3)',
    layout: [field('capabilities', countedType([ul('id', { values: K.CAPABILITY }), str('value', guessed)]))],
  },
  {
    code: 0x1091,
    name: 'ALERTS',
    dir: 's2c',
    section: '16.4',
    summary: 'alerts (entry format unknown)',
    layout: [field('alerts', clpsType(binary))],
  },
  {
    code: 0x1093,
    name: 'INVISIBLE_OUT',
    dir: 'both',
    section: '9.3',
    summary: 'invisible timeout [semantics unknown]',
    layout: [ul('timeout')],
  },
  {
    code: 0x1094,
    name: 'MY_ACTION',
    dir: 'c2s',
    section: '16.5',
    summary: 'My.Mail.ru like/share (XML)',
    layout: [str('xml', utf8)],
  },
  {
    code: 0x1095,
    name: 'MY_ACTION_ACK',
    dir: 's2c',
    section: '16.5',
    summary: 'result of MY_ACTION (XML)',
    layout: [str('xml', utf8)],
    reply: { requests: ['MY_ACTION'], by: 'seq' },
  },
  {
    code: 0x1096,
    name: 'RESULT',
    dir: 'both',
    section: '2.3',
    summary: 'generic result (deprecated)',
    layout: [ul('code', { values: K.RESULT_CODE }), str('reason', ascii, { optional: true })],
  },
  {
    code: 0x1097,
    name: 'ALLOCATE_VOIP_SESSION',
    dir: 'c2s',
    section: '13.6',
    summary: 'ask for a VoIP session',
    layout: [ul('type', { values: K.PROXY_TYPE, optional: true }), str('phone', ascii, { optional: true })],
  },
  {
    code: 0x1098,
    name: 'VOIP_SESSION',
    dir: 's2c',
    section: '13.6',
    summary: 'VoIP session credentials and relays',
    layout: [
      str('sessionId', ascii),
      str('password', ascii, { secret: true }),
      str('stun', ascii),
      str('relayUdp', ascii, { optional: true }),
      str('relayTcp', ascii, { optional: true }),
      str('rtmp', ascii, { optional: true }),
    ],
    reply: { requests: ['ALLOCATE_VOIP_SESSION'], by: 'seq' },
  },
  {
    code: 0x1099,
    name: 'SET_BACKGROUND_PN_TOKEN',
    dir: 'c2s',
    section: '16.6',
    summary: 'push notification token (mobile clients)',
    layout: [str('application', ascii), str('ttId', ascii, { secret: true }), str('settings', ascii), ul('timeout')],
  },
  {
    code: 0x1100,
    name: 'ARCH_RETRIVE_CHAT',
    dir: 'c2s',
    section: '16.7',
    summary: 'server-side history: fetch a chat (TLV options unknown)',
    layout: [str('with', ascii), field('afterId', u64Type), ul('toSlip'), field('options', restType)],
  },
  {
    code: 0x1101,
    name: 'ARCH_CHAT',
    dir: 's2c',
    section: '16.7',
    summary: 'server-side history: messages (TLV layout unknown)',
    layout: [str('with', ascii), field('data', restType)],
    reply: { requests: ['ARCH_RETRIVE_CHAT'], by: 'seq' },
  },
  {
    code: 0x1102,
    name: 'SET_REALM',
    dir: 'both',
    section: '16.7',
    summary: '[UNKNOWN layout]',
    layout: [field('data', restType)],
    unknownLayout: true,
  },
  {
    code: 0x1103,
    name: 'ARCH_ID',
    dir: 's2c',
    section: '16.7',
    summary: 'archive id of a message',
    layout: [ul('messageId'), field('archiveId', u64Type)],
  },
  {
    code: 0x1104,
    name: 'ARCH_SYNC',
    dir: 's2c',
    section: '16.7',
    summary: 'dialog version and unread count',
    layout: [str('with', ascii), field('dialogVersion', lpsBytesType), ul('unread')],
  },
  {
    code: 0x1105,
    name: 'ARCH_EVENT',
    dir: 'c2s',
    section: '16.7',
    summary: 'set the state of an archived message',
    layout: [str('with', ascii), field('archiveId', u64Type), ul('state')],
  },
  {
    code: 0x1106,
    name: 'ARCH_PULL',
    dir: 'c2s',
    section: '16.7',
    summary: 'pull history since a dialog version (TLV options unknown)',
    layout: [str('with', ascii), field('dialogVersion', lpsBytesType), field('options', restType)],
  },
  {
    code: 0x1107,
    name: 'ARCH_HISTORY',
    dir: 's2c',
    section: '16.7',
    summary: 'history chunk (TLV layout unknown)',
    layout: [str('with', ascii), field('dialogVersion', lpsBytesType), ul('flags', { hex: true }), field('messages', restType)],
    reply: { requests: ['ARCH_PULL'], by: 'seq' },
  },
  {
    code: 0x1108,
    name: 'ARCH_STATE',
    dir: 'c2s',
    section: '16.7',
    summary: 'ask for the archive state of a dialog',
    layout: [str('with', ascii)],
  },
  {
    code: 0x1109,
    name: 'SELECT_ANKETAS',
    dir: 'c2s',
    section: '11.4',
    summary: 'profile fields for accounts [TLV layout unknown]',
    layout: [field('data', restType)],
    unknownLayout: true,
  },
  {
    code: 0x1110,
    name: 'ANKETAS',
    dir: 's2c',
    section: '11.4',
    summary: 'profiles [TLV layout unknown]',
    layout: [field('data', restType)],
    reply: { requests: ['SELECT_ANKETAS'], by: 'seq' },
    unknownLayout: true,
  },
  {
    code: 0x1111,
    name: 'PUBSUB_SUBSCRIBE',
    dir: 'c2s',
    section: '16.8',
    summary: 'subscribe to events [TLV layout unknown]',
    layout: [field('data', restType)],
    unknownLayout: true,
  },
  {
    code: 0x1112,
    name: 'PUBSUB_EVENT',
    dir: 's2c',
    section: '16.8',
    summary: 'subscribed event [TLV layout unknown]',
    layout: [field('data', restType)],
    unknownLayout: true,
  },
];

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

// ---------------------------------------------------------------------------------------------------
// Lookup

const byCode = new Map<number, PacketDef>();
const byName = new Map<string, PacketDef>();
for (const def of PACKETS) {
  if (byCode.has(def.code)) throw new Error(`duplicate packet code 0x${def.code.toString(16)}`);
  byCode.set(def.code, def);
  for (const name of [def.name, ...(def.aliases ?? [])]) byName.set(name.toUpperCase(), def);
}

export function packetByCode(code: number): PacketDef | undefined {
  return byCode.get(code);
}

/** Accepts a name, an alias, `MRIM_CS_` prefixed names, or a code (`0x1008`, `4104`). */
export function packetByName(name: string): PacketDef | undefined {
  const key = name.trim().toUpperCase().replace(/^MRIM_CS_/, '');
  if (/^(0X[0-9A-F]+|\d+)$/.test(key)) return byCode.get(Number(key));
  return byName.get(key);
}

export function packetName(code: number): string {
  return byCode.get(code)?.name ?? `UNKNOWN(0x${code.toString(16).padStart(4, '0')})`;
}

export function layoutOf(def: PacketDef, c: FieldContext, payload?: Buffer): { variant?: string; layout: Layout } {
  if (def.variant) {
    const v = def.variant(c, payload);
    return { variant: v.name, layout: v.layout };
  }
  return { layout: def.layout ?? [] };
}

export type { Encoding };

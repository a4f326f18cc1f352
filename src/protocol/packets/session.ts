/** The session's packets: hello, login, ping, logout, STARTTLS/compression, capabilities, results. */
import * as K from '../constants.js';
import { byteType, countedType, field, repeatType, restType, since, ul, type FieldType, type Fields } from '../fields.js';
import { clpsType, decodeText, encodeText } from '../text-fields.js';
import { packet } from './def.js';
import { ascii, guessed, passwordText, str, versionText, xstatusFields } from './rules.js';

/** LOGIN2/LOGIN3 statistics trailer (§7.2.3): `UL id, BYTE type, value` until the end. */
const statsType: FieldType<Fields[]> = {
  wire: 'stats…',
  empty: [],
  acceptsEmpty: true,
  // The value's type follows `type` (1 LPS, 2 UL): only the two leading columns are fixed.
  layout: [ul('id', { values: K.STAT_ID }), field('type', byteType)],
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

export const SESSION_PACKETS = [
  packet({
    code: 0x1001,
    name: 'HELLO',
    dir: 'c2s',
    section: '7.1',
    summary: 'first packet of a session; payload normally empty',
    session: { learnsVersion: true, beforeLogin: true },
    layout: [
      ul('pingPeriod', { optional: true, doc: 'desired ping period (P1412, rarely sent)' }),
      // [CONFLICT inside P1412] flags (MRIM_HELLO_FLAG_SERVER_PINGS) or "server's ping period": named by its text.
      ul('flags', { optional: true, hex: true }),
    ],
  }),
  packet({
    code: 0x1002,
    name: 'HELLO_ACK',
    dir: 's2c',
    section: '7.1',
    summary: 'ping period; ≥1.20 servers add their time',
    layout: [ul('pingPeriod'), ul('serverTime', { optional: true, time: true }), ul('serverTimeNs', { optional: true })],
    reply: { requests: ['HELLO'], by: 'last' },
  }),
  packet({
    code: 0x1003,
    name: 'LOGIN',
    dir: 'c2s',
    section: '7.2',
    since: '≤1.6',
    summary: 'legacy login (MRA 2–4)',
    session: { learnsVersion: true, login: 'login', beforeLogin: true },
    layout: [str('login', ascii), str('password', ascii, { secret: true })],
  }),
  packet({
    code: 0x1004,
    name: 'LOGIN_ACK',
    dir: 's2c',
    section: '7.2',
    summary: 'login accepted',
    session: { accepts: true },
    layout: [],
    reply: { requests: ['LOGIN2', 'LOGIN3', 'LOGIN'], by: 'last' },
  }),
  packet({
    code: 0x1005,
    name: 'LOGIN_REJ',
    dir: 's2c',
    section: '7.2',
    summary: 'login rejected with a reason (Invalid login, Access denied…)',
    layout: [str('reason', ascii), str('data', ascii, { optional: true })],
    reply: { requests: ['LOGIN2', 'LOGIN3', 'LOGIN'], by: 'last' },
  }),
  packet({
    code: 0x1006,
    name: 'PING',
    dir: 'both',
    section: '7.1',
    summary: 'keep-alive, every ping period',
    session: { beforeLogin: true },
    layout: [],
  }),
  packet({
    code: 0x1013,
    name: 'LOGOUT',
    dir: 's2c',
    section: '7.3',
    summary: 'server ends the session (0x10: logged in elsewhere)',
    layout: [ul('reason', { flags: K.LOGOUT_REASON })],
  }),
  packet({
    code: 0x1014,
    name: 'CONNECTION_PARAMS',
    dir: 's2c',
    section: '7.3',
    summary: 'new ping period',
    layout: [ul('pingPeriod')],
  }),
  packet({
    code: 0x1015,
    name: 'USER_INFO',
    dir: 's2c',
    section: '7.4',
    summary: 'key/value pairs about the own account',
    layout: [field('info', repeatType([str('key', ascii), str('value', versionText)], '(LPS key, LPS value)…'))],
  }),
  packet({
    code: 0x1023,
    name: 'CLIENT_VER_REPORT',
    dir: 'c2s',
    section: '7.2',
    since: '≤1.6',
    summary: 'legacy client build number',
    layout: [ul('build')],
  }),
  packet({
    code: 0x1038,
    name: 'LOGIN2',
    dir: 'c2s',
    section: '7.2',
    since: '1.7',
    summary: 'login; layout grows with the version',
    session: { learnsVersion: true, login: 'login', beforeLogin: true },
    layout: [
      str('login', ascii),
      str('password', passwordText, { secret: true }),
      ul('status', { values: K.STATUS }),
      ...xstatusFields.map((f) => ({ ...f, when: since(14) })),
      ul('features', { flags: K.FEATURES, when: since(14) }),
      str('userAgent', ascii, { when: since(14) }),
      str('lang', ascii, { when: since(16) }),
      // Session cookies: a client logging in again presents them instead of a password (§7.2.2).
      str('uaSession', ascii, { when: since(20), secret: true }),
      str('replacedUaSession', ascii, { when: since(20), secret: true }),
      str('description', ascii),
      field('stats', statsType, { when: since(17), optional: true }),
    ],
    knownTrailing: [{ bytes: '00'.repeat(20), by: 'pidgin-mra appends 5 zero ULs' }],
  }),
  packet({
    code: 0x1062,
    name: 'DISCONNECT',
    dir: 'c2s',
    section: '7.3',
    since: '1.19',
    summary: 'graceful logout request',
    session: { beforeLogin: true },
    layout: [],
  }),
  packet({
    code: 0x1072,
    name: 'LOGIN_COOKIE',
    dir: 'c2s',
    section: '7.2.2',
    since: '1.20',
    summary: 'login with a session cookie [UNKNOWN layout]',
    // Holds the cookie somewhere in its unknown layout: secret as a whole.
    layout: [field('data', restType, { secret: true })],
    unknownLayout: true,
  }),
  packet({
    code: 0x1078,
    name: 'LOGIN3',
    dir: 'c2s',
    section: '7.2',
    since: '1.21',
    summary: 'login (MRA 5.8+): MD5 password from 1.22, no status',
    session: { learnsVersion: true, login: 'login', beforeLogin: true },
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
  }),
  packet({
    code: 0x1086,
    name: 'STARTTLS',
    aliases: ['SSL'],
    dir: 'both',
    section: '2.3',
    since: '1.22',
    summary: 'switch this connection to TLS',
    session: { switchesTo: 'tls', beforeLogin: true },
    layout: [],
  }),
  packet({
    code: 0x1087,
    name: 'OK',
    aliases: ['SSL_ACK'],
    dir: 'both',
    section: '2.3',
    since: '1.22',
    summary: 'request accepted (after STARTTLS: TLS from the next byte)',
    session: { accepts: true },
    layout: [],
    reply: { requests: ['STARTTLS', 'COMPRESS_SERVER_STREAM'], by: 'seq' },
  }),
  packet({
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
  }),
  packet({
    code: 0x1089,
    name: 'COMPRESS_SERVER_STREAM',
    dir: 'c2s',
    section: '2.4',
    summary: 'ask for a zlib-compressed server stream',
    session: {
      switchesTo: 'zlib',
      errorReply: { type: 'FAILURE', fields: { code: K.FAILURE.DECLINE, reason: 'Compression is not supported', failedMethod: 0x1089 } },
    },
    layout: [ul('method', { values: K.COMPRESS_METHOD, optional: true })],
  }),
  packet({
    code: 0x1090,
    name: 'CAPABILITIES',
    dir: 'c2s',
    section: '7.5',
    since: '1.22',
    summary: 'client capabilities (sent before LOGIN3)',
    session: { beforeLogin: true },
    layout: [field('capabilities', countedType([ul('id', { values: K.CAPABILITY }), str('value', guessed)]))],
  }),
  packet({
    code: 0x1096,
    name: 'RESULT',
    dir: 'both',
    section: '2.3',
    summary: 'generic result (deprecated)',
    layout: [ul('code', { values: K.RESULT_CODE }), str('reason', ascii, { optional: true })],
  }),
];

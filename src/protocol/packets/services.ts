/** Account services: mailbox, web session keys, stored user data and settings, alerts, push, pubsub. */
import * as K from '../constants.js';
import { annotations, field, fixedBytes, restType, since, uidlType, ul, type Fields } from '../fields.js';
import { clpsType } from '../text-fields.js';
import { decodeEncodedWords } from '../formats.js';
import { packet } from './def.js';
import { ascii, utf8, binary, guessed, str } from './rules.js';

export const SERVICE_PACKETS = [
  packet({
    code: 0x1024,
    name: 'GET_MPOP_SESSION',
    dir: 'c2s',
    section: '12.3',
    summary: 'ask for a web session key',
    layout: [],
  }),
  packet({
    code: 0x1025,
    name: 'MPOP_SESSION',
    aliases: ['GET_MPOP_SESSION_ACK'],
    dir: 's2c',
    section: '12.3',
    summary: 'web session key (same seq)',
    layout: [ul('status', { values: K.MPOP_STATUS }), str('session', ascii, { secret: true })],
    reply: { requests: ['GET_MPOP_SESSION'], by: 'seq' },
  }),
  packet({
    code: 0x1033,
    name: 'MAILBOX_STATUS',
    dir: 's2c',
    section: '12.1',
    summary: 'unread letters in the mailbox',
    layout: [ul('unread')],
  }),
  packet({
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
    derived: annotations('subjectDecoded', 'date', 'uidl'),
    derive: (f) => {
      const id = Buffer.from(String(f.id ?? ''), 'hex');
      const out: Fields = { subjectDecoded: decodeEncodedWords(String(f.subject ?? '')) };
      if (id.length === 8) {
        out.date = new Date(id.readUInt32LE(0) * 1000).toISOString();
        out.uidl = id.readUInt32LE(4);
      }
      return out;
    },
  }),
  packet({
    code: 0x1053,
    name: 'GET_UA_DATA',
    dir: 'c2s',
    section: '16.1',
    summary: 'read a server-stored per-user blob',
    layout: [str('name', ascii)],
  }),
  packet({
    code: 0x1054,
    name: 'UA_DATA',
    dir: 's2c',
    section: '16.1',
    summary: 'a server-stored per-user blob',
    layout: [str('name', ascii), str('value', guessed)],
    reply: { requests: ['GET_UA_DATA'], by: 'seq' },
  }),
  packet({
    code: 0x1055,
    name: 'PUT_UA_DATA',
    dir: 'c2s',
    section: '16.1',
    summary: 'store a per-user blob',
    layout: [str('name', ascii), str('value', guessed)],
  }),
  packet({
    code: 0x1056,
    name: 'PUT_UA_DATA_STATUS',
    dir: 's2c',
    section: '16.1',
    summary: 'result of PUT_UA_DATA',
    layout: [ul('status', { values: K.UA_DATA_STATUS })],
    reply: { requests: ['PUT_UA_DATA'], by: 'seq' },
  }),
  packet({
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
  }),
  packet({
    code: 0x1073,
    name: 'MAIL_DELETED',
    dir: 's2c',
    section: '12.2',
    summary: 'a letter was deleted',
    layout: [field('uidl', uidlType)],
  }),
  packet({
    code: 0x1074,
    name: 'MAIL_READED',
    dir: 's2c',
    section: '12.2',
    summary: 'a letter was read',
    layout: [field('uidl', uidlType)],
  }),
  packet({
    code: 0x1079,
    name: 'USER_SETTINGS',
    aliases: ['SERVER_SETTINGS'],
    dir: 's2c',
    section: '16.3',
    summary: 'user settings (alternating names and values)',
    layout: [field('list', clpsType(guessed))],
    reply: { requests: ['GET_USER_SETTINGS'], by: 'seq' },
  }),
  packet({
    code: 0x1080,
    name: 'GET_USER_SETTINGS',
    dir: 'c2s',
    section: '16.3',
    summary: 'read user settings',
    layout: [field('names', clpsType(ascii))],
  }),
  packet({
    code: 0x1081,
    name: 'GET_USER_SETTINGS_ERROR',
    dir: 's2c',
    section: '16.3',
    summary: 'GET_USER_SETTINGS failed',
    layout: [ul('status', { values: K.USER_SETTINGS_STATUS }), str('name', ascii, { optional: true })],
    reply: { requests: ['GET_USER_SETTINGS'], by: 'seq' },
  }),
  packet({
    code: 0x1082,
    name: 'SET_USER_SETTINGS',
    dir: 'c2s',
    section: '16.3',
    summary: 'store user settings',
    layout: [field('list', clpsType(guessed))],
  }),
  packet({
    code: 0x1083,
    name: 'SET_USER_SETTINGS_STATUS',
    dir: 's2c',
    section: '16.3',
    summary: 'result of SET_USER_SETTINGS',
    layout: [ul('status', { values: K.USER_SETTINGS_STATUS }), str('name', ascii, { optional: true })],
    reply: { requests: ['SET_USER_SETTINGS'], by: 'seq' },
  }),
  packet({
    code: 0x1091,
    name: 'ALERTS',
    dir: 's2c',
    section: '16.4',
    summary: 'alerts (entry format unknown)',
    layout: [field('alerts', clpsType(binary))],
  }),
  packet({
    code: 0x1094,
    name: 'MY_ACTION',
    dir: 'c2s',
    section: '16.5',
    summary: 'My.Mail.ru like/share (XML)',
    layout: [str('xml', utf8)],
  }),
  packet({
    code: 0x1095,
    name: 'MY_ACTION_ACK',
    dir: 's2c',
    section: '16.5',
    summary: 'result of MY_ACTION (XML)',
    layout: [str('xml', utf8)],
    reply: { requests: ['MY_ACTION'], by: 'seq' },
  }),
  packet({
    code: 0x1099,
    name: 'SET_BACKGROUND_PN_TOKEN',
    dir: 'c2s',
    section: '16.6',
    summary: 'push notification token (mobile clients)',
    layout: [str('application', ascii), str('ttId', ascii, { secret: true }), str('settings', ascii), ul('timeout')],
  }),
  packet({
    code: 0x1102,
    name: 'SET_REALM',
    dir: 'both',
    section: '16.7',
    summary: '[UNKNOWN layout]',
    layout: [field('data', restType)],
    unknownLayout: true,
  }),
  packet({
    code: 0x1111,
    name: 'PUBSUB_SUBSCRIBE',
    dir: 'c2s',
    section: '16.8',
    summary: 'subscribe to events [TLV layout unknown]',
    layout: [field('data', restType)],
    unknownLayout: true,
  }),
  packet({
    code: 0x1112,
    name: 'PUBSUB_EVENT',
    dir: 's2c',
    section: '16.8',
    summary: 'subscribed event [TLV layout unknown]',
    layout: [field('data', restType)],
    unknownLayout: true,
  }),
];

/** Messages: sending, receiving, delivery status, offline storage, SMS, server-side history. */
import * as K from '../constants.js';
import { annotations, annotationType, field, lpsBytesType, lpsRecordType, restType, since, u64Type, uidlType, ul, type FieldContext, type Fields } from '../fields.js';
import { clpsType } from '../text-fields.js';
import { decodeAuthBlob, parseOfflineMessage, parseRecipients, unpackRtf } from '../formats.js';
import { encodeString } from '../text.js';
import { packet } from './def.js';
import { ascii, utf16, messageText, str, flagSet, flagged } from './rules.js';

/** Multichat data of MESSAGE (C→S, §8.1/§15.2). */
const multichatRequest = [
  ul('type', { values: K.MULTICHAT_TYPE }),
  field('members', clpsType(ascii), { when: (c) => c.fields.type === 3 || c.fields.type === 8, optional: true }),
];

/** Multichat data of MESSAGE_ACK (S→C, §15.2): the fields after the chat name depend on the type. */
const multichatEvent = [
  ul('type', { values: K.MULTICHAT_TYPE }),
  str('chatName', utf16),
  str('sender', ascii, { when: (c) => [0, 3, 7, 8].includes(Number(c.fields.type)) }),
  field('members', clpsType(ascii), { when: (c) => [2, 3, 8].includes(Number(c.fields.type)) }),
  str('owner', ascii, { when: (c) => c.fields.type === 2, optional: true }),
  str('member', ascii, { when: (c) => c.fields.type === 4 || c.fields.type === 5 }),
  str('by', ascii, { when: (c) => c.fields.type === 9 }),
];

/** Unpacked RTF / authorization blob / multicast recipients of MESSAGE and MESSAGE_ACK. */
function deriveMessage(f: Fields, c: FieldContext): Fields | undefined {
  const flags = Number(f.flags);
  // Most messages are plain text: nothing to derive, decided without allocating.
  if (!(flags & (K.MESSAGE_FLAG.RTF | K.MESSAGE_FLAG.FLASH | K.MESSAGE_FLAG.AUTHORIZE | K.MESSAGE_FLAG.MULTICAST))) return undefined;
  const out: Fields = {};
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

export const MESSAGE_PACKETS = [
  packet({
    code: 0x1008,
    name: 'MESSAGE',
    dir: 'c2s',
    section: '8.1',
    summary: 'send a message (also typing, auth request, alarm, multicast…)',
    layout: [
      ul('flags', { flags: K.MESSAGE_FLAGS }),
      str('to', ascii, { doc: 'recipient; MULTICAST: concatenated LPS addresses' }),
      str('text', messageText, { content: 'text' }),
      str('rtf', ascii, { optional: true, content: 'rtf', doc: 'packed RTF (base64 of zlib) or " "' }),
      field('multichat', lpsRecordType(multichatRequest), {
        optional: true,
        when: (c) => c.minor >= 20 && flagSet(c, K.MESSAGE_FLAG.MULTICHAT),
      }),
    ],
    derived: annotations('rtfUnpacked', 'auth', 'recipients', 'recipientsForm'),
    derive: deriveMessage,
  }),
  packet({
    code: 0x1009,
    name: 'MESSAGE_ACK',
    dir: 's2c',
    section: '8.2',
    summary: 'incoming message',
    layout: [
      ul('msgId'),
      ul('flags', { flags: K.MESSAGE_FLAGS }),
      str('from', ascii),
      str('text', messageText, { content: 'text' }),
      str('rtf', ascii, { optional: true, content: 'rtf' }),
      // Only with the MULTICHAT flag; anything else after rtf (SRV's 12 zero bytes, P1412's archive id)
      // is kept as trailing bytes, as the reference advises.
      field('multichat', lpsRecordType(multichatEvent), {
        optional: true,
        when: (c) => c.minor >= 20 && flagSet(c, K.MESSAGE_FLAG.MULTICHAT),
      }),
    ],
    derived: annotations('rtfUnpacked', 'auth', 'recipients', 'recipientsForm'),
    derive: deriveMessage,
    knownTrailing: [{ bytes: '00'.repeat(12), by: 'revival servers append 12 zero bytes, SRV for the Android Agent' }],
  }),
  packet({
    code: 0x1011,
    name: 'MESSAGE_RECV',
    dir: 'c2s',
    section: '8.3',
    summary: 'acknowledges an incoming MESSAGE_ACK',
    layout: [str('from', ascii), ul('msgId')],
    reply: {
      requests: ['MESSAGE_ACK'],
      by: 'field',
      field: 'msgId',
      requestField: 'msgId',
      awaited: (ack) => !flagged(ack, K.MESSAGE_FLAG.NORECV),
    },
  }),
  packet({
    code: 0x1012,
    name: 'MESSAGE_STATUS',
    dir: 's2c',
    section: '8.4',
    summary: 'delivery status of a MESSAGE (same seq)',
    layout: [ul('status', { values: K.MESSAGE_STATUS })],
    // Typing notifications get a status from some servers (SRV), from others none (§18.6 names none).
    reply: { requests: ['MESSAGE'], by: 'seq', awaited: (message) => !flagged(message, K.MESSAGE_FLAG.NOTIFY) },
  }),
  packet({
    code: 0x101d,
    name: 'OFFLINE_MESSAGE_ACK',
    dir: 's2c',
    section: '8.6',
    summary: 'a stored offline message (RFC822-like text)',
    layout: [field('uidl', uidlType), str('message', ascii, { content: 'mail' })],
    derive: (f) => ({ parsed: parseOfflineMessage(String(f.message ?? '')) }),
    derived: [field('parsed', annotationType([ul('flags', { flags: K.MESSAGE_FLAGS })]))],
  }),
  packet({
    code: 0x101e,
    name: 'DELETE_OFFLINE_MESSAGE',
    dir: 'c2s',
    section: '8.6',
    summary: 'deletes an offline message by UIDL',
    layout: [field('uidl', uidlType)],
    reply: { requests: ['OFFLINE_MESSAGE_ACK'], by: 'field', field: 'uidl', requestField: 'uidl' },
  }),
  packet({
    code: 0x1039,
    name: 'SMS',
    dir: 'c2s',
    section: '12.4',
    summary: 'send an SMS',
    session: { errorReply: { type: 'SMS_ACK', fields: { status: 2 /* SERVICE_UNAVAILABLE */ } } },
    layout: [ul('flags', { hex: true }), str('phone', ascii), str('text', utf16, { content: 'text' })],
  }),
  packet({
    code: 0x1040,
    name: 'SMS_ACK',
    dir: 's2c',
    section: '12.4',
    summary: 'SMS accepted or not (same seq)',
    layout: [ul('status', { values: K.SMS_STATUS })],
    reply: { requests: ['SMS'], by: 'seq' },
  }),
  packet({
    code: 0x1100,
    name: 'ARCH_RETRIVE_CHAT',
    dir: 'c2s',
    section: '16.7',
    summary: 'server-side history: fetch a chat (TLV options unknown)',
    layout: [str('with', ascii), field('afterId', u64Type), ul('toSlip'), field('options', restType)],
  }),
  packet({
    code: 0x1101,
    name: 'ARCH_CHAT',
    dir: 's2c',
    section: '16.7',
    summary: 'server-side history: messages (TLV layout unknown)',
    layout: [str('with', ascii), field('data', restType)],
    reply: { requests: ['ARCH_RETRIVE_CHAT'], by: 'seq' },
  }),
  packet({
    code: 0x1103,
    name: 'ARCH_ID',
    dir: 's2c',
    section: '16.7',
    summary: 'archive id of a message',
    layout: [ul('messageId'), field('archiveId', u64Type)],
  }),
  packet({
    code: 0x1104,
    name: 'ARCH_SYNC',
    dir: 's2c',
    section: '16.7',
    summary: 'dialog version and unread count',
    layout: [str('with', ascii), field('dialogVersion', lpsBytesType), ul('unread')],
  }),
  packet({
    code: 0x1105,
    name: 'ARCH_EVENT',
    dir: 'c2s',
    section: '16.7',
    summary: 'set the state of an archived message',
    layout: [str('with', ascii), field('archiveId', u64Type), ul('state')],
  }),
  packet({
    code: 0x1106,
    name: 'ARCH_PULL',
    dir: 'c2s',
    section: '16.7',
    summary: 'pull history since a dialog version (TLV options unknown)',
    layout: [str('with', ascii), field('dialogVersion', lpsBytesType), field('options', restType)],
  }),
  packet({
    code: 0x1107,
    name: 'ARCH_HISTORY',
    dir: 's2c',
    section: '16.7',
    summary: 'history chunk (TLV layout unknown)',
    layout: [str('with', ascii), field('dialogVersion', lpsBytesType), ul('flags', { hex: true }), field('messages', restType)],
    reply: { requests: ['ARCH_PULL'], by: 'seq' },
  }),
  packet({
    code: 0x1108,
    name: 'ARCH_STATE',
    dir: 'c2s',
    section: '16.7',
    summary: 'ask for the archive state of a dialog',
    layout: [str('with', ascii)],
  }),
];

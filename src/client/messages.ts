/** Chat text ↔ MESSAGE fields: the body the client sends, and the IncomingMessage it reports. */
import { MESSAGE_FLAG } from '../protocol/constants.js';
import type { Fields } from '../protocol/fields.js';
import { packRtf, plainTextRtf, type OfflineMessage, type PackedRtf } from '../protocol/formats.js';
import type { IncomingMessage } from './types.js';

/** MRIM text uses CRLF line breaks (§8.1); callers use \n. */
const toWire = (text: string) => text.replace(/\r?\n/g, '\r\n');
const fromWire = (text: string) => text.replace(/\r\n/g, '\n');

/** `text` and `rtf` of an outgoing MESSAGE, with the RTF flag when a document goes along. */
export function messageBody(text: string, rtf: boolean | string | undefined): { flags: number; fields: Fields } {
  const wire = toWire(text);
  // DOC17: neither text nor rtf should be empty — a single space stands for "none".
  if (!rtf) return { flags: 0, fields: { text: wire || ' ', rtf: ' ' } };
  const document = typeof rtf === 'string' ? rtf : plainTextRtf(text);
  return { flags: MESSAGE_FLAG.RTF, fields: { text: wire || ' ', rtf: packRtf(document) } };
}

/** A MESSAGE_ACK that is neither typing nor an authorization request. */
export function incomingMessage(f: Fields, from: string, flags: number): IncomingMessage {
  const message: IncomingMessage = {
    from,
    text: fromWire(String(f.text ?? '')),
    kind: messageKind(flags),
    flags,
    msgId: Number(f.msgId),
    offline: (flags & MESSAGE_FLAG.OFFLINE) !== 0,
  };
  const rtf = (f.rtfUnpacked as PackedRtf | undefined)?.rtf;
  if (rtf) message.rtf = rtf;
  return message;
}

/** An OFFLINE_MESSAGE_ACK that is not an authorization request. */
export function offlineMessage(parsed: OfflineMessage, from: string, flags: number): IncomingMessage {
  const message: IncomingMessage = { from, text: fromWire(parsed.text ?? ''), kind: messageKind(flags), flags, offline: true };
  if (parsed.date) message.date = parsed.date;
  const rtf = parsed.parts.find((p) => p.rtf)?.rtf?.rtf;
  if (rtf) message.rtf = rtf;
  return message;
}

function messageKind(flags: number): IncomingMessage['kind'] {
  if (flags & MESSAGE_FLAG.CONTACT) return 'contacts';
  if (flags & MESSAGE_FLAG.SMS) return 'sms';
  if (flags & MESSAGE_FLAG.SMS_DELIVERY_REPORT) return 'sms-report';
  if (flags & MESSAGE_FLAG.SYSTEM) return 'system';
  if (flags & MESSAGE_FLAG.ALARM) return 'alarm';
  return 'message';
}

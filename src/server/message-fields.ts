/**
 * Messages as each recipient reads them (reference §4.3): the text is re-encoded for the recipient's
 * version with the UNICODE or CP1251 flag set to match, authorization blobs are rebuilt in the
 * recipient's encoding, RTF passes through untouched.
 */
import { MESSAGE_FLAG } from '../protocol/constants.js';
import type { Fields } from '../protocol/fields.js';
import { decodeAuthBlob, encodeAuthBlob, formatOfflineMessage } from '../protocol/formats.js';
import { asCp1251, textEncodingFor } from '../protocol/text.js';
import type { StoredMessage } from './users.js';

/**
 * Flags a sender cannot pass on: the server's own (OFFLINE, SYSTEM, SMS…), MULTICAST (each recipient
 * gets a single message), MULTICHAT (not served) and the encoding flags, which are per recipient.
 */
const NOT_FORWARDED =
  MESSAGE_FLAG.OFFLINE |
  MESSAGE_FLAG.SYSTEM |
  MESSAGE_FLAG.SMS |
  MESSAGE_FLAG.SMS_DELIVERY_REPORT |
  MESSAGE_FLAG.MULTICAST |
  MESSAGE_FLAG.MULTICHAT |
  MESSAGE_FLAG.UNICODE |
  MESSAGE_FLAG.CP1251;

export function forwardedFlags(flags: number): number {
  return (flags & ~NOT_FORWARDED) >>> 0;
}

/** Flags and text of `message` for a recipient speaking protocol minor `minor`. */
function renderFor(message: Pick<StoredMessage, 'flags' | 'text'>, minor: number): { flags: number; text: string } {
  const encoding = textEncodingFor(minor);
  let text = message.text;
  if (message.flags & MESSAGE_FLAG.AUTHORIZE) {
    const blob = decodeAuthBlob(text);
    if (!('error' in blob)) text = encodeAuthBlob(blob, encoding);
  }
  const flags = (message.flags | (encoding === 'utf16le' ? MESSAGE_FLAG.UNICODE : MESSAGE_FLAG.CP1251)) >>> 0;
  return { flags, text };
}

/** The text as a recipient speaking `minor` gets it: CP1251 has fewer characters ("?" for the others). */
export function deliveredText(message: Pick<StoredMessage, 'text'>, minor: number): string {
  return textEncodingFor(minor) === 'cp1251' ? asCp1251(message.text) : message.text;
}

export function messageAckFields(message: StoredMessage, minor: number, msgId: number): Fields {
  return { msgId, from: message.from, ...renderFor(message, minor), rtf: message.rtf ?? ' ' };
}

/**
 * Line endings of the offline message per recipient version: pidgin-mra (1.8) crashes on CRLF, while
 * mrim-prpl (1.22) needs CRLF (it merges blank lines before splitting, so with LF the body is lost — and
 * it deletes the message all the same). LF for the CP1251 clients (before 1.16), CRLF for the rest.
 */
export const offlineLineEnding = (minor: number): 'LF' | 'CRLF' => (minor >= 16 ? 'CRLF' : 'LF');

/** OFFLINE_MESSAGE_ACK in the reference's RFC822-like form, with the recipient's line endings. */
export function offlineMessageFields(message: StoredMessage, minor: number): Fields {
  const { flags, text } = renderFor(message, minor);
  const rtf = message.flags & MESSAGE_FLAG.RTF && message.rtf?.trim() ? message.rtf : undefined;
  return {
    uidl: message.uidl,
    message: formatOfflineMessage({ from: message.from, date: message.date, flags, text, unicode: minor >= 16, rtf, lineEnding: offlineLineEnding(minor) }),
  };
}

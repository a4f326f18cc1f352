/** The text encoding rules of the reference (§4), and the field declarations built on them. */
import * as K from '../constants.js';
import { field, spread, type FieldContext, type FieldSpec, type Fields } from '../fields.js';
import { encodingRule, fixedEncoding, textType, type EncodingRule } from '../text-fields.js';
import { decodeString, looksLikeUtf16, textEncodingFor } from '../text.js';

/** Logins, URIs, user agents, keys: ASCII / CP1251 in every version. */
export const ascii: EncodingRule = fixedEncoding('cp1251');
export const utf16: EncodingRule = fixedEncoding('utf16le');
export const utf8: EncodingRule = fixedEncoding('utf8');
export const binary: EncodingRule = fixedEncoding('hex');

/** Names, USER_INFO values, search text: UTF-16LE from 1.16 (the 1.16 boundary of SRV/OMRA, §4.2). */
export const versionText: EncodingRule = encodingRule((c) => textEncodingFor(c.minor), () => false);

/**
 * X-status title/description. [CONFLICT §4.2/§22.1] P1412 says UTF-16LE from 1.14, OMRA/SRV (real MRA
 * 5.0 clients) say CP1251 until 1.15. Chosen: 1.16 for encoding; for 1.14–1.15 the decoder reads UTF-16LE
 * when the bytes look like it, so both variants decode.
 */
export const xstatusText: EncodingRule = encodingRule(
  (c, bytes) => {
    if (c.minor >= 16) return 'utf16le';
    return c.minor >= 14 && bytes && looksLikeUtf16(bytes) ? 'utf16le' : 'cp1251';
  },
  (c) => c.minor === 14 || c.minor === 15,
);

/** Where no source fixes the encoding: UTF-16LE when the bytes look like it, otherwise CP1251. */
export const guessed: EncodingRule = (_c, bytes) => (bytes && looksLikeUtf16(bytes) ? 'utf16le' : 'cp1251');

/**
 * Values some sources send as UTF-16LE from 1.16 and others as ASCII (numbers in WP_REQUEST and
 * ANKETA_INFO): guessed from the bytes from 1.16, CP1251 before; written as CP1251.
 */
export const asciiOrUnicodeText: EncodingRule = (c, bytes) => (c.minor >= 16 ? guessed(c, bytes) : 'cp1251');

/** Contact/group names: UTF-16LE when the record says UNICODE_NAME (0x200) or the version is ≥1.16. */
export const nameText: EncodingRule = encodingRule(
  (c) => ((Number(c.fields.flags) & K.CONTACT_FLAG.UNICODE_NAME) !== 0 ? 'utf16le' : versionText(c)),
  () => false,
);

/**
 * Message text (§4.3, recommended decoder): CP1251 flag → CP1251; UNICODE flag or ≥1.16 → UTF-16LE;
 * otherwise CP1251 (odd lengths fall back to CP1251 inside decodeString). Authorization blobs are
 * base64, sent by some clients as ASCII even in UTF-16 sessions, so their encoding is read off the bytes.
 */
export const messageText: EncodingRule = encodingRule(
  (c, bytes) => {
    const flags = Number(c.fields.flags);
    if (flags & K.MESSAGE_FLAG.CP1251) return 'cp1251';
    if (bytes && flags & K.MESSAGE_FLAG.AUTHORIZE) return looksLikeUtf16(bytes) ? 'utf16le' : 'cp1251';
    if (flags & K.MESSAGE_FLAG.UNICODE) return 'utf16le';
    return versionText(c);
  },
  (c) => (Number(c.fields.flags) & (K.MESSAGE_FLAG.CP1251 | K.MESSAGE_FLAG.AUTHORIZE)) === K.MESSAGE_FLAG.AUTHORIZE,
);

/**
 * Passwords. [CONFLICT §7.2.1/§22.8] ≥1.22 senders put the 16 raw MD5 bytes in LOGIN3 and (PRPL, VAD)
 * in LOGIN2; older ones send plain CP1251. Chosen: MD5 is written from 1.22. Read in any version: from
 * 1.22, where digests are the norm, 16 bytes that are not all printable ASCII are MD5 (shown as hex);
 * before, only 16 bytes no typed password holds (control bytes, CP1251's undefined 0x98) are, so a
 * 16-letter Cyrillic password stays text. Everything else is plain text.
 */
export const passwordText: EncodingRule = (c, bytes) => {
  if (!bytes) return c.minor >= 22 ? 'hex' : 'cp1251';
  if (bytes.length !== 16) return 'cp1251';
  const text = bytes.toString('latin1');
  const digest = c.minor >= 22 ? !/^[\x20-\x7e]*$/.test(text) : /[\x00-\x1f\x7f\x98]/.test(text);
  return digest ? 'hex' : 'cp1251';
};

/** A text field (LPS) whose encoding the rule picks. */
export const str = <const N extends string>(name: N, rule: EncodingRule, extra: Omit<FieldSpec, 'name' | 'type' | 'spread'> = {}): FieldSpec<N, string> =>
  field(name, textType(rule), extra);

/** A record's `flags` has the bit. */
export const flagged = (fields: Fields, bit: number) => (Number(fields.flags) & bit) !== 0;
export const flagSet = (c: FieldContext, bit: number) => flagged(c.fields, bit);

/** Status URI, title and description of an x-status (from 1.14 in LOGIN2, CHANGE_STATUS, USER_STATUS). */
export const xstatusFields = [
  str('statusUri', ascii),
  str('statusTitle', xstatusText),
  str('statusDesc', xstatusText),
];

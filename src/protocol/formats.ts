/**
 * Formats carried inside MRIM strings (reference §18, §19): packed RTF, the authorization blob, the
 * RFC822-like offline message, and the multicast recipient list. Parsing never throws: it returns
 * `undefined` or an `error` string for the decoder to turn into a warning.
 */
import { createHash } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import { PayloadReader, PayloadWriter } from './buffer.js';
import { decodeString, encodeString, looksLikeUtf16, type Encoding } from './text.js';

// ---------------------------------------------------------------------------------------------------
// Packed RTF: base64 of zlib of `UL count` + LPS parts (§18.2, §18.3)

export interface PackedRtf {
  parts: number;
  /** RTF document, or the fallback text of a flash message (4 parts). */
  rtf: string;
  /** The document's plain text (escapes resolved, formatting and tables dropped), when it is RTF. */
  text?: string;
  /** Background colour as `#rrggbb` (COLORREF 0x00BBGGRR on the wire). */
  background?: string;
  /** Flash "mult" tag, CP1251 and UTF-16LE copies. */
  multTag?: string;
  multTagUnicode?: string;
}

export function unpackRtf(base64: string): PackedRtf | { error: string } {
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.from(base64.trim(), 'base64'));
  } catch (e) {
    return { error: `not packed RTF (zlib: ${(e as Error).message})` };
  }
  const r = new PayloadReader(raw);
  const parts = r.ul();
  if (parts === undefined) return { error: 'packed RTF: empty' };
  const items: Buffer[] = [];
  for (let i = 0; i < parts; i++) {
    const b = r.lps();
    if (!Buffer.isBuffer(b)) break;
    items.push(b);
  }
  const out: PackedRtf = { parts, rtf: items[0] ? decodeString(items[0], 'cp1251').value : '' };
  if (/^\s*\{\\rtf/.test(out.rtf)) out.text = rtfText(out.rtf);
  if (items[1]?.length === 4) {
    const c = items[1].readUInt32LE(0);
    const rgb = [c & 0xff, (c >> 8) & 0xff, (c >> 16) & 0xff];
    out.background = '#' + rgb.map((x) => x.toString(16).padStart(2, '0')).join('');
  }
  if (items[2]) out.multTag = decodeString(items[2], 'cp1251').value;
  if (items[3]) out.multTagUnicode = decodeString(items[3], 'utf16le').value;
  return out;
}

export function packRtf(rtf: string, background = '#ffffff'): string {
  const hex = background.replace('#', '').padEnd(6, 'f');
  const colour = Buffer.alloc(4);
  colour.writeUInt32LE(parseInt(hex.slice(0, 2), 16) | (parseInt(hex.slice(2, 4), 16) << 8) | (parseInt(hex.slice(4, 6), 16) << 16));
  const body = new PayloadWriter().ul(2).lps(encodeString(rtf, 'cp1251')).lps(colour).finish();
  return deflateSync(body).toString('base64');
}

/** Destinations whose content is no text of the message (tables, metadata, pictures). */
const SKIPPED_DESTINATIONS = new Set(['fonttbl', 'colortbl', 'stylesheet', 'info', 'pict', 'object', 'header', 'footer', 'generator', 'listtable', 'listoverridetable']);
const SYMBOL_WORDS: Record<string, string> = {
  par: '\n',
  line: '\n',
  tab: '\t',
  emdash: '—',
  endash: '–',
  bullet: '•',
  lquote: '‘',
  rquote: '’',
  ldblquote: '“',
  rdblquote: '”',
};

/**
 * The plain text of an RTF document: `\uN` (with its `\ucN` fallback characters skipped) and `\'hh`
 * (CP1251, MRA's code page) resolved, `\par` as a line break, font/colour tables and other
 * destinations dropped. Malformed RTF yields what could be read.
 */
export function rtfText(rtf: string): string {
  let out = '';
  // Per group: whether its text is dropped, and how many fallback characters follow a \u.
  const stack: { skip: boolean; uc: number }[] = [];
  let state = { skip: false, uc: 1 };
  let pendingSkip = 0;
  let ansi: number[] = [];
  const flushAnsi = () => {
    if (ansi.length) out += decodeString(Buffer.from(ansi), 'cp1251').value;
    ansi = [];
  };
  const emit = (text: string) => {
    if (state.skip) return;
    if (pendingSkip > 0) {
      pendingSkip--;
      return;
    }
    flushAnsi();
    out += text;
  };
  for (let i = 0; i < rtf.length; ) {
    const ch = rtf[i];
    if (ch === '{' || ch === '}') {
      flushAnsi();
      pendingSkip = 0;
      if (ch === '{') {
        stack.push(state);
        state = { ...state };
      } else {
        state = stack.pop() ?? state;
      }
      i++;
      continue;
    }
    if (ch === '\r' || ch === '\n') {
      i++;
      continue;
    }
    if (ch !== '\\') {
      emit(ch);
      i++;
      continue;
    }
    const next = rtf[i + 1] ?? '';
    if (next === "'") {
      const byte = parseInt(rtf.slice(i + 2, i + 4), 16);
      i += 4;
      if (Number.isNaN(byte) || state.skip) continue;
      if (pendingSkip > 0) pendingSkip--;
      else ansi.push(byte);
      continue;
    }
    const word = /^[a-z]+/i.exec(rtf.slice(i + 1));
    if (!word) {
      // Control symbols: escaped characters, the ignorable-destination mark, special spaces and hyphens.
      if (next === '*') state.skip = true;
      else if (next === '~') emit('\u00a0');
      else if (next === '_') emit('‑');
      else if (next === '\n' || next === '\r') emit('\n');
      else if (next !== '-') emit(next);
      i += 2;
      continue;
    }
    const name = word[0];
    i += 1 + name.length;
    const param = /^-?\d+/.exec(rtf.slice(i));
    if (param) i += param[0].length;
    if (rtf[i] === ' ') i++;
    const n = param ? Number(param[0]) : undefined;
    if (SKIPPED_DESTINATIONS.has(name)) state.skip = true;
    else if (name === 'uc' && n !== undefined) state.uc = n;
    else if (name === 'u' && n !== undefined) {
      emit(String.fromCharCode(n < 0 ? n + 65536 : n));
      pendingSkip = state.uc;
    } else if (SYMBOL_WORDS[name]) emit(SYMBOL_WORDS[name]);
  }
  flushAnsi();
  return out.replace(/\s+$/, '');
}

/** A minimal RTF document for plain text, as clients send alongside the plain text field. */
export function plainTextRtf(text: string): string {
  const escaped = [...text]
    .map((ch) => {
      if (ch === '\\' || ch === '{' || ch === '}') return `\\${ch}`;
      if (ch === '\n') return '\\par ';
      if (ch === '\r') return '';
      const code = ch.charCodeAt(0);
      if (code < 0x80) return ch;
      const b = encodeString(ch, 'cp1251');
      return b.length === 1 && b[0] !== 0x3f ? `\\'${b[0].toString(16)}` : `\\u${code}?`;
    })
    .join('');
  return `{\\rtf1\\ansi\\ansicpg1251\\deff0{\\fonttbl{\\f0\\fnil Tahoma;}}\\f0\\fs20 ${escaped}}`;
}

// ---------------------------------------------------------------------------------------------------
// Authorization request blob: base64 of `UL 2, LPS nick, LPS text` (§18.4)

export interface AuthBlob {
  nick: string;
  text: string;
}

export function decodeAuthBlob(base64: string): AuthBlob | { error: string } {
  const raw = Buffer.from(base64.trim(), 'base64');
  const r = new PayloadReader(raw);
  const count = r.ul();
  const nick = r.lps();
  const text = r.lps();
  if (count === undefined || !Buffer.isBuffer(nick) || !Buffer.isBuffer(text)) {
    return { error: 'not an authorization blob' };
  }
  const enc = (b: Buffer): Encoding => (looksLikeUtf16(b) ? 'utf16le' : 'cp1251');
  return { nick: decodeString(nick, enc(nick)).value, text: decodeString(text, enc(text)).value };
}

export function encodeAuthBlob(blob: AuthBlob, encoding: Encoding): string {
  return new PayloadWriter()
    .ul(2)
    .lps(encodeString(blob.nick, encoding))
    .lps(encodeString(blob.text, encoding))
    .finish()
    .toString('base64');
}

// ---------------------------------------------------------------------------------------------------
// Offline message text (§19)

export interface OfflinePart {
  contentType: string;
  headers: Record<string, string>;
  /** Decoded text for text parts; unpacked RTF / auth blob for the MRIM types; raw body otherwise. */
  text?: string;
  rtf?: PackedRtf;
  auth?: AuthBlob;
  body: string;
}

export interface OfflineMessage {
  headers: Record<string, string>;
  from?: string;
  date?: string;
  flags?: number;
  subject?: string;
  sender?: string;
  /** The message text from the first text part. */
  text?: string;
  parts: OfflinePart[];
  lineEnding: 'LF' | 'CRLF';
}

function splitHeadBody(doc: string): [string, string] {
  const crlf = doc.indexOf('\r\n\r\n');
  const lf = doc.indexOf('\n\n');
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return [doc.slice(0, crlf), doc.slice(crlf + 4)];
  if (lf !== -1) return [doc.slice(0, lf), doc.slice(lf + 2)];
  return [doc, ''];
}

/** Header names as written → their lower-case key; bounded, since names come off the wire. */
const HEADER_KEYS = new Map<string, string>();
const HEADER_KEYS_MAX = 256;

function headerKey(name: string): string {
  let key = HEADER_KEYS.get(name);
  if (key === undefined) {
    key = name.trim().toLowerCase();
    // Stored as an object key once, the string is V8's own from then on: later records store fast.
    if (HEADER_KEYS.size < HEADER_KEYS_MAX) HEADER_KEYS.set(name, key);
  }
  return key;
}

function parseHeaders(head: string): Record<string, string> {
  const headers: Record<string, string> = {};
  let last: string | undefined;
  // Lines end at LF; a CR left at a line's end is trimmed off with the value.
  for (let at = 0; at <= head.length; ) {
    const nl = head.indexOf('\n', at);
    const end = nl === -1 ? head.length : nl;
    const first = head[at];
    if ((first === ' ' || first === '\t') && last) headers[last] += ' ' + head.slice(at, end).trim();
    else {
      const colon = head.indexOf(':', at);
      if (colon > at && colon < end) {
        last = headerKey(head.slice(at, colon));
        headers[last] = head.slice(colon + 1, end).trim();
      }
    }
    at = end + 1;
  }
  return headers;
}

/** A `name=value` parameter of a header (`charset=UTF-16LE`), quotes and spaces around the value dropped. */
const paramPattern = (name: string) => new RegExp(`${name}\\s*=\\s*"?([^";]+)"?`, 'i');
const CHARSET = paramPattern('charset');
const BOUNDARY = paramPattern('boundary');

function param(value: string | undefined, pattern: RegExp): string | undefined {
  const m = value && pattern.exec(value);
  return m ? m[1].trim() : undefined;
}

/** RFC 2047 encoded words, as used for multichat subjects (`=?UTF-16LE?B?…?=`). */
export function decodeEncodedWords(value: string): string {
  return value.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (whole, charset: string, kind: string, data: string) => {
    const bytes =
      kind.toUpperCase() === 'B'
        ? Buffer.from(data, 'base64')
        : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    const cs = charset.toLowerCase();
    const enc: Encoding | undefined = cs.includes('16') ? 'utf16le' : cs.includes('1251') ? 'cp1251' : cs.includes('utf-8') ? 'utf8' : undefined;
    return enc ? decodeString(bytes, enc).value : whole;
  });
}

function decodePart(headers: Record<string, string>, body: string): OfflinePart {
  const contentType = headers['content-type'] ?? 'text/plain';
  const base64 = /base64/i.test(headers['content-transfer-encoding'] ?? '');
  const part: OfflinePart = { contentType, headers, body };
  const semicolon = contentType.indexOf(';');
  const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  if (type === 'text/plain' || type === '') {
    const charset = (param(contentType, CHARSET) ?? 'cp1251').toLowerCase();
    // (Buffer.from skips the line breaks and spaces of a base64 body itself.)
    const bytes = Buffer.from(body, base64 ? 'base64' : 'latin1');
    const enc: Encoding = charset.includes('16') ? 'utf16le' : charset.includes('utf-8') ? 'utf8' : 'cp1251';
    part.text = base64 || enc !== 'cp1251' ? decodeString(bytes, enc).value : body;
  } else if (type === 'application/x-mrim-rtf') {
    const rtf = unpackRtf(body.replace(/\s+/g, ''));
    if (!('error' in rtf)) part.rtf = rtf;
  } else if (type === 'application/x-mrim-auth-req') {
    const auth = decodeAuthBlob(body.replace(/\s+/g, ''));
    if (!('error' in auth)) part.auth = auth;
  }
  return part;
}

/** Parses an offline message; `doc` is the LPS content already decoded as CP1251. */
export function parseOfflineMessage(doc: string): OfflineMessage {
  const [head, body] = splitHeadBody(doc);
  const headers = parseHeaders(head);
  const contentType = headers['content-type'] ?? 'text/plain';
  // Only a multipart mail has a boundary to look for.
  const boundary = /^multipart\//i.test(contentType) ? (param(contentType, BOUNDARY) ?? headers['boundary']) : undefined;
  const parts: OfflinePart[] = [];
  if (boundary) {
    for (const chunk of body.split(`--${boundary}`).slice(1)) {
      if (chunk.startsWith('--')) break;
      const [ph, pb] = splitHeadBody(chunk.replace(/^\r?\n/, ''));
      parts.push(decodePart(parseHeaders(ph), pb.replace(/\r?\n$/, '')));
    }
  } else {
    parts.push(decodePart(headers, body));
  }
  const flags = headers['x-mrim-flags'] ? parseInt(headers['x-mrim-flags'], 16) : undefined;
  return {
    headers,
    from: headers['from'],
    date: headers['date'],
    flags: Number.isNaN(flags) ? undefined : flags,
    subject: headers['subject'] !== undefined ? decodeEncodedWords(headers['subject']) : undefined,
    sender: headers['sender'],
    text: parts.find((p) => p.text !== undefined)?.text,
    parts,
    lineEnding: doc.includes('\r\n') ? 'CRLF' : 'LF',
  };
}

/** RFC 2822 date in Moscow time, as the Mail.ru server wrote it. */
export function offlineDate(when: Date): string {
  const msk = new Date(when.getTime() + 3 * 3600_000);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[msk.getUTCDay()]}, ${p(msk.getUTCDate())} ${months[msk.getUTCMonth()]} ${msk.getUTCFullYear()} ${p(msk.getUTCHours())}:${p(msk.getUTCMinutes())}:${p(msk.getUTCSeconds())} +0300`;
}

export interface OfflineMessageInput {
  from: string;
  date: Date;
  flags: number;
  text: string;
  /** UTF-16LE base64 body (recipient ≥1.16) or raw CP1251 body. */
  unicode: boolean;
  /** Packed RTF (base64) for an `application/x-mrim-rtf` part. */
  rtf?: string;
  /** LF by default: pidgin-mra cannot parse CRLF headers (reference §21.1); mrim-prpl needs CRLF. */
  lineEnding?: 'LF' | 'CRLF';
  boundary?: string;
}

export function formatOfflineMessage(m: OfflineMessageInput): string {
  const nl = m.lineEnding === 'CRLF' ? '\r\n' : '\n';
  const textPart = m.unicode
    ? ['Content-Type: text/plain; charset=UTF-16LE', 'Content-Transfer-Encoding: base64', '', encodeString(m.text, 'utf16le').toString('base64')]
    : ['Content-Type: text/plain; charset=CP-1251', '', m.text.replace(/\r?\n/g, nl)];
  const boundary = m.boundary ?? `${Math.floor(m.date.getTime() / 1000)}MRIMTAP`;
  const head = [
    `From: ${m.from}`,
    `Date: ${offlineDate(m.date)}`,
    `X-MRIM-Flags: ${(m.flags >>> 0).toString(16).padStart(8, '0')}`,
    'Version: 1.1',
    // pidgin-mra cuts the body at "\n--<Boundary header>--"; without the header it searches for an
    // empty string and shows every offline message as empty text (observed with the Debian package).
    `Boundary: ${boundary}`,
  ];
  if (!m.rtf) return [...head, ...textPart].join(nl);
  return [
    ...head,
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative; boundary=${boundary}`,
    '',
    `--${boundary}`,
    ...textPart,
    `--${boundary}`,
    'Content-Type: application/x-mrim-rtf',
    'Content-Transfer-Encoding: base64',
    '',
    m.rtf,
    `--${boundary}--`,
    '',
  ].join(nl);
}

// ---------------------------------------------------------------------------------------------------
// Multicast recipients (§8.1, [CONFLICT]): a concatenation of LPS addresses (MYA, SRV) or a comma list (DOC17)

export function parseRecipients(to: Buffer): { form: 'lps-list' | 'comma-list'; addresses: string[] } {
  const r = new PayloadReader(to);
  const addresses: string[] = [];
  while (!r.atEnd) {
    const b = r.lps();
    if (!Buffer.isBuffer(b) || b.length === 0 || !/^[\x21-\x7e]+$/.test(b.toString('latin1'))) {
      return { form: 'comma-list', addresses: to.toString('latin1').split(',').map((s) => s.trim()).filter(Boolean) };
    }
    addresses.push(b.toString('latin1'));
  }
  return { form: 'lps-list', addresses };
}

export function formatRecipients(addresses: string[]): Buffer {
  const w = new PayloadWriter();
  for (const a of addresses) w.lps(Buffer.from(a, 'latin1'));
  return w.finish();
}

/** A password as ≥1.22 clients send it (reference §7.2.1): MD5 of its CP1251 bytes, as hex (the codec's form of the raw digest). */
export function passwordMd5(password: string): string {
  return createHash('md5').update(encodeString(password, 'cp1251')).digest('hex');
}

/**
 * String encodings (reference §4). An LPS carries no encoding tag, so every string field states which
 * encoding it expects; the decoder records the encoding it actually used so a re-encode is byte-exact.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { inspect } from 'node:util';
import iconv from 'iconv-lite';

/**
 * `cp1251` and `utf16le` are the protocol's text encodings, `utf8` appears only in MY_ACTION XML,
 * `hex` is binary shown as hex (MD5 passwords, ids), and `latin1` is the fallback that maps each byte to
 * one character when bytes are not valid in the expected encoding (nothing is lost).
 */
export type Encoding = 'cp1251' | 'utf16le' | 'utf8' | 'latin1' | 'hex';


export function encodeString(value: string, encoding: Encoding): Buffer {
  switch (encoding) {
    case 'cp1251':
      return iconv.encode(value, 'win1251');
    case 'utf16le':
      return Buffer.from(value, 'utf16le');
    case 'utf8':
      return Buffer.from(value, 'utf8');
    case 'latin1':
      return Buffer.from(value, 'latin1');
    case 'hex':
      // Buffer.from would silently drop everything from the first non-hex character (a plain password
      // given where an MD5 digest is expected would become an empty one).
      if (!/^(?:[0-9a-fA-F]{2})*$/.test(value)) throw new Error(`not a hex string: ${value.length} characters`);
      return Buffer.from(value, 'hex');
  }
}

/** The character of each CP1251 byte, from iconv's table (every byte has one, so CP1251 text always round-trips). */
const CP1251_CHARS = Uint16Array.from(iconv.decode(Buffer.from(Array.from({ length: 256 }, (_, b) => b)), 'win1251'), (ch) => ch.charCodeAt(0));
/** Grows to the longest string decoded; reused so decoding a CP1251 string allocates only the string. */
let scratch = Buffer.alloc(512);

/** CP1251 through the table: one pass into UTF-16 code units, one string (iconv's generic path costs more than the text). */
function decodeCp1251(bytes: Buffer): string {
  if (scratch.length < bytes.length * 2) scratch = Buffer.alloc(bytes.length * 4);
  for (let i = 0; i < bytes.length; i++) {
    const ch = CP1251_CHARS[bytes[i]];
    scratch[2 * i] = ch & 0xff;
    scratch[2 * i + 1] = ch >>> 8;
  }
  return scratch.toString('utf16le', 0, bytes.length * 2);
}

function rawDecode(bytes: Buffer, encoding: Encoding): string {
  switch (encoding) {
    case 'cp1251':
      return isAscii(bytes) ? bytes.toString('latin1') : decodeCp1251(bytes);
    case 'utf16le':
      return bytes.toString('utf16le');
    case 'utf8':
      return bytes.toString('utf8');
    case 'latin1':
      return bytes.toString('latin1');
    case 'hex':
      return bytes.toString('hex');
  }
}

export interface DecodedString {
  value: string;
  encoding: Encoding;
  /** Set when the bytes were not valid in the wanted encoding and a fallback was used. */
  warning?: string;
  /** Set when the bytes were read in another encoding than the wanted one for a known reason (nothing is wrong). */
  note?: string;
}

const SURROGATE = /[\ud800-\udfff]/;
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Bytes that survive the round trip but are no text: CP1251 leaves 0x98 undefined (iconv maps it to
 * U+FFFD and back), and UTF-16LE code units may be unpaired surrogates (looked for only where there
 * are surrogates at all: the plain character class is much the cheaper scan).
 */
function invalidCharacters(value: string, encoding: Encoding): string {
  if (encoding === 'cp1251' && value.includes('\ufffd')) return 'byte 0x98 is no CP1251 character (shown as U+FFFD)';
  if (encoding === 'utf16le' && SURROGATE.test(value) && UNPAIRED_SURROGATE.test(value)) return 'unpaired UTF-16 surrogate';
  return '';
}

/** The UTF-16LE text of `buf[start, end)` when nothing about it needs a word (see `plainText`). */
export function plainUtf16(buf: Buffer, start: number, end: number): string | undefined {
  return plainText(buf, start, end, 'utf16le') ? buf.toString('utf16le', start, end) : undefined;
}

/** CP1251's one byte without a character (0x98): iconv reads it as U+FFFD. */
const CP1251_HOLE = CP1251_CHARS.indexOf(0xfffd);
/** Below this many bytes a JS loop over the code units beats eight native searches. */
const SHORT_UTF16 = 256;

/** Up to this many bytes, CP1251 text is checked for ASCII in place, without a view (see plainText). */
const SHORT_ASCII = 64;

function asciiAt(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] >= 0x80) return false;
  return true;
}

/**
 * Whether UTF-16LE code units `buf[start, end)` (an even number of bytes) hold a surrogate without its
 * partner, as `UNPAIRED_SURROGATE` finds in their text. Long ones are first searched for any byte a
 * surrogate's high byte can be (memchr speed); only from the first one found is each unit looked at.
 */
function unpairedSurrogate(buf: Buffer, start: number, end: number): boolean {
  let from = start;
  if (end - start >= SHORT_UTF16) {
    const bytes = buf.subarray(start, end);
    let first = bytes.length;
    for (let b = 0xd8; b <= 0xdf; b++) {
      const at = bytes.indexOf(b);
      if (at !== -1 && at < first) first = at;
    }
    if (first === bytes.length) return false;
    // Nothing before it is a surrogate, so the scan can start at its code unit.
    from = start + (first & ~1);
  }
  for (let i = from + 1; i < end; i += 2) {
    const high = buf[i];
    if ((high & 0xf8) !== 0xd8) continue;
    // A low surrogate here had no high one before it (that one's partner is stepped over).
    if (high >= 0xdc || i + 2 >= end || (buf[i + 2] & 0xfc) !== 0xdc) return true;
    i += 2;
  }
  return false;
}

/**
 * Whether `decodeString` of `buf[start, end)` as `encoding` gives a value in that very encoding with
 * no warning and no note, proven from the bytes alone without making the string: false when it would
 * not, or when proving it is not worth it (CP1251 that is valid UTF-8: the full decode decides).
 */
export function plainText(buf: Buffer, start: number, end: number, encoding: Encoding): boolean {
  switch (encoding) {
    case 'cp1251': {
      // Short ones (logins, URIs, " " for no RTF) are looked at in place: a view costs more than they do.
      if (end - start <= SHORT_ASCII && asciiAt(buf, start, end)) return true;
      const bytes = buf.subarray(start, end);
      return isAscii(bytes) || (bytes.indexOf(CP1251_HOLE) === -1 && !isMultibyteUtf8(bytes));
    }
    case 'utf16le':
      return (end - start) % 2 === 0 && !unpairedSurrogate(buf, start, end);
    case 'utf8':
      // Exactly the bytes that survive decodeString's round trip: invalid ones would read as U+FFFD.
      return isUtf8(buf.subarray(start, end));
    case 'latin1':
    case 'hex':
      return true;
  }
}

/**
 * A string field left as its bytes by a lazy decode (`strings: 'lazy'`), which proved with `plainText`
 * that decoding it raises nothing: its text is made only when asked for (and by `String()`, for the
 * few readers inside a decode, CONTACT_LIST2's masks).
 */
export class LazyText {
  constructor(
    readonly buf: Buffer,
    readonly start: number,
    readonly end: number,
    readonly encoding: Encoding,
  ) {}

  /** What `decodeString` gives for these bytes (plain, so with no fallback to take). */
  value(): string {
    return rawDecode(this.buf.subarray(this.start, this.end), this.encoding);
  }

  toString(): string {
    return this.value();
  }

  /** Printed (console.log of a frame shows a Proxy's record as it is) as the string it stands for. */
  [inspect.custom](): string {
    return inspect(this.value());
  }
}

/** `text` as CP1251 carries it: a character it has no byte for becomes "?". */
export function asCp1251(text: string): string {
  return rawDecode(encodeString(text, 'cp1251'), 'cp1251');
}

/** Characters of `text` that CP1251 has no byte for, each once. */
export function missingFromCp1251(text: string): string[] {
  if (asCp1251(text) === text) return [];
  const missing = new Set<string>();
  for (const ch of text) if (ch.charCodeAt(0) >= 0x80 && asCp1251(ch) !== ch) missing.add(ch);
  return [...missing];
}

/**
 * pidgin-mra sends a text as raw UTF-8 (flags 0) when it holds a character CP1251 lacks. Such bytes are
 * read as UTF-8 when they are valid multi-byte UTF-8 without control characters and, read as CP1251,
 * look like what UTF-8 read as CP1251 looks like: letters mixed with symbols from 0x80–0xBF ("в†’" for
 * "→", "Рї" + "С‚" for "пт"). Natural CP1251 text is practically never valid UTF-8 (each Cyrillic
 * letter would have to be followed by bytes from 0x80–0xBF, never by another letter), and the rare
 * strings that are ("ЕЁ") read as letters only, so they stay CP1251.
 */
function utf8InsteadOfCp1251(bytes: Buffer): string | undefined {
  if (!isMultibyteUtf8(bytes)) return undefined;
  const value = bytes.toString('utf8');
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/.test(value)) return undefined;
  return MOJIBAKE.test(rawDecode(bytes, 'cp1251')) ? value : undefined;
}

/** A character CP1251 text seldom has but UTF-8 read as CP1251 always does: a non-ASCII non-letter (but №). */
const MOJIBAKE = /[^\x00-\x7f\p{L}№]/u;

/** Well-formed UTF-8 with at least one multi-byte sequence; CP1251 text fails at its first letter pair. */
function isMultibyteUtf8(bytes: Buffer): boolean {
  if (isAscii(bytes)) return false;
  let multibyte = false;
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    const extra = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (extra < 0) return false;
    for (let k = 1; k <= extra; k++) if (i + k >= bytes.length || (bytes[i + k] & 0xc0) !== 0x80) return false;
    // Overlong three/four-byte forms, surrogates and code points past U+10FFFF are not UTF-8.
    const second = bytes[i + 1];
    if ((b === 0xe0 && second < 0xa0) || (b === 0xed && second > 0x9f) || (b === 0xf0 && second < 0x90) || (b === 0xf4 && second > 0x8f)) return false;
    multibyte = true;
    i += extra + 1;
  }
  return multibyte;
}

/**
 * Decodes `bytes` as `wanted`, verifying that encoding the result gives the same bytes back.
 * UTF-16LE with an odd length falls back to CP1251 (reference §4.3 sanity rule) and CP1251 that is
 * UTF-8 is read as UTF-8, both with a note; anything else that does not survive the round trip falls
 * back to latin1 with a warning.
 */
export function decodeString(bytes: Buffer, wanted: Encoding): DecodedString {
  // The common cases first: ASCII is the same in CP1251, and UTF-16LE of an even length always
  // round-trips (code units are copied, lone surrogates included).
  if (wanted === 'cp1251' && isAscii(bytes)) return { value: bytes.toString('latin1'), encoding: 'cp1251' };
  if (wanted === 'utf16le' && bytes.length % 2 === 0) return checked(bytes.toString('utf16le'), 'utf16le');
  if (wanted === 'cp1251') {
    const utf8 = utf8InsteadOfCp1251(bytes);
    if (utf8 !== undefined) {
      const lacking = missingFromCp1251(utf8);
      const why = lacking.length ? ` (it holds ${lacking.join(' ')}, which CP1251 lacks)` : '';
      return { value: utf8, encoding: 'utf8', note: `UTF-8 where CP1251 was expected${why}: read as UTF-8` };
    }
  }
  // An odd-length UTF-16LE string is read as CP1251. Every CP1251 byte is a character (checked by a
  // test against iconv's round trip), so only UTF-8 can fail the round trip.
  const encoding = wanted === 'utf16le' ? 'cp1251' : wanted;
  const value = rawDecode(bytes, encoding);
  if (encoding !== 'utf8' || Buffer.from(value, 'utf8').equals(bytes)) {
    const out = checked(value, encoding);
    if (encoding !== wanted) out.note = `odd byte length ${bytes.length}: not UTF-16LE, read as CP1251`;
    return out;
  }
  return {
    value: rawDecode(bytes, 'latin1'),
    encoding: 'latin1',
    warning: `${bytes.length} bytes are not valid ${wanted}; kept byte for byte`,
  };
}

function checked(value: string, encoding: Encoding): DecodedString {
  const problem = invalidCharacters(value, encoding);
  return problem ? { value, encoding, warning: problem } : { value, encoding };
}

/**
 * Guesses UTF-16LE vs CP1251 for fields whose encoding the sources disagree on (reference §4.2, §11.2):
 * UTF-16LE when the length is even and at least half of the high bytes are 0x00 (ASCII range) or 0x04
 * (Cyrillic block) — CP1251 text virtually never has that pattern.
 */
export function looksLikeUtf16(bytes: Buffer): boolean {
  if (bytes.length < 2 || bytes.length % 2 !== 0) return false;
  let plausible = 0;
  for (let i = 1; i < bytes.length; i += 2) {
    if (bytes[i] === 0x00 || bytes[i] === 0x04) plausible++;
  }
  return plausible * 2 >= bytes.length / 2;
}

/** Text encoding of a string field from the protocol minor version alone (1.16 boundary, reference §4.2). */
export function textEncodingFor(minor: number): Encoding {
  return minor >= 16 ? 'utf16le' : 'cp1251';
}

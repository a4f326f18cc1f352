/**
 * String encodings (reference §4). An LPS carries no encoding tag, so every string field states which
 * encoding it expects; the decoder records the encoding it actually used so a re-encode is byte-exact.
 */
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

function rawDecode(bytes: Buffer, encoding: Encoding): string {
  switch (encoding) {
    case 'cp1251':
      return iconv.decode(bytes, 'win1251');
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
}

const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Bytes that survive the round trip but are no text: CP1251 leaves 0x98 undefined (iconv maps it to
 * U+FFFD and back), and UTF-16LE code units may be unpaired surrogates.
 */
function invalidCharacters(value: string, encoding: Encoding): string {
  if (encoding === 'cp1251' && value.includes('\ufffd')) return 'byte 0x98 is no CP1251 character (shown as U+FFFD)';
  if (encoding === 'utf16le' && UNPAIRED_SURROGATE.test(value)) return 'unpaired UTF-16 surrogate';
  return '';
}

/**
 * Decodes `bytes` as `wanted`, verifying that encoding the result gives the same bytes back.
 * UTF-16LE with an odd length falls back to CP1251 (reference §4.3 sanity rule); anything else that
 * does not survive the round trip falls back to latin1 with a warning.
 */
export function decodeString(bytes: Buffer, wanted: Encoding): DecodedString {
  const order: Encoding[] = wanted === 'utf16le' ? ['utf16le', 'cp1251'] : [wanted];
  for (const encoding of order) {
    if (encoding === 'utf16le' && bytes.length % 2 !== 0) continue;
    const value = rawDecode(bytes, encoding);
    if (encodeString(value, encoding).equals(bytes)) {
      const problems = [
        encoding !== wanted ? `odd byte length ${bytes.length}: not UTF-16LE, read as CP1251` : '',
        invalidCharacters(value, encoding),
      ].filter(Boolean);
      return problems.length ? { value, encoding, warning: problems.join('; ') } : { value, encoding };
    }
  }
  return {
    value: rawDecode(bytes, 'latin1'),
    encoding: 'latin1',
    warning: `${bytes.length} bytes are not valid ${wanted}; kept byte for byte`,
  };
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

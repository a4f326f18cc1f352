/**
 * Hiding secrets — the fields the packet table marks `secret` (passwords, session keys) and SOCKS5
 * passwords — wherever an event is shown: the listing, JSON, hexdumps, redacted copies. This is the one
 * place that decides what is secret and how a masked value looks. Captures keep the raw bytes whole
 * (re-decoding and replay need them); only what is displayed is masked.
 */
import { decodeFrame, frameLayout, type DecodedFrame } from '../protocol/codec.js';
import { fieldContext, type FieldSpec, type Fields, type Layout } from '../protocol/fields.js';
import type { SocksMessage } from '../protocol/socks.js';

export const MASK = '********';

/** The byte a masked secret's bytes are overwritten with (`*`, like MASK). */
const MASK_BYTE = 0x2a;

/** Which fields to hide: the secrets, and with `content` also what users wrote (redact --messages). */
export interface MaskScope {
  content?: boolean;
}

/** Per layout of the table, the fields it may hide (secrets; secrets and content): found once, most frames have none. */
const hideable: Record<'secrets' | 'content', WeakMap<Layout, FieldSpec[]>> = { secrets: new WeakMap(), content: new WeakMap() };

/** The frame's fields to hide that hold a value. */
export function secretSpecs(frame: DecodedFrame, scope: MaskScope = {}): FieldSpec[] {
  const layout = frameLayout(frame);
  const known = hideable[scope.content ? 'content' : 'secrets'];
  let specs = known.get(layout);
  if (!specs) known.set(layout, (specs = layout.filter((s) => s.secret || (scope.content && s.content))));
  return specs.filter((s) => s.name in frame.fields);
}

/**
 * Whether a secret went as an MD5 digest (hex) or in plain text, as its decoder chose it (a frame
 * without `enc`: as its version sends it).
 */
export function secretEncoding(spec: FieldSpec, frame: DecodedFrame): 'md5' | 'plaintext' {
  const ctx = fieldContext(frame.minor, frame.dir, frame.fields, frame.enc);
  return (frame.enc[spec.name] ?? spec.type.rule?.(ctx)) === 'hex' ? 'md5' : 'plaintext';
}

/**
 * The frame's fields with each secret replaced by MASK (the frame itself is left alone). With
 * `encoding`, the mask also says whether the secret went as an MD5 digest or in plain text
 * (`******** (md5)`), as the listing shows it — never how long it is.
 */
export function maskFields(frame: DecodedFrame, opts: { encoding?: boolean } = {}): Fields {
  const secrets = secretSpecs(frame);
  if (!secrets.length) return frame.fields;
  const masked = secrets.map((s): [string, string] => [s.name, opts.encoding ? `${MASK} (${secretEncoding(s, frame)})` : MASK]);
  return { ...frame.fields, ...Object.fromEntries(masked) };
}

/**
 * The frame's bytes (`raw`, which `frame` was decoded from) with each secret's bytes overwritten by `*`.
 * A length-prefixed value keeps its length, so the masked frame still decodes (a redacted copy stays a
 * valid frame). Returns `raw` itself when the frame holds no secret.
 */
export function maskRaw(raw: Buffer, frame: DecodedFrame, scope: MaskScope = {}): Buffer {
  const secrets = secretSpecs(frame, scope);
  if (!secrets.length) return raw;
  const { spans = {} } = decodeFrame(raw, { dir: frame.dir, minor: frame.minor, spans: true });
  const out = Buffer.from(raw);
  for (const spec of secrets) {
    const span = spans[spec.name];
    if (!span) continue;
    const [start, end] = span;
    // A length-prefixed value keeps its prefix; any other field type is masked whole.
    const kind = spec.type.shape?.kind;
    const lps = (kind === 'lps-text' || kind === 'lps-bytes') && end - start >= 4;
    out.fill(MASK_BYTE, lps ? start + 4 : start, end);
  }
  return out;
}

/**
 * A SOCKS5 message's bytes with the password of an RFC 1929 authentication overwritten by `*` (its
 * length byte kept); other messages' bytes as they are.
 */
export function maskSocksBytes(bytes: Buffer, message: SocksMessage): Buffer {
  if (message.type !== 'auth' || bytes.length < 2) return bytes;
  // VER ULEN UNAME PLEN PASSWD
  const plenAt = 2 + bytes[1]!;
  if (plenAt >= bytes.length) return bytes;
  const out = Buffer.from(bytes);
  out.fill(MASK_BYTE, plenAt + 1, Math.min(out.length, plenAt + 1 + out[plenAt]!));
  return out;
}

/** A SOCKS5 message with its password (RFC 1929 authentication) replaced by MASK. */
export function maskSocks(message: SocksMessage): SocksMessage {
  return message.type === 'auth' ? { ...message, password: MASK } : message;
}

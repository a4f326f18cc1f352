/**
 * Redacting a capture for sharing. Every field the packet table marks secret (passwords, cookies,
 * session keys) — and with `messages` every field it marks as content (message texts, RTF, offline
 * mail, SMS, posts) — gets a substitute, and the frame is re-encoded with it (lengths fixed up, the
 * stream offsets after it shifted), so the copy decodes and replays with the substitute credentials:
 * a plain password becomes the substitute, an MD5 one MD5(substitute). SOCKS5 passwords too. A frame
 * that does not re-encode byte for byte (damaged) has those fields overwritten in place instead.
 * The secrets found are then searched for in the other events' bytes and texts (garbage, notes…) and
 * overwritten there, and finally in the written file, in every encoding they could take: credentials
 * (few) in all of it, what users wrote (maybe thousands of texts) in the lines of the events it was in.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { decodeFrame, reencode, type DecodedFrame } from '../protocol/codec.js';
import type { Direction, FieldSpec, Fields } from '../protocol/fields.js';
import { formatOfflineMessage, parseOfflineMessage } from '../protocol/formats.js';
import { parseSocksMessage } from '../protocol/socks.js';
import { encodeString } from '../protocol/text.js';
import type { TapEvent } from '../tap/events.js';
import { MASK, maskRaw, maskSocksBytes, secretEncoding, secretSpecs } from '../tap/mask.js';
import { CaptureFileError, type OpenOptions } from './format.js';
import { checkDistinctFiles } from './convert.js';
import { createWriter, openCapture } from './open.js';

/** What every secret becomes unless told otherwise (and MD5 of it where the secret was a digest). */
export const DEFAULT_SUBSTITUTE = 'redacted';
const TEXT_SUBSTITUTE = '[redacted]';
/** Shorter values would be found by chance everywhere: they are replaced in their fields, not searched. */
const MIN_SEARCHED = 4;
const MASK_BYTE = MASK.charCodeAt(0);

export interface RedactOptions extends OpenOptions {
  /** The substitute for passwords and other secrets (default `redacted`). */
  substitute?: string;
  /** Also replace what users wrote to each other. */
  messages?: boolean;
  onProblem?: (message: string) => void;
}

/** One value that must not be in the copy. */
interface Secret {
  /** `the password in LOGIN2 of alice@mail.ru`, `the text in MESSAGE…` — never the value. */
  what: string;
  /** The bytes it has in the frames, one way of writing it per entry. */
  forms: Array<{ encoding: string; bytes: Buffer }>;
  /**
   * For what users wrote (there may be many): the events it was in, which is where the check looks
   * for it; credentials are few and looked for in the whole file.
   */
  events?: number[];
}

export interface RedactResult {
  events: number;
  frames: number;
  /** Fields replaced, by kind, and frames that had to be masked in place. */
  replaced: { secrets: number; messages: number; socks: number; maskedInPlace: number; scrubbed: number };
  /** Distinct secret values found, and those too short to search for. */
  secrets: number;
  tooShort: number;
  /** Secrets still found in the written file (should be none), by what and how they were written. */
  leaks: Array<{ what: string; form: string }>;
  /** Secrets that are part of a value kept on purpose (a password that is the start of the login). */
  alsoInKeptValues: string[];
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest();

/** Each way a text value may appear in frames: as CP1251, UTF-16LE and UTF-8 bytes, and a password's MD5. */
function textForms(value: string, password: boolean): Secret['forms'] {
  const cp1251 = encodeString(value, 'cp1251');
  const forms = [
    { encoding: 'CP1251', bytes: cp1251 },
    { encoding: 'UTF-16LE', bytes: encodeString(value, 'utf16le') },
    { encoding: 'UTF-8', bytes: Buffer.from(value, 'utf8') },
  ];
  if (password) forms.push({ encoding: 'MD5', bytes: md5(cp1251) });
  return forms;
}

const isBytes = (spec: FieldSpec) => ['rest', 'lps-bytes', 'fixed'].includes(spec.type.shape?.kind ?? '');

/** What a frame's field to hide is, for the report: `the password of alice@mail.ru (LOGIN2)`. */
function describe(spec: FieldSpec, frame: DecodedFrame, login: string | undefined): string {
  return `the ${spec.name} in ${frame.type}${login ? ` of ${login}` : ''}`;
}

/** The secrets of one frame: the values of its fields to hide, in the forms they may take. */
function frameSecrets(frame: DecodedFrame, messages: boolean, login: string | undefined): Secret[] {
  return secretSpecs(frame, { content: messages }).flatMap((spec): Secret[] => {
    const value = frame.fields[spec.name];
    if (typeof value !== 'string' || value.trim() === '') return [];
    const what = describe(spec, frame, login);
    const events = spec.content ? { events: [] } : {};
    if (isBytes(spec) || (spec.secret && secretEncoding(spec, frame) === 'md5')) return [{ what, forms: [{ encoding: 'bytes', bytes: Buffer.from(value, 'hex') }], ...events }];
    return [{ what, forms: textForms(value, !!spec.secret), ...events }];
  });
}

/** The value a field gets instead: table-driven, so a copy stays a valid session. */
function substituteFor(spec: FieldSpec, frame: DecodedFrame, value: string, substitute: string): string {
  if (spec.content === 'rtf') return ' ';
  if (spec.content === 'mail') {
    const mail = parseOfflineMessage(value);
    const date = new Date(Date.parse(mail.date ?? '') || 0);
    const unicode = mail.parts.some((p) => /utf-16/i.test(p.contentType));
    return formatOfflineMessage({ from: mail.from ?? '', date, flags: mail.flags ?? 0, text: TEXT_SUBSTITUTE, unicode, lineEnding: mail.lineEnding, boundary: mail.headers.boundary });
  }
  if (spec.content) return TEXT_SUBSTITUTE;
  if (isBytes(spec)) return Buffer.from(substitute).toString('hex');
  return secretEncoding(spec, frame) === 'md5' ? md5(encodeString(substitute, 'cp1251')).toString('hex') : substitute;
}

/** Overwrites every occurrence of the secrets' bytes in `bytes` with `*`; returns how many there were. */
function scrubBytes(bytes: Buffer, patterns: Buffer[]): number {
  let hits = 0;
  for (const p of patterns) {
    for (let at = bytes.indexOf(p); at !== -1; at = bytes.indexOf(p, at + p.length)) {
      bytes.fill(MASK_BYTE, at, at + p.length);
      hits++;
    }
  }
  return hits;
}

class Redactor {
  readonly replaced = { secrets: 0, messages: 0, socks: 0, maskedInPlace: 0, scrubbed: 0 };
  /** How much longer (or shorter) each direction of each connection has become so far. */
  private readonly shift = new Map<string, number>();
  private readonly patterns: Buffer[];
  private readonly texts: string[];

  constructor(
    secrets: Secret[],
    private readonly opts: Required<Pick<RedactOptions, 'substitute' | 'messages'>>,
  ) {
    const forms = secrets.flatMap((s) => s.forms).filter((f) => f.bytes.length >= MIN_SEARCHED);
    this.patterns = forms.map((f) => f.bytes);
    this.texts = [...new Set(forms.filter((f) => f.encoding === 'UTF-8').map((f) => f.bytes.toString('utf8')))];
  }

  private moved(conn: number, dir: Direction, by = 0): number {
    const key = `${conn}|${dir}`;
    const before = this.shift.get(key) ?? 0;
    this.shift.set(key, before + by);
    return before;
  }

  private scrubText(text: string): string {
    let out = text;
    for (const t of this.texts) if (out.includes(t)) (out = out.split(t).join(MASK)), this.replaced.scrubbed++;
    return out;
  }

  private scrubbed(bytes: Buffer): Buffer {
    const copy = Buffer.from(bytes);
    this.replaced.scrubbed += scrubBytes(copy, this.patterns);
    return copy;
  }

  event(tap: TapEvent): TapEvent {
    const out = this.redactEvent(tap);
    const original = originalFrame(tap);
    // What an addon changed or dropped keeps the sender's bytes: they are redacted the same way.
    return original ? { ...out, addon: { ...tap.addon!, original: this.frame(tap.addon!.original!, original) } } : out;
  }

  private redactEvent(tap: TapEvent): TapEvent {
    const ev = tap.event;
    switch (ev.kind) {
      case 'frame': {
        const raw = this.frame(ev.raw, ev.frame);
        const offset = ev.offset + this.moved(tap.conn, ev.dir, raw.length - ev.raw.length);
        return { ...tap, event: { ...ev, offset, raw, frame: decodeFrame(raw, { dir: ev.dir, minor: ev.frame.minor }) } };
      }
      case 'socks': {
        if (ev.message.type !== 'auth') return { ...tap, event: { ...ev, offset: ev.offset + this.moved(tap.conn, ev.dir) } };
        const user = Buffer.from(ev.message.user, 'utf8').subarray(0, 255);
        const pass = Buffer.from(this.opts.substitute, 'utf8').subarray(0, 255);
        const parsed = socksPassword(ev.bytes) !== undefined;
        // VER ULEN UNAME PLEN PASSWD, rebuilt with the substitute; a message that does not parse back is masked in place.
        const bytes = parsed ? Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([pass.length]), pass]) : maskSocksBytes(ev.bytes, ev.message);
        this.replaced.socks++;
        const offset = ev.offset + this.moved(tap.conn, ev.dir, bytes.length - ev.bytes.length);
        return { ...tap, event: { ...ev, offset, bytes, message: { ...ev.message, password: parsed ? this.opts.substitute : MASK } } };
      }
      case 'garbage':
        return { ...tap, event: { ...ev, offset: ev.offset + this.moved(tap.conn, ev.dir), bytes: this.scrubbed(ev.bytes) } };
      case 'tls':
      case 'compressed':
        // Encrypted or compressed: no secret is in these bytes as itself.
        return { ...tap, event: { ...ev, offset: ev.offset + this.moved(tap.conn, ev.dir) } };
      case 'redirect':
        return { ...tap, event: { ...ev, offset: ev.offset + this.moved(tap.conn, ev.dir), bytes: this.scrubbed(ev.bytes), text: this.scrubText(ev.text) } };
      case 'note':
        return { ...tap, event: { ...ev, message: this.scrubText(ev.message) } };
      case 'close': {
        const bytes = { c2s: ev.bytes.c2s + this.moved(tap.conn, 'c2s'), s2c: ev.bytes.s2c + this.moved(tap.conn, 's2c') };
        return { ...tap, event: { ...ev, bytes } };
      }
      default:
        return tap;
    }
  }

  /** A frame with its fields to hide replaced and re-encoded, or masked in place when it is damaged. */
  private frame(raw: Buffer, frame: DecodedFrame): Buffer {
    const specs = secretSpecs(frame, { content: this.opts.messages }).filter((s) => String(frame.fields[s.name] ?? '').trim() !== '');
    if (specs.length === 0) return raw;
    // Re-encoding reproduces every frame it can describe (trailing bytes included); one it cannot is damaged.
    const clean = reencode(frame).equals(raw);
    if (!clean) {
      this.replaced.maskedInPlace++;
      // What it could not decode may hold a secret seen decoded elsewhere.
      return this.scrubbed(maskRaw(raw, frame, { content: this.opts.messages }));
    }
    const fields: Fields = { ...frame.fields };
    const enc = { ...frame.enc };
    for (const spec of specs) {
      fields[spec.name] = substituteFor(spec, frame, String(frame.fields[spec.name]), this.opts.substitute);
      // A text substitute takes the field's own encoding, except that a digest stays a digest.
      if (spec.content && enc[spec.name] === 'hex') delete enc[spec.name];
      if (spec.content) this.replaced.messages++;
      else this.replaced.secrets++;
    }
    return reencode({ ...frame, fields, enc });
  }
}

/** base64 of `bytes` as it appears inside a longer base64 text, at each of the three alignments. */
function base64Cores(bytes: Buffer): string[] {
  return [0, 1, 2].map((pad) => {
    const text = Buffer.concat([Buffer.alloc(pad), bytes]).toString('base64').replace(/=+$/, '');
    // Drop the characters that mix in the padding before and the unknown bytes after.
    const start = Math.ceil((pad * 4) / 3);
    const end = Math.floor(((pad + bytes.length) * 4) / 3);
    return text.slice(start, end);
  });
}

/** Every form a secret's bytes may take in a capture file: the bytes, hex (as `raw` holds them), base64. */
function fileForms(s: Secret): Array<{ form: string; text: string }> {
  const forms = s.forms
    .filter((f) => f.bytes.length >= MIN_SEARCHED)
    .flatMap((f) => [
      { form: f.encoding, text: f.bytes.toString('latin1') },
      { form: `${f.encoding} as hex`, text: f.bytes.toString('hex') },
      ...base64Cores(f.bytes).map((text) => ({ form: `${f.encoding} as base64`, text })),
    ]);
  // ASCII reads the same in CP1251 and UTF-8: each text once, under its first name.
  return forms.filter((f, i) => forms.findIndex((g) => g.text === f.text) === i);
}

export async function redactCapture(input: string, output: string, opts: RedactOptions = {}): Promise<RedactResult> {
  const substitute = opts.substitute ?? DEFAULT_SUBSTITUTE;
  const messages = !!opts.messages;
  if (encodeString(substitute, 'cp1251').length > 255 || substitute === '') throw new CaptureFileError('the substitute must be 1–255 bytes');
  await checkDistinctFiles(input, output);

  // Pass 1: what is secret in this capture.
  const found = new Map<string, Secret>();
  const kept = new Set<string>();
  const first = await openCapture(input, { maxFrameSize: opts.maxFrameSize });
  let index = -1;
  for await (const entry of first.entries) {
    if (entry.kind !== 'event') continue;
    index++;
    const { event: ev, login } = entry.event;
    if (login) kept.add(login);
    if (ev.kind === 'socks' && ev.message.type === 'auth') {
      // From the bytes: a capture's message shows the password masked.
      const password = socksPassword(ev.bytes);
      if (password) found.set(`socks|${password}`, { what: `the SOCKS5 password of ${ev.message.user}`, forms: textForms(password, true) });
    }
    const original = originalFrame(entry.event);
    for (const s of original ? frameSecrets(original, messages, login) : []) {
      const key = s.forms.map((f) => f.bytes.toString('hex')).join('|');
      const known = found.get(key) ?? s;
      known.events?.push(index);
      found.set(key, known);
    }
    if (ev.kind !== 'frame') continue;
    for (const s of frameSecrets(ev.frame, messages, login)) {
      const key = s.forms.map((f) => f.bytes.toString('hex')).join('|');
      const known = found.get(key) ?? s;
      known.events?.push(index);
      found.set(key, known);
    }
    const hidden = new Set(secretSpecs(ev.frame, { content: messages }).map((s) => s.name));
    for (const [k, v] of Object.entries(ev.frame.fields)) if (!hidden.has(k)) for (const t of strings(v)) kept.add(t);
  }
  const secrets = [...found.values()];

  // Pass 2: the copy.
  const second = await openCapture(input, { maxFrameSize: opts.maxFrameSize });
  const info = second.info;
  const writer = createWriter(output, { ...info, tool: undefined, source: `${info.source ?? basename(input)}, redacted${messages ? ' with messages' : ''}` });
  const redactor = new Redactor(secrets, { substitute, messages });
  const result: RedactResult = { events: 0, frames: 0, replaced: redactor.replaced, secrets: secrets.length, tooShort: 0, leaks: [], alsoInKeptValues: [] };
  try {
    for await (const entry of second.entries) {
      if (entry.kind === 'problem') {
        opts.onProblem?.(entry.message);
        continue;
      }
      const out = redactor.event(entry.event);
      writer.write(out);
      result.events++;
      if (out.event.kind === 'frame') result.frames++;
    }
  } finally {
    writer.close();
  }

  // The check: none of the secrets is in the file, in any form, except inside values kept on purpose.
  const file = (await readFile(output)).toString('latin1');
  // Line 0 is the header; then one line per event, in the order they were read.
  const lines = file.split('\n');
  for (const s of secrets) {
    const forms = fileForms(s);
    if (forms.length === 0) {
      result.tooShort++;
      continue;
    }
    if (s.events) {
      const hit = forms.find((f) => s.events!.some((i) => lines[i + 1]?.includes(f.text)));
      if (hit) result.leaks.push({ what: s.what, form: hit.form });
      continue;
    }
    const plain = s.forms.find((f) => f.encoding === 'UTF-8')?.bytes.toString('utf8');
    const containing = plain ? [...kept].filter((k) => k !== plain && k.toLowerCase().includes(plain.toLowerCase())) : [];
    let haystack = file;
    for (const k of containing) for (const f of fileForms({ what: '', forms: textForms(k, false) })) haystack = haystack.split(f.text).join('');
    if (containing.length) result.alsoInKeptValues.push(`${s.what} is part of ${containing.map((k) => JSON.stringify(k)).join(', ')}`);
    for (const f of forms) if (haystack.includes(f.text)) result.leaks.push({ what: s.what, form: f.form });
  }
  return result;
}

/** The frame an addon changed or dropped, as its sender sent it (an addon mark's `original`). */
function originalFrame(tap: TapEvent): DecodedFrame | undefined {
  const bytes = tap.addon?.original;
  const e = tap.event;
  if (!bytes) return undefined;
  return decodeFrame(bytes, { dir: 'dir' in e && e.dir ? e.dir : 'c2s', minor: e.kind === 'frame' ? e.frame.minor : undefined });
}

/** The password of an RFC 1929 request, when the bytes hold one whole. */
function socksPassword(bytes: Buffer): string | undefined {
  const parsed = parseSocksMessage(bytes, 'auth');
  return typeof parsed === 'object' && parsed.message.type === 'auth' && parsed.length === bytes.length ? parsed.message.password || undefined : undefined;
}

/** The strings inside a decoded field value (records and lists included). */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v && typeof v === 'object') return Object.values(v).flatMap(strings);
  return [];
}

/**
 * Field-level reading and writing of MRIM payloads. Reading has a "soft end": every read returns
 * `undefined` instead of throwing when the payload is exhausted, because trailing optional fields are
 * routinely absent (reference §3.3).
 */
import { isAscii } from 'node:buffer';
import { ulAt } from './header.js';
import { LazyText, plainText, plainUtf16, type Encoding } from './text.js';

/** Short ASCII strings read lately, by a hash of their bytes (one per slot: a new one replaces the old). */
const RECENT_ASCII: (string | undefined)[] = new Array(1024).fill(undefined);

/** `text` is what the bytes at `start` spell, one byte per character. */
function spells(text: string, buf: Buffer, start: number): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== buf[start + i]) return false;
  return true;
}

export class PayloadReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  get atEnd(): boolean {
    return this.pos >= this.end;
  }

  ul(): number | undefined {
    if (this.remaining < 4) return undefined;
    const v = ulAt(this.buf, this.pos);
    this.pos += 4;
    return v;
  }

  byte(): number | undefined {
    if (this.remaining < 1) return undefined;
    return this.buf[this.pos++];
  }

  u64(): bigint | undefined {
    if (this.remaining < 8) return undefined;
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  bytes(n: number): Buffer | undefined {
    if (this.remaining < n) return undefined;
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** `n` bytes as hex, read in place (no view of them is made). */
  hex(n: number): string | undefined {
    if (this.remaining < n) return undefined;
    const v = this.buf.toString('hex', this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /**
   * An LPS. Returns `{ truncated }` (and consumes the rest) when the length prefix points beyond the
   * payload, so the caller can warn without losing its place.
   */
  lps(): Buffer | { truncated: number; available: number } | undefined {
    if (this.remaining < 4) return undefined;
    const len = ulAt(this.buf, this.pos);
    if (len > this.remaining - 4) {
      const available = this.remaining - 4;
      this.pos = this.end;
      return { truncated: len, available };
    }
    this.pos += 4;
    return this.bytes(len);
  }

  /** Steps over an LPS as `lps()` reads one, without making a view of its bytes. */
  skipLps(): void {
    if (this.remaining < 4) return;
    const len = ulAt(this.buf, this.pos);
    this.pos = len > this.remaining - 4 ? this.end : this.pos + 4 + len;
  }

  /**
   * An LPS of ASCII bytes as text, read in place (no view of the bytes is made); `undefined`, with
   * nothing consumed, when it is not whole or not ASCII.
   */
  asciiLps(): string | undefined {
    if (this.remaining < 4) return undefined;
    const len = ulAt(this.buf, this.pos);
    if (len > this.remaining - 4) return undefined;
    const start = this.pos + 4;
    const end = start + len;
    if (len > 64) {
      if (!isAscii(this.buf.subarray(start, end))) return undefined;
      this.pos = end;
      return this.buf.toString('latin1', start, end);
    }
    // Short ones (logins, status URIs, user agents) recur: hashed while checked, and found again.
    let hash = len;
    for (let i = start; i < end; i++) {
      const b = this.buf[i];
      if (b >= 0x80) return undefined;
      hash = (hash * 31 + b) | 0;
    }
    this.pos = end;
    const slot = hash & (RECENT_ASCII.length - 1);
    const seen = RECENT_ASCII[slot];
    if (seen !== undefined && seen.length === len && spells(seen, this.buf, start)) return seen;
    return (RECENT_ASCII[slot] = this.buf.toString('latin1', start, end));
  }

  /** An LPS of UTF-16LE text read in place when it is whole and plain (see `plainUtf16`); nothing consumed otherwise. */
  plainUtf16Lps(): string | undefined {
    if (this.remaining < 4) return undefined;
    const len = ulAt(this.buf, this.pos);
    if (len > this.remaining - 4) return undefined;
    const text = plainUtf16(this.buf, this.pos + 4, this.pos + 4 + len);
    if (text !== undefined) this.pos += 4 + len;
    return text;
  }

  /** An LPS left as its bytes when it is whole and plain in `encoding` (see `plainText`); nothing consumed otherwise. */
  lazyLps(encoding: Encoding): LazyText | undefined {
    if (this.remaining < 4) return undefined;
    const len = ulAt(this.buf, this.pos);
    if (len > this.remaining - 4) return undefined;
    const start = this.pos + 4;
    if (!plainText(this.buf, start, start + len, encoding)) return undefined;
    this.pos = start + len;
    return new LazyText(this.buf, start, this.pos, encoding);
  }

  /** NUL-terminated string (mask char `z`); without a NUL, the rest of the payload. */
  cstring(): Buffer | undefined {
    if (this.atEnd) return undefined;
    const nul = this.buf.indexOf(0, this.pos);
    const stop = nul === -1 || nul >= this.end ? this.end : nul;
    const v = this.buf.subarray(this.pos, stop);
    this.pos = stop < this.end ? stop + 1 : stop;
    return v;
  }

  rest(): Buffer {
    const v = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }
}

/** Collects fields; `finish()` concatenates once. */
export class PayloadWriter {
  private readonly parts: Buffer[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  bytes(b: Buffer | Uint8Array): this {
    const buf = Buffer.isBuffer(b) ? b : Buffer.from(b);
    this.parts.push(buf);
    this.size += buf.length;
    return this;
  }

  ul(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    return this.bytes(b);
  }

  byte(v: number): this {
    return this.bytes(Buffer.from([v & 0xff]));
  }

  u64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, v));
    return this.bytes(b);
  }

  lps(content: Buffer): this {
    return this.ul(content.length).bytes(content);
  }

  cstring(content: Buffer): this {
    return this.bytes(content).byte(0);
  }

  finish(): Buffer {
    return this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.size);
  }
}

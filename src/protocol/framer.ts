/**
 * Streaming reassembly of one TCP direction into MRIM frames, sans-IO. Chunks of any size go into one
 * pending buffer that grows by doubling and is consumed by moving an offset (never re-concatenating
 * the pending bytes per chunk), so the total work is linear in the bytes pushed.
 *
 * Besides frames it recognises what precedes or replaces MRIM on a connection: a SOCKS5 handshake at
 * the start, the redirector's plain-text `ip:port` answer, and TLS after the STARTTLS switch.
 */
import type { Direction } from './fields.js';
import { HEADER_OFFSETS, HEADER_SIZE, MAGIC_BYTES, MRIM_MAGIC, ulAt } from './header.js';
import { PACKETS } from './packets/index.js';
import { parseSocksMessage, type SocksMessage, type SocksStep } from './socks.js';

export const DEFAULT_MAX_FRAME_SIZE = 1024 * 1024;
/** The packets of a TLS switch (the request and the reply accepting it), from the table. */
const TLS_REQUESTS = PACKETS.filter((p) => p.session?.switchesTo === 'tls').map((p) => p.name as string);
const TLS_NEGOTIATION = new Set(
  PACKETS.filter((p) => p.session?.switchesTo === 'tls' || (p.session?.accepts && p.reply?.requests.some((r) => TLS_REQUESTS.includes(r)))).map((p) => p.code),
);
/** The longest redirector answer read as one (reference §2.1: a short `ip:port`). */
export const REDIRECT_MAX = 256;
const REQUEST_MAX = 4096;
/** Garbage is held until the next frame start so it is reported once; past this size it is reported in parts. */
const GARBAGE_REPORT_MAX = 64 * 1024;

export type FramerEvent =
  | { kind: 'frame'; offset: number; frame: Buffer }
  | { kind: 'garbage'; offset: number; bytes: Buffer; reason: string; skipped?: number }
  | { kind: 'socks'; offset: number; bytes: Buffer; message: SocksMessage }
  /**
   * The redirector exchange (§2.1): the server's `ip:port` answer (s2c), or a plain-text request some
   * clients send first (c2s; mrim-prpl sends an HTTP GET).
   */
  | { kind: 'redirect'; offset: number; bytes: Buffer; text: string; address?: string; host?: string; port?: number }
  | { kind: 'tls'; offset: number; bytes: Buffer; start: boolean }
  | { kind: 'compressed'; offset: number; bytes: Buffer; start: boolean };

export interface FramerOptions {
  dir: Direction;
  /** Frames announcing a larger payload are reported and skipped without buffering. */
  maxFrameSize?: number;
  /** Look for a SOCKS5 handshake / redirector answer at the start (default true). */
  detectPreamble?: boolean;
}

type Mode = 'start' | 'socks' | 'mrim' | 'tls' | 'compressed' | 'foreign';

const NOTHING: readonly FramerEvent[] = Object.freeze([]);

export class Framer {
  readonly dir: Direction;
  private readonly maxFrameSize: number;
  private buf = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  /** Stream offset of `buf[start]`. */
  private offset = 0;
  private mode: Mode;
  private socksStep: SocksStep;
  /** Payload bytes of an oversize frame still to be dropped. */
  private skipLeft = 0;
  /** Bytes from `start` already searched for a magic (garbage waiting for the next frame start). */
  private scanned = 0;
  private opaqueAnnounced = false;
  /** What a stream that is not MRIM turned out to be, from its first bytes (`HTTP response "HTTP/1.1 200 OK"`). */
  private foreign = '';
  /** A STARTTLS/OK went by on this direction: a TLS record at a frame boundary means the switch happened. */
  private sawTlsNegotiation = false;

  constructor(opts: FramerOptions) {
    this.dir = opts.dir;
    this.maxFrameSize = opts.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.mode = opts.detectPreamble === false ? 'mrim' : 'start';
    this.socksStep = this.firstSocksStep();
  }

  /** What a SOCKS5 handshake starts with in this direction. */
  private firstSocksStep(): SocksStep {
    return this.dir === 'c2s' ? 'greeting' : 'method';
  }

  /** Bytes held waiting for the rest of a frame. */
  get pending(): number {
    return this.end - this.start;
  }

  /** Payload bytes of an oversize frame that are still to come and will be dropped. */
  get skipping(): number {
    return this.skipLeft;
  }

  /** From here on the direction carries TLS records (after STARTTLS/OK). */
  enterTls(): void {
    if (this.mode !== 'tls') {
      this.mode = 'tls';
      this.opaqueAnnounced = false;
    }
  }

  /** From here on the direction is a zlib stream (after COMPRESS_SERVER_STREAM/OK). */
  enterCompressed(): void {
    if (this.mode !== 'compressed') {
      this.mode = 'compressed';
      this.opaqueAnnounced = false;
    }
  }

  /**
   * Adds a chunk and returns the events it completes. Iterate the result fully: a consumer may call
   * `enterTls()` between events, and the rest of the chunk is then treated accordingly.
   */
  push(chunk: Buffer): Iterable<FramerEvent> {
    if (this.skipLeft > 0) {
      const n = Math.min(this.skipLeft, chunk.length);
      this.skipLeft -= n;
      this.offset += n;
      chunk = chunk.subarray(n);
    }
    this.append(chunk);
    return this.midFrame() ? NOTHING : this.drain(false);
  }

  /** A frame is arriving and not complete yet: the common case of small chunks, answered without a generator. */
  private midFrame(): boolean {
    if (this.mode !== 'mrim' || this.skipLeft > 0) return false;
    const avail = this.end - this.start;
    if (avail < 4) return true;
    // The header's numbers by named offsets once the bytes are there: headerField's lookup of the offset
    // by name cost more than the rest of a 1-byte push.
    if (ulAt(this.buf, this.start + HEADER_OFFSETS.magic) !== MRIM_MAGIC) return false;
    if (avail < HEADER_SIZE) return true;
    const dlen = ulAt(this.buf, this.start + HEADER_OFFSETS.dlen);
    return dlen <= this.maxFrameSize && avail < HEADER_SIZE + dlen;
  }

  /** End of stream: whatever is left becomes a redirect answer (text without newline) or garbage. */
  finish(): Generator<FramerEvent> {
    return this.drain(true);
  }

  private append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const held = this.end - this.start;
    if (this.end + chunk.length > this.buf.length) {
      const needed = held + chunk.length;
      if (needed <= this.buf.length && this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(needed, this.buf.length * 2, 4096));
        this.buf.copy(grown, 0, this.start, this.end);
        this.buf = grown;
      }
      this.start = 0;
      this.end = held;
    }
    // Byte by byte for tiny chunks: Buffer.copy's own cost is many times a few bytes' worth.
    if (chunk.length <= 16) for (let i = 0; i < chunk.length; i++) this.buf[this.end + i] = chunk[i];
    else chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  /** Drops `n` bytes off the front; returns their stream offset. */
  private advance(n: number): number {
    const offset = this.offset;
    this.start += n;
    this.offset += n;
    this.scanned = 0;
    if (this.start === this.end) this.start = this.end = 0;
    return offset;
  }

  /** Takes `n` bytes off the front as an independent copy (the pending buffer is reused). */
  private take(n: number): { offset: number; bytes: Buffer } {
    const bytes = Buffer.from(this.buf.subarray(this.start, this.start + n));
    return { offset: this.advance(n), bytes };
  }

  private *drain(eof: boolean): Generator<FramerEvent> {
    for (;;) {
      const avail = this.end - this.start;
      if (this.mode === 'tls' || this.mode === 'compressed') {
        if (avail === 0) return;
        const { offset, bytes } = this.take(avail);
        yield { kind: this.mode, offset, bytes, start: !this.opaqueAnnounced };
        this.opaqueAnnounced = true;
        return;
      }
      if (this.mode === 'foreign') {
        // Another protocol to its end: its bytes are reported as they come, never resynced as MRIM.
        if (avail === 0) return;
        const { offset, bytes } = this.take(avail);
        yield { kind: 'garbage', offset, bytes, reason: `not MRIM: more of the ${this.foreign.split(' "')[0]}` };
        return;
      }
      if (this.skipLeft > 0) {
        const n = Math.min(this.skipLeft, avail);
        this.advance(n);
        this.skipLeft -= n;
        if (this.skipLeft > 0) return;
        continue;
      }
      if (avail === 0) return;
      const mode = this.mode;
      const ev = mode === 'start' ? this.readStart(eof) : mode === 'socks' ? this.readSocks(eof) : this.readMrim(eof);
      if (ev) yield ev;
      // Nothing complete yet — unless the stream just turned out to be TLS, which is read at once.
      else if (this.mode === mode) return;
    }
  }

  private readStart(eof: boolean): FramerEvent | undefined {
    const foreign = this.foreignProtocol(eof);
    if (foreign === 'wait') return undefined;
    if (foreign) {
      this.mode = 'foreign';
      this.foreign = foreign;
      const { offset, bytes } = this.take(this.end - this.start);
      return { kind: 'garbage', offset, bytes, reason: `not MRIM: ${foreign}` };
    }
    const first = this.buf[this.start];
    if (first === 0x05) {
      this.mode = 'socks';
      return this.readSocks(eof);
    }
    if (first !== MAGIC_BYTES[0] && first >= 0x20 && first < 0x7f) {
      return this.dir === 's2c' ? this.readRedirect(eof) : this.readRedirectRequest(eof);
    }
    this.mode = 'mrim';
    return this.readMrim(eof);
  }

  /**
   * Another protocol recognised from a stream's first bytes: a TLS hello, or an HTTP response from the
   * server. An HTTP request from the client is not one by itself: mrim-prpl asks the redirector with
   * a GET (answered by `ip:port`), so it stays a redirect request; the answer tells which it was.
   * `wait` while too few bytes have come to tell.
   */
  private foreignProtocol(eof: boolean): string | undefined | 'wait' {
    const view = this.buf.subarray(this.start, this.end);
    const enough = (n: number, prefix: Buffer) => view.length >= n || eof || !prefix.subarray(0, view.length).equals(view.subarray(0, prefix.length));
    // A TLS handshake record (0x16, version 3.x) whose first message is a hello: ClientHello 1, ServerHello 2.
    const TLS = Buffer.from([0x16, 0x03]);
    if (!enough(6, TLS)) return 'wait';
    if (view.length >= 6 && view[0] === 0x16 && view[1] === 0x03 && view[2]! <= 0x04 && (view[5] === 0x01 || view[5] === 0x02)) {
      return view[5] === 0x01 ? 'TLS ClientHello' : 'TLS ServerHello';
    }
    if (this.dir !== 's2c') return undefined;
    const HTTP = Buffer.from('HTTP/1.');
    if (!enough(HTTP.length, HTTP)) return 'wait';
    if (view.subarray(0, HTTP.length).equals(HTTP)) {
      if (!eof && view.indexOf(0x0a) === -1 && view.length < REQUEST_MAX) return 'wait';
      const line = view.subarray(0, REQUEST_MAX).toString('latin1').split(/\r?\n/)[0]!;
      return `HTTP response "${line}"`;
    }
    return undefined;
  }

  private readSocks(eof: boolean): FramerEvent | undefined {
    const view = this.buf.subarray(this.start, this.end);
    const parsed = parseSocksMessage(view, this.socksStep);
    if (parsed === 'incomplete') {
      if (!eof) return undefined;
      this.mode = 'mrim';
      const { offset, bytes } = this.take(view.length);
      return { kind: 'garbage', offset, bytes, reason: `incomplete SOCKS5 ${this.socksStep} at end of stream` };
    }
    if (parsed === 'invalid') {
      // Not (or no longer) SOCKS: treat the rest as MRIM.
      this.mode = 'mrim';
      return this.readMrim(eof);
    }
    this.socksStep = parsed.next;
    if (parsed.next === 'done') {
      // Through a chain of proxies one stream carries one handshake per proxy: another may follow.
      this.mode = 'start';
      this.socksStep = this.firstSocksStep();
    }
    const { offset, bytes } = this.take(parsed.length);
    return { kind: 'socks', offset, bytes, message: parsed.message };
  }

  private readRedirect(eof: boolean): FramerEvent | undefined {
    const view = this.buf.subarray(this.start, Math.min(this.end, this.start + REDIRECT_MAX));
    let stop = view.findIndex((b) => b === 0x0a || b === 0x00);
    if (stop === -1) {
      if (!eof && view.length < REDIRECT_MAX) return undefined;
      stop = view.length - 1;
    }
    const text = view.subarray(0, stop + 1).toString('latin1').replace(/[\0\r\n]+$/, '').trim();
    const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:]+):(\d{1,5})$/.exec(text);
    this.mode = 'mrim';
    if (!m) return this.readMrim(eof);
    const { offset, bytes } = this.take(stop + 1);
    return { kind: 'redirect', offset, bytes, text, address: text, host: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  }

  /** Plain text up to a blank line (an HTTP-style request) before any MRIM frame. */
  private readRedirectRequest(eof: boolean): FramerEvent | undefined {
    const view = this.buf.subarray(this.start, Math.min(this.end, this.start + REQUEST_MAX));
    const text = view.toString('latin1');
    const blank = /\r?\n\r?\n/.exec(text);
    let length: number;
    if (blank) length = blank.index + blank[0].length;
    else if (eof || view.length >= REQUEST_MAX) length = view.length;
    else return undefined;
    this.mode = 'mrim';
    if (!/^[\x20-\x7e\r\n\t]+$/.test(text.slice(0, length))) return this.readMrim(eof);
    const { offset, bytes } = this.take(length);
    return { kind: 'redirect', offset, bytes, text: text.slice(0, length).split(/\r?\n/)[0] };
  }

  private readMrim(eof: boolean): FramerEvent | undefined {
    const avail = this.end - this.start;
    if (avail >= 4 && ulAt(this.buf, this.start + HEADER_OFFSETS.magic) !== MRIM_MAGIC) {
      if (this.sawTlsNegotiation && this.buf[this.start] === 0x16 && this.buf[this.start + 1] === 0x03) {
        this.enterTls();
        return undefined;
      }
      return this.resync(eof);
    }
    if (avail < HEADER_SIZE) return eof ? this.leftover('incomplete header at end of stream') : undefined;
    const dlen = ulAt(this.buf, this.start + HEADER_OFFSETS.dlen);
    if (dlen > this.maxFrameSize) {
      const { offset, bytes } = this.take(HEADER_SIZE);
      this.skipLeft = dlen;
      return { kind: 'garbage', offset, bytes, skipped: dlen, reason: `frame announces dlen ${dlen} > limit ${this.maxFrameSize}: header reported, payload skipped unbuffered` };
    }
    if (avail < HEADER_SIZE + dlen) return eof ? this.leftover(`incomplete frame at end of stream (${avail} of ${HEADER_SIZE + dlen} bytes)`) : undefined;
    if (TLS_NEGOTIATION.has(ulAt(this.buf, this.start + HEADER_OFFSETS.msg))) this.sawTlsNegotiation = true;
    const { offset, bytes } = this.take(HEADER_SIZE + dlen);
    return { kind: 'frame', offset, frame: bytes };
  }

  /**
   * Skips to the next magic. The garbage is held until a magic (or the end) shows where it stops, so
   * it is one event however the stream was chunked; only past GARBAGE_REPORT_MAX is it reported in
   * parts, keeping the 3 bytes that may begin a magic split across chunks. Bytes already searched are
   * not searched again.
   */
  private resync(eof: boolean): FramerEvent | undefined {
    const view = this.buf.subarray(this.start, this.end);
    const found = view.indexOf(MAGIC_BYTES, Math.max(1, this.scanned - 3));
    let n: number;
    if (found !== -1) n = found;
    else if (eof) n = view.length;
    else if (view.length >= GARBAGE_REPORT_MAX) n = view.length - 3;
    else {
      this.scanned = view.length;
      return undefined;
    }
    const { offset, bytes } = this.take(n);
    const reason = found !== -1 ? 'skipped to the next frame' : eof ? 'no frame start before the end of the stream' : 'no frame start found yet';
    return { kind: 'garbage', offset, bytes, reason: `bad magic: ${reason}` };
  }

  private leftover(reason: string): FramerEvent {
    const { offset, bytes } = this.take(this.end - this.start);
    return { kind: 'garbage', offset, bytes, reason };
  }
}

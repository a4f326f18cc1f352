/** What every capture writer does to its file: created (or truncated) readable by its owner only, written whole. */
import { closeSync, constants, fchmodSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LinePart } from '../tap/capture-line.js';

/**
 * Creates or truncates `path` (and its missing folders) with mode 0600; returns the fd. A symbolic link
 * at the path is refused (ELOOP), not followed: one planted there could send raw session bytes anywhere.
 */
export function createOwnerOnly(path: string): number {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  // The mode given to open() only applies to a new file; an existing one keeps its own until now.
  // (A device such as /dev/null is left as it is.)
  try {
    if (fstatSync(fd).isFile()) fchmodSync(fd, 0o600);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

/** Bytes held before they go out at once, so a flood of events costs one write(2) per 64 KiB. */
export const FLUSH_BYTES = 64 * 1024;
/** The longest time a piece waits in memory: what SIGKILL or a power cut can lose at most. */
export const FLUSH_MS = 5;
/**
 * Pieces are encoded (strings) or copied into one buffer while held: no buffer per piece, no
 * concatenation. It starts small (a program may write many files at once: `decode --raw-out`) and grows
 * up to HOLD_BYTES; held bytes stay under FLUSH_BYTES, so any piece up to 3 × FLUSH_BYTES fits after them.
 */
const HOLD_BYTES = 4 * FLUSH_BYTES;
const FIRST_HOLD_BYTES = 8 * 1024;

/** Bytes encoded as base64 a slice at a time (a multiple of 3 bytes): each slice's string is small and dies young. */
const BASE64_SLICE = 12 * 1024;

/** The most bytes parts take: a UTF-8 string at most 3 per UTF-16 unit, bytes 4 per 3 as base64. */
function mostOf(parts: readonly LinePart[]): number {
  let most = 0;
  for (const part of parts) most += typeof part === 'string' ? part.length * 3 : Math.ceil(part.length / 3) * 4;
  return most;
}

/** Writes the parts into `buf` from `at` (it has room for them); returns how many bytes they took. */
function putParts(buf: Buffer, at: number, parts: readonly LinePart[]): number {
  let n = 0;
  for (const part of parts) {
    if (typeof part === 'string') n += part.length === 0 ? 0 : buf.write(part, at + n);
    else for (let a = 0; a < part.length; a += BASE64_SLICE) n += buf.write(part.toString('base64', a, a + BASE64_SLICE), at + n, 'latin1');
  }
  return n;
}

/** Files with pieces still in memory: the process flushes them as it exits (also on an uncaught exception). */
const unflushed = new Set<OwnerOnlyFile>();
let exitHookInstalled = false;

function flushAllAtExit(): void {
  for (const file of unflushed) {
    try {
      file.flush();
    } catch {
      // Exiting: the pieces written before this one are on disk.
    }
  }
}

/**
 * A file written in whole pieces, batched: pieces go out with one write(2) once FLUSH_BYTES are held,
 * FLUSH_MS after the first one waits, at `close` and at process exit. So Ctrl-C, SIGTERM and a crash
 * of the program keep everything; only a SIGKILL or a power cut can lose the last few milliseconds (at
 * most FLUSH_BYTES), and what is on disk is always whole pieces in order, at worst a last one torn.
 * A write error of a timed flush is raised by the next `write` or by `close`.
 */
export class OwnerOnlyFile {
  /** Bytes written so far (held ones included: the file holds them within FLUSH_MS). */
  bytes = 0;
  private fd: number | undefined;
  /** Where held pieces are gathered; let go once the file is idle (a timed flush). */
  private hold: Buffer | undefined;
  private heldBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private failed: Error | undefined;

  constructor(readonly path: string) {
    this.fd = createOwnerOnly(path);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', flushAllAtExit);
    }
  }

  get closed(): boolean {
    return this.fd === undefined;
  }

  /**
   * Writes one piece: bytes, a string (as UTF-8), or parts one after the other (never split by a
   * flush), strings as UTF-8 and bytes as their base64.
   */
  write(bytes: Buffer | string | readonly LinePart[]): void {
    if (this.fd === undefined) throw new Error(`capture ${this.path} is closed`);
    this.raiseFailure();
    const most = typeof bytes === 'string' ? bytes.length * 3 : Buffer.isBuffer(bytes) ? bytes.length : mostOf(bytes);
    if (most > HOLD_BYTES - this.heldBytes) {
      this.flush();
      if (most > HOLD_BYTES) {
        // Larger than any hold: out at once, after what was held.
        let buf: Buffer;
        if (typeof bytes === 'string') buf = Buffer.from(bytes);
        else if (Buffer.isBuffer(bytes)) buf = bytes;
        else {
          const whole = Buffer.allocUnsafe(most);
          buf = whole.subarray(0, putParts(whole, 0, bytes));
        }
        this.bytes += buf.length;
        this.writeAll(buf);
        return;
      }
    }
    const hold = this.hold && most <= this.hold.length - this.heldBytes ? this.hold : this.growHold(this.heldBytes + most);
    let n: number;
    if (typeof bytes === 'string') n = hold.write(bytes, this.heldBytes);
    else if (Buffer.isBuffer(bytes)) n = bytes.copy(hold, this.heldBytes);
    else n = putParts(hold, this.heldBytes, bytes);
    this.heldBytes += n;
    this.bytes += n;
    if (this.heldBytes >= FLUSH_BYTES) this.flush();
    else if (!this.timer) {
      unflushed.add(this);
      this.timer = setTimeout(() => this.timedFlush(), FLUSH_MS);
      // A recording alone must not keep the process alive; the exit hook writes what is held.
      this.timer.unref();
    }
  }

  /** Writes out what is held now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    unflushed.delete(this);
    if (this.fd === undefined || this.heldBytes === 0 || !this.hold) return;
    const held = this.heldBytes;
    this.heldBytes = 0;
    this.writeAll(this.hold.subarray(0, held));
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      this.flush();
      this.raiseFailure();
    } finally {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }

  /** A hold of at least `size` bytes (at most HOLD_BYTES), with what is held in it. */
  private growHold(size: number): Buffer {
    let length = this.hold?.length ?? FIRST_HOLD_BYTES;
    while (length < size) length *= 2;
    const hold = Buffer.allocUnsafe(Math.min(length, HOLD_BYTES));
    this.hold?.copy(hold, 0, 0, this.heldBytes);
    return (this.hold = hold);
  }

  private writeAll(buf: Buffer): void {
    // writeSync may write less than asked (a full disk, a signal): finish the piece or fail loudly.
    for (let at = 0; at < buf.length; ) at += writeSync(this.fd!, buf, at);
  }

  private timedFlush(): void {
    try {
      this.flush();
    } catch (e) {
      this.failed = e as Error;
    }
    // Quiet now: the hold is made again when pieces come.
    this.hold = undefined;
  }

  private raiseFailure(): void {
    if (!this.failed) return;
    const e = this.failed;
    this.failed = undefined;
    throw e;
  }
}

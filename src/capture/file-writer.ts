/** What every capture writer does to its file: created (or truncated) readable by its owner only, written whole. */
import { closeSync, constants, fchmodSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

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

/** A file written in whole pieces: each `write` goes out with write(2) at once, so a crash keeps what was written. */
export class OwnerOnlyFile {
  /** Bytes written so far. */
  bytes = 0;
  private fd: number | undefined;

  constructor(readonly path: string) {
    this.fd = createOwnerOnly(path);
  }

  get closed(): boolean {
    return this.fd === undefined;
  }

  write(bytes: Buffer | string): void {
    if (this.fd === undefined) throw new Error(`capture ${this.path} is closed`);
    const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    // writeSync may write less than asked (a full disk, a signal): finish the piece or fail loudly.
    for (let at = 0; at < buf.length; ) at += writeSync(this.fd, buf, at);
    this.bytes += buf.length;
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * `decode --raw-out DIR`: each connection's bytes, one file per direction (`conn3.c2s.bin`), as they
 * crossed the wire — what Wireshark's Follow TCP Stream saves as Raw, and what `decode --raw` reads.
 * Files are created readable by their owner only and never through a symbolic link (file-writer.ts).
 */
import { join } from 'node:path';
import type { Direction } from '../protocol/fields.js';
import { isConnEvent, type TapEvent } from '../tap/events.js';
import { OwnerOnlyFile } from './file-writer.js';

export interface RawStreamFile {
  path: string;
  conn: number;
  dir: Direction;
  bytes: number;
  /** Bytes of oversized frames the capture did not keep (their payloads were skipped unbuffered). */
  missing: number;
}

export class RawStreamWriter {
  private readonly files = new Map<string, { file: OwnerOnlyFile; info: RawStreamFile }>();

  constructor(private readonly dir: string) {}

  /** Appends the bytes an event carries to its connection's file for its direction. */
  write(ev: TapEvent): void {
    const e = ev.event;
    if (isConnEvent(e)) return;
    const bytes = e.kind === 'frame' ? e.raw : e.bytes;
    const key = `${ev.conn}.${e.dir}`;
    let entry = this.files.get(key);
    if (!entry) {
      const path = join(this.dir, `conn${ev.conn}.${e.dir}.bin`);
      entry = { file: new OwnerOnlyFile(path), info: { path, conn: ev.conn, dir: e.dir, bytes: 0, missing: 0 } };
      this.files.set(key, entry);
    }
    entry.file.write(bytes);
    entry.info.bytes += bytes.length;
    if (e.kind === 'garbage' && e.skipped) entry.info.missing += e.skipped;
  }

  /** Closes the files; what each holds, in the order they were started. */
  close(): RawStreamFile[] {
    for (const { file } of this.files.values()) file.close();
    return [...this.files.values()].map((f) => f.info);
  }
}

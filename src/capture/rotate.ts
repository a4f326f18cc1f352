/**
 * A recording split by size, for long runs (`--record FILE --max-size 100M --max-files 10`): once the
 * current file holds `maxBytes` the next event starts a new file, a whole capture of its own with its
 * own header, so any part decodes alone. Like tcpdump -C, a file is checked before each write, so it
 * exceeds the size by at most one event. With `maxFiles` only the newest files are kept (a ring).
 *
 * Parts are numbered before the extension — `x.jsonl`, `x.1.jsonl`, `x.2.jsonl` … — oldest first.
 */
import { unlinkSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { LinePart } from '../tap/capture-line.js';
import type { TapEvent } from '../tap/events.js';
import type { CaptureWriter } from './format.js';

export interface RotationOptions {
  /** Start a new file once the current one holds this many bytes (default: never). */
  maxBytes?: number;
  /** Keep this many files at most, deleting the oldest (default: all). */
  maxFiles?: number;
}

/** What a recording knows about its files besides what any writer does. */
export interface RecordingWriter extends CaptureWriter {
  /** Throws when the format's records are not capture lines. */
  writeLine(line: LinePart[]): void;
  /** The files of the recording still on disk, oldest first (`path` is the last one). */
  readonly files: readonly string[];
  /** Older files deleted to stay within `maxFiles`. */
  readonly deletedFiles: number;
}

/**
 * Writes one event to a recording; a write error (a full disk…) closes it, quietly, and is returned:
 * the recording stops there, what it wrote stays on disk, and the caller goes on without it.
 */
export function recordOrStop(capture: RecordingWriter, ev: TapEvent): Error | undefined {
  return writeOrStop(capture, () => capture.write(ev));
}

/** `write` puts something into the recording; as recordOrStop, a write error closes it and is returned. */
export function writeOrStop(capture: RecordingWriter, write: () => void): Error | undefined {
  try {
    write();
    return undefined;
  } catch (e) {
    closeQuietly(capture);
    return e as Error;
  }
}

/** A recording that failed may fail to close too; what it wrote is on disk either way. */
export function closeQuietly(capture: RecordingWriter): void {
  try {
    capture.close();
  } catch {
    // Nothing more to save.
  }
}

/** `captures/x.jsonl`, part 2 → `captures/x.2.jsonl`; part 0 is the path as given. */
export function partPath(path: string, part: number): string {
  if (part === 0) return path;
  const ext = extname(path);
  return join(dirname(path), `${basename(path, ext)}.${part}${ext}`);
}

/** Parses a size: a number of bytes, or with K, M, G (powers of 1024; `100M`, `1.5G`, `512KiB`). */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) return undefined;
  const bytes = Math.round(Number(m[1]) * 1024 ** ' kmg'.indexOf(m[2].toLowerCase() || ' '));
  return bytes > 0 ? bytes : undefined;
}

export class RotatingWriter implements RecordingWriter {
  private current: CaptureWriter;
  private part = 0;
  private readonly kept: string[];
  private eventsBefore = 0;
  private bytesBefore = 0;
  deletedFiles = 0;

  /** `open(path, part)` creates one file of the recording, header written. */
  constructor(
    private readonly basePath: string,
    private readonly open: (path: string, part: number) => CaptureWriter,
    private readonly opts: RotationOptions = {},
  ) {
    this.current = open(basePath, 0);
    this.kept = [basePath];
  }

  get path(): string {
    return this.current.path;
  }

  get files(): readonly string[] {
    return this.kept;
  }

  get events(): number {
    return this.eventsBefore + this.current.events;
  }

  get bytes(): number {
    return this.bytesBefore + this.current.bytes;
  }

  write(ev: TapEvent): void {
    this.due().write(ev);
  }

  writeLine(line: LinePart[]): void {
    const current = this.due();
    if (!current.writeLine) throw new Error(`${current.path}: this capture format does not take capture lines`);
    current.writeLine(line);
  }

  close(): void {
    this.current.close();
  }

  /** The file the next event goes to: a new one once the current one is full. */
  private due(): CaptureWriter {
    if (this.opts.maxBytes !== undefined && this.current.bytes >= this.opts.maxBytes && this.current.events > 0) this.rotate();
    return this.current;
  }

  private rotate(): void {
    this.current.close();
    this.eventsBefore += this.current.events;
    this.bytesBefore += this.current.bytes;
    this.part++;
    this.current = this.open(partPath(this.basePath, this.part), this.part);
    this.kept.push(this.current.path);
    while (this.opts.maxFiles !== undefined && this.kept.length > this.opts.maxFiles) {
      const oldest = this.kept.shift()!;
      try {
        unlinkSync(oldest);
      } catch {
        // Gone already (removed by hand): nothing to free.
      }
      this.deletedFiles++;
    }
  }
}

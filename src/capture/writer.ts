/**
 * Writing a capture: JSON Lines, a header line, then one line per event as it happens. Each line goes
 * to the file with one write(2) on an fd opened 0600, so Ctrl-C, SIGTERM or a crash leave every event
 * written so far readable (at worst the last line is torn, which the reader reports and skips).
 */
import { closeSync, fchmodSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TapEvent } from '../tap/events.js';
import { tapEventToJson } from '../tap/line.js';

export const CAPTURE_FORMAT = 'mrimtap-capture';
export const CAPTURE_VERSION = 1;

export interface CaptureHeader {
  format: typeof CAPTURE_FORMAT;
  version: number;
  /** `mrimtap 0.1.0` */
  tool: string;
  /** ISO time the recording started. */
  started: string;
  /** Where the proxy listened (`127.0.0.1:1080`), or what the capture was made from. */
  listen?: string;
  source?: string;
}

function toolVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  return `${pkg.name} ${pkg.version}`;
}

/** `captures/mrimtap-20240131-235959.jsonl` (local time). */
export function defaultCapturePath(now = new Date(), dir = 'captures'): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return join(dir, `mrimtap-${stamp}.jsonl`);
}

export class CaptureWriter {
  /** Event lines written (the header not counted). */
  events = 0;
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
    private readonly showSecrets: boolean,
  ) {
    this.fd = fd;
  }

  /** Creates (or truncates) the file, readable by its owner only, and writes the header. */
  static create(path: string, header: { listen?: string; source?: string; started?: Date }, opts: { showSecrets?: boolean } = {}): CaptureWriter {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, 'w', 0o600);
    // The mode given to open() only applies to a new file; an existing one keeps its own until now.
    fchmodSync(fd, 0o600);
    const writer = new CaptureWriter(path, fd, !!opts.showSecrets);
    const full: CaptureHeader = {
      format: CAPTURE_FORMAT,
      version: CAPTURE_VERSION,
      tool: toolVersion(),
      started: (header.started ?? new Date()).toISOString(),
      ...(header.listen ? { listen: header.listen } : {}),
      ...(header.source ? { source: header.source } : {}),
    };
    writer.line(full);
    return writer;
  }

  write(ev: TapEvent): void {
    this.line(tapEventToJson(ev, { showSecrets: this.showSecrets }));
    this.events++;
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private line(value: unknown): void {
    if (this.fd === undefined) throw new Error(`capture ${this.path} is closed`);
    const bytes = Buffer.from(JSON.stringify(value) + '\n');
    // writeSync may write less than asked (a full disk, a signal): finish the line or fail loudly.
    for (let at = 0; at < bytes.length; ) at += writeSync(this.fd, bytes, at);
  }
}

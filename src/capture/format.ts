/**
 * What every capture file format provides to the registry (open.ts): how to recognise a file of it,
 * how to read one as connection events, and for a format that can be written, how to record one.
 */
import type { LinePart } from '../tap/capture-line.js';
import type { TapEvent } from '../tap/events.js';

/** The file is not a capture of the format it looked like, or its header is damaged. */
export class CaptureFileError extends Error {}

/** What a capture holds after its description: an event, or a problem found in the file (skipped, never fatal). */
export type CaptureEntry = { kind: 'event'; event: TapEvent } | { kind: 'problem'; message: string };

export interface OpenedCapture {
  /** The format the file was read as: `mrimtap`, `pcap`, `pcapng`. */
  format: string;
  /** One line on what the file is: who recorded it and when, or its packets and TCP connections. */
  description: string;
  /** What the file says about its recording, for a copy in another format to keep. */
  info: RecordingInfo;
  /** The events and problems in file order; read once. File system errors are thrown as they are. */
  entries: AsyncIterable<CaptureEntry>;
}

export interface OpenOptions {
  /** Formats that decode raw TCP streams report frames announcing a larger payload and skip them. */
  maxFrameSize?: number;
  /**
   * Formats written as they are recorded (a mrimtap recording) keep reading what is appended to the
   * file, like `tail -f`, until this is aborted; the others read the file as it is.
   */
  follow?: AbortSignal;
}

/** What a recording says about itself, besides the format. */
export interface RecordingInfo {
  /** Who wrote it (default: this mrimtap, `mrimtap 0.1.0`). */
  tool?: string;
  /** Where the proxy listened (`127.0.0.1:1080`). */
  listen?: string;
  /** What the capture was made from. */
  source?: string;
  /** When the recording started (default: now). */
  started?: Date;
  /** For a recording split into several files: which one this is (the first is 0). */
  part?: number;
}

export interface WriterOptions {
  /** Secret fields as they are instead of masked (raw bytes are kept whole either way). */
  showSecrets?: boolean;
  /**
   * Each small frame's decoded fields in its line (default true), for `jq`. A live recording leaves
   * them out unless asked (`--record-fields`): readers decode every frame from its bytes anyway, and
   * building them is most of what recording a chatty session costs.
   */
  fields?: boolean;
}

/** A recording being written, one event at a time; what was written survives a crash. */
export interface CaptureWriter {
  readonly path: string;
  /** Events written so far. */
  readonly events: number;
  /** Bytes written to the file so far, header included. */
  readonly bytes: number;
  write(ev: TapEvent): void;
  /** Formats whose records are capture lines (the mrimtap ones): writes one event's line, made already (capture-line.ts). */
  writeLine?(line: LinePart[]): void;
  close(): void;
}

export interface FileFormat {
  name: string;
  /** How an error names what was expected: `a pcap/pcapng file`. */
  label: string;
  /** Whether the first bytes of a file (up to 4 KiB; `wholeFile` when that is all of it) are this format's. */
  sniff(head: Buffer, wholeFile: boolean): boolean;
  /** Reads a file: a CaptureFileError (its message without the path) when the file turns out not to be one. */
  open(path: string, opts: OpenOptions): Promise<OpenedCapture>;
  /** For a format that can be written: the name `createWriter` knows it by (`mrimtap`, `pcapng`). */
  writes?: string;
  /**
   * Formats that can be written: creates (or truncates) the file, readable by its owner only; a
   * symbolic link at the path is refused, not followed (ELOOP).
   */
  create?(path: string, info: RecordingInfo, opts: WriterOptions): CaptureWriter;
}

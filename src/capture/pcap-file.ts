/**
 * pcap and pcapng files as captures: read whole, every TCP connection reassembled and decoded like a
 * proxied one (pcap-decode.ts); the file's damaged or skipped parts are its problems. Written as
 * pcapng with synthesised IP/TCP (pcapng-writer.ts).
 */
import { basename } from 'node:path';
import type { TapEvent } from '../tap/events.js';
import { CaptureFileError, type CaptureEntry, type FileFormat } from './format.js';
import { CaptureFormatError, hasCaptureMagic, readPcapFile, type Capture } from './pcap/index.js';
import { decodePcap } from './pcap-decode.js';
import { createPcapng } from './pcapng-writer.js';

async function* entries(capture: Capture, events: TapEvent[]): AsyncGenerator<CaptureEntry> {
  for (const w of capture.warnings) yield { kind: 'problem', message: `${w.message} (file offset ${w.offset})` };
  for (const event of events) yield { kind: 'event', event };
}

export const pcapCapture: FileFormat = {
  name: 'pcap',
  label: 'a pcap/pcapng file',
  sniff: hasCaptureMagic,
  // Written as pcapng: the only one of the two that holds comments and its writer's name.
  writes: 'pcapng',
  create: createPcapng,
  async open(path, opts) {
    let capture: Capture;
    try {
      capture = await readPcapFile(path);
    } catch (e) {
      if (e instanceof CaptureFormatError) throw new CaptureFileError(e.message);
      throw e;
    }
    const events: TapEvent[] = [];
    decodePcap(capture, (ev) => events.push(ev), { maxFrameSize: opts.maxFrameSize });
    const description = `${capture.format}: ${capture.packets} packets, ${capture.connections.length} TCP connections`;
    const first = events[0]?.event.time;
    const info = { source: basename(path), ...(first !== undefined ? { started: new Date(first) } : {}) };
    return { format: capture.format, description, info, entries: entries(capture, events) };
  },
};

/** libpcap and pcapng captures to reassembled TCP connections; all times are ms since the Unix epoch, fractional. */
import { readFile } from 'node:fs/promises';
import { readCaptureRecords, type CaptureFormat, type CaptureWarning } from './file.js';
import { decodeTcpPacket, type TcpSegment } from './packet.js';
import { reassembleTcp, type TcpConnection } from './reassembly.js';

export { CaptureFormatError, hasCaptureMagic, type CaptureWarning } from './file.js';
export { streamBytes, type TcpConnection } from './reassembly.js';

export interface Capture {
  format: CaptureFormat;
  /** Packet records read from the file. */
  packets: number;
  tcpSegments: number;
  /** Packets that were not usable TCP, counted by reason (e.g. "udp", "non-ip", "ip-fragment"). */
  ignored: Record<string, number>;
  connections: TcpConnection[];
  warnings: CaptureWarning[];
}

/** Runs a capture in memory through file.ts (records), packet.ts (TCP segments) and reassembly.ts (connections). */
export function parseCapture(input: Uint8Array): Capture {
  const { format, records, warnings } = readCaptureRecords(input);
  const ignored: Record<string, number> = {};
  const segments: TcpSegment[] = [];
  for (const r of records) {
    const d = decodeTcpPacket(r.linkType, r.data, r.time);
    if ('tcp' in d) segments.push(d.tcp);
    else ignored[d.ignored] = (ignored[d.ignored] ?? 0) + 1;
  }
  return {
    format,
    packets: records.length,
    tcpSegments: segments.length,
    ignored,
    connections: reassembleTcp(segments),
    warnings,
  };
}

/** parseCapture for a path: the reader's only IO, so the three layers work on any in-memory buffer. */
export async function readPcapFile(path: string): Promise<Capture> {
  return parseCapture(await readFile(path));
}

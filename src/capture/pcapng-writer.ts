/**
 * A capture written as pcapng, for Wireshark and tshark: each connection becomes an ordinary TCP
 * conversation between its real addresses — handshake at its opening, every byte the capture holds
 * in stream order with consistent sequence and acknowledgement numbers at its original time, FINs (or
 * a reset) at its close — so Follow TCP Stream shows exactly the bytes of the capture. Bytes the
 * capture does not hold (an oversize frame's skipped payload, a direction no longer decoded) are
 * holes in the sequence numbers, which Wireshark reports as segments not captured.
 */
import { isIP } from 'node:net';
import type { Direction } from '../protocol/fields.js';
import type { Endpoint } from '../net/endpoint.js';
import { formatEndpoint } from '../net/endpoint.js';
import type { TapEvent } from '../tap/events.js';
import { OwnerOnlyFile } from './file-writer.js';
import type { CaptureWriter, RecordingInfo } from './format.js';
import { TCP_FLAG } from './pcap/packet.js';
import { addressBytes, packetBlock, pcapngHeader, tcpPacket } from './pcap/write.js';

/** Largest payload per segment: within an IPv4 packet, and what tools show as one segment. */
const MAX_SEGMENT = 16384;

interface Side {
  addr: Buffer;
  port: number;
  /** Sequence number of this side's next byte, and the stream offset it stands for. */
  seq: number;
  offset: number;
}

interface Conversation {
  sides: Record<Direction, Side>;
  /** A name or address that is not IP got a stand-in address: said in the first packet's comment. */
  comment?: string;
  closed: boolean;
}

class PcapngWriter implements CaptureWriter {
  events = 0;
  private readonly file: OwnerOnlyFile;

  private readonly conversations = new Map<number, Conversation>();
  /** Stand-in addresses (TEST-NET-1, RFC 5737) for host names, one per name. */
  private readonly standIns = new Map<string, string>();

  get bytes(): number {
    return this.file.bytes;
  }

  constructor(
    readonly path: string,
    info: RecordingInfo,
  ) {
    this.file = new OwnerOnlyFile(path);
    this.file.write(pcapngHeader(`${info.tool ?? 'mrimtap'}${info.source ? ` (from ${info.source})` : ''}`));
  }

  write(tap: TapEvent): void {
    this.events++;
    const ev = tap.event;
    const blocks: Buffer[] = [];
    if (ev.kind === 'open') this.conversation(tap, ev.time, blocks);
    else if (ev.kind === 'close') this.closeConversation(tap, ev, blocks);
    else if ('dir' in ev && ev.dir !== undefined && 'offset' in ev) {
      const data = ev.kind === 'frame' ? ev.raw : ev.bytes;
      const time = ev.time ?? 0;
      const conv = this.conversation(tap, time, blocks);
      this.data(conv, ev.dir, ev.offset, data, time, blocks);
      // An oversize frame's payload was not kept: it is a hole in the stream.
      if (ev.kind === 'garbage' && ev.skipped) conv.sides[ev.dir].offset += ev.skipped;
    }
    if (blocks.length) this.file.write(Buffer.concat(blocks));
  }

  close(): void {
    this.file.close();
  }

  private closeConversation(tap: TapEvent, ev: Extract<TapEvent['event'], { kind: 'close' }>, blocks: Buffer[]): void {
    const conv = this.conversations.get(tap.conn);
    if (!conv || conv.closed) return;
    conv.closed = true;
    // Bytes relayed but not in the capture (a direction no longer decoded) are a hole before the FIN.
    for (const dir of ['c2s', 's2c'] as const) conv.sides[dir].offset = Math.max(conv.sides[dir].offset, ev.bytes[dir]);
    if (ev.reason === 'reset') {
      blocks.push(this.segment(conv, 'c2s', ev.time, TCP_FLAG.RST | TCP_FLAG.ACK));
      return;
    }
    // A FIN takes one sequence number; each side's FIN acknowledges the one before it.
    blocks.push(this.segment(conv, 'c2s', ev.time, TCP_FLAG.FIN | TCP_FLAG.ACK));
    conv.sides.c2s.offset++;
    blocks.push(this.segment(conv, 's2c', ev.time, TCP_FLAG.FIN | TCP_FLAG.ACK));
    conv.sides.s2c.offset++;
    blocks.push(this.segment(conv, 'c2s', ev.time, TCP_FLAG.ACK));
  }

  /** The connection's conversation; its handshake goes out the first time it is needed. */
  private conversation(tap: TapEvent, time: number, blocks: Buffer[]): Conversation {
    let conv = this.conversations.get(tap.conn);
    if (conv) return conv;
    const server = tap.server ?? { host: '0.0.0.0', port: 0 };
    const client = this.ip(tap.client);
    const upstream = this.ip(server);
    const v6 = isIP(client) === 6 || isIP(upstream) === 6;
    // Initial sequence numbers differ per connection and side, so streams never look alike.
    const isn = (side: number) => (0x10000000 + tap.conn * 0x01000000 + side * 0x00800000) >>> 0;
    conv = {
      sides: {
        c2s: { addr: addressBytes(client, v6), port: tap.client.port, seq: isn(0), offset: -1 },
        s2c: { addr: addressBytes(upstream, v6), port: server.port, seq: isn(1), offset: -1 },
      },
      closed: false,
    };
    const renamed = [tap.client, server].filter((e) => isIP(e.host) === 0);
    if (renamed.length) conv.comment = renamed.map((e) => `${formatEndpoint(e)} written as ${this.ip(e)}`).join('; ');
    this.conversations.set(tap.conn, conv);
    // SYN and SYN+ACK take one sequence number each: stream offset 0 is the byte after them.
    blocks.push(this.segment(conv, 'c2s', time, TCP_FLAG.SYN, conv.comment));
    conv.sides.c2s.offset = 0;
    blocks.push(this.segment(conv, 's2c', time, TCP_FLAG.SYN | TCP_FLAG.ACK));
    conv.sides.s2c.offset = 0;
    blocks.push(this.segment(conv, 'c2s', time, TCP_FLAG.ACK));
    return conv;
  }

  private data(conv: Conversation, dir: Direction, offset: number, data: Buffer, time: number, blocks: Buffer[]): void {
    const side = conv.sides[dir];
    // Bytes already written (a damaged capture repeating itself) are not sent again.
    let bytes = offset < side.offset ? data.subarray(side.offset - offset) : data;
    side.offset = Math.max(side.offset, offset);
    while (bytes.length > 0) {
      const piece = bytes.subarray(0, MAX_SEGMENT);
      blocks.push(this.segment(conv, dir, time, TCP_FLAG.PSH | TCP_FLAG.ACK, undefined, piece));
      side.offset += piece.length;
      bytes = bytes.subarray(piece.length);
    }
  }

  private segment(conv: Conversation, dir: Direction, time: number, flags: number, comment?: string, payload?: Buffer): Buffer {
    const from = conv.sides[dir];
    const to = conv.sides[dir === 'c2s' ? 's2c' : 'c2s'];
    // Sequence numbers count from the SYN: offset -1 is the SYN itself.
    const seqOf = (s: Side) => (s.seq + 1 + s.offset) >>> 0;
    const packet = tcpPacket({ src: from.addr, dst: to.addr, sport: from.port, dport: to.port, seq: seqOf(from), ack: seqOf(to), flags, payload });
    return packetBlock(time, packet, comment);
  }

  /** The address to write for an endpoint: its own when it is IP, else a stand-in. */
  private ip(e: Endpoint): string {
    if (isIP(e.host)) return e.host;
    let standIn = this.standIns.get(e.host);
    if (!standIn) {
      standIn = `192.0.2.${(this.standIns.size % 254) + 1}`;
      this.standIns.set(e.host, standIn);
    }
    return standIn;
  }
}

export function createPcapng(path: string, info: RecordingInfo): CaptureWriter {
  return new PcapngWriter(path, info);
}

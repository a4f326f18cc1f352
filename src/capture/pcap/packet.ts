/** Link layer (Ethernet, SLL, SLL2, raw IP, NULL/LOOP), IPv4/IPv6 and TCP headers: one frame to one TCP segment. */
import { asBuffer } from './file.js';

export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export const TCP_FLAG = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

export interface Endpoint {
  addr: string;
  port: number;
}

export interface TcpSegment {
  time: number;
  src: Endpoint;
  dst: Endpoint;
  seq: number;
  ack: number;
  flags: number;
  /** Captured payload bytes. */
  payload: Buffer;
  /** Payload length according to the IP header; larger than payload.length if the capture was cut short. */
  payloadLength: number;
}

type DecodedPacket = { tcp: TcpSegment } | { ignored: string };

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const IPPROTO_NAMES: Record<number, string> = { 1: 'icmp', 17: 'udp', 58: 'icmpv6' };

/** Returns the ethertype of the network-layer payload and where it starts, or why it is ignored. */
function networkLayer(linkType: number, f: Buffer): { ethertype: number; off: number } | string {
  switch (linkType) {
    case LINKTYPE.ETHERNET: {
      if (f.length < 14) return 'malformed';
      let off = 12;
      let type = f.readUInt16BE(off);
      // 802.1Q and 802.1ad tags sit between the MAC addresses and the real ethertype.
      while ((type === 0x8100 || type === 0x88a8) && off + 6 <= f.length) {
        off += 4;
        type = f.readUInt16BE(off);
      }
      return { ethertype: type, off: off + 2 };
    }
    case LINKTYPE.LINUX_SLL:
      return f.length < 16 ? 'malformed' : { ethertype: f.readUInt16BE(14), off: 16 };
    case LINKTYPE.LINUX_SLL2:
      return f.length < 20 ? 'malformed' : { ethertype: f.readUInt16BE(0), off: 20 };
    case LINKTYPE.RAW: {
      if (f.length < 1) return 'malformed';
      const version = f[0]! >> 4;
      if (version === 4) return { ethertype: ETHERTYPE_IPV4, off: 0 };
      if (version === 6) return { ethertype: ETHERTYPE_IPV6, off: 0 };
      return 'non-ip';
    }
    case LINKTYPE.IPV4:
      return { ethertype: ETHERTYPE_IPV4, off: 0 };
    case LINKTYPE.IPV6:
      return { ethertype: ETHERTYPE_IPV6, off: 0 };
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP: {
      if (f.length < 4) return 'malformed';
      // LOOP stores the address family big-endian; NULL stores it in the capturing host's order.
      let af = f.readUInt32BE(0);
      if (linkType === LINKTYPE.NULL && af > 0xffff) af = f.readUInt32LE(0);
      if (af === 2) return { ethertype: ETHERTYPE_IPV4, off: 4 };
      // AF_INET6 differs per OS: Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30.
      if (af === 10 || af === 24 || af === 28 || af === 30) return { ethertype: ETHERTYPE_IPV6, off: 4 };
      return 'non-ip';
    }
    default:
      return `link-type-${linkType}`;
  }
}

function formatIpv4(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952 text form: lowercase, longest run of two or more zero groups shortened to "::". */
function formatIpv6(b: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const text = (g: number[]): string => g.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return text(groups);
  return `${text(groups.slice(0, bestStart))}::${text(groups.slice(bestStart + bestLen))}`;
}

/** The TCP segment in one captured frame, or the reason it holds none (counted by parseCapture). */
export function decodeTcpPacket(linkType: number, frame: Uint8Array, time: number): DecodedPacket {
  const f = asBuffer(frame);
  const net = networkLayer(linkType, f);
  if (typeof net === 'string') return { ignored: net };
  let { off } = net;
  let proto: number;
  let src: string;
  let dst: string;
  /** End of the IP payload according to the IP header (may lie beyond the captured bytes). */
  let declaredEnd: number;

  if (net.ethertype === ETHERTYPE_IPV4) {
    if (f.length < off + 20 || f[off]! >> 4 !== 4) return { ignored: 'malformed' };
    const ihl = (f[off]! & 0x0f) * 4;
    const total = f.readUInt16BE(off + 2);
    if (ihl < 20 || f.length < off + ihl) return { ignored: 'malformed' };
    if (f.readUInt16BE(off + 6) & 0x3fff) return { ignored: 'ip-fragment' };
    proto = f[off + 9]!;
    src = formatIpv4(f.subarray(off + 12, off + 16));
    dst = formatIpv4(f.subarray(off + 16, off + 20));
    // Total length 0 appears on hosts capturing before TCP segmentation offload; trust the capture then.
    if (total === 0) declaredEnd = f.length;
    else if (total < ihl) return { ignored: 'malformed' };
    else declaredEnd = off + total;
    off += ihl;
  } else if (net.ethertype === ETHERTYPE_IPV6) {
    if (f.length < off + 40 || f[off]! >> 4 !== 6) return { ignored: 'malformed' };
    const payloadLen = f.readUInt16BE(off + 4);
    proto = f[off + 6]!;
    src = formatIpv6(f.subarray(off + 8, off + 24));
    dst = formatIpv6(f.subarray(off + 24, off + 40));
    declaredEnd = payloadLen === 0 ? f.length : off + 40 + payloadLen;
    off += 40;
    // Walk extension headers: hop-by-hop, routing, fragment, authentication, destination options.
    while (proto === 0 || proto === 43 || proto === 44 || proto === 51 || proto === 60) {
      if (f.length < off + 8) return { ignored: 'malformed' };
      if (proto === 44) {
        if (f.readUInt16BE(off + 2) & 0xfff9) return { ignored: 'ip-fragment' };
        proto = f[off]!;
        off += 8;
      } else {
        const extLen = proto === 51 ? (f[off + 1]! + 2) * 4 : (f[off + 1]! + 1) * 8;
        proto = f[off]!;
        off += extLen;
      }
    }
  } else {
    return { ignored: 'non-ip' };
  }

  if (proto !== 6) return { ignored: IPPROTO_NAMES[proto] ?? `ip-proto-${proto}` };
  const end = Math.min(declaredEnd, f.length);
  if (end - off < 20) return { ignored: 'malformed' };
  const dataOff = (f[off + 12]! >> 4) * 4;
  if (dataOff < 20 || off + dataOff > end) return { ignored: 'malformed' };
  return {
    tcp: {
      time,
      src: { addr: src, port: f.readUInt16BE(off) },
      dst: { addr: dst, port: f.readUInt16BE(off + 2) },
      seq: f.readUInt32BE(off + 4),
      ack: f.readUInt32BE(off + 8),
      flags: f[off + 13]!,
      payload: f.subarray(off + dataOff, end),
      payloadLength: declaredEnd - off - dataOff,
    },
  };
}

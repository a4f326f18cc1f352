/** Builders of synthetic pcap and pcapng files (IP/TCP packets, link layers, both containers), independent of the reader under test. */
import { LINKTYPE, TCP_FLAG } from '../../src/capture/pcap/packet.js';

export function ipBytes(addr: string): Buffer {
  if (!addr.includes(':')) return Buffer.from(addr.split('.').map(Number));
  const [head, tail] = addr.split('::') as [string, string | undefined];
  const groups = (s: string | undefined): number[] => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  const t = groups(tail);
  const all = [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  all.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return b;
}

export interface SegSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  flags: number;
  payload?: string | Buffer;
  /** IPv6 extension header (hop-by-hop) to put before TCP. */
  hopByHop?: boolean;
}

/** An IPv4 or IPv6 packet (by address form) carrying one TCP segment. */
export function ipPacket(s: SegSpec): Buffer {
  const payload = Buffer.from(s.payload ?? '');
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(s.sport, 0);
  tcp.writeUInt16BE(s.dport, 2);
  tcp.writeUInt32BE(s.seq >>> 0, 4);
  tcp[12] = 5 << 4;
  tcp[13] = s.flags;
  tcp.writeUInt16BE(65535, 14);
  const l4 = Buffer.concat([tcp, payload]);
  if (s.src.includes(':')) {
    const ext = s.hopByHop ? Buffer.from([6, 0, 1, 4, 0, 0, 0, 0]) : Buffer.alloc(0);
    const h = Buffer.alloc(40);
    h[0] = 0x60;
    h.writeUInt16BE(ext.length + l4.length, 4);
    h[6] = s.hopByHop ? 0 : 6;
    h[7] = 64;
    ipBytes(s.src).copy(h, 8);
    ipBytes(s.dst).copy(h, 24);
    return Buffer.concat([h, ext, l4]);
  }
  return ipv4(s.src, s.dst, 6, l4);
}

export function ipv4(src: string, dst: string, proto: number, l4: Buffer, fragField = 0x4000): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + l4.length, 2);
  h.writeUInt16BE(fragField, 6);
  h[8] = 64;
  h[9] = proto;
  ipBytes(src).copy(h, 12);
  ipBytes(dst).copy(h, 16);
  return Buffer.concat([h, l4]);
}

export const ethertypeOf = (ip: Buffer): number => (ip[0]! >> 4 === 6 ? 0x86dd : 0x0800);

export function ethernet(ip: Buffer, ethertype = ethertypeOf(ip), vlan = false): Buffer {
  const h = Buffer.alloc(vlan ? 18 : 14);
  if (vlan) {
    h.writeUInt16BE(0x8100, 12);
    h.writeUInt16BE(42, 14);
  }
  h.writeUInt16BE(ethertype, h.length - 2);
  return Buffer.concat([h, ip]);
}

export function sll(ip: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(772, 2); // ARPHRD_LOOPBACK
  h.writeUInt16BE(6, 4);
  h.writeUInt16BE(ethertypeOf(ip), 14);
  return Buffer.concat([h, ip]);
}

export function sll2(ip: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(ethertypeOf(ip), 0);
  h.writeUInt32BE(1, 4);
  h.writeUInt16BE(772, 8);
  return Buffer.concat([h, ip]);
}

export function afHeader(af: number, le: boolean): Buffer {
  const h = Buffer.alloc(4);
  if (le) h.writeUInt32LE(af, 0);
  else h.writeUInt32BE(af, 0);
  return h;
}

export interface Rec {
  /** Whole seconds and sub-second units (µs or ns, per file). */
  sec: number;
  frac: number;
  data: Buffer;
  origLen?: number;
}

export function pcap(records: Rec[], opts: { le?: boolean; nano?: boolean; linkType?: number } = {}): Buffer {
  const le = opts.le ?? true;
  const w32 = (b: Buffer, v: number, o: number): void => {
    if (le) b.writeUInt32LE(v, o);
    else b.writeUInt32BE(v, o);
  };
  const w16 = (b: Buffer, v: number, o: number): void => {
    if (le) b.writeUInt16LE(v, o);
    else b.writeUInt16BE(v, o);
  };
  const head = Buffer.alloc(24);
  w32(head, opts.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(head, 2, 4);
  w16(head, 4, 6);
  w32(head, 262144, 16);
  w32(head, opts.linkType ?? LINKTYPE.ETHERNET, 20);
  const parts: Buffer[] = [head];
  for (const r of records) {
    const h = Buffer.alloc(16);
    w32(h, r.sec, 0);
    w32(h, r.frac, 4);
    w32(h, r.data.length, 8);
    w32(h, r.origLen ?? r.data.length, 12);
    parts.push(h, r.data);
  }
  return Buffer.concat(parts);
}

/** pcapng writer: blocks are [type, body] with the body already in the section's byte order. */
export class Pcapng {
  private readonly parts: Buffer[] = [];
  constructor(private le = true) {}
  private u32(v: number): Buffer {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(v >>> 0, 0);
    else b.writeUInt32BE(v >>> 0, 0);
    return b;
  }
  private u16(v: number): Buffer {
    const b = Buffer.alloc(2);
    if (this.le) b.writeUInt16LE(v, 0);
    else b.writeUInt16BE(v, 0);
    return b;
  }
  block(type: number, body: Buffer): this {
    const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
    const len = padded.length + 12;
    this.parts.push(this.u32(type), this.u32(len), padded, this.u32(len));
    return this;
  }
  section(le: boolean): this {
    this.le = le;
    return this.block(0x0a0d0d0a, Buffer.concat([this.u32(0x1a2b3c4d), this.u16(1), this.u16(0), Buffer.alloc(8, 0xff)]));
  }
  iface(linkType: number, opts: { tsresol?: number; tsoffset?: bigint; snaplen?: number } = {}): this {
    const options: Buffer[] = [];
    if (opts.tsresol !== undefined) options.push(this.u16(9), this.u16(1), Buffer.from([opts.tsresol, 0, 0, 0]));
    if (opts.tsoffset !== undefined) {
      const v = Buffer.alloc(8);
      if (this.le) v.writeBigInt64LE(opts.tsoffset);
      else v.writeBigInt64BE(opts.tsoffset);
      options.push(this.u16(14), this.u16(8), v);
    }
    if (options.length) options.push(this.u16(0), this.u16(0));
    return this.block(1, Buffer.concat([this.u16(linkType), this.u16(0), this.u32(opts.snaplen ?? 0), ...options]));
  }
  packet(iface: number, units: bigint, data: Buffer): this {
    return this.block(
      6,
      Buffer.concat([
        this.u32(iface),
        this.u32(Number(units >> 32n)),
        this.u32(Number(units & 0xffffffffn)),
        this.u32(data.length),
        this.u32(data.length),
        data,
      ]),
    );
  }
  simple(data: Buffer): this {
    return this.block(3, Buffer.concat([this.u32(data.length), data]));
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export interface TcpStep {
  /** Milliseconds since the epoch (whole µs are kept). */
  time: number;
  dir: 'c2s' | 's2c';
  data?: Buffer;
  flags?: number;
}

/**
 * One TCP connection as IPv4 packets over Ethernet in a classic pcap: a handshake at the first step's
 * time (unless `handshake` is false), the steps with consistent sequence numbers, FINs at the end.
 */
export function tcpSessionPcap(
  steps: TcpStep[],
  opts: { client?: string; server?: string; clientPort?: number; serverPort?: number; handshake?: boolean; fin?: boolean } = {},
): Buffer {
  const c = { addr: opts.client ?? '192.0.2.10', port: opts.clientPort ?? 40001 };
  const s = { addr: opts.server ?? '192.0.2.20', port: opts.serverPort ?? 2041 };
  const seq = { c2s: 1000, s2c: 5000 };
  const records: Rec[] = [];
  const at = (ms: number) => ({ sec: Math.floor(ms / 1000), frac: Math.round((ms % 1000) * 1000) });
  const push = (time: number, dir: 'c2s' | 's2c', flags: number, payload: Buffer = Buffer.alloc(0)) => {
    const [from, to] = dir === 'c2s' ? [c, s] : [s, c];
    records.push({ ...at(time), data: ethernet(ipPacket({ src: from.addr, dst: to.addr, sport: from.port, dport: to.port, seq: seq[dir], flags, payload })) });
    seq[dir] += payload.length + (flags & (TCP_FLAG.SYN | TCP_FLAG.FIN) ? 1 : 0);
  };
  const t0 = steps[0]?.time ?? 0;
  if (opts.handshake !== false) {
    push(t0, 'c2s', TCP_FLAG.SYN);
    push(t0, 's2c', TCP_FLAG.SYN | TCP_FLAG.ACK);
  }
  for (const st of steps) push(st.time, st.dir, st.flags ?? TCP_FLAG.ACK | TCP_FLAG.PSH, st.data);
  if (opts.fin !== false) {
    const end = steps.at(-1)?.time ?? t0;
    push(end, 'c2s', TCP_FLAG.FIN | TCP_FLAG.ACK);
    push(end, 's2c', TCP_FLAG.FIN | TCP_FLAG.ACK);
  }
  return pcap(records);
}

/**
 * Summaries of a capture, from its events: per packet type, per connection, request→reply latencies,
 * requests left without a reply, and everything unusual (decoder warnings, unknown packet types,
 * garbage, TLS and compressed streams, warnings of the tap, damaged parts of the file). Plain data, the
 * shape of `stats --json`; stats-tables.ts draws it.
 */
import { formatEndpoint } from '../net/endpoint.js';
import { hasReply } from '../protocol/conversation.js';
import type { Direction } from '../protocol/fields.js';
import { packetByName } from '../protocol/packets/index.js';
import type { TapEvent } from '../tap/events.js';

export interface PacketTypeStats {
  type: string;
  c2s: { count: number; bytes: number };
  s2c: { count: number; bytes: number };
}

export interface ConnectionStats {
  conn: number;
  client: string;
  server?: string;
  login?: string;
  /** The client's protocol version, from its login packet (else its first frame). */
  proto?: string;
  /** What the client says it is: the login packet's user agent, else its description. */
  userAgent?: string;
  started?: string;
  durationMs?: number;
  frames: number;
  bytes: Record<Direction, number>;
  warnings: number;
  /** How it ended, when the capture saw it end. */
  closed?: string;
}

export interface LatencyStats {
  request: string;
  reply: string;
  count: number;
  minMs: number;
  medianMs: number;
  p95Ms: number;
  maxMs: number;
}

export interface Unanswered {
  conn: number;
  type: string;
  seq: number;
  dir: Direction;
  time?: string;
}

export interface CaptureStats {
  events: number;
  frames: number;
  connections: number;
  /** First and last event time (ISO). */
  first?: string;
  last?: string;
  packets: PacketTypeStats[];
  perConnection: ConnectionStats[];
  latencies: LatencyStats[];
  unanswered: Unanswered[];
  unusual: {
    /** Decoder warnings by packet type and text: how often, on which connections. */
    warnings: Array<{ type: string; warning: string; count: number; conns: number[] }>;
    unknownTypes: Array<{ type: string; count: number; conns: number[] }>;
    garbage: Array<{ conn: number; dir: Direction; count: number; bytes: number; reasons: string[] }>;
    /** Connections whose stream turned to TLS or zlib (not decoded from there), with the bytes that were. */
    opaque: Array<{ conn: number; kind: 'tls' | 'compressed'; bytes: number }>;
    notes: Array<{ conn: number; message: string }>;
    /** Damaged parts of the capture file itself. */
    problems: string[];
  };
}

const iso = (t: number | undefined) => (t === undefined || !Number.isFinite(t) ? undefined : new Date(t).toISOString());

/** The value below which a share `q` of the sorted values lie (nearest rank). */
function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Collects events one at a time (a capture is read once, as a stream) and sums them up at the end. */
export class StatsCollector {
  private events = 0;
  private frames = 0;
  private first?: number;
  private last?: number;
  private readonly packets = new Map<string, PacketTypeStats>();
  private readonly conns = new Map<number, ConnectionStats>();
  /** Connections whose login packet went by: its version and user agent are the connection's. */
  private readonly loggedIn = new Set<number>();
  private readonly latencies = new Map<string, { request: string; reply: string; values: number[] }>();
  /** Outstanding requests per connection, by their frame index. */
  private readonly pending = new Map<number, Map<number, Unanswered>>();
  private readonly warnings = new Map<string, { type: string; warning: string; count: number; conns: Set<number> }>();
  private readonly unknown = new Map<string, { type: string; count: number; conns: Set<number> }>();
  private readonly garbage = new Map<string, { conn: number; dir: Direction; count: number; bytes: number; reasons: Set<string> }>();
  private readonly opaque = new Map<string, { conn: number; kind: 'tls' | 'compressed'; bytes: number }>();
  private readonly notes: Array<{ conn: number; message: string }> = [];
  private readonly problems: string[] = [];

  problem(message: string): void {
    this.problems.push(message);
  }

  add(tap: TapEvent): void {
    const ev = tap.event;
    this.events++;
    if (ev.time !== undefined) {
      this.first = this.first === undefined ? ev.time : Math.min(this.first, ev.time);
      this.last = this.last === undefined ? ev.time : Math.max(this.last, ev.time);
    }
    const conn = this.connection(tap);
    // Until the close says how many bytes went each way, count those the capture holds.
    if ('dir' in ev && ev.dir && !conn.closed) {
      if (ev.kind === 'frame') conn.bytes[ev.dir] += ev.raw.length;
      else if ('bytes' in ev && Buffer.isBuffer(ev.bytes)) conn.bytes[ev.dir] += ev.bytes.length + (ev.kind === 'garbage' ? (ev.skipped ?? 0) : 0);
    }
    switch (ev.kind) {
      case 'open':
        conn.started ??= iso(ev.time);
        break;
      case 'close':
        conn.durationMs = ev.durationMs;
        conn.closed = ev.reason;
        conn.bytes = { ...ev.bytes };
        break;
      case 'note':
        if (ev.level === 'warn') this.notes.push({ conn: tap.conn, message: ev.message });
        break;
      case 'garbage': {
        const key = `${tap.conn}|${ev.dir}`;
        const g = this.garbage.get(key) ?? { conn: tap.conn, dir: ev.dir, count: 0, bytes: 0, reasons: new Set<string>() };
        g.count++;
        g.bytes += ev.bytes.length + (ev.skipped ?? 0);
        g.reasons.add(ev.reason);
        this.garbage.set(key, g);
        break;
      }
      case 'tls':
      case 'compressed': {
        const key = `${tap.conn}|${ev.kind}`;
        const o = this.opaque.get(key) ?? { conn: tap.conn, kind: ev.kind, bytes: 0 };
        o.bytes += ev.bytes.length;
        this.opaque.set(key, o);
        break;
      }
      case 'frame':
        this.frame(tap, conn, ev);
        break;
    }
  }

  private connection(tap: TapEvent): ConnectionStats {
    let c = this.conns.get(tap.conn);
    if (!c) {
      c = { conn: tap.conn, client: formatEndpoint(tap.client), frames: 0, bytes: { c2s: 0, s2c: 0 }, warnings: 0 };
      this.conns.set(tap.conn, c);
    }
    if (tap.server) c.server = formatEndpoint(tap.server);
    if (tap.login) c.login = tap.login;
    return c;
  }

  private frame(tap: TapEvent, conn: ConnectionStats, ev: Extract<TapEvent['event'], { kind: 'frame' }>): void {
    const f = ev.frame;
    this.frames++;
    conn.frames++;
    const p = this.packets.get(f.type) ?? { type: f.type, c2s: { count: 0, bytes: 0 }, s2c: { count: 0, bytes: 0 } };
    p[ev.dir].count++;
    p[ev.dir].bytes += ev.raw.length;
    this.packets.set(f.type, p);

    const def = packetByName(f.type);
    const firstLogin = !!def?.session?.login && !this.loggedIn.has(tap.conn);
    if (ev.dir === 'c2s' && (!conn.proto || firstLogin)) conn.proto = f.proto;
    if (firstLogin) {
      this.loggedIn.add(tap.conn);
      const ua = f.fields.userAgent || f.fields.description;
      if (typeof ua === 'string' && ua) conn.userAgent = ua;
    }
    if (f.warnings.length) conn.warnings += f.warnings.length;
    for (const w of f.warnings) {
      const key = `${f.type}|${w}`;
      const e = this.warnings.get(key) ?? { type: f.type, warning: w, count: 0, conns: new Set<number>() };
      e.count++;
      e.conns.add(tap.conn);
      this.warnings.set(key, e);
    }
    if (!def) {
      const u = this.unknown.get(f.type) ?? { type: f.type, count: 0, conns: new Set<number>() };
      u.count++;
      u.conns.add(tap.conn);
      this.unknown.set(f.type, u);
    }

    const pending = this.pending.get(tap.conn) ?? new Map<number, Unanswered>();
    this.pending.set(tap.conn, pending);
    if (ev.replyTo) {
      pending.delete(ev.replyTo.index);
      if (ev.replyTo.latencyMs !== undefined) {
        const key = `${ev.replyTo.type}|${f.type}`;
        const l = this.latencies.get(key) ?? { request: ev.replyTo.type, reply: f.type, values: [] };
        l.values.push(ev.replyTo.latencyMs);
        this.latencies.set(key, l);
      }
    }
    if (hasReply(f.type, ev.dir)) pending.set(ev.index, { conn: tap.conn, type: f.type, seq: f.seq, dir: ev.dir, ...(ev.time !== undefined ? { time: iso(ev.time) } : {}) });
  }

  result(): CaptureStats {
    const byCount = <T extends { count: number }>(a: T, b: T) => b.count - a.count;
    const sortedConns = (s: Set<number>) => [...s].sort((a, b) => a - b);
    return {
      events: this.events,
      frames: this.frames,
      connections: this.conns.size,
      ...(this.first !== undefined ? { first: iso(this.first), last: iso(this.last) } : {}),
      packets: [...this.packets.values()].sort((a, b) => b.c2s.count + b.s2c.count - (a.c2s.count + a.s2c.count) || a.type.localeCompare(b.type)),
      perConnection: [...this.conns.values()].sort((a, b) => a.conn - b.conn),
      latencies: [...this.latencies.values()]
        .map(({ request, reply, values }) => {
          const v = [...values].sort((a, b) => a - b);
          return { request, reply, count: v.length, minMs: v[0]!, medianMs: quantile(v, 0.5), p95Ms: quantile(v, 0.95), maxMs: v.at(-1)! };
        })
        .sort(byCount),
      unanswered: [...this.pending.values()].flatMap((m) => [...m.values()]),
      unusual: {
        warnings: [...this.warnings.values()].sort(byCount).map((w) => ({ ...w, conns: sortedConns(w.conns) })),
        unknownTypes: [...this.unknown.values()].sort(byCount).map((u) => ({ ...u, conns: sortedConns(u.conns) })),
        garbage: [...this.garbage.values()].map((g) => ({ ...g, reasons: [...g.reasons] })),
        opaque: [...this.opaque.values()],
        notes: this.notes,
        problems: this.problems,
      },
    };
  }
}

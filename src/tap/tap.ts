/**
 * Connection events without sockets: bytes in, events out. One SessionDecoder per connection turns the
 * bytes each side sent into annotated events; nothing here touches a socket or a file, and nothing here
 * may throw into its caller (the proxy's relay): a decoder failure becomes a note and the bytes keep
 * flowing. The same code decodes live traffic (proxy) and reassembled pcap connections (`decode CAPTURE.pcap`).
 */
import { formatEndpoint, type Endpoint } from '../net/endpoint.js';
import type { Direction } from '../protocol/fields.js';
import { SessionDecoder, type SessionEvent, type SessionOptions } from '../protocol/session.js';
import type { AddonMark, AnyEvent, ConnEvent, TapEvent } from './events.js';

/**
 * A direction that carried this many bytes since its last frame is not MRIM; decoding it stops, and its
 * bytes from then on are reported as they come, as garbage (a capture keeps every relayed byte).
 */
const NOT_MRIM_LIMIT = 64 * 1024;

export interface TapHubOptions {
  maxFrameSize?: number;
  /** The proxy terminates TLS itself: STARTTLS does not make the stream opaque. */
  tlsTerminated?: boolean;
  /** `lazy`: frames' texts are made only when read (SessionOptions.strings), for a sink that mostly never reads them. */
  strings?: SessionOptions['strings'];
}

/** Receives every event; it runs inside the relay's data handlers, so it must not throw. */
export type TapSink = (ev: TapEvent) => void;

/**
 * Every connection of one proxy run or one pcap file; links a redirector's answer to the connection
 * that follows it, and a SOCKS CONNECT carried in a stream to the connection that carries it onward
 * (the next leg through a proxy: both legs of one client connection in a pcap, or a chain of proxies).
 */
export class TapHub {
  /** `host:port` a redirector answered → the connection that answered it. */
  private readonly redirects = new Map<string, number>();
  /** `host:port` a stream asked a SOCKS proxy to CONNECT to → the connection whose stream asked it. */
  private readonly socksTargets = new Map<string, number>();

  constructor(
    private readonly sink: TapSink,
    readonly opts: TapHubOptions = {},
  ) {}

  /** Starts decoding a connection. `candidates` are the addresses it went to (as asked, as connected). */
  open(conn: number, client: Endpoint, server: Endpoint, time: number, candidates: Endpoint[] = [server]): ConnectionTap {
    const tap = new ConnectionTap(this, conn, client, server, time);
    const keys = candidates.map((e) => formatEndpoint(e).toLowerCase());
    const follows = takeFirst(this.redirects, keys);
    const legOf = takeFirst(this.socksTargets, keys);
    tap.report({ kind: 'open', time, client, server, ...(follows !== undefined ? { follows } : {}), ...(legOf !== undefined ? { legOf } : {}) });
    return tap;
  }

  /** Reports an event of a connection that is not (or not yet) decoded: SOCKS outcomes. */
  report(conn: number, client: Endpoint, server: Endpoint | undefined, event: AnyEvent): void {
    this.sink({ conn, client, ...(server ? { server } : {}), event });
  }

  /** @internal */
  emit(ev: TapEvent): void {
    const e = ev.event;
    if (e.kind === 'redirect' && e.host !== undefined && e.port !== undefined) {
      this.redirects.set(formatEndpoint({ host: e.host, port: e.port }).toLowerCase(), ev.conn);
    }
    if (e.kind === 'socks' && e.message.type === 'request' && e.message.command === 'CONNECT') {
      this.socksTargets.set(formatEndpoint({ host: e.message.host, port: e.message.port }).toLowerCase(), ev.conn);
    }
    this.sink(ev);
  }
}

/**
 * The connection a link table holds for the first of `keys`, taken out of it: the first connection to
 * an address is the one that followed the link; later ones just go there too.
 */
function takeFirst(links: Map<string, number>, keys: string[]): number | undefined {
  const key = keys.find((k) => links.has(k));
  if (key === undefined) return undefined;
  const conn = links.get(key);
  links.delete(key);
  return conn;
}

export class ConnectionTap {
  readonly bytes: Record<Direction, number> = { c2s: 0, s2c: 0 };
  private readonly session: SessionDecoder;
  /** Bytes since the last frame per direction, to notice a stream that is not MRIM. */
  private readonly sinceFrame: Record<Direction, number> = { c2s: 0, s2c: 0 };
  private readonly stopped: Record<Direction, boolean> = { c2s: false, s2c: false };
  /** Why a direction is no longer decoded (not MRIM, the decoder failed): the reason its bytes are reported with. */
  private readonly undecoded: Partial<Record<Direction, string>> = {};
  private closed = false;
  /**
   * The account as of the events reported so far: taken from each frame (not from the session after a
   * whole chunk), so frames that precede the login packet in the same chunk are not tagged with it.
   */
  private login?: string;
  /** What the client gets instead of the redirector answer about to be decoded (reverse mode). */
  private rewrite?: { text: string; bytes: Buffer };

  constructor(
    private readonly hub: TapHub,
    readonly conn: number,
    readonly client: Endpoint,
    readonly server: Endpoint,
    readonly openedAt: number,
  ) {
    // Relayed chunks are reads, a pcap's are TCP segments: both are what a peer receives at once.
    const { maxFrameSize, tlsTerminated, strings } = hub.opts;
    this.session = new SessionDecoder({ maxFrameSize, tlsTerminated, strings, chunksAreReads: true });
  }

  /** STARTTLS was accepted on this connection. */
  get tlsAccepted(): boolean {
    return this.session.tls;
  }

  report(event: AnyEvent, addon?: AddonMark): void {
    // Literals, not spreads of optional parts: this runs for every frame, and V8 spreads objects slowly.
    const { conn, client, server, login } = this;
    const ev: TapEvent = login ? { conn, client, server, login, event } : { conn, client, server, event };
    if (addon) ev.addon = addon;
    this.hub.emit(ev);
  }

  note(message: string, level: 'info' | 'warn', time: number, dir?: Direction, addon?: AddonMark): void {
    this.report({ kind: 'note', time, level, message, ...(dir ? { dir } : {}) }, addon);
  }

  /** The next redirector answer decoded is marked with what the client got instead. */
  rewriteRedirect(rewritten: { text: string; bytes: Buffer }): void {
    this.rewrite = rewritten;
  }

  /**
   * Bytes one side sent, as relayed (what the other side received). `addon` marks the frames this
   * chunk completes: an addon's proxy writes each frame it changed or injected as one chunk.
   */
  push(dir: Direction, chunk: Buffer, time: number, addon?: AddonMark): void {
    const offset = this.bytes[dir];
    this.bytes[dir] += chunk.length;
    const reason = this.undecoded[dir];
    if (reason !== undefined) return this.report({ kind: 'garbage', dir, offset, time, bytes: chunk, reason });
    if (this.stopped[dir]) return;
    this.decode(dir, time, () => this.session.push(dir, chunk, time), addon, { offset, bytes: chunk });
  }

  /** That side finished sending (FIN). */
  end(dir: Direction, time: number): void {
    if (!this.stopped[dir]) this.decode(dir, time, () => this.session.end(dir, time));
    this.stopped[dir] = true;
  }

  close(reason: string, time: number): void {
    if (this.closed) return;
    for (const dir of ['c2s', 's2c'] as const) this.end(dir, time);
    this.closed = true;
    for (const r of this.session.unanswered()) {
      const request = { type: r.type, seq: r.seq, index: r.index, ...(r.time !== undefined ? { time: r.time } : {}) };
      this.report({ kind: 'no-reply', time, dir: r.dir, request, expected: r.expected });
    }
    this.report({ kind: 'close', time, bytes: { ...this.bytes }, durationMs: time - this.openedAt, reason } satisfies ConnEvent);
  }

  /** `chunk`: the bytes `run` decodes, recorded undecoded should it throw. */
  private decode(dir: Direction, time: number, run: () => SessionEvent[], addon?: AddonMark, chunk?: { offset: number; bytes: Buffer }): void {
    let events: SessionEvent[];
    try {
      events = run();
    } catch (e) {
      // The decoder's state is unknown after a throw: stop decoding this direction, keep relaying.
      this.stopped[dir] = true;
      const reason = (this.undecoded[dir] = 'not decoded: the decoder failed');
      this.note(`decoder failed (${(e as Error).message}); the rest of this direction is relayed and recorded without decoding`, 'warn', time, dir);
      // What the decoder held from earlier chunks is lost with its state; this chunk is not.
      if (chunk) this.report({ kind: 'garbage', dir, offset: chunk.offset, time, bytes: chunk.bytes, reason });
      return;
    }
    for (const ev of events) {
      if (ev.kind === 'frame' && ev.login) this.login = ev.login;
      if (ev.kind === 'redirect' && ev.host !== undefined && this.rewrite) {
        ev.rewritten = this.rewrite;
        this.rewrite = undefined;
      }
      this.report(ev, ev.kind === 'frame' ? addon : undefined);
      if (ev.kind === 'frame') this.sinceFrame[dir] = 0;
      else if (ev.kind === 'garbage') this.sinceFrame[dir] += ev.bytes.length + (ev.skipped ?? 0);
    }
    if (this.sinceFrame[dir] >= NOT_MRIM_LIMIT && this.undecoded[dir] === undefined) {
      this.stopped[dir] = true;
      const reason = (this.undecoded[dir] = 'not MRIM: not decoded');
      this.note(`${this.sinceFrame[dir]} bytes without an MRIM frame: not MRIM, the rest of this direction is relayed and recorded without decoding`, 'warn', time, dir);
      // The bytes the decoder still holds (the start of what could be a frame) come before the ones that follow.
      this.decode(dir, time, () => this.session.end(dir, time).map((e) => (e.kind === 'garbage' ? { ...e, reason } : e)));
    }
  }
}

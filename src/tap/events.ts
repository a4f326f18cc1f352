/**
 * What a tap reports about a connection, besides the decoded stream: the SOCKS handshake, the TCP
 * session opening and closing, requests left without their reply, and notes (decoder trouble, TLS
 * interception). Together with the
 * SessionDecoder's events these make up the live log and the records of a capture. Plain data: the
 * proxy, the pcap decoder and capture readers produce them, the renderers and capture writers read them.
 */
import type { Direction } from '../protocol/fields.js';
import type { SessionEvent } from '../protocol/session.js';
import type { Endpoint } from '../net/endpoint.js';

export type ConnEvent =
  /**
   * The outcome of a SOCKS5 CONNECT request: `reply` 0 when the upstream connection was made. With
   * `listener`, a reverse-mode connection instead (no SOCKS): the client came to that listener, `target`
   * is its fixed upstream, and `reply` the SOCKS code the outcome would have had.
   */
  | {
      kind: 'connect';
      time: number;
      client: Endpoint;
      listener?: Endpoint;
      /** Destination as the client asked for it. */
      target: Endpoint;
      /** Where --map sent it instead. */
      mapped?: Endpoint;
      /** Address actually connected to. */
      upstream?: Endpoint;
      user?: string;
      reply: number;
      /** Why the upstream connection failed (an errno code or a message). */
      error?: string;
    }
  /** Wrong username/password, or — with `methods`, what the client offered — no acceptable method. */
  | { kind: 'auth-refused'; time: number; client: Endpoint; user: string; methods?: string[] }
  /**
   * A relayed TCP session is up; `follows` is the connection whose redirector answer pointed here,
   * `legOf` the connection whose stream asked a SOCKS proxy to CONNECT here (this one carries it onward).
   */
  | { kind: 'open'; time: number; client: Endpoint; server: Endpoint; follows?: number; legOf?: number }
  | { kind: 'close'; time: number; bytes: Record<Direction, number>; durationMs: number; reason: string }
  /** At the close: a request (sent in `dir`) that never got any of the `expected` replies it awaited. */
  | { kind: 'no-reply'; time: number; dir: Direction; request: { type: string; seq: number; index: number; time?: number }; expected: string[] }
  | { kind: 'note'; time: number; dir?: Direction; level: 'info' | 'warn'; message: string };

export type AnyEvent = SessionEvent | ConnEvent;

/**
 * What an addon (a proxy `--script`) did to the frame of this event: `modified` and `injected` mark the
 * frame as its receiver got it (a modified one keeps the sender's bytes in `original`); `dropped`
 * marks a note, since the receiver got nothing (`original` holds the frame it did not get).
 */
export interface AddonMark {
  action: 'modified' | 'dropped' | 'injected';
  /** The addon's name (its script's file name), or `mrimtap` for what the proxy itself did. */
  by: string;
  original?: Buffer;
}

/** One event of one connection, as the live log shows it and a capture stores it. */
export interface TapEvent {
  conn: number;
  client: Endpoint;
  /** The peer the proxy talks to for this connection (absent while a SOCKS request failed). */
  server?: Endpoint;
  /** The account logged in on this connection, once its login packet went by. */
  login?: string;
  event: AnyEvent;
  addon?: AddonMark;
}

/** Every event kind, and whether it is about the connection (true) or the decoded stream: checked complete by the compiler. */
const KINDS = {
  frame: false,
  garbage: false,
  socks: false,
  redirect: false,
  tls: false,
  compressed: false,
  connect: true,
  'auth-refused': true,
  open: true,
  close: true,
  'no-reply': true,
  note: true,
} satisfies Record<AnyEvent['kind'], boolean>;

export const EVENT_KINDS = Object.keys(KINDS) as AnyEvent['kind'][];
const CONN_KINDS = new Set(EVENT_KINDS.filter((k) => KINDS[k]));

export function isConnEvent(ev: AnyEvent): ev is ConnEvent {
  return CONN_KINDS.has(ev.kind);
}

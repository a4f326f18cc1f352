/**
 * The JSON the web view's server sends its page: packet rows, a packet's detail, the stream's
 * messages. Types only; the page's scripts (assets/*.js) check against them too.
 */
import type { ConnectionInfo } from '../render/connection.js';
import type { FieldNode } from '../render/tree.js';

export type { ConnectionInfo, FieldNode };

/** A link to another event of the same connection: the request a reply answers, or a reply. */
export interface EventLink {
  id: number;
  type: string;
  latencyMs?: number;
}

/** One line of the packet list. */
export interface PacketRow {
  id: number;
  /** ms since the epoch. */
  time?: number;
  conn: number;
  dir?: 'c2s' | 's2c';
  /** The packet type for frames (`LOGIN2`, `UNKNOWN(0x1007)`), the event kind otherwise (`OPEN`, `GARBAGE`): the filter's `type`. */
  type: string;
  seq?: number;
  size?: number;
  /** The fields in one line, or what the event says. */
  info: string;
  login?: string;
  warnings: number;
  /** For a reply: the request it answers (`id` absent when the request is not in the view). */
  replyTo?: Omit<EventLink, 'id'> & { id?: number };
}

export interface PacketDetail {
  row: PacketRow;
  /** The event as the listing prints it (the CLI's words for it). */
  text: string;
  frame?: {
    header: FieldNode[];
    fields: FieldNode[];
    warnings: string[];
    variant?: string;
    /** The whole frame, hex, secrets masked unless the view shows them. */
    raw: string;
  };
  /** Bytes of a non-frame event (garbage, SOCKS, redirector, TLS), hex. */
  bytes?: string;
  /** Replies to this request. */
  replies: EventLink[];
}

/** What the view is showing. */
export interface ViewInfo {
  title: string;
  /** `loading` while a file is read, `complete` after, `live` for a running proxy. */
  status: ViewStatus;
  showSecrets: boolean;
  events: number;
  filterHelp: string;
}

export type ViewStatus = 'loading' | 'complete' | 'live';

/**
 * Event ids as runs: `[first, count, first, count, …]` — a whole capture is one run, a filtered view a few
 * hundred, so the list of tens of thousands of ids stays small on the wire.
 */
export type IdRuns = number[];

/** The stream's first message (`reset`): what matches the filter so far. */
export interface StreamReset {
  ids: IdRuns;
  total: number;
  connections: ConnectionInfo[];
  status: ViewStatus;
}

/** Later messages (`update`): what arrived since, and the connections it changed. */
export interface StreamUpdate {
  ids: IdRuns;
  /** Rows of the newest of `ids`, which a following list shows at once. */
  rows: PacketRow[];
  total: number;
  connections: ConnectionInfo[];
  status: ViewStatus;
}

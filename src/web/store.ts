/**
 * Every event a web view shows, in arrival order, with what the page asks of them: rows for the
 * packet list (made when first asked for), connection summaries, the links between requests and
 * replies, the ids a filter selects, and a packet's decoded detail. Filling it is one call per event,
 * from a capture being read or from the proxy's relay (so `add` never throws).
 */
import { summarize, type ConnectionInfo } from '../render/connection.js';
import type { EventFilter } from '../render/filter.js';
import { addonMarkText, renderTapEvent, renderTapEventLine } from '../render/text.js';
import { frameSummary, frameTree } from '../render/tree.js';
import type { TapEvent } from '../tap/events.js';
import { maskRaw } from '../tap/mask.js';
import type { EventLink, IdRuns, PacketDetail, PacketRow, ViewStatus } from './wire.js';

export type StoreListener = (id: number, ev: TapEvent) => void;

export class EventStore {
  private readonly events: TapEvent[] = [];
  private readonly rows: Array<PacketRow | undefined> = [];
  private readonly conns = new Map<number, ConnectionInfo>();
  /** Event ids of each connection, in order. */
  private readonly byConn = new Map<number, number[]>();
  /** Per connection: frame index (as replies name their request) → event id. */
  private readonly frameIds = new Map<number, Map<number, number>>();
  /** Request id → the ids of its replies. */
  private readonly replies = new Map<number, number[]>();
  private readonly listeners = new Set<StoreListener>();
  private readonly statusListeners = new Set<(status: ViewStatus) => void>();
  private currentStatus: ViewStatus;
  private onWatched?: () => void;
  /** Resolves when the first page subscribes (the demo waits for it before it plays its session). */
  readonly watched = new Promise<void>((resolve) => (this.onWatched = resolve));

  constructor(readonly opts: { showSecrets?: boolean; status?: ViewStatus } = {}) {
    this.currentStatus = opts.status ?? 'live';
  }

  get size(): number {
    return this.events.length;
  }

  get status(): ViewStatus {
    return this.currentStatus;
  }

  set status(status: ViewStatus) {
    this.currentStatus = status;
    for (const l of this.statusListeners) l(status);
  }

  /** Adds an event and tells the listeners; returns its id. */
  add(ev: TapEvent): number {
    const id = this.events.length;
    this.events.push(ev);
    this.conns.set(ev.conn, summarize(this.conns.get(ev.conn), ev));
    const ids = this.byConn.get(ev.conn) ?? [];
    if (!ids.length) this.byConn.set(ev.conn, ids);
    ids.push(id);
    const e = ev.event;
    if (e.kind === 'frame') {
      const frames = this.frameIds.get(ev.conn) ?? new Map<number, number>();
      frames.set(e.index, id);
      this.frameIds.set(ev.conn, frames);
      const request = e.replyTo && frames.get(e.replyTo.index);
      if (request !== undefined) this.replies.set(request, [...(this.replies.get(request) ?? []), id]);
    }
    for (const l of this.listeners) {
      try {
        l(id, ev);
      } catch {
        // A listener is a page's stream: its failure must not reach the relay that called add().
      }
    }
    return id;
  }

  /** Calls `listener` for every event added from now on; returns the unsubscribe function. */
  subscribe(listener: StoreListener, onStatus?: (status: ViewStatus) => void): () => void {
    this.listeners.add(listener);
    if (onStatus) this.statusListeners.add(onStatus);
    this.onWatched?.();
    return () => {
      this.listeners.delete(listener);
      if (onStatus) this.statusListeners.delete(onStatus);
    };
  }

  event(id: number): TapEvent | undefined {
    return this.events[id];
  }

  connections(): ConnectionInfo[] {
    return [...this.conns.values()];
  }

  connection(conn: number): ConnectionInfo | undefined {
    return this.conns.get(conn);
  }

  /** The ids of one connection's events, in order. */
  idsOf(conn: number): readonly number[] {
    return this.byConn.get(conn) ?? [];
  }

  /** The ids of the events `filter` lets through, in order (a filter's `t` counts from the first event). */
  select(filter: EventFilter): number[] {
    const out: number[] = [];
    for (let id = 0; id < this.events.length; id++) if (passes(filter, this.events[id])) out.push(id);
    return out;
  }

  row(id: number): PacketRow | undefined {
    const ev = this.events[id];
    if (!ev) return undefined;
    return (this.rows[id] ??= this.makeRow(id, ev));
  }

  detail(id: number): PacketDetail | undefined {
    const ev = this.events[id];
    const row = this.row(id);
    if (!ev || !row) return undefined;
    const showSecrets = this.opts.showSecrets;
    const e = ev.event;
    const replies: EventLink[] = (this.replies.get(id) ?? []).map((r) => {
      const reply = this.events[r].event;
      return { id: r, type: reply.kind === 'frame' ? reply.frame.type : reply.kind, ...(reply.kind === 'frame' && reply.replyTo?.latencyMs !== undefined ? { latencyMs: reply.replyTo.latencyMs } : {}) };
    });
    const detail: PacketDetail = { row, text: renderTapEvent(ev, { showSecrets }), replies };
    if (e.kind === 'frame') {
      const tree = frameTree(e.raw, e.frame, { showSecrets });
      detail.frame = {
        ...tree,
        warnings: e.frame.warnings,
        ...(e.frame.variant ? { variant: e.frame.variant } : {}),
        raw: (showSecrets ? e.raw : maskRaw(e.raw, e.frame)).toString('hex'),
      };
    } else if ('bytes' in e && Buffer.isBuffer(e.bytes) && e.kind !== 'socks') {
      // SOCKS messages may hold a password: their words (masked) are shown, not their bytes.
      detail.bytes = e.bytes.toString('hex');
    }
    return detail;
  }

  private makeRow(id: number, ev: TapEvent): PacketRow {
    const e = ev.event;
    const base = { id, ...(e.time !== undefined ? { time: e.time } : {}), conn: ev.conn, ...('dir' in e && e.dir ? { dir: e.dir } : {}), ...(ev.login ? { login: ev.login } : {}) };
    if (e.kind !== 'frame') return { ...base, type: e.kind.toUpperCase(), info: renderTapEventLine(ev), warnings: e.kind === 'garbage' || (e.kind === 'note' && e.level === 'warn') ? 1 : 0 };
    const f = e.frame;
    const request = e.replyTo && this.frameIds.get(ev.conn)?.get(e.replyTo.index);
    return {
      ...base,
      type: f.type,
      seq: f.seq,
      size: e.raw.length,
      info: (ev.addon ? `${addonMarkText(ev.addon)} · ` : '') + frameSummary(f, { showSecrets: this.opts.showSecrets }),
      warnings: f.warnings.length,
      ...(e.replyTo
        ? { replyTo: { type: e.replyTo.type, ...(request !== undefined ? { id: request } : {}), ...(e.replyTo.latencyMs !== undefined ? { latencyMs: e.replyTo.latencyMs } : {}) } }
        : {}),
    };
  }
}

/** A filter that fails on an odd event counts as not matching it. */
export function passes(filter: EventFilter, ev: TapEvent): boolean {
  try {
    return filter(ev);
  } catch {
    return false;
  }
}

/** Ids (ascending) as runs `[first, count, …]`. */
export function toRuns(ids: readonly number[]): IdRuns {
  const runs: number[] = [];
  for (const id of ids) {
    const n = runs.length;
    if (n && runs[n - 2] + runs[n - 1] === id) runs[n - 1]++;
    else runs.push(id, 1);
  }
  return runs;
}

/**
 * Writing the part of a capture a filter selects (`decode -w`): each selected event goes to the writer
 * with its raw bytes, and the connection it belongs to keeps its `open` before it and its `close` after
 * it, so the subset still says who talked to whom and decodes, gives stats and replays like a recording.
 */
import type { TapEvent } from '../tap/events.js';
import type { CaptureWriter } from './format.js';

export class SubsetWriter {
  /** Opens of connections none of whose events was selected yet, waiting to be written before the first. */
  private readonly pendingOpens = new Map<number, TapEvent>();
  /** Connections with an event written. */
  private readonly written = new Set<number>();
  /** Selected events written (the connections' opens and closes they bring along not counted). */
  selected = 0;

  constructor(private readonly writer: CaptureWriter) {}

  /** Every event of the capture in order, with whether the filter selected it. */
  offer(ev: TapEvent, selected: boolean): void {
    const { kind } = ev.event;
    if (kind === 'open' && !selected) {
      this.pendingOpens.set(ev.conn, ev);
      return;
    }
    const isContext = kind === 'close' && this.written.has(ev.conn);
    if (!selected && !isContext) return;
    const open = this.pendingOpens.get(ev.conn);
    if (open) {
      this.pendingOpens.delete(ev.conn);
      this.writer.write(open);
    }
    this.writer.write(ev);
    this.written.add(ev.conn);
    if (selected) this.selected++;
    if (kind === 'close') this.written.delete(ev.conn);
  }
}

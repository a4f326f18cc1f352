/**
 * One page's Server-Sent Events stream through one filter: first what matches so far (`reset`), then
 * every tenth of a second what arrived since (`update`: new matching ids, the newest rows, changed
 * connections). A filter with a mistake gets one `filter-error` message and the stream ends. The filter
 * is the CLI's (render/filter.ts), evaluated here on the server.
 */
import type http from 'node:http';
import { FilterError, parseFilter, type EventFilter } from '../render/filter.js';
import { passes, toRuns, type EventStore } from './store.js';
import type { StreamReset, StreamUpdate } from './wire.js';

const FLUSH_MS = 100;
const KEEPALIVE_MS = 15_000;
/** Rows sent along with an update; a following list shows the newest, older ones are fetched if scrolled to. */
const UPDATE_ROWS = 200;

/**
 * Starts the stream on `res`; returns a function that ends it, which `onClosed` also gets once it ended
 * (however). Undefined when the stream ended at once (a filter error).
 */
export function openStream(res: http.ServerResponse, store: EventStore, expr: string, headers: Record<string, string>, onClosed: (close: () => void) => void): (() => void) | undefined {
  res.writeHead(200, { ...headers, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
  res.socket?.setNoDelay(true);
  const write = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  let filter: EventFilter;
  try {
    filter = parseFilter(expr);
  } catch (e) {
    if (!(e instanceof FilterError)) throw e;
    write('filter-error', { message: e.message });
    res.end();
    return undefined;
  }
  write('reset', { ids: toRuns(store.select(filter)), total: store.size, connections: store.connections(), status: store.status } satisfies StreamReset);

  let pending: number[] = [];
  const changed = new Set<number>();
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const ids = pending;
    pending = [];
    const connections = [...changed].flatMap((c) => store.connection(c) ?? []);
    changed.clear();
    const rows = ids.slice(-UPDATE_ROWS).flatMap((id) => store.row(id) ?? []);
    write('update', { ids: toRuns(ids), rows, total: store.size, connections, status: store.status } satisfies StreamUpdate);
  };
  const schedule = () => (timer ??= setTimeout(flush, FLUSH_MS));
  const unsubscribe = store.subscribe(
    (id, ev) => {
      changed.add(ev.conn);
      if (passes(filter, ev)) pending.push(id);
      schedule();
    },
    schedule,
  );
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    unsubscribe();
    clearTimeout(timer);
    clearInterval(keepAlive);
    res.end();
    onClosed(close);
  };
  res.on('close', close);
  return close;
}

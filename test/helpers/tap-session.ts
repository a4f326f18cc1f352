/** Sessions as the proxy reports them, without sockets: bytes with times pushed through a TapHub, the events it made. */
import type { Endpoint } from '../../src/net/endpoint.js';
import type { Direction } from '../../src/protocol/fields.js';
import type { TapEvent } from '../../src/tap/events.js';
import { TapHub } from '../../src/tap/tap.js';

export const CLIENT: Endpoint = { host: '127.0.0.1', port: 50000 };
export const SERVER: Endpoint = { host: '127.0.0.1', port: 2041 };

/** What one side sent at a time (ms after the session opened). */
export type Step = [Direction, Buffer, number];

/** One connection: opened at `t0`, each step pushed, closed after the last. */
export function tapSession(steps: Step[], opts: { conn?: number; t0?: number; into?: TapEvent[] } = {}): TapEvent[] {
  const events = opts.into ?? [];
  const t0 = opts.t0 ?? Date.UTC(2026, 0, 31, 12, 0, 0);
  const conn = opts.conn ?? 1;
  const client = { ...CLIENT, port: CLIENT.port + conn };
  const hub = new TapHub((ev) => events.push(ev));
  hub.report(conn, client, SERVER, { kind: 'connect', time: t0, client, target: SERVER, upstream: SERVER, reply: 0 });
  const tap = hub.open(conn, client, SERVER, t0);
  for (const [dir, bytes, at] of steps) tap.push(dir, bytes, t0 + at);
  tap.close('client closed first', t0 + (steps.at(-1)?.[2] ?? 0) + 1);
  return events;
}

/**
 * How a listing shows each event's time (`--time`, as tshark's `-t`): the clock time, seconds since the
 * first event shown, or seconds since the one before it.
 */
import { formatClock } from './text.js';

export const TIME_FORMATS = ['absolute', 'relative', 'delta'] as const;
export type TimeFormat = (typeof TIME_FORMATS)[number];

/** A clock for one listing: it remembers the first and the previous time it was asked about. */
export function listingClock(format: TimeFormat): (ms: number) => string {
  if (format === 'absolute') return formatClock;
  let first: number | undefined;
  let previous: number | undefined;
  return (ms) => {
    first ??= ms;
    const since = format === 'relative' ? ms - first : ms - (previous ?? ms);
    previous = ms;
    return (since / 1000).toFixed(3).padStart(8);
  };
}

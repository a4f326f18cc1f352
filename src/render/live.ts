/**
 * The live log: what the proxy and the demo print for each event — annotated text or JSON Lines,
 * through the --filter. A rendering failure becomes a one-line warning, never a crash.
 */
import type { ChalkInstance } from 'chalk';
import type { TapEvent } from '../tap/events.js';
import { tapEventToJson } from '../tap/line.js';
import type { EventFilter } from './filter.js';
import { renderTapEvent } from './text.js';

export interface LogFormat {
  json?: boolean;
  hex?: boolean;
  showSecrets?: boolean;
  color?: ChalkInstance;
  /** How the listing shows times (clock.ts); JSON keeps ISO times. */
  clock?: (ms: number) => string;
}

/** One event as the log shows it (no trailing newline). */
export function formatTapEvent(ev: TapEvent, fmt: LogFormat): string {
  try {
    return fmt.json ? JSON.stringify(tapEventToJson(ev, { showSecrets: fmt.showSecrets })) : renderTapEvent(ev, fmt);
  } catch (e) {
    return `#${ev.conn} ⚠ cannot render a ${ev.event.kind} event: ${(e as Error).message}`;
  }
}

/** A sink printing the events the filter lets through. */
export function liveLog(fmt: LogFormat & { filter?: EventFilter; write: (text: string) => void }): (ev: TapEvent) => void {
  return (ev) => {
    if (fmt.filter && !fmt.filter(ev)) return;
    fmt.write(formatTapEvent(ev, fmt) + '\n');
  };
}

/** Waits that always end: for an emitted event, or for a condition to hold. */
import type { EventEmitter } from 'node:events';

/**
 * The next `event` whose value passes `pred`, or a failure after `ms`; the listener is removed either
 * way. Event names are plain strings here, so any emitter fits (MrimClient's events are typed).
 */
export function nextEvent<T>(emitter: EventEmitter<any>, event: string, pred: (v: T) => boolean = () => true, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const listener = (v: T) => {
      if (!pred(v)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(v);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no matching "${event}" within ${ms} ms`));
    }, ms);
    emitter.on(event, listener);
  });
}

/** Polls `cond` (which may read something asynchronously) every 10 ms until it holds, or fails after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * `--filter`: which events of the live log or of a capture to show.
 *
 *   type=MESSAGE,MESSAGE_ACK dir=c2s conn=3 login=alice@mail.ru
 *
 * Terms are separated by spaces and must all hold; the values of one term are separated by commas and
 * any one may match. `KEY!=VALUES` or `!KEY=VALUES` negates a term. Values are case-insensitive and may
 * use the wildcards `*` (any run of characters) and `?` (one character).
 *
 *   type   packet type (`LOGIN2`, `CONTACT_*`, `UNKNOWN*`) or, for other events, their kind:
 *          GARBAGE, REDIRECT, TLS, COMPRESSED, SOCKS, CONNECT, AUTH-REFUSED, OPEN, CLOSE, NO-REPLY, NOTE
 *   dir    c2s (or client) / s2c (or server); events without a direction (OPEN, CLOSE…) never match
 *   conn   connection number, or a range `3-5`
 *   login  the account logged in on the connection (known from its login packet on)
 *
 * A term about something an event does not have (`dir=c2s` on a CLOSE) does not hold; negated, it does.
 */
import type { TapEvent } from '../tap/events.js';

export const FILTER_KEYS = ['type', 'dir', 'conn', 'login'] as const;
type Key = (typeof FILTER_KEYS)[number];

export const FILTER_SYNTAX =
  'space-separated terms that must all hold: KEY=V1,V2 (any value), KEY!=V or !KEY=V (negated); ' +
  'keys: type (LOGIN2, MESSAGE*, GARBAGE, OPEN, CLOSE…), dir (c2s|s2c), conn (3 or 3-5), login (alice@mail.ru); ' +
  'values take the wildcards * and ?';

export class FilterError extends Error {}

export type EventFilter = (ev: TapEvent) => boolean;

interface Term {
  key: Key;
  negated: boolean;
  match: (value: string | number) => boolean;
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

const DIR_ALIASES: Record<string, string> = { c2s: 'c2s', client: 'c2s', 'c→s': 'c2s', s2c: 's2c', server: 's2c', 's→c': 's2c' };

function valueMatcher(key: Key, value: string): (v: string | number) => boolean {
  if (value === '') throw new FilterError(`empty value for "${key}"`);
  if (key === 'dir') {
    const dir = DIR_ALIASES[value.toLowerCase()];
    if (!dir) throw new FilterError(`dir must be c2s or s2c, not "${value}"`);
    return (v) => v === dir;
  }
  if (key === 'conn') {
    const range = /^(\d+)(?:-(\d+))?$/.exec(value);
    if (range) {
      const lo = Number(range[1]);
      const hi = range[2] !== undefined ? Number(range[2]) : lo;
      return (v) => typeof v === 'number' && v >= lo && v <= hi;
    }
    if (!/^[\d*?]+$/.test(value)) throw new FilterError(`conn takes numbers, ranges (3-5) or wildcards, not "${value}"`);
  }
  const re = globToRegExp(value);
  return (v) => re.test(String(v));
}

function parseTerm(text: string): Term {
  const m = /^(!?)([a-zA-Z]+)(!?=)(.*)$/.exec(text);
  if (!m) throw new FilterError(`"${text}" is not KEY=VALUE (${FILTER_SYNTAX})`);
  const key = m[2].toLowerCase() as Key;
  if (!FILTER_KEYS.includes(key)) throw new FilterError(`unknown filter key "${m[2]}": use ${FILTER_KEYS.join(', ')}`);
  if (m[1] && m[3] === '!=') throw new FilterError(`"${text}" negates twice`);
  const matchers = m[4].split(',').map((v) => valueMatcher(key, v.trim()));
  return { key, negated: m[1] === '!' || m[3] === '!=', match: (v) => matchers.some((f) => f(v)) };
}

/** What an event offers to each key (undefined: the event has no such thing). */
function valueOf(ev: TapEvent, key: Key): string | number | undefined {
  const e = ev.event;
  switch (key) {
    case 'type':
      return e.kind === 'frame' ? e.frame.type : e.kind.toUpperCase();
    case 'dir':
      return 'dir' in e ? e.dir : undefined;
    case 'conn':
      return ev.conn;
    case 'login':
      return ev.login;
  }
}

/** Compiles a filter expression; an empty one lets everything through. Throws FilterError on bad syntax. */
export function parseFilter(expr: string | undefined): EventFilter {
  const terms = (expr ?? '').trim().split(/\s+/).filter(Boolean).map(parseTerm);
  return (ev) =>
    terms.every((t) => {
      const v = valueOf(ev, t.key);
      const hit = v !== undefined && t.match(v);
      return t.negated ? !hit : hit;
    });
}

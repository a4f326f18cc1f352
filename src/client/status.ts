/**
 * Presence as people name it (online, away, dnd …) ↔ the wire pair of status value and status URI
 * (reference §9.2, §17.1). Pre-1.14 profiles have no URI, so x-statuses fall back to a base status.
 */
import { STATUS_AWAY, STATUS_FLAG_INVISIBLE, STATUS_ONLINE, STATUS_USER_DEFINED } from '../protocol/constants.js';
import { MrimClientError } from './errors.js';

export interface StatusSpec {
  /** Wire status value (§17.1). */
  value: number;
  /** Status URI (≥1.14): `STATUS_ONLINE`, `status_dnd`, `status_5` … */
  uri: string;
  /** Default title shown by other clients (users may replace it). */
  title: string;
  /** What a pre-1.14 session sends instead (there is no x-status before 1.14). */
  fallback: number;
}

const OFFLINE = 0;

/** Named statuses; `status_N` (4…53) are accepted as well, as picture x-statuses. */
export const STATUSES: Record<string, StatusSpec> = {
  online: { value: STATUS_ONLINE, uri: 'STATUS_ONLINE', title: 'Online', fallback: STATUS_ONLINE },
  away: { value: STATUS_AWAY, uri: 'STATUS_AWAY', title: 'Away', fallback: STATUS_AWAY },
  invisible: { value: (STATUS_FLAG_INVISIBLE | STATUS_ONLINE) >>> 0, uri: 'STATUS_INVISIBLE', title: 'Invisible', fallback: (STATUS_FLAG_INVISIBLE | STATUS_ONLINE) >>> 0 },
  dnd: { value: STATUS_USER_DEFINED, uri: 'status_dnd', title: 'Do not disturb', fallback: STATUS_AWAY },
  chat: { value: STATUS_USER_DEFINED, uri: 'status_chat', title: 'Free for chat', fallback: STATUS_ONLINE },
  mobile: { value: STATUS_USER_DEFINED, uri: 'status_mobile', title: 'Mobile', fallback: STATUS_ONLINE },
  dating: { value: STATUS_USER_DEFINED, uri: 'status_dating', title: 'Dating', fallback: STATUS_ONLINE },
};

export type StatusName = 'online' | 'away' | 'invisible' | 'dnd' | 'chat' | 'mobile' | 'dating' | `status_${number}`;

/** `online`, `DND`, `status_5` → the wire form; throws INVALID_ARGUMENT for anything else. */
export function statusSpec(name: string): StatusSpec {
  const key = name.trim().toLowerCase();
  const known = STATUSES[key];
  if (known) return known;
  const m = /^status_(\d+)$/.exec(key);
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= 99) {
    return { value: STATUS_USER_DEFINED, uri: key, title: key, fallback: STATUS_ONLINE };
  }
  throw new MrimClientError('INVALID_ARGUMENT', `unknown status "${name}": use ${Object.keys(STATUSES).join(', ')} or status_N (x-status 4…53)`);
}

/**
 * The name of a contact's presence: the URI decides for x-statuses (case-insensitive), the value
 * otherwise. UNDETERMINATED (3, not authorized yet) reads as offline, as clients show it.
 */
export function statusName(value: number, uri?: string): StatusName | 'offline' {
  const v = value >>> 0;
  if (v === OFFLINE || v === 3) return 'offline';
  if ((v & STATUS_FLAG_INVISIBLE) !== 0) return 'invisible';
  const u = uri?.trim().toLowerCase();
  if (u) {
    for (const [name, spec] of Object.entries(STATUSES)) if (spec.uri.toLowerCase() === u) return name as StatusName;
    if (/^status_\d+$/.test(u)) return u as StatusName;
  }
  if (v === STATUS_AWAY) return 'away';
  return 'online';
}


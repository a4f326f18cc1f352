/**
 * Presence as people name it (online, away, dnd …) ↔ the wire pair of status value and status URI, by
 * the protocol's one status table (src/protocol/status.ts): pre-1.14 profiles have no URI, so an
 * x-status is sent as the table's base status — the same one the reference server shows such peers.
 */
import { STATUS_AWAY, STATUS_FLAG_INVISIBLE, STATUS_UNDETERMINATED } from '../protocol/constants.js';
import { STATUS_TABLE, statusByUri } from '../protocol/status.js';
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
export const STATUSES: Record<string, StatusSpec> = Object.fromEntries(
  STATUS_TABLE.map((e) => [e.name, { value: e.value, uri: e.uri, title: e.title, fallback: e.base }]),
);

export type StatusName = 'online' | 'away' | 'invisible' | 'dnd' | 'chat' | 'mobile' | 'dating' | `status_${number}`;

/** `online`, `DND`, `status_5` → the wire form; throws INVALID_ARGUMENT for anything else. */
export function statusSpec(name: string): StatusSpec {
  const key = name.trim().toLowerCase();
  const known = STATUSES[key];
  if (known) return known;
  const m = /^status_(\d+)$/.exec(key);
  const entry = m && Number(m[1]) >= 1 && Number(m[1]) <= 99 ? statusByUri(key) : undefined;
  if (entry) return { value: entry.value, uri: key, title: entry.title, fallback: entry.base };
  throw new MrimClientError('INVALID_ARGUMENT', `unknown status "${name}": use ${Object.keys(STATUSES).join(', ')} or status_N (x-status 4…53)`);
}

/**
 * The name of a contact's presence: the URI decides for x-statuses (case-insensitive), the value
 * otherwise. UNDETERMINATED (3) reads as offline for a contact (not authorized yet, §9.1: shown as
 * offline) and as `unknown` in search results, where servers send it for a status that is not public.
 */
export function statusName(value: number, uri?: string, undetermined: 'offline' | 'unknown' = 'offline'): StatusName | 'offline' | 'unknown' {
  const v = value >>> 0;
  if (v === OFFLINE) return 'offline';
  if (v === STATUS_UNDETERMINATED) return undetermined;
  if ((v & STATUS_FLAG_INVISIBLE) !== 0) return 'invisible';
  const entry = statusByUri(uri);
  if (entry) return entry.name as StatusName;
  if (v === STATUS_AWAY) return 'away';
  return 'online';
}

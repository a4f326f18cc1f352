/**
 * The one status table (reference §9.2, §17.1): each named presence with its status value and status
 * URI, and the base status that stands for it where there are no x-statuses (protocol before 1.14).
 * The reference server (what a pre-1.14 contact is shown) and the reference client (what its 1.8
 * profile sends) both read it, so the two agree.
 */
import { STATUS_AWAY, STATUS_FLAG_INVISIBLE, STATUS_ONLINE, STATUS_USER_DEFINED } from './constants.js';

/** x-statuses (status 4 with a URI, titles, descriptions) exist from this minor version on (§9.1, §9.2). */
export const XSTATUS_SINCE = 14;

const STATUS_INVISIBLE = (STATUS_FLAG_INVISIBLE | STATUS_ONLINE) >>> 0;

export interface StatusEntry {
  /** What people call it: `online`, `away`, `dnd` … */
  name: string;
  /** Status value with x-statuses (≥1.14). */
  value: number;
  /** The status URI clients send; matching is case-insensitive. */
  uri: string;
  /** Other URIs meaning the same (mrim-prpl and qutIM use `status_1`…`status_3` for the base statuses). */
  aliases?: readonly string[];
  /** Default title shown by other clients (users may replace it). */
  title: string;
  /** The status value without x-statuses: what a pre-1.14 client sends and is shown instead. */
  base: number;
}

export const STATUS_TABLE: readonly StatusEntry[] = [
  { name: 'online', value: STATUS_ONLINE, uri: 'STATUS_ONLINE', aliases: ['status_1'], title: 'Online', base: STATUS_ONLINE },
  { name: 'away', value: STATUS_AWAY, uri: 'STATUS_AWAY', aliases: ['status_2'], title: 'Away', base: STATUS_AWAY },
  { name: 'invisible', value: STATUS_INVISIBLE, uri: 'STATUS_INVISIBLE', aliases: ['status_3'], title: 'Invisible', base: STATUS_INVISIBLE },
  { name: 'dnd', value: STATUS_USER_DEFINED, uri: 'status_dnd', title: 'Do not disturb', base: STATUS_AWAY },
  { name: 'chat', value: STATUS_USER_DEFINED, uri: 'status_chat', title: 'Free for chat', base: STATUS_ONLINE },
  { name: 'mobile', value: STATUS_USER_DEFINED, uri: 'status_mobile', title: 'Mobile', base: STATUS_ONLINE },
  { name: 'dating', value: STATUS_USER_DEFINED, uri: 'status_dating', title: 'Dating', base: STATUS_ONLINE },
];

/** Picture x-statuses `status_4` … `status_53`: status 4, shown as online without x-statuses. */
const PICTURE_STATUS = /^status_(\d+)$/;

/** The entry of a status URI (any case, aliases too), or a picture x-status's; undefined for other URIs. */
export function statusByUri(uri: string | undefined): StatusEntry | undefined {
  const key = uri?.trim().toLowerCase();
  if (!key) return undefined;
  const known = STATUS_TABLE.find((e) => e.uri.toLowerCase() === key || e.aliases?.includes(key));
  if (known) return known;
  const n = PICTURE_STATUS.exec(key);
  return n && Number(n[1]) >= 4 ? { name: key, value: STATUS_USER_DEFINED, uri: key, title: key, base: STATUS_ONLINE } : undefined;
}

/**
 * The status a peer without x-statuses is shown for `value` + `uri`: a user-defined status (4) becomes
 * the base status of its URI (online for URIs the table does not know); invisibility is kept.
 */
export function baseStatus(value: number, uri?: string): number {
  const v = value >>> 0;
  if ((v & ~STATUS_FLAG_INVISIBLE) !== STATUS_USER_DEFINED) return v;
  const base = statusByUri(uri)?.base ?? STATUS_ONLINE;
  return ((v & STATUS_FLAG_INVISIBLE) | base) >>> 0;
}

/** The URI of a number-only status (clients before 1.14, LOGIN3's CHANGE_STATUS without one). */
export function defaultStatusUri(value: number): string {
  const v = value >>> 0;
  if (v === 0) return '';
  if (v & STATUS_FLAG_INVISIBLE) return 'STATUS_INVISIBLE';
  return v === STATUS_AWAY ? 'STATUS_AWAY' : 'STATUS_ONLINE';
}

/** The user directory search: WP_REQUEST answered with ANKETA_INFO rows. */
import { ANKETA_STATUS_CODE, STATUS_FLAG_INVISIBLE } from '../../protocol/constants.js';
import type { Fields } from '../../protocol/fields.js';
import { OFFLINE, STATUS_OFFLINE, type UserRecord } from '../users.js';
import { str, type Handler, type Handlers } from './context.js';

/** The official server's search row limit is not known; this one keeps answers small. */
const MAX_SEARCH_ROWS = 50;

const ANKETA_COLUMNS = [
  'Username',
  'Domain',
  'Nickname',
  'FirstName',
  'LastName',
  'Sex',
  'Birthday',
  'City_id',
  'Location',
  'Zodiac',
  'BMonth',
  'BDay',
  'Country_id',
  'Phone',
  'mrim_status',
  'status_uri',
  'status_title',
  'status_desc',
];

const search: Handler = (ctx, conn, f) => {
  const criteria = (Array.isArray(f.fields.criteria) ? f.fields.criteria : []) as Fields[];
  const tests: ((u: UserRecord) => boolean)[] = [];
  const ignored: string[] = [];
  for (const c of criteria) {
    const value = str(c.value);
    const id = Number(c.field);
    const pick: ((u: UserRecord) => string) | undefined = [
      (u: UserRecord) => u.login.split('@')[0],
      (u: UserRecord) => u.login.split('@')[1],
      (u: UserRecord) => u.nick,
      (u: UserRecord) => u.firstName,
      (u: UserRecord) => u.lastName,
    ][id];
    if (pick) tests.push((u) => matches(pick(u), value));
    else if (id === 9) {
      if (value === '1') tests.push((u) => ctx.sessions.has(u.login) && publicStatus(u) !== STATUS_OFFLINE);
    } else ignored.push(`${id}=${value}`);
  }
  const found = [...ctx.users.values()].filter((u) => tests.every((t) => t(u))).slice(0, MAX_SEARCH_ROWS);
  const rows = found.map((u) => {
    const status = publicStatus(u);
    const visible = status === STATUS_OFFLINE ? OFFLINE : u.presence;
    const [user, domain] = u.login.split('@');
    return {
      Username: user,
      Domain: domain,
      Nickname: u.nick,
      FirstName: u.firstName,
      LastName: u.lastName,
      mrim_status: status.toString(16),
      status_uri: visible.statusUri,
      status_title: visible.statusTitle,
      status_desc: visible.statusDesc,
    };
  });
  conn.send(
    'ANKETA_INFO',
    {
      status: rows.length ? ANKETA_STATUS_CODE.OK : ANKETA_STATUS_CODE.NOUSER,
      maxRows: MAX_SEARCH_ROWS,
      serverTime: Math.floor(Date.now() / 1000),
      columns: ANKETA_COLUMNS,
      rows,
    },
    f.seq,
  );
  const asked = criteria.map((c) => `${c.field}=${str(c.value)}`).join(' ') || 'everyone';
  const note = ignored.length ? ` (criteria ${ignored.join(' ')} not searchable here, ignored)` : '';
  ctx.log(conn, 'info', 'search', `WP_REQUEST ${asked} → ${rows.length} row(s)${note}`, { packet: f.type });
};

export const searchHandlers: Handlers = { WP_REQUEST: search };

/**
 * A search value matches a whole field, in any case; `*` stands for any run of characters. The
 * reference gives only a trailing `*` (the official server turned it into SQL's `%`), but clients
 * append their own to what the user typed ("Бо*" goes as "Бо**"), so every `*` is a wildcard.
 */
function matches(actual: string, wanted: string): boolean {
  const pattern = wanted
    .toLowerCase()
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${pattern}$`, 's').test(actual.toLowerCase());
}

/** The status strangers see (search results): invisible users look offline. */
function publicStatus(u: UserRecord): number {
  return u.presence.status & STATUS_FLAG_INVISIBLE ? STATUS_OFFLINE : u.presence.status;
}

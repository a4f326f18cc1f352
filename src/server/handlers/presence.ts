/** Presence: CHANGE_STATUS, and the USER_STATUS each watching session gets, in its version's form. */
import { STATUS, STATUS_UNDETERMINATED } from '../../protocol/constants.js';
import type { Fields } from '../../protocol/fields.js';
import { XSTATUS_SINCE, baseStatus, defaultStatusUri } from '../../protocol/status.js';
import type { ClientConnection } from '../connection.js';
import { STATUS_OFFLINE, presenceSeenBy, type ContactRecord, type Presence, type UserRecord } from '../users.js';
import { lacks, str, type Handler, type Handlers, type ServerContext } from './context.js';

export const statusName = (s: number): string => STATUS[s] ?? `0x${s.toString(16)}`;

/** The presence a LOGIN2 or CHANGE_STATUS announces; features and user agent default to the login's. */
export function presenceFrom(conn: ClientConnection, fields: Fields, status: number): Presence {
  return {
    status,
    statusUri: str(fields.statusUri) || defaultStatusUri(status),
    statusTitle: str(fields.statusTitle),
    statusDesc: str(fields.statusDesc),
    features: fields.features !== undefined ? Number(fields.features) : conn.client.features,
    userAgent: conn.client.userAgent,
  };
}

/**
 * A contact's presence as this observer's version shows it: before 1.14 there are no x-statuses, so a
 * user-defined status is shown as the status table's base status of its URI (dnd → away).
 */
export function seenBy(ctx: ServerContext, conn: ClientConnection, observer: UserRecord, entry: ContactRecord): Presence {
  const p = presenceSeenBy(ctx.users.get(entry.email), observer, entry);
  return conn.minor >= XSTATUS_SINCE ? p : { ...p, status: baseStatus(p.status, p.statusUri) };
}

export function setPresence(ctx: ServerContext, user: UserRecord, presence: Presence): void {
  user.presence = presence;
  for (const [login, conn] of ctx.sessions) {
    if (login === user.login) continue;
    sendPresence(ctx, conn, user);
  }
}

/** USER_STATUS of `target` to one session that has it as a contact, unless it would repeat the last. */
export function sendPresence(ctx: ServerContext, conn: ClientConnection, target: UserRecord): void {
  const observer = conn.user;
  const entry = observer?.contacts.find((c) => c.email === target.login);
  if (!observer || !entry) return;
  const fields = userStatusFields(conn, target.login, seenBy(ctx, conn, observer, entry));
  const key = JSON.stringify(fields);
  if (conn.lastSeen.get(target.login) === key) return;
  conn.lastSeen.set(target.login, key);
  conn.send('USER_STATUS', fields);
}

/** USER_STATUS in the observer's form: short before 1.14, with x-status and user agent after. */
export function userStatusFields(conn: ClientConnection, login: string, seen: Presence): Fields {
  if (conn.minor < XSTATUS_SINCE) return { status: seen.status, user: login };
  return {
    status: seen.status,
    statusUri: seen.statusUri,
    statusTitle: seen.statusTitle,
    statusDesc: seen.statusDesc,
    user: login,
    features: seen.features,
    userAgent: seen.userAgent,
  };
}

const changeStatus: Handler = (ctx, conn, f) => {
  if (lacks(ctx, conn, f, ['status'])) return;
  const status = Number(f.fields.status) >>> 0;
  if (status === STATUS_OFFLINE || status === STATUS_UNDETERMINATED) {
    ctx.log(conn, 'warn', 'status', `CHANGE_STATUS to ${statusName(status)} ignored (disconnect to go offline)`, { packet: f.type });
    return;
  }
  const user = conn.user!;
  const p = presenceFrom(conn, f.fields, status);
  const xstatus = p.statusTitle || p.statusDesc ? ` "${p.statusTitle}"${p.statusDesc ? ` / "${p.statusDesc}"` : ''}` : '';
  ctx.log(conn, 'info', 'status', `status ${statusName(status)} ${p.statusUri}${xstatus}`, { packet: f.type });
  setPresence(ctx, user, p);
};

export const presenceHandlers: Handlers = { CHANGE_STATUS: changeStatus };

/** Offline storage: messages for users who are not logged in, sent at every login until DELETE_OFFLINE_MESSAGE. */
import type { ClientConnection } from '../connection.js';
import { deliveredText, offlineMessageFields } from '../message-fields.js';
import { newUidl, offlineRoom, type StoredMessage, type UserRecord } from '../users.js';
import { lacks, str, type Handler, type Handlers, type ServerContext } from './context.js';

/** False when the recipient's storage is full (by count or by bytes). */
export function storeOffline(recipient: UserRecord, message: StoredMessage): boolean {
  if (!offlineRoom(recipient, message)) return false;
  recipient.offline.push({ ...message, uidl: newUidl() });
  return true;
}

/** Every stored message, again at each login: only the client's DELETE_OFFLINE_MESSAGE removes one. */
export function sendOfflineMessages(ctx: ServerContext, conn: ClientConnection, user: UserRecord): void {
  for (const m of user.offline) {
    conn.send('OFFLINE_MESSAGE_ACK', offlineMessageFields(m, conn.minor));
    const shown = deliveredText(m, conn.minor);
    if (shown !== m.text) {
      ctx.log(conn, 'warn', 'offline', `offline message from ${m.from} delivered as ${JSON.stringify(shown)}: its encoding lacks characters of ${JSON.stringify(m.text)}`, {
        packet: 'OFFLINE_MESSAGE_ACK',
      });
    }
  }
}

const deleteOffline: Handler = (ctx, conn, f) => {
  if (lacks(ctx, conn, f, ['uidl'])) return;
  const user = conn.user!;
  const uidl = str(f.fields.uidl).toLowerCase();
  const index = user.offline.findIndex((m) => m.uidl === uidl);
  if (index === -1) {
    ctx.log(conn, 'warn', 'offline', `DELETE_OFFLINE_MESSAGE for unknown UIDL ${uidl} ignored`, { packet: f.type });
    return;
  }
  const [m] = user.offline.splice(index, 1);
  ctx.log(conn, 'info', 'offline', `offline message from ${m.from} delivered and deleted (${user.offline.length} left)`, { packet: f.type });
};

export const offlineHandlers: Handlers = { DELETE_OFFLINE_MESSAGE: deleteOffline };

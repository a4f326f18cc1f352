/** Message routing: MESSAGE to a session, offline storage or a rejection; MESSAGE_RECV; typing notifications. */
import { CONTACT_FLAG, MESSAGE_FLAG, MESSAGE_STATUS_CODE } from '../../protocol/constants.js';
import type { ClientConnection } from '../connection.js';
import { deliveredText, forwardedFlags, messageAckFields } from '../message-fields.js';
import type { ServerLogKind } from '../types.js';
import { normalizeLogin, type StoredMessage, type UserRecord } from '../users.js';
import { lacks, str, type Handler, type Handlers, type ServerContext } from './context.js';
import { storeOffline } from './offline.js';

const { DELIVERED, REJECTED_NOUSER, REJECTED_INTERR, REJECTED_LIMIT_EXCEEDED, REJECTED_DENY_OFFFLSH } = MESSAGE_STATUS_CODE;

const quote = (text: string): string => JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}…` : text);

const routeMessage: Handler = (ctx, conn, f) => {
  if (lacks(ctx, conn, f, ['flags', 'to', 'text'], ['MESSAGE_STATUS', { status: REJECTED_INTERR }])) return;
  const sender = conn.user!;
  const flags = Number(f.fields.flags) >>> 0;
  const multicast = (flags & MESSAGE_FLAG.MULTICAST) !== 0;
  const recipients = (multicast && Array.isArray(f.fields.recipients) ? (f.fields.recipients as string[]) : [str(f.fields.to)]).map(normalizeLogin);
  const message: StoredMessage = {
    uidl: '',
    from: sender.login,
    date: new Date(),
    flags: forwardedFlags(flags),
    text: str(f.fields.text),
    rtf: typeof f.fields.rtf === 'string' ? f.fields.rtf : undefined,
  };
  if (flags & MESSAGE_FLAG.NOTIFY) {
    for (const to of recipients) typing(ctx, conn, to);
    return;
  }
  if (flags & MESSAGE_FLAG.MULTICHAT) {
    conn.send('MESSAGE_STATUS', { status: REJECTED_NOUSER }, f.seq);
    ctx.log(conn, 'warn', 'unsupported', `multichat message to ${recipients.join(', ')} → MESSAGE_STATUS REJECTED_NOUSER`, { packet: f.type });
    return;
  }
  if (!multicast) {
    const status = deliver(ctx, conn, f.seq, recipients[0], message, true);
    if (status !== undefined) conn.send('MESSAGE_STATUS', { status }, f.seq);
    return;
  }
  // A multicast is acknowledged once, for all recipients, without waiting for their MESSAGE_RECV.
  const results = recipients.map((to) => deliver(ctx, conn, f.seq, to, message, false));
  conn.send('MESSAGE_STATUS', { status: results.length ? (results.find((r) => r !== DELIVERED) ?? DELIVERED) : REJECTED_NOUSER }, f.seq);
};

/**
 * Routes one message and returns its MESSAGE_STATUS code, or undefined when the status waits for
 * the recipient's MESSAGE_RECV (the official timing, reference §5.4) — only when `awaitRecv`.
 */
function deliver(
  ctx: ServerContext,
  sender: ClientConnection,
  seq: number,
  to: string,
  message: StoredMessage,
  awaitRecv: boolean,
): number | undefined {
  const recipient = ctx.users.get(to);
  const what = `${message.from} → ${to}: ${quote(message.text)}`;
  const log = (level: 'info' | 'warn', event: ServerLogKind, text: string) => ctx.log(sender, level, event, text, { packet: 'MESSAGE' });
  if (!recipient) {
    log('warn', 'message', `${what}: no such user → REJECTED_NOUSER`);
    return REJECTED_NOUSER;
  }
  if (recipient.contacts.some((c) => c.email === message.from && c.flags & CONTACT_FLAG.IGNORE)) {
    log('info', 'message', `${what}: dropped (the recipient ignores the sender)`);
    return DELIVERED;
  }
  const target = ctx.sessions.get(to);
  if (target) {
    const msgId = ctx.nextMsgId();
    target.send('MESSAGE_ACK', messageAckFields(message, target.minor, msgId));
    const waits = awaitRecv && !(message.flags & MESSAGE_FLAG.NORECV);
    if (waits) target.awaitingRecv.set(msgId, { sender, seq, message });
    const shown = deliveredText(message, target.minor);
    const lossy = shown !== message.text ? `, delivered as ${quote(shown)}: its encoding lacks characters` : '';
    log(lossy ? 'warn' : 'info', 'message', `${what} (online, v${target.protoText}, msg_id ${msgId}${waits ? ', awaiting MESSAGE_RECV' : ''}${lossy})`);
    return waits ? undefined : DELIVERED;
  }
  if (message.flags & (MESSAGE_FLAG.ALARM | MESSAGE_FLAG.FLASH)) {
    log('info', 'message', `${what}: wake-up/flash to an offline user → REJECTED_DENY_OFFFLSH`);
    return REJECTED_DENY_OFFFLSH;
  }
  if (!storeOffline(recipient, message)) {
    log('warn', 'message', `${what}: offline storage full → REJECTED_LIMIT_EXCEEDED`);
    return REJECTED_LIMIT_EXCEEDED;
  }
  log('info', 'offline', `${what} stored offline`);
  return DELIVERED;
}

/** Typing notifications go to online recipients only, without MESSAGE_RECV or MESSAGE_STATUS. */
function typing(ctx: ServerContext, conn: ClientConnection, to: string): void {
  const target = ctx.sessions.get(to);
  if (!target) return;
  const notice: StoredMessage = { uidl: '', from: conn.user!.login, date: new Date(), flags: MESSAGE_FLAG.NOTIFY | MESSAGE_FLAG.NORECV, text: ' ', rtf: ' ' };
  target.send('MESSAGE_ACK', messageAckFields(notice, target.minor, ctx.nextMsgId()));
  ctx.log(conn, 'info', 'typing', `${conn.user!.login} → ${to}: typing`, { packet: 'MESSAGE' });
}

/** At a session's close: messages it never acknowledged with MESSAGE_RECV go to the user's newer session, or offline storage. */
export function redeliverUnreceived(ctx: ServerContext, conn: ClientConnection, user: UserRecord): void {
  for (const [, pending] of conn.awaitingRecv) {
    const status = deliver(ctx, pending.sender, pending.seq, user.login, pending.message, true);
    if (status !== undefined) pending.sender.send('MESSAGE_STATUS', { status }, pending.seq);
  }
  conn.awaitingRecv.clear();
}

const messageRecv: Handler = (ctx, conn, f) => {
  if (lacks(ctx, conn, f, ['from', 'msgId'])) return;
  const msgId = Number(f.fields.msgId);
  const pending = conn.awaitingRecv.get(msgId);
  if (!pending || pending.message.from !== normalizeLogin(str(f.fields.from))) {
    ctx.log(conn, 'warn', 'message', `MESSAGE_RECV for unknown msg_id ${msgId} from ${str(f.fields.from)} ignored`, { packet: f.type });
    return;
  }
  conn.awaitingRecv.delete(msgId);
  pending.sender.send('MESSAGE_STATUS', { status: DELIVERED }, pending.seq);
  ctx.log(conn, 'info', 'message', `msg_id ${msgId} from ${pending.message.from} received → MESSAGE_STATUS DELIVERED to the sender`, {
    packet: f.type,
  });
};

export const messageHandlers: Handlers = { MESSAGE: routeMessage, MESSAGE_RECV: messageRecv };

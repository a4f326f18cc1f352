/** The contact list: CONTACT_LIST2 at login, ADD_CONTACT and MODIFY_CONTACT for contacts and groups, AUTHORIZE. */
import { CONTACT_FLAG, CONTACT_OPER_CODE, FIRST_CONTACT_ID, MESSAGE_FLAG, NO_CONTACT_ID } from '../../protocol/constants.js';
import type { Fields } from '../../protocol/fields.js';
import { encodeAuthBlob } from '../../protocol/formats.js';
import { GROUP_MASK, contactMaskFor } from '../../protocol/packets/index.js';
import type { ClientConnection } from '../connection.js';
import { messageAckFields } from '../message-fields.js';
import { MAX_GROUPS, normalizeLogin, type ContactRecord, type StoredMessage, type UserRecord } from '../users.js';
import { lacks, str, type Handler, type Handlers, type ServerContext } from './context.js';
import { storeOffline } from './offline.js';
import { seenBy, sendPresence, userStatusFields } from './presence.js';

/** MRA's stock authorization request text, used when the client's ADD_CONTACT carries none. */
const DEFAULT_AUTH_TEXT = 'Здравствуйте. Пожалуйста, добавьте меня в список ваших контактов.';

/** CONTACT_LIST2 for this session, with the mask of its version; also fixes its contact ids. */
export function contactList(ctx: ServerContext, conn: ClientConnection, user: UserRecord): Fields {
  const unicode = conn.minor >= 16 ? CONTACT_FLAG.UNICODE_NAME : 0;
  const groups = user.groups.map((g, i) => ({
    flags: (CONTACT_FLAG.GROUP | unicode | (g.removed ? CONTACT_FLAG.REMOVED : 0) | (g.flags & 0xff000000 || i << 24)) >>> 0,
    name: g.name,
  }));
  conn.contactIds = user.contacts.map((c) => c.email);
  const contacts = user.contacts.map((c) => {
    const seen = seenBy(ctx, conn, user, c);
    conn.lastSeen.set(c.email, JSON.stringify(userStatusFields(conn, c.email, seen)));
    return {
      flags: (c.flags | unicode) >>> 0,
      group: c.group,
      email: c.email,
      nick: c.nick,
      serverFlags: c.authorized ? 0 : 1,
      phones: c.phones,
      ...seen,
    };
  });
  return { status: 0, groupCount: groups.length, groupMask: GROUP_MASK, contactMask: contactMaskFor(conn.minor), groups, contacts };
}

const addContact: Handler = (ctx, conn, f) => {
  const ack = (status: number, contactId = NO_CONTACT_ID) => conn.send('ADD_CONTACT_ACK', { status, contactId }, f.seq);
  if (lacks(ctx, conn, f, ['flags', 'group', 'email'], ['ADD_CONTACT_ACK', { status: CONTACT_OPER_CODE.INVALID_INFO, contactId: NO_CONTACT_ID }])) return;
  const user = conn.user!;
  const flags = Number(f.fields.flags) >>> 0;
  const name = str(f.fields.name);
  const done = (level: 'info' | 'warn', text: string) => ctx.log(conn, level, 'contact', text, { packet: f.type });

  if (flags & CONTACT_FLAG.GROUP) {
    // Servers for ≤1.15 clients reportedly took a new group's name from the e-mail field (§10.2).
    const groupName = name || str(f.fields.email);
    if (user.groups.filter((g) => !g.removed).length >= MAX_GROUPS) {
      ack(CONTACT_OPER_CODE.GROUP_LIMIT);
      done('warn', `group "${groupName}" not added: ${MAX_GROUPS} groups already → GROUP_LIMIT`);
      return;
    }
    let index = user.groups.findIndex((g) => g.removed);
    if (index === -1) index = user.groups.length;
    user.groups[index] = { name: groupName, flags: (index << 24) >>> 0, removed: false };
    ack(CONTACT_OPER_CODE.SUCCESS, index);
    done('info', `group "${groupName}" added as group ${index}`);
    return;
  }
  if (flags & (CONTACT_FLAG.PHONE | CONTACT_FLAG.MULTICHAT)) {
    ack(CONTACT_OPER_CODE.ERROR);
    ctx.log(conn, 'warn', 'unsupported', `ADD_CONTACT of a ${flags & CONTACT_FLAG.PHONE ? 'phone contact' : 'multichat'} is not supported → ERROR`, {
      packet: f.type,
    });
    return;
  }
  const email = normalizeLogin(str(f.fields.email));
  const target = ctx.users.get(email);
  if (!email.includes('@') || email === user.login) {
    ack(CONTACT_OPER_CODE.INVALID_INFO);
    done('warn', `contact "${email}" not added: invalid address → INVALID_INFO`);
    return;
  }
  if (!target) {
    ack(CONTACT_OPER_CODE.NO_SUCH_USER);
    done('warn', `contact ${email} not added: no such user → NO_SUCH_USER`);
    return;
  }
  if (user.contacts.some((c) => c.email === email)) {
    ack(CONTACT_OPER_CODE.USER_EXISTS);
    done('warn', `contact ${email} not added: already in the list → USER_EXISTS`);
    return;
  }
  const group = validGroup(user, Number(f.fields.group));
  const contact: ContactRecord = {
    email,
    nick: name || email.split('@')[0],
    group,
    flags: contactFlags(flags),
    phones: str(f.fields.phones).trim(),
    authorized: false,
  };
  user.contacts.push(contact);
  conn.contactIds.push(email);
  // Not authorized yet: the observer sees nothing until AUTHORIZE, so there is nothing to announce.
  conn.lastSeen.set(email, JSON.stringify(userStatusFields(conn, email, seenBy(ctx, conn, user, contact))));
  const id = FIRST_CONTACT_ID + conn.contactIds.length - 1;
  ack(CONTACT_OPER_CODE.SUCCESS, id);
  if (flags & CONTACT_FLAG.SHADOW) {
    done('info', `${email} added as contact ${id} (shadow, to ignore: no authorization request)`);
    return;
  }
  done('info', `${email} added as contact ${id} in group ${group}; authorization requested`);
  requestAuthorization(ctx, conn, target, str(f.fields.authMessage));
};

/** The automatic authorization request to a newly added contact (reference §10.2, §10.4). */
function requestAuthorization(ctx: ServerContext, conn: ClientConnection, target: UserRecord, authMessage: string): void {
  const user = conn.user!;
  const text = authMessage.trim() ? authMessage.trim() : encodeAuthBlob({ nick: user.nick, text: DEFAULT_AUTH_TEXT }, 'utf16le');
  const request: StoredMessage = { uidl: '', from: user.login, date: new Date(), flags: MESSAGE_FLAG.AUTHORIZE | MESSAGE_FLAG.NORECV, text };
  const session = ctx.sessions.get(target.login);
  if (session) {
    session.send('MESSAGE_ACK', messageAckFields(request, session.minor, ctx.nextMsgId()));
    ctx.log(conn, 'info', 'authorize', `authorization request ${user.login} → ${target.login} (online)`, { packet: 'MESSAGE_ACK' });
  } else if (storeOffline(target, request)) {
    ctx.log(conn, 'info', 'authorize', `authorization request ${user.login} → ${target.login} stored offline`, { packet: 'OFFLINE_MESSAGE_ACK' });
  }
}

function validGroup(user: UserRecord, group: number): number {
  return Number.isInteger(group) && group < user.groups.length && !user.groups[group].removed ? group : 0;
}

const modifyContact: Handler = (ctx, conn, f) => {
  const ack = (status: number) => conn.send('MODIFY_CONTACT_ACK', { status }, f.seq);
  if (lacks(ctx, conn, f, ['id', 'flags'], ['MODIFY_CONTACT_ACK', { status: CONTACT_OPER_CODE.INVALID_INFO }])) return;
  const user = conn.user!;
  const id = Number(f.fields.id);
  const flags = Number(f.fields.flags) >>> 0;
  const name = str(f.fields.name);
  const done = (level: 'info' | 'warn', text: string) => ctx.log(conn, level, 'contact', text, { packet: f.type });

  if (id < FIRST_CONTACT_ID) {
    const g = user.groups[id];
    if (!g || g.removed) {
      ack(CONTACT_OPER_CODE.INVALID_INFO);
      done('warn', `MODIFY_CONTACT of unknown group ${id} → INVALID_INFO`);
      return;
    }
    if (flags & CONTACT_FLAG.REMOVED) {
      g.removed = true;
      for (const c of user.contacts) if (c.group === id) c.group = 0;
      ack(CONTACT_OPER_CODE.SUCCESS);
      done('info', `group ${id} "${g.name}" removed (its contacts moved to group 0)`);
      return;
    }
    if (name) g.name = name;
    if (flags & 0xff000000) g.flags = (flags & 0xff000000) >>> 0;
    ack(CONTACT_OPER_CODE.SUCCESS);
    done('info', `group ${id} is now "${g.name}"`);
    return;
  }
  // By the session's id; the e-mail of the request decides when the two disagree.
  const byId = conn.contactIds[id - FIRST_CONTACT_ID];
  const email = normalizeLogin(str(f.fields.email)) || byId;
  const index = user.contacts.findIndex((c) => c.email === email);
  if (index === -1) {
    ack(CONTACT_OPER_CODE.NO_SUCH_USER);
    done('warn', `MODIFY_CONTACT of unknown contact ${id} (${email || 'no e-mail'}) → NO_SUCH_USER`);
    return;
  }
  const contact = user.contacts[index];
  if (flags & CONTACT_FLAG.REMOVED) {
    user.contacts.splice(index, 1);
    ack(CONTACT_OPER_CODE.SUCCESS);
    done('info', `contact ${id} ${email} removed`);
    return;
  }
  if (name) contact.nick = name;
  if (f.fields.group !== undefined) contact.group = validGroup(user, Number(f.fields.group));
  contact.flags = contactFlags(flags);
  if (typeof f.fields.phones === 'string') contact.phones = f.fields.phones.trim();
  ack(CONTACT_OPER_CODE.SUCCESS);
  done('info', `contact ${id} ${email}: nick "${contact.nick}", group ${contact.group}, flags 0x${contact.flags.toString(16)}`);
  // Visibility lists changed what that contact sees of this user.
  const watcher = ctx.sessions.get(email);
  if (watcher) sendPresence(ctx, watcher, user);
};

const authorize: Handler = (ctx, conn, f) => {
  if (lacks(ctx, conn, f, ['email'])) return;
  const user = conn.user!;
  const who = normalizeLogin(str(f.fields.email));
  const entry = ctx.users.get(who)?.contacts.find((c) => c.email === user.login);
  if (!entry) {
    ctx.log(conn, 'warn', 'authorize', `AUTHORIZE ${who}: not a user who has ${user.login} in the contact list; ignored`, { packet: f.type });
    return;
  }
  entry.authorized = true;
  const session = ctx.sessions.get(who);
  if (session) {
    session.send('AUTHORIZE_ACK', { email: user.login });
    sendPresence(ctx, session, user);
  }
  ctx.log(conn, 'info', 'authorize', `${user.login} authorized ${who}${session ? ' → AUTHORIZE_ACK' : ' (offline: seen at next login)'}`, {
    packet: f.type,
  });
};

export const contactHandlers: Handlers = { ADD_CONTACT: addContact, MODIFY_CONTACT: modifyContact, AUTHORIZE: authorize };

/** Flags kept for a contact: the server derives REMOVED, GROUP and UNICODE_NAME itself. */
function contactFlags(flags: number): number {
  return (flags & ~(CONTACT_FLAG.REMOVED | CONTACT_FLAG.GROUP | CONTACT_FLAG.UNICODE_NAME)) >>> 0;
}


/**
 * What the reference server does with each packet: login, presence, message routing with offline
 * storage, contact list editing, authorization, search. Sockets are the connections' business; this
 * is the shared state (users, sessions) and the behaviour, one handler per packet type.
 */
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import type { DecodedFrame } from '../protocol/codec.js';
import {
  CAPABILITY,
  CONTACT_FLAG,
  CONTACT_OPER_CODE,
  FAILURE,
  FIRST_CONTACT_ID,
  LOGOUT_FLAG,
  MESSAGE_FLAG,
  NO_CONTACT_ID,
  STATUS_ONLINE,
} from '../protocol/constants.js';
import type { Fields } from '../protocol/fields.js';
import { encodeAuthBlob } from '../protocol/formats.js';
import type { FramerEvent } from '../protocol/framer.js';
import { GROUP_MASK, contactMaskFor } from '../protocol/packets.js';
import { ClientConnection, type ConnectionHooks } from './connection.js';
import { lacks, str, type CoreConfig, type Handler, type ServerContext } from './handlers/context.js';
import { deliver, messageHandlers } from './handlers/messages.js';
import { offlineHandlers, sendOfflineMessages, storeOffline } from './handlers/offline.js';
import { presenceFrom, presenceHandlers, seenBy, sendPresence, setPresence, statusName, userStatusFields } from './handlers/presence.js';
import { searchHandlers } from './handlers/search.js';
import { messageAckFields } from './message-fields.js';
import type { ServerLogEvent, ServerLogKind } from './types.js';
import {
  MAX_GROUPS,
  OFFLINE,
  STATUS_OFFLINE,
  STATUS_UNDETERMINATED,
  normalizeLogin,
  passwordMd5,
  type ContactRecord,
  type StoredMessage,
  type UserRecord,
} from './users.js';

/** MRA's stock authorization request text, used when the client's ADD_CONTACT carries none. */
const DEFAULT_AUTH_TEXT = 'Здравствуйте. Пожалуйста, добавьте меня в список ваших контактов.';

/** Packets a client may send before LOGIN_ACK (reference §5.3). */
const BEFORE_LOGIN = new Set(['HELLO', 'PING', 'STARTTLS', 'CAPABILITIES', 'LOGIN', 'LOGIN2', 'LOGIN3', 'DISCONNECT']);

/** Unimplemented requests that have an error reply, so the client does not wait for nothing. */
const ERROR_REPLIES: Record<string, [type: string, fields: Fields]> = {
  SMS: ['SMS_ACK', { status: 2 }],
  COMPRESS_SERVER_STREAM: ['FAILURE', { code: FAILURE.DECLINE, reason: 'Compression is not supported', failedMethod: 0x1089 }],
};

export class ServerCore implements ConnectionHooks, ServerContext {
  readonly connections = new Set<ClientConnection>();
  /** The logged-in connection of each user. */
  readonly sessions = new Map<string, ClientConnection>();
  private nextConnId = 1;
  private lastMsgId = 0;

  constructor(
    readonly users: Map<string, UserRecord>,
    readonly config: CoreConfig,
    private readonly emitLog: (e: ServerLogEvent) => void,
  ) {}

  accept(socket: net.Socket): void {
    const conn = new ClientConnection(socket, this.nextConnId++, this, this.config.pingPeriod);
    this.connections.add(conn);
    this.log(conn, 'info', 'connect', 'connected');
  }

  closeAll(reason: string): void {
    for (const conn of [...this.connections]) conn.destroy(reason);
  }

  nextMsgId(): number {
    return ++this.lastMsgId;
  }

  log(conn: ClientConnection | undefined, level: 'info' | 'warn', event: ServerLogKind, text: string, extra: Partial<ServerLogEvent> = {}): void {
    const e: ServerLogEvent = { time: new Date().toISOString(), level, event, text };
    if (conn) {
      e.conn = conn.id;
      e.remote = conn.remote;
      if (conn.user) e.user = conn.user.login;
      if (conn.protoText) e.proto = conn.protoText;
    }
    Object.assign(e, extra, { text });
    this.emitLog(e);
  }

  // ------------------------------------------------------------------------------- connection hooks

  onFrame(conn: ClientConnection, f: DecodedFrame): void {
    if (f.warnings.length) this.log(conn, 'warn', 'bad-frame', `${f.type}: ${f.warnings.join('; ')}`, { packet: f.type, warnings: f.warnings });
    const handler = this.handlers[f.type];
    if (!handler) {
      this.unsupported(conn, f);
      return;
    }
    if (!conn.loggedIn && !BEFORE_LOGIN.has(f.type)) {
      this.log(conn, 'warn', 'unsupported', `${f.type} before login ignored`, { packet: f.type });
      return;
    }
    try {
      handler(this, conn, f);
    } catch (e) {
      this.log(conn, 'warn', 'error', `internal error handling ${f.type}: ${(e as Error).message}`, { packet: f.type });
    }
  }

  onGarbage(conn: ClientConnection, ev: Extract<FramerEvent, { kind: 'garbage' }>): void {
    const size = ev.skipped !== undefined ? `${ev.bytes.length + ev.skipped}` : `${ev.bytes.length}`;
    this.log(conn, 'warn', 'garbage', `${size} bytes skipped: ${ev.reason}`);
  }

  onTls(conn: ClientConnection, text: string, ok: boolean): void {
    this.log(conn, ok ? 'info' : 'warn', 'tls', text);
  }

  onClose(conn: ClientConnection, reason: string, kind: 'disconnect' | 'timeout' | 'error'): void {
    this.connections.delete(conn);
    this.log(conn, kind === 'disconnect' ? 'info' : 'warn', kind, reason);
    const user = conn.user;
    if (!user || !conn.loggedIn) return;
    if (!conn.replaced && this.sessions.get(user.login) === conn) {
      this.sessions.delete(user.login);
      setPresence(this, user, OFFLINE);
    }
    // Messages never acknowledged with MESSAGE_RECV go to the user's newer session, or offline storage.
    for (const [, pending] of conn.awaitingRecv) {
      const status = deliver(this, pending.sender, pending.seq, user.login, pending.message, true);
      if (status !== undefined) pending.sender.send('MESSAGE_STATUS', { status }, pending.seq);
    }
    conn.awaitingRecv.clear();
  }

  // ------------------------------------------------------------------------------------ handlers

  private readonly handlers: Record<string, Handler> = {
    HELLO: (_, conn, f) => {
      const fields: Fields = { pingPeriod: this.config.pingPeriod };
      // ≥1.20 servers add their time (reference §7.1).
      if (conn.minor >= 20) Object.assign(fields, { serverTime: Math.floor(Date.now() / 1000), serverTimeNs: 0 });
      conn.send('HELLO_ACK', fields, f.seq);
      this.log(conn, 'info', 'hello', `HELLO → HELLO_ACK (ping every ${this.config.pingPeriod} s)`, { packet: f.type });
    },
    PING: (_, conn) => conn.pinged(),
    STARTTLS: (_, conn, f) => this.startTls(conn, f),
    CAPABILITIES: (_, conn, f) => {
      const caps = (Array.isArray(f.fields.capabilities) ? f.fields.capabilities : []) as Fields[];
      const names = caps.map((c) => CAPABILITY[Number(c.id)] ?? String(c.id));
      this.log(conn, 'info', 'hello', `CAPABILITIES [${names.join(', ')}] noted (nothing to negotiate)`, { packet: f.type });
    },
    LOGIN: (_, conn, f) => {
      if (conn.loggedIn) return this.login(conn, f);
      conn.send('LOGIN_REJ', { reason: 'Unsupported protocol version' }, f.seq);
      this.log(conn, 'warn', 'unsupported', 'legacy LOGIN (protocol ≤1.6) is not supported → LOGIN_REJ', { packet: f.type });
      conn.end('legacy LOGIN rejected');
    },
    LOGIN2: (_, conn, f) => this.login(conn, f),
    LOGIN3: (_, conn, f) => this.login(conn, f),
    DISCONNECT: (_, conn) => conn.end('client sent DISCONNECT'),
    ADD_CONTACT: (_, conn, f) => this.addContact(conn, f),
    MODIFY_CONTACT: (_, conn, f) => this.modifyContact(conn, f),
    AUTHORIZE: (_, conn, f) => this.authorize(conn, f),
    GET_MPOP_SESSION: (_, conn, f) => {
      conn.send('MPOP_SESSION', { status: 1, session: randomBytes(16).toString('hex') }, f.seq);
      this.log(conn, 'info', 'mpop', 'GET_MPOP_SESSION → MPOP_SESSION (a random key; no web service behind it)', { packet: f.type });
    },
    ...presenceHandlers,
    ...messageHandlers,
    ...offlineHandlers,
    ...searchHandlers,
  };

  private unsupported(conn: ClientConnection, f: DecodedFrame): void {
    const reply = ERROR_REPLIES[f.type];
    if (reply) conn.send(reply[0], reply[1], f.seq);
    this.log(conn, 'warn', 'unsupported', `${f.type} is not supported${reply ? ` → ${reply[0]}` : ''}`, { packet: f.type });
  }

  private startTls(conn: ClientConnection, f: DecodedFrame): void {
    const context = this.config.secureContext;
    if (!context || conn.tls || conn.loggedIn) {
      const reason = !context ? 'STARTTLS is not configured on this server' : conn.tls ? 'already in TLS' : 'STARTTLS after login';
      conn.send('FAILURE', { code: !context ? FAILURE.SERVICE_UNAVAILABLE : FAILURE.DECLINE, reason, failedMethod: 0x1086 }, f.seq);
      this.log(conn, 'info', 'tls', `STARTTLS → FAILURE (${reason})`, { packet: f.type });
      return;
    }
    conn.send('OK', {}, f.seq);
    conn.startTls(context);
    this.log(conn, 'info', 'tls', 'STARTTLS → OK, TLS handshake on the same socket', { packet: f.type });
  }

  // --------------------------------------------------------------------------------------- login

  private login(conn: ClientConnection, f: DecodedFrame): void {
    if (conn.loggedIn) {
      this.log(conn, 'warn', 'login-failed', `second ${f.type} on a logged-in connection ignored`, { packet: f.type });
      return;
    }
    const reject: [string, Fields] = ['LOGIN_REJ', { reason: 'Invalid login' }];
    if (lacks(this, conn, f, ['login', 'password'], reject)) {
      conn.end('login rejected');
      return;
    }
    const login = normalizeLogin(str(f.fields.login));
    const user = this.users.get(login);
    const problem = user ? passwordProblem(f, user) : 'no such user';
    if (!user || problem) {
      conn.send(...reject, f.seq);
      this.log(conn, 'warn', 'login-failed', `${login}: ${problem} → LOGIN_REJ "Invalid login"`, { packet: f.type, user: login });
      conn.end('login rejected');
      return;
    }
    const previous = this.sessions.get(login);
    if (previous) {
      previous.replaced = true;
      previous.send('LOGOUT', { reason: LOGOUT_FLAG.NO_RELOGIN });
      this.log(previous, 'info', 'kicked', `logged in again from ${conn.remote} → LOGOUT (0x10)`, { packet: 'LOGOUT' });
      previous.end('replaced by a newer login');
    }
    conn.user = user;
    conn.loggedIn = true;
    conn.client = { features: Number(f.fields.features ?? 0), userAgent: str(f.fields.userAgent) };
    this.sessions.set(login, conn);

    conn.send('LOGIN_ACK', {}, f.seq);
    conn.send('USER_INFO', {
      info: [
        { key: 'MRIM.NICKNAME', value: user.nick },
        { key: 'MESSAGES.TOTAL', value: '0' },
        { key: 'MESSAGES.UNREAD', value: '0' },
        { key: 'client.endpoint', value: conn.remote },
      ],
    });
    conn.send('CONTACT_LIST2', this.contactList(conn, user));
    conn.send('MAILBOX_STATUS', { unread: 0 });
    sendOfflineMessages(conn, user);

    // LOGIN3 carries no status: the client becomes visible with its CHANGE_STATUS (reference §5.2).
    const status = f.type === 'LOGIN2' ? loginStatus(Number(f.fields.status ?? STATUS_ONLINE)) : STATUS_OFFLINE;
    const presence = status === STATUS_OFFLINE ? OFFLINE : presenceFrom(conn, f.fields, status);
    const form = passwordForm(f);
    const offline = user.offline.length ? `, ${user.offline.length} offline message(s) sent` : '';
    const shown = f.type === 'LOGIN2' ? `status ${statusName(status)}` : 'status follows in CHANGE_STATUS';
    this.log(conn, 'info', 'login', `${login} logged in (${f.type}, ${form} password, ${shown}, ${user.contacts.length} contact(s)${offline})`, {
      packet: f.type,
    });
    setPresence(this, user, presence);
  }

  /** CONTACT_LIST2 for this session, with the mask of its version; also fixes its contact ids. */
  private contactList(conn: ClientConnection, user: UserRecord): Fields {
    const unicode = conn.minor >= 16 ? CONTACT_FLAG.UNICODE_NAME : 0;
    const groups = user.groups.map((g, i) => ({
      flags: (CONTACT_FLAG.GROUP | unicode | (g.removed ? CONTACT_FLAG.REMOVED : 0) | (g.flags & 0xff000000 || i << 24)) >>> 0,
      name: g.name,
    }));
    conn.contactIds = user.contacts.map((c) => c.email);
    const contacts = user.contacts.map((c) => {
      const seen = seenBy(this, conn, user, c);
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

  // -------------------------------------------------------------------------------- contact list

  private addContact(conn: ClientConnection, f: DecodedFrame): void {
    const ack = (status: number, contactId = NO_CONTACT_ID) => conn.send('ADD_CONTACT_ACK', { status, contactId }, f.seq);
    if (lacks(this, conn, f, ['flags', 'group', 'email'], ['ADD_CONTACT_ACK', { status: CONTACT_OPER_CODE.INVALID_INFO, contactId: NO_CONTACT_ID }])) return;
    const user = conn.user!;
    const flags = Number(f.fields.flags) >>> 0;
    const name = str(f.fields.name);
    const done = (level: 'info' | 'warn', text: string) => this.log(conn, level, 'contact', text, { packet: f.type });

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
      this.log(conn, 'warn', 'unsupported', `ADD_CONTACT of a ${flags & CONTACT_FLAG.PHONE ? 'phone contact' : 'multichat'} is not supported → ERROR`, {
        packet: f.type,
      });
      return;
    }
    const email = normalizeLogin(str(f.fields.email));
    const target = this.users.get(email);
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
    const group = this.validGroup(user, Number(f.fields.group));
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
    conn.lastSeen.set(email, JSON.stringify(userStatusFields(conn, email, seenBy(this, conn, user, contact))));
    const id = FIRST_CONTACT_ID + conn.contactIds.length - 1;
    ack(CONTACT_OPER_CODE.SUCCESS, id);
    if (flags & CONTACT_FLAG.SHADOW) {
      done('info', `${email} added as contact ${id} (shadow, to ignore: no authorization request)`);
      return;
    }
    done('info', `${email} added as contact ${id} in group ${group}; authorization requested`);
    this.requestAuthorization(conn, target, str(f.fields.authMessage));
  }

  /** The automatic authorization request to a newly added contact (reference §10.2, §10.4). */
  private requestAuthorization(conn: ClientConnection, target: UserRecord, authMessage: string): void {
    const user = conn.user!;
    const text = authMessage.trim() ? authMessage.trim() : encodeAuthBlob({ nick: user.nick, text: DEFAULT_AUTH_TEXT }, 'utf16le');
    const request: StoredMessage = { uidl: '', from: user.login, date: new Date(), flags: MESSAGE_FLAG.AUTHORIZE | MESSAGE_FLAG.NORECV, text };
    const session = this.sessions.get(target.login);
    if (session) {
      session.send('MESSAGE_ACK', messageAckFields(request, session.minor, this.nextMsgId()));
      this.log(conn, 'info', 'authorize', `authorization request ${user.login} → ${target.login} (online)`, { packet: 'MESSAGE_ACK' });
    } else if (storeOffline(target, request)) {
      this.log(conn, 'info', 'authorize', `authorization request ${user.login} → ${target.login} stored offline`, { packet: 'OFFLINE_MESSAGE_ACK' });
    }
  }

  private validGroup(user: UserRecord, group: number): number {
    return Number.isInteger(group) && group < user.groups.length && !user.groups[group].removed ? group : 0;
  }

  private modifyContact(conn: ClientConnection, f: DecodedFrame): void {
    const ack = (status: number) => conn.send('MODIFY_CONTACT_ACK', { status }, f.seq);
    if (lacks(this, conn, f, ['id', 'flags'], ['MODIFY_CONTACT_ACK', { status: CONTACT_OPER_CODE.INVALID_INFO }])) return;
    const user = conn.user!;
    const id = Number(f.fields.id);
    const flags = Number(f.fields.flags) >>> 0;
    const name = str(f.fields.name);
    const done = (level: 'info' | 'warn', text: string) => this.log(conn, level, 'contact', text, { packet: f.type });

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
    if (f.fields.group !== undefined) contact.group = this.validGroup(user, Number(f.fields.group));
    contact.flags = contactFlags(flags);
    if (typeof f.fields.phones === 'string') contact.phones = f.fields.phones.trim();
    ack(CONTACT_OPER_CODE.SUCCESS);
    done('info', `contact ${id} ${email}: nick "${contact.nick}", group ${contact.group}, flags 0x${contact.flags.toString(16)}`);
    // Visibility lists changed what that contact sees of this user.
    const watcher = this.sessions.get(email);
    if (watcher) sendPresence(this, watcher, user);
  }

  private authorize(conn: ClientConnection, f: DecodedFrame): void {
    if (lacks(this, conn, f, ['email'])) return;
    const user = conn.user!;
    const who = normalizeLogin(str(f.fields.email));
    const entry = this.users.get(who)?.contacts.find((c) => c.email === user.login);
    if (!entry) {
      this.log(conn, 'warn', 'authorize', `AUTHORIZE ${who}: not a user who has ${user.login} in the contact list; ignored`, { packet: f.type });
      return;
    }
    entry.authorized = true;
    const session = this.sessions.get(who);
    if (session) {
      session.send('AUTHORIZE_ACK', { email: user.login });
      sendPresence(this, session, user);
    }
    this.log(conn, 'info', 'authorize', `${user.login} authorized ${who}${session ? ' → AUTHORIZE_ACK' : ' (offline: seen at next login)'}`, {
      packet: f.type,
    });
  }

}

/** Flags kept for a contact: the server derives REMOVED, GROUP and UNICODE_NAME itself. */
function contactFlags(flags: number): number {
  return (flags & ~(CONTACT_FLAG.REMOVED | CONTACT_FLAG.GROUP | CONTACT_FLAG.UNICODE_NAME)) >>> 0;
}

/** A LOGIN2 status that makes no sense at login (offline, unknown) counts as ONLINE. */
function loginStatus(status: number): number {
  return status === STATUS_OFFLINE || status === STATUS_UNDETERMINATED ? STATUS_ONLINE : status >>> 0;
}

/**
 * Which password form the codec read (reference §7.2.1): a raw MD5 digest decodes as hex. `enc` names
 * the encoding only where it differs from the rule's default, which is hex from 1.22 and CP1251 before.
 */
function passwordForm(f: DecodedFrame): 'MD5' | 'plain' {
  return (f.enc.password ?? (f.minor >= 22 ? 'hex' : 'cp1251')) === 'hex' ? 'MD5' : 'plain';
}

/**
 * Accepted forms per packet and version: LOGIN2 plain, plus MD5 at ≥1.22 (PRPL, VAD); LOGIN3 plain at
 * 1.21 and MD5 from 1.22. Returns why the password is refused, or undefined.
 */
function passwordProblem(f: DecodedFrame, user: UserRecord): string | undefined {
  const form = passwordForm(f);
  const accepted = f.minor < 22 ? ['plain'] : f.type === 'LOGIN3' ? ['MD5'] : ['MD5', 'plain'];
  if (!accepted.includes(form)) return `${form} password where ${f.type} v1.${f.minor} sends ${accepted.join(' or ')}`;
  const given = str(f.fields.password);
  const ok = form === 'MD5' ? given.toLowerCase() === passwordMd5(user.password) : given === user.password;
  return ok ? undefined : 'wrong password';
}

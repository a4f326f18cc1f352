/**
 * What the reference server does with each packet: login, presence, message routing with offline
 * storage, contact list editing, authorization, search. Sockets are the connections' business; this
 * is the shared state (users, sessions) and the behaviour, one handler per packet type.
 */
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import type { DecodedFrame } from '../protocol/codec.js';
import { CAPABILITY, FAILURE, LOGOUT_FLAG, STATUS_ONLINE } from '../protocol/constants.js';
import type { Fields } from '../protocol/fields.js';
import type { FramerEvent } from '../protocol/framer.js';
import { ClientConnection, type ConnectionHooks } from './connection.js';
import { contactHandlers, contactList } from './handlers/contacts.js';
import { lacks, str, type CoreConfig, type Handler, type ServerContext } from './handlers/context.js';
import { deliver, messageHandlers } from './handlers/messages.js';
import { offlineHandlers, sendOfflineMessages } from './handlers/offline.js';
import { presenceFrom, presenceHandlers, setPresence, statusName } from './handlers/presence.js';
import { searchHandlers } from './handlers/search.js';
import type { ServerLogEvent, ServerLogKind } from './types.js';
import { OFFLINE, STATUS_OFFLINE, STATUS_UNDETERMINATED, normalizeLogin, passwordMd5, type UserRecord } from './users.js';

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
    GET_MPOP_SESSION: (_, conn, f) => {
      conn.send('MPOP_SESSION', { status: 1, session: randomBytes(16).toString('hex') }, f.seq);
      this.log(conn, 'info', 'mpop', 'GET_MPOP_SESSION → MPOP_SESSION (a random key; no web service behind it)', { packet: f.type });
    },
    ...presenceHandlers,
    ...messageHandlers,
    ...offlineHandlers,
    ...contactHandlers,
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
    conn.send('CONTACT_LIST2', contactList(this, conn, user));
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

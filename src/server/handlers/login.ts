/** Session setup: HELLO, STARTTLS, CAPABILITIES, LOGIN2/LOGIN3 (legacy LOGIN refused), PING, DISCONNECT, MPOP. */
import { randomBytes } from 'node:crypto';
import type { DecodedFrame } from '../../protocol/codec.js';
import { CAPABILITY, FAILURE, LOGOUT_FLAG, STATUS_ONLINE, STATUS_UNDETERMINATED } from '../../protocol/constants.js';
import type { Fields } from '../../protocol/fields.js';
import { passwordMd5 } from '../../protocol/formats.js';
import { packetByName, type PacketName } from '../../protocol/packets/index.js';
import { OFFLINE, STATUS_OFFLINE, normalizeLogin, type UserRecord } from '../users.js';
import { contactList } from './contacts.js';
import { lacks, str, type Handler, type Handlers } from './context.js';
import { sendOfflineMessages } from './offline.js';
import { presenceFrom, setPresence, statusName } from './presence.js';

const startTls: Handler = (ctx, conn, f) => {
  const context = ctx.config.secureContext;
  if (!context || conn.tls || conn.loggedIn) {
    const reason = !context ? 'STARTTLS is not configured on this server' : conn.tls ? 'already in TLS' : 'STARTTLS after login';
    conn.send('FAILURE', { code: !context ? FAILURE.SERVICE_UNAVAILABLE : FAILURE.DECLINE, reason, failedMethod: packetByName('STARTTLS')!.code }, f.seq);
    ctx.log(conn, 'info', 'tls', `STARTTLS → FAILURE (${reason})`, { packet: f.type });
    return;
  }
  conn.send('OK', {}, f.seq);
  conn.startTls(context);
  ctx.log(conn, 'info', 'tls', 'STARTTLS → OK, TLS handshake on the same socket', { packet: f.type });
};

const logIn: Handler = (ctx, conn, f) => {
  if (conn.loggedIn) {
    ctx.log(conn, 'warn', 'login-failed', `second ${f.type} on a logged-in connection ignored`, { packet: f.type });
    return;
  }
  const reject: [PacketName, Fields] = ['LOGIN_REJ', { reason: 'Invalid login' }];
  if (lacks(ctx, conn, f, ['login', 'password'], reject)) {
    conn.end('login rejected');
    return;
  }
  const login = normalizeLogin(str(f.fields.login));
  const user = ctx.users.get(login);
  const problem = user ? passwordProblem(f, user) : 'no such user';
  if (!user || problem) {
    conn.send(...reject, f.seq);
    ctx.log(conn, 'warn', 'login-failed', `${login}: ${problem} → LOGIN_REJ "Invalid login"`, { packet: f.type, user: login });
    conn.end('login rejected');
    return;
  }
  const previous = ctx.sessions.get(login);
  if (previous) {
    previous.replaced = true;
    previous.send('LOGOUT', { reason: LOGOUT_FLAG.NO_RELOGIN });
    ctx.log(previous, 'info', 'kicked', `logged in again from ${conn.remote} → LOGOUT (0x10)`, { packet: 'LOGOUT' });
    previous.end('replaced by a newer login');
  }
  conn.user = user;
  conn.loggedIn = true;
  conn.client = { features: Number(f.fields.features ?? 0), userAgent: str(f.fields.userAgent) };
  ctx.sessions.set(login, conn);

  conn.send('LOGIN_ACK', {}, f.seq);
  conn.send('USER_INFO', {
    info: [
      { key: 'MRIM.NICKNAME', value: user.nick },
      { key: 'MESSAGES.TOTAL', value: '0' },
      { key: 'MESSAGES.UNREAD', value: '0' },
      { key: 'client.endpoint', value: conn.remote },
    ],
  });
  conn.send('CONTACT_LIST2', contactList(ctx, conn, user));
  conn.send('MAILBOX_STATUS', { unread: 0 });
  sendOfflineMessages(ctx, conn, user);

  // LOGIN3 carries no status: the client becomes visible with its CHANGE_STATUS (reference §5.2).
  const status = f.type === 'LOGIN2' ? loginStatus(Number(f.fields.status ?? STATUS_ONLINE)) : STATUS_OFFLINE;
  const presence = status === STATUS_OFFLINE ? OFFLINE : presenceFrom(conn, f.fields, status);
  const form = passwordForm(f);
  const offline = user.offline.length ? `, ${user.offline.length} offline message(s) sent` : '';
  const shown = f.type === 'LOGIN2' ? `status ${statusName(status)}` : 'status follows in CHANGE_STATUS';
  ctx.log(conn, 'info', 'login', `${login} logged in (${f.type}, ${form} password, ${shown}, ${user.contacts.length} contact(s)${offline})`, {
    packet: f.type,
  });
  setPresence(ctx, user, presence);
};

export const loginHandlers: Handlers = {
  HELLO: (ctx, conn, f) => {
    const fields: Fields = { pingPeriod: ctx.config.pingPeriod };
    // ≥1.20 servers add their time (reference §7.1).
    if (conn.minor >= 20) Object.assign(fields, { serverTime: Math.floor(Date.now() / 1000), serverTimeNs: 0 });
    conn.send('HELLO_ACK', fields, f.seq);
    ctx.log(conn, 'info', 'hello', `HELLO → HELLO_ACK (ping every ${ctx.config.pingPeriod} s)`, { packet: f.type });
  },
  PING: (_, conn) => conn.pinged(),
  STARTTLS: startTls,
  CAPABILITIES: (ctx, conn, f) => {
    const caps = (Array.isArray(f.fields.capabilities) ? f.fields.capabilities : []) as Fields[];
    const names = caps.map((c) => CAPABILITY[Number(c.id)] ?? String(c.id));
    ctx.log(conn, 'info', 'hello', `CAPABILITIES [${names.join(', ')}] noted (nothing to negotiate)`, { packet: f.type });
  },
  LOGIN: (ctx, conn, f) => {
    if (conn.loggedIn) return logIn(ctx, conn, f);
    conn.send('LOGIN_REJ', { reason: 'Unsupported protocol version' }, f.seq);
    ctx.log(conn, 'warn', 'unsupported', 'legacy LOGIN (protocol ≤1.6) is not supported → LOGIN_REJ', { packet: f.type });
    conn.end('legacy LOGIN rejected');
  },
  LOGIN2: logIn,
  LOGIN3: logIn,
  DISCONNECT: (_, conn) => conn.end('client sent DISCONNECT'),
  GET_MPOP_SESSION: (ctx, conn, f) => {
    conn.send('MPOP_SESSION', { status: 1, session: randomBytes(16).toString('hex') }, f.seq);
    ctx.log(conn, 'info', 'mpop', 'GET_MPOP_SESSION → MPOP_SESSION (a random key; no web service behind it)', { packet: f.type });
  },
};

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

/**
 * The reference server's core: shared state (users, sessions), the connection hooks, the log, and the
 * dispatch of each frame to the handler of its packet type (one module per area in handlers/), with
 * the lockout of addresses whose logins keep failing. Sockets are the connections' business.
 */
import type net from 'node:net';
import { FailureBackoff, type BackoffOptions } from '../net/backoff.js';
import type { DecodedFrame } from '../protocol/codec.js';
import { packetByCode, type PacketName } from '../protocol/packets/index.js';
import type { FramerEvent } from '../protocol/framer.js';
import { ClientConnection, type ConnectionHooks, type ConnectionLimits } from './connection.js';
import { contactHandlers } from './handlers/contacts.js';
import type { CoreConfig, Handler, Handlers, ServerContext } from './handlers/context.js';
import { loginHandlers } from './handlers/login.js';
import { messageHandlers, redeliverUnreceived } from './handlers/messages.js';
import { offlineHandlers } from './handlers/offline.js';
import { presenceHandlers, setPresence } from './handlers/presence.js';
import { searchHandlers } from './handlers/search.js';
import type { ServerLogEvent, ServerLogKind } from './types.js';
import { OFFLINE, type UserRecord } from './users.js';

/** The handler of each packet type the server serves, by packet name. */
const HANDLERS: Handlers = {
  ...loginHandlers,
  ...presenceHandlers,
  ...messageHandlers,
  ...offlineHandlers,
  ...contactHandlers,
  ...searchHandlers,
};

export class ServerCore implements ConnectionHooks, ServerContext {
  readonly connections = new Set<ClientConnection>();
  /** The logged-in connection of each user. */
  readonly sessions = new Map<string, ClientConnection>();
  private lastConnId = 0;
  private lastMsgId = 0;
  private readonly loginBackoff: FailureBackoff;

  constructor(
    readonly users: Map<string, UserRecord>,
    readonly config: CoreConfig,
    private readonly emitLog: (e: ServerLogEvent) => void,
    private readonly limits: ConnectionLimits & { loginBackoff?: BackoffOptions },
  ) {
    this.loginBackoff = new FailureBackoff(limits.loginBackoff);
  }

  accept(socket: net.Socket): void {
    const conn = new ClientConnection(socket, this.nextConnId(), this, this.config.pingPeriod, this.limits);
    this.connections.add(conn);
    this.log(conn, 'info', 'connect', 'connected');
  }

  closeAll(reason: string): void {
    for (const conn of [...this.connections]) conn.destroy(reason);
  }

  nextMsgId(): number {
    return ++this.lastMsgId;
  }

  /** One counter for MRIM and redirector connections, so every log line has its number. */
  nextConnId(): number {
    return ++this.lastConnId;
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
    if (f.notes.length) this.log(conn, 'info', 'note', `${f.type}: ${f.notes.join('; ')}`, { packet: f.type, notes: f.notes });
    const def = packetByCode(f.msg);
    const handler = def && (HANDLERS[def.name as PacketName] as Handler | undefined);
    if (!handler) {
      this.unsupported(conn, f);
      return;
    }
    if (!conn.loggedIn && !def.session?.beforeLogin) {
      this.log(conn, 'warn', 'unsupported', `${f.type} before login ignored`, { packet: f.type });
      return;
    }
    const loginAttempt = def.session?.login !== undefined && !conn.loggedIn;
    if (loginAttempt && this.lockedOut(conn, f)) return;
    try {
      handler(this, conn, f);
    } catch (e) {
      this.log(conn, 'warn', 'error', `internal error handling ${f.type}: ${(e as Error).message}`, { packet: f.type });
    }
    // A login packet that did not log the connection in failed, whatever the reason.
    if (loginAttempt) this.countLogin(conn);
  }

  /** While an address is locked out its logins are refused unchecked. */
  private lockedOut(conn: ClientConnection, f: DecodedFrame): boolean {
    const wait = this.loginBackoff.lockedFor(conn.address);
    if (wait === 0) return false;
    const seconds = Math.ceil(wait / 1000);
    conn.send('LOGIN_REJ', { reason: `Too many failed logins, try again in ${seconds} s` }, f.seq);
    this.log(conn, 'warn', 'login-failed', `${f.type} refused unchecked: ${conn.address} is locked out for ${seconds} s after repeated failed logins → LOGIN_REJ`, { packet: f.type });
    conn.end('login refused (locked out)');
    return true;
  }

  private countLogin(conn: ClientConnection): void {
    if (conn.loggedIn) return this.loginBackoff.succeeded(conn.address);
    const locked = this.loginBackoff.failed(conn.address);
    if (locked > 0) this.log(conn, 'warn', 'limit', `repeated failed logins from ${conn.address}: its logins are refused unchecked for ${locked / 1000} s`);
  }

  onLossySend(conn: ClientConnection, type: PacketName, notes: string[]): void {
    this.log(conn, 'warn', 'note', `${type} to v${conn.protoText}: ${notes.join('; ')}`, { packet: type, notes });
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
    redeliverUnreceived(this, conn, user);
  }

  private unsupported(conn: ClientConnection, f: DecodedFrame): void {
    // The table's error reply, so the client does not wait for nothing.
    const reply = packetByCode(f.msg)?.session?.errorReply;
    if (reply) conn.send(reply.type as PacketName, reply.fields, f.seq);
    this.log(conn, 'warn', 'unsupported', `${f.type} is not supported${reply ? ` → ${reply.type}` : ''}`, { packet: f.type });
  }
}

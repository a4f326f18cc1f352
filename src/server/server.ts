/**
 * MrimServer: the reference MRIM server as a library — the MRIM listener (with its cap on connections),
 * the redirector, the user directory and its persistence. The behaviour per packet lives in handlers/,
 * dispatched by ServerCore.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { ServerCore } from './core.js';
import { createRedirector } from './redirector.js';
import type { ServerAddress, ServerLimits, ServerLogEvent, ServerOptions } from './types.js';
import { DEMO_USERS, mergeUsers, readUsersFile, toUserRecord, withMutualContacts, writeUsersFile, type UserRecord } from './users.js';

export const DEFAULT_PORT = 2041;
export const DEFAULT_REDIRECTOR_PORT = 2042;
export const DEFAULT_PING_PERIOD = 30;
/** The HELLO_ACK period is a whole number of seconds; clients refuse more than an hour (pidgin-mra). */
const MAX_PING_PERIOD = 3600;
/**
 * A login packet is a few hundred bytes and its replies fit in a few hundred KiB even for a large
 * contact list, so these stop abuse long before they stop a client; the cap keeps the worst case
 * (every connection holding its pre-login maximum) near 10,000 × 16 KiB.
 */
export const DEFAULT_LIMITS: Required<Omit<ServerLimits, 'loginBackoff'>> = {
  maxConnections: 10_000,
  maxPreLoginBytes: 16 * 1024,
  maxUnreadBytes: 8 * 1024 * 1024,
};
/** Refused connections are logged once in this period at most, with their count. */
const DROP_LOG_INTERVAL_MS = 1000;

function checkPort(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new RangeError(`${name} must be a port number 0–65535, not ${value}`);
  return value;
}

/** Listens; a port taken, not allowed or an address this machine lacks is an Error saying so (its `code` kept). */
export function listenOn(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : err.message;
      // The code stays on the error: callers fall back to other ports on EADDRINUSE (mrimtap demo).
      reject(Object.assign(new Error(`cannot listen on ${host}:${port}: ${why}`), { code: err.code }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

export function closeServer(server: net.Server | undefined): Promise<void> {
  return new Promise((resolve) => (server?.listening ? server.close(() => resolve()) : resolve()));
}

export class MrimServer extends EventEmitter {
  /** The user directory (accounts, contacts, offline messages, presence), live. */
  readonly users = new Map<string, UserRecord>();
  /** Where the users came from: the options, the users file, or the built-in demo users. */
  readonly usersSource: 'options' | 'file' | 'demo';
  private readonly host: string;
  private readonly port: number;
  private readonly redirectorPort: number | false;
  private readonly usersFile?: string;
  private readonly maxConnections: number;
  private readonly core: ServerCore;
  private droppedSinceLog = 0;
  private dropLogTimer?: NodeJS.Timeout;
  private mrim?: net.Server;
  private redirector?: ReturnType<typeof createRedirector>;
  private bound?: ServerAddress;
  private closing?: Promise<void>;

  /** Throws a readable Error for bad options, an unreadable users file or an unusable certificate. */
  constructor(opts: ServerOptions = {}) {
    super();
    this.host = opts.host ?? '127.0.0.1';
    this.port = checkPort(opts.port ?? DEFAULT_PORT, 'port');
    this.redirectorPort = opts.redirectorPort === false ? false : checkPort(opts.redirectorPort ?? DEFAULT_REDIRECTOR_PORT, 'redirectorPort');
    const pingPeriod = opts.pingPeriod ?? DEFAULT_PING_PERIOD;
    if (!Number.isInteger(pingPeriod) || pingPeriod < 1 || pingPeriod > MAX_PING_PERIOD) {
      throw new RangeError(`pingPeriod must be a whole number of seconds 1–${MAX_PING_PERIOD}, not ${pingPeriod}`);
    }
    this.usersFile = opts.usersFile;

    const given = (opts.users ?? []).map((u, i) => toUserRecord(u, `users[${i}]`));
    const seen = new Set<string>();
    for (const u of given) {
      if (seen.has(u.login)) throw new Error(`users: ${u.login} is given twice`);
      seen.add(u.login);
    }
    const fromFile = opts.usersFile ? readUsersFile(opts.usersFile) : undefined;
    if (fromFile) {
      for (const u of fromFile) this.users.set(u.login, u);
      mergeUsers(this.users, given);
      this.usersSource = 'file';
    } else if (given.length) {
      for (const u of given) this.users.set(u.login, u);
      this.usersSource = 'options';
    } else {
      withMutualContacts(DEMO_USERS).forEach((u, i) => this.users.set(u.login.toLowerCase(), toUserRecord(u, `demo user #${i + 1}`)));
      this.usersSource = 'demo';
    }

    let secureContext: tls.SecureContext | undefined;
    if (opts.tls) {
      try {
        secureContext = tls.createSecureContext({ cert: opts.tls.cert, key: opts.tls.key });
      } catch (e) {
        throw new Error(`unusable TLS certificate or key: ${(e as Error).message}`);
      }
    }
    const limits = { ...DEFAULT_LIMITS, ...opts.limits };
    for (const key of Object.keys(DEFAULT_LIMITS) as Array<keyof typeof DEFAULT_LIMITS>) {
      if (!Number.isInteger(limits[key]) || limits[key] < 1) throw new RangeError(`limits.${key} must be a whole number ≥ 1, not ${limits[key]}`);
    }
    this.maxConnections = limits.maxConnections;
    const log = (e: ServerLogEvent) => {
      opts.log?.(e);
      this.emit('log', e);
    };
    this.core = new ServerCore(this.users, { pingPeriod, secureContext }, log, limits);
  }

  /** The addresses listened on (the configured ones before `listen()`). */
  get address(): ServerAddress {
    if (this.bound) return { ...this.bound };
    return { host: this.host, port: this.port, ...(this.redirectorPort !== false ? { redirectorPort: this.redirectorPort } : {}) };
  }

  async listen(): Promise<ServerAddress> {
    if (this.bound) return this.address;
    if (this.closing) throw new Error('MrimServer is closed');
    const mrim = net.createServer({ noDelay: true }, (socket) => this.core.accept(socket));
    // Node closes connections over the cap on arrival and tells us with 'drop'.
    mrim.maxConnections = this.maxConnections;
    mrim.on('drop', () => this.onDrop());
    this.mrim = mrim;
    try {
      const port = await listenOn(mrim, this.port, this.host);
      const bound: ServerAddress = { host: this.host, port };
      if (this.redirectorPort !== false) {
        this.redirector = createRedirector(
          () => port,
          () => this.core.nextConnId(),
          (e) =>
            this.core.log(undefined, 'info', 'redirect', `answered "${e.answer}"${e.request ? ` (client sent "${e.request}")` : ''}`, {
              conn: e.conn,
              remote: e.remote,
            }),
        );
        bound.redirectorPort = await listenOn(this.redirector.server, this.redirectorPort, this.host);
      }
      this.bound = bound;
    } catch (e) {
      await Promise.all([closeServer(mrim), closeServer(this.redirector?.server)]);
      throw e;
    }
    const where = `MRIM ${this.host}:${this.bound.port}${this.bound.redirectorPort !== undefined ? `, redirector ${this.host}:${this.bound.redirectorPort}` : ''}`;
    this.core.log(undefined, 'info', 'listening', `listening: ${where}`);
    return this.address;
  }

  /** A connection over the cap was closed: logged at once, then at most once per interval with the count. */
  private onDrop(): void {
    this.droppedSinceLog++;
    if (this.dropLogTimer) return;
    const flush = () => {
      if (this.droppedSinceLog === 0) {
        this.dropLogTimer = undefined;
        return;
      }
      const n = this.droppedSinceLog;
      this.droppedSinceLog = 0;
      this.core.log(undefined, 'warn', 'limit', `${n} connection${n === 1 ? '' : 's'} refused: ${this.maxConnections} clients connected already (the limit)`);
      this.dropLogTimer = setTimeout(flush, DROP_LOG_INTERVAL_MS);
      this.dropLogTimer.unref();
    };
    flush();
  }

  /** Closes the listeners and every session, then writes the users file when one was given. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.dropLogTimer);
      this.core.closeAll('server shutting down');
      this.redirector?.closeAll();
      await Promise.all([closeServer(this.mrim), closeServer(this.redirector?.server)]);
      if (this.usersFile) writeUsersFile(this.usersFile, this.users.values());
      this.core.log(undefined, 'info', 'closed', `stopped${this.usersFile ? `; users saved to ${this.usersFile}` : ''}`);
    })();
    return this.closing;
  }
}

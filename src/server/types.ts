/** The public shapes of the reference server: users as given, options, limits, and its log events. */
import type { BackoffOptions } from '../net/backoff.js';

export interface ServerContact {
  email: string;
  nick?: string;
  /** Group index in the owner's `groups` (default 0). */
  group?: number;
  /** Contact flags (reference §17.6): INVISIBLE 0x4, VISIBLE 0x8, IGNORE 0x10… */
  flags?: number;
}

export interface ServerUser {
  login: string;
  password: string;
  nick?: string;
  groups?: string[];
  contacts?: ServerContact[];
  firstName?: string;
  lastName?: string;
}

export interface ServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 2041; 0 = ephemeral. */
  port?: number;
  /** Default 2042; 0 = ephemeral; false = no redirector. */
  redirectorPort?: number | false;
  /** Without users (and without a users file) the server starts with a few demo users. */
  users?: ServerUser[];
  /** JSON users file: loaded when it exists, written back (with the server's state) on a clean close. */
  usersFile?: string;
  /** Seconds, default 30; a client without a PING for 1.5 × this is disconnected. */
  pingPeriod?: number;
  /** Enables STARTTLS (PEM certificate and key); without it STARTTLS is answered with FAILURE. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** What one client (or many) may take of the server; defaults in DEFAULT_LIMITS (server.ts). */
  limits?: ServerLimits;
  /** One structured event per session event (also emitted as `'log'`). */
  log?: (e: ServerLogEvent) => void;
}

export interface ServerLimits {
  /** Client connections at once; more are closed on arrival (and logged, once a second at most). */
  maxConnections?: number;
  /** Bytes a connection may hold in unfinished frames (or garbage) before it logs in; past that it is dropped. */
  maxPreLoginBytes?: number;
  /** Bytes of replies a client may leave unread; one that reads nothing past that is dropped. */
  maxUnreadBytes?: number;
  /** Lockout of an address after failed logins (FailureBackoff's defaults otherwise). */
  loginBackoff?: BackoffOptions;
}

export interface ServerAddress {
  host: string;
  port: number;
  redirectorPort?: number;
}

export type ServerLogKind =
  | 'listening'
  | 'connect'
  | 'redirect'
  | 'hello'
  | 'tls'
  | 'login'
  | 'login-failed'
  | 'kicked'
  | 'status'
  | 'message'
  | 'typing'
  | 'offline'
  | 'contact'
  | 'authorize'
  | 'search'
  | 'mpop'
  | 'unsupported'
  | 'bad-frame'
  | 'note'
  | 'garbage'
  | 'timeout'
  | 'limit'
  | 'disconnect'
  | 'error'
  | 'closed';

export interface ServerLogEvent {
  /** ISO 8601. */
  time: string;
  level: 'info' | 'warn';
  event: ServerLogKind;
  /** Connection number (per server, from 1). */
  conn?: number;
  /** Peer address `ip:port`. */
  remote?: string;
  /** Login of the session, once known. */
  user?: string;
  /** Protocol version the client announced, e.g. `1.8`. */
  proto?: string;
  /** Packet that caused the event. */
  packet?: string;
  /** One readable line. */
  text: string;
  /** Decoder warnings of the frame, when there were any. */
  warnings?: string[];
  /** Decoder notes of the frame (known quirks, encoding fallbacks), or what could not be delivered as sent. */
  notes?: string[];
}

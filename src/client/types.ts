/** The typed objects the client hands out: options, contact list, events, operation results. */
import type { DecodedFrame } from '../protocol/codec.js';
import type { Direction } from '../protocol/fields.js';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { MrimClientError } from './errors.js';
import type { ProfileName } from './profiles.js';
import type { StatusName } from './status.js';
import type { Endpoint } from '../net/endpoint.js';

export interface ReconnectOptions {
  /** Attempts after a lost connection before giving up (default 5). */
  retries?: number;
  /** First delay; doubled per attempt up to `maxDelayMs` (defaults 1000 / 30000). */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export interface MrimClientOptions {
  /** The MRIM server to connect to, `host:port` or an endpoint. Either this or `redirector`. */
  server?: string | Endpoint;
  /** Ask this redirector (balancer) for the server address first. */
  redirector?: string | Endpoint;
  /** SOCKS5 proxy for every connection: `socks5://[user:pass@]host:port`. */
  socks?: string;
  login: string;
  password: string;
  /** Protocol profile (default 1.21). */
  proto?: ProfileName;
  /**
   * Ask for STARTTLS (profiles ≥1.22). `true` verifies the certificate against the system CAs;
   * pass node:tls options for a private CA (`ca`) or `rejectUnauthorized: false`.
   * If the server answers FAILURE the session continues in clear.
   */
  tls?: boolean | TlsConnectionOptions;
  /** Presence after login (default online). */
  status?: StatusName;
  statusTitle?: string;
  statusDescription?: string;
  /** Connect (each TCP connection, proxy handshake included) limit; default 10 s. */
  connectTimeoutMs?: number;
  /** How long to wait for any answer of the server; default 15 s. */
  responseTimeoutMs?: number;
  /** Reconnect with backoff after a lost connection (never after LOGIN_REJ or LOGOUT 0x10). */
  reconnect?: boolean | ReconnectOptions;
  /** Feature flags announced in the login (§17.3); default RTF_MESSAGE. */
  features?: number;
  /** Formatted user agent (§17.4) and free-form client description (§7.2). */
  userAgent?: string;
  description?: string;
  lang?: string;
}

export interface ContactStatus {
  /** Named presence: online, away, invisible, dnd, chat, status_N, offline, or (search results) unknown. */
  name: StatusName | 'offline' | 'unknown';
  /** Wire status value. */
  value: number;
  uri?: string;
  title?: string;
  description?: string;
  features?: number;
  userAgent?: string;
}

export interface Contact {
  /** Server-side id: 20 + index in CONTACT_LIST2, or the id ADD_CONTACT_ACK returned. */
  id: number;
  email: string;
  nick: string;
  group: number;
  flags: number;
  serverFlags: number;
  /** False while the contact has not authorized you (server flag NOT_AUTHORIZED). */
  authorized: boolean;
  phones: string;
  status: ContactStatus;
}

export interface Group {
  /** Index in CONTACT_LIST2 (0…19). */
  id: number;
  name: string;
  flags: number;
}

export interface ContactList {
  groups: Group[];
  contacts: Contact[];
}

export interface IncomingMessage {
  from: string;
  text: string;
  /** `message` for chat text; the rest follow the flag that marks them (§8.2 dispatch order). */
  kind: 'message' | 'contacts' | 'sms' | 'sms-report' | 'system' | 'alarm';
  /** Unpacked RTF document when the sender attached one. */
  rtf?: string;
  flags: number;
  /** Server id of this delivery (MESSAGE_ACK), absent for offline messages. */
  msgId?: number;
  offline: boolean;
  /** When the server stored it (offline messages, as the server wrote it). */
  date?: string;
}

export interface AuthRequest {
  from: string;
  nick: string;
  text: string;
  offline: boolean;
}

export interface UserInfo {
  nickname?: string;
  totalMessages?: number;
  unreadMessages?: number;
  /** The client's own address as the server sees it. */
  endpoint?: string;
  /** Every pair as sent. */
  values: Record<string, string>;
}

export interface NewMail {
  unread: number;
  from: string;
  subject: string;
}

export interface Delivery {
  to: string[];
  /** MESSAGE_STATUS code (0 = delivered or stored offline). */
  status: number;
  /** DELIVERED, REJECTED_NOUSER … */
  statusName: string;
  delivered: boolean;
}

export interface SearchCriteria {
  /** Full address: searched as user + domain (a profile lookup). */
  email?: string;
  user?: string;
  domain?: string;
  nickname?: string;
  firstname?: string;
  lastname?: string;
  sex?: 'male' | 'female';
  minAge?: number;
  maxAge?: number;
  cityId?: number;
  countryId?: number;
  zodiac?: number;
  birthMonth?: number;
  birthDay?: number;
  /** Only users online now. */
  online?: boolean;
}

/** One search result (ANKETA_INFO row), columns mapped by name case-insensitively. */
export interface AnketaRow {
  email?: string;
  username?: string;
  domain?: string;
  nickname?: string;
  firstname?: string;
  lastname?: string;
  sex?: 'male' | 'female';
  birthday?: string;
  location?: string;
  phone?: string;
  status?: ContactStatus;
  /** Every column as sent. */
  fields: Record<string, string>;
}

export interface SearchResult {
  rows: AnketaRow[];
  /** The server's row limit (not the number of rows). */
  maxRows: number;
}

export interface FrameEvent {
  dir: Direction;
  frame: DecodedFrame;
  raw: Buffer;
}

export interface DisconnectEvent {
  /** Why the session ended; absent after `logout()`. */
  error?: MrimClientError;
  /** A reconnect will follow. */
  willReconnect: boolean;
}

export interface ReadyEvent {
  login: string;
  proto: ProfileName;
  server: Endpoint;
  tls: boolean;
}

/** Events of `MrimClient` (an EventEmitter typed with this map). */
export interface MrimClientEvents {
  /** Logged in and CONTACT_LIST2 received: requests are accepted from now on. */
  ready: [ReadyEvent];
  message: [IncomingMessage];
  typing: [{ from: string }];
  contactStatus: [{ email: string; status: ContactStatus; contact?: Contact }];
  contactList: [ContactList];
  authRequest: [AuthRequest];
  authGranted: [{ from: string }];
  mailbox: [{ unread: number }];
  newMail: [NewMail];
  userInfo: [UserInfo];
  disconnect: [DisconnectEvent];
  reconnecting: [{ attempt: number; delayMs: number }];
  /** Bytes that were not MRIM frames, or frames with decoding warnings. */
  warning: [{ text: string }];
  /** Every frame sent (`c2s`) or received (`s2c`), decoded. */
  frame: [FrameEvent];
}

/**
 * The reference MRIM client: the session as the official Agent ran it (reference §5, §21.3).
 *
 *   HELLO → HELLO_ACK → [STARTTLS → OK → TLS] → [CAPABILITIES] → LOGIN2/LOGIN3 → LOGIN_ACK
 *   → PING every period, [CHANGE_STATUS after LOGIN3] → USER_INFO, CONTACT_LIST2 → requests allowed
 *
 * Incoming messages are acknowledged (MESSAGE_RECV) and offline messages deleted after they are
 * reported; every request resolves with its reply, matched by seq, or rejects with a typed error.
 * This file runs the session and dispatches what the server pushes; the options are resolved in
 * settings.ts, the contact list is kept in contacts.ts, the requests are made in operations.ts.
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type { Endpoint } from '../net/endpoint.js';
import { decodeFrame, type DecodedFrame } from '../protocol/codec.js';
import { LOGOUT_FLAG, MESSAGE_FLAG } from '../protocol/constants.js';
import type { Fields } from '../protocol/fields.js';
import type { AuthBlob, OfflineMessage } from '../protocol/formats.js';
import { isPacketName, type FieldsOf, type PacketName } from '../protocol/packets/index.js';
import { ContactListState, normalizeEmail } from './contacts.js';
import { MrimClientError } from './errors.js';
import { Link } from './link.js';
import { incomingMessage, offlineMessage } from './messages.js';
import { Operations } from './operations.js';
import type { Profile } from './profiles.js';
import { loginFields, resolveOptions, statusFields, type ClientSettings, type OwnStatus } from './settings.js';
import { statusSpec, type StatusName } from './status.js';
import { openSocket, resolveRedirect, seconds } from './transport.js';
import type {
  AnketaRow,
  Contact,
  ContactList,
  Delivery,
  Group,
  MrimClientEvents,
  MrimClientOptions,
  ReadyEvent,
  SearchCriteria,
  SearchResult,
  UserInfo,
} from './types.js';

export type ClientState = 'idle' | 'connecting' | 'online' | 'reconnecting' | 'closed';

/** Until HELLO_ACK says otherwise (P1412's default). */
const DEFAULT_PING_SECONDS = 40;

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be waiting: a rejection without listeners is not an error here.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export class MrimClient extends EventEmitter<MrimClientEvents> {
  readonly profile: Profile;
  readonly login: string;
  private readonly settings: ClientSettings;

  private status: OwnStatus;
  private link?: Link;
  private currentState: ClientState = 'idle';
  /** Settles when the session is ready (CONTACT_LIST2 received) or the attempt to get there failed. */
  private readiness = deferred<Link>();
  private listReceived = deferred<void>();
  private pingTimer?: NodeJS.Timeout;
  private pingSeconds = DEFAULT_PING_SECONDS;
  private logoutError?: MrimClientError;
  private userClosed = false;
  private wakeReconnect?: () => void;
  private readonly contactList = new ContactListState();
  private readonly operations: Operations;

  constructor(options: MrimClientOptions) {
    super();
    this.settings = resolveOptions(options);
    this.profile = this.settings.profile;
    this.login = this.settings.login;
    this.status = this.settings.status;
    this.operations = new Operations({
      login: this.login,
      profile: this.profile,
      contactList: this.contactList,
      online: () => this.online(),
      listChanged: () => this.emit('contactList', this.contacts),
    });
  }

  get state(): ClientState {
    return this.currentState;
  }

  /** The contact list as of CONTACT_LIST2 and the changes since (copies). */
  get contacts(): ContactList {
    return this.contactList.list;
  }

  get userInfo(): UserInfo {
    return this.contactList.userInfo;
  }

  /** True when the session runs inside TLS (STARTTLS accepted). */
  get tls(): boolean {
    return this.link?.tls ?? false;
  }

  // ------------------------------------------------------------------------------------------------
  // Session

  /** Connects and logs in; resolves once the contact list arrived (requests are accepted from then). */
  async connect(): Promise<ReadyEvent> {
    if (this.currentState !== 'idle' && this.currentState !== 'closed') {
      throw new MrimClientError('INVALID_ARGUMENT', `connect() called while ${this.currentState}`);
    }
    this.userClosed = false;
    this.readiness = deferred<Link>();
    this.currentState = 'connecting';
    try {
      return await this.establish();
    } catch (e) {
      this.currentState = 'closed';
      this.readiness.reject(e);
      throw e;
    }
  }

  /** Ends the session: DISCONNECT where the version has it, then the socket is closed. */
  async logout(): Promise<void> {
    this.userClosed = true;
    this.wakeReconnect?.();
    const link = this.link;
    const wasUp = this.currentState !== 'idle' && this.currentState !== 'closed';
    this.currentState = 'closed';
    this.stopPing();
    this.readiness.reject(new MrimClientError('NOT_CONNECTED', 'logged out'));
    if (link && !link.closed) {
      if (this.profile.disconnect) {
        try {
          link.send('DISCONNECT');
        } catch {
          // Already closing: nothing to announce.
        }
      }
      await link.end();
    }
    if (wasUp) this.emit('disconnect', { willReconnect: false });
  }

  private async establish(): Promise<ReadyEvent> {
    const { redirector, transport } = this.settings;
    const server = redirector ? await resolveRedirect(redirector, transport) : this.settings.server!;
    const socket = await openSocket(server, transport);
    this.listReceived = deferred<void>();
    this.logoutError = undefined;
    const link = new Link(socket, this.profile.proto, this.settings.responseTimeoutMs, {
      frame: (f) => this.onFrame(link, f),
      observe: (dir, raw, decoded) => this.observe(dir, raw, decoded),
      warning: (text) => this.emit('warning', { text }),
      closed: (error) => this.onClosed(link, error),
    });
    this.link = link;
    try {
      const helloAck = await link.request('HELLO');
      this.pingSeconds = Number(helloAck.fields.pingPeriod) || DEFAULT_PING_SECONDS;
      if (this.settings.tls) await this.negotiateTls(link, server);
      if (this.profile.capabilities) link.send('CAPABILITIES', { capabilities: [] });
      const reply = await link.request(this.profile.login, loginFields(this.settings, this.status));
      if (reply.type === 'LOGIN_REJ') {
        const reason = String(reply.fields.reason ?? '');
        throw new MrimClientError('LOGIN_REJECTED', `login rejected by the server: ${reason || 'no reason given'}`, { reason });
      }
      this.startPing(link);
      // LOGIN3 carries no status: without CHANGE_STATUS the account stays invisible (§5.2).
      if (this.profile.login === 'LOGIN3') this.sendStatus(link);
      await this.withTimeout(this.listReceived.promise, 'the contact list (CONTACT_LIST2)');
      this.currentState = 'online';
      const ready: ReadyEvent = { login: this.login, proto: this.profile.name, server, tls: link.tls };
      this.readiness.resolve(link);
      this.emit('ready', ready);
      return ready;
    } catch (e) {
      this.stopPing();
      link.destroy();
      throw e;
    }
  }

  private async negotiateTls(link: Link, server: Endpoint): Promise<void> {
    const answer = await link.request('STARTTLS');
    if (answer.type !== 'OK') {
      this.emit('warning', { text: 'the server refused STARTTLS (FAILURE): continuing without TLS' });
      return;
    }
    // The certificate is checked against the host we connected to (SNI only for names, not addresses).
    const servername = isIP(server.host) ? undefined : server.host;
    await link.startTls({ host: server.host, servername, ...this.settings.tls });
  }

  private sendStatus(link: Link): void {
    link.send('CHANGE_STATUS', statusFields(this.settings, this.status));
  }

  private startPing(link: Link): void {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      if (!link.closed) link.send('PING');
    }, this.pingSeconds * 1000);
    this.pingTimer.unref();
  }

  private stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  private withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new MrimClientError('TIMEOUT', `the server did not send ${what} within ${seconds(this.settings.responseTimeoutMs)}`)),
        this.settings.responseTimeoutMs,
      );
      promise.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  private onClosed(link: Link, error?: Error): void {
    if (link !== this.link) return;
    this.stopPing();
    const err =
      this.logoutError ??
      new MrimClientError('CONNECTION_CLOSED', `the server closed the connection${error ? ` (${error.message})` : ''}`, { cause: error });
    // Before login completes, establish() reports the failure through its pending request.
    this.listReceived.reject(err);
    if (this.currentState !== 'online') return;
    const noRelogin = err.code === 'LOGGED_OUT' && ((err.details.status ?? 0) & LOGOUT_FLAG.NO_RELOGIN) !== 0;
    const willReconnect = !!this.settings.reconnect && !this.userClosed && !noRelogin;
    this.currentState = willReconnect ? 'reconnecting' : 'closed';
    this.readiness = deferred<Link>();
    if (!willReconnect) this.readiness.reject(err);
    this.emit('disconnect', { error: err, willReconnect });
    if (willReconnect) void this.reconnectLoop(err);
  }

  private async reconnectLoop(cause: MrimClientError): Promise<void> {
    const r = this.settings.reconnect!;
    let last = cause;
    for (let attempt = 1; attempt <= r.retries && !this.userClosed; attempt++) {
      const delayMs = Math.min(r.maxDelayMs, r.minDelayMs * 2 ** (attempt - 1));
      this.emit('reconnecting', { attempt, delayMs });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        this.wakeReconnect = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeReconnect = undefined;
      if (this.userClosed) return;
      try {
        await this.establish();
        return;
      } catch (e) {
        last = e instanceof MrimClientError ? e : new MrimClientError('CONNECT_FAILED', String(e));
        if (last.code === 'LOGIN_REJECTED') break;
      }
    }
    if (this.userClosed) return;
    this.currentState = 'closed';
    this.readiness.reject(last);
    this.emit('disconnect', { error: last, willReconnect: false });
  }

  private observe(dir: 'c2s' | 's2c', raw: Buffer, decoded?: DecodedFrame): void {
    if (this.listenerCount('frame') === 0) return;
    this.emit('frame', { dir, raw, frame: decoded ?? decodeFrame(raw, { dir, minor: this.profile.minor }) });
  }

  /** The link of a ready session, waiting while one is being set up. */
  private async online(): Promise<Link> {
    if (this.currentState === 'idle' || this.currentState === 'closed') {
      throw new MrimClientError('NOT_CONNECTED', 'not connected: call connect() first');
    }
    return this.readiness.promise;
  }

  // ------------------------------------------------------------------------------------------------
  // Incoming packets (what the server pushes; replies to our requests are matched in Link)

  private onFrame(link: Link, f: DecodedFrame): void {
    if (f.warnings.length) this.emit('warning', { text: `${f.type}: ${f.warnings.join('; ')}` });
    const handler = isPacketName(f.type) ? this.handlers[f.type] : undefined;
    (handler as ((this: MrimClient, f: Fields, link: Link) => void) | undefined)?.call(this, f.fields, link);
  }

  /** One per packet type the server pushes, with that packet's fields: a misspelt name does not compile. */
  private readonly handlers: { [N in PacketName]?: (this: MrimClient, f: FieldsOf<N>, link: Link) => void } = {
    MESSAGE_ACK(f, link) {
      const flags = Number(f.flags) >>> 0;
      const from = String(f.from ?? '');
      if (!(flags & MESSAGE_FLAG.NORECV) && !(flags & MESSAGE_FLAG.OFFLINE)) link.send('MESSAGE_RECV', { from, msgId: Number(f.msgId) });
      if (flags & MESSAGE_FLAG.NOTIFY) return void this.emit('typing', { from });
      if (flags & MESSAGE_FLAG.AUTHORIZE) {
        const auth = f.auth as AuthBlob | undefined;
        return void this.emit('authRequest', { from, nick: auth?.nick ?? '', text: auth?.text ?? '', offline: false });
      }
      this.emit('message', incomingMessage(f, from, flags));
    },

    OFFLINE_MESSAGE_ACK(f, link) {
      const parsed = f.parsed as OfflineMessage;
      const flags = (parsed.flags ?? 0) >>> 0;
      const from = normalizeEmail(parsed.from?.replace(/^.*<([^>]+)>.*$/, '$1') ?? '');
      if (flags & MESSAGE_FLAG.AUTHORIZE) {
        const auth = parsed.parts.find((p) => p.auth)?.auth;
        this.emit('authRequest', { from, nick: auth?.nick ?? '', text: auth?.text ?? parsed.text ?? '', offline: true });
      } else {
        this.emit('message', offlineMessage(parsed, from, flags));
      }
      // Reported, so delete: the server re-delivers until then (§8.6).
      link.send('DELETE_OFFLINE_MESSAGE', { uidl: String(f.uidl) });
    },

    CONTACT_LIST2(f) {
      if (f.status !== 0) {
        this.emit('warning', { text: `CONTACT_LIST2 status ${f.status}: the server could not send the contact list` });
      } else {
        this.contactList.load(f);
      }
      this.emit('contactList', this.contacts);
      this.listReceived.resolve();
    },

    USER_STATUS(f) {
      this.emit('contactStatus', this.contactList.applyStatus(f));
    },

    AUTHORIZE_ACK(f) {
      this.emit('authGranted', this.contactList.applyAuthorized(f));
    },

    MODIFY_CONTACT(f) {
      this.contactList.applyModify(f);
      this.emit('contactList', this.contacts);
    },

    MAILBOX_STATUS(f) {
      this.emit('mailbox', { unread: Number(f.unread) });
    },

    NEW_MAIL(f) {
      this.emit('newMail', { unread: Number(f.unread), from: String(f.from ?? ''), subject: String(f.subjectDecoded ?? f.subject ?? '') });
    },

    USER_INFO(f) {
      this.contactList.applyUserInfo(f);
      this.emit('userInfo', this.userInfo);
    },

    CONNECTION_PARAMS(f, link) {
      const period = Number(f.pingPeriod);
      if (period > 0) {
        this.pingSeconds = period;
        if (this.pingTimer) this.startPing(link);
      }
    },

    LOGOUT(f, link) {
      const reason = Number(f.reason) >>> 0;
      const why = reason & LOGOUT_FLAG.NO_RELOGIN ? 'the account logged in elsewhere' : reason & LOGOUT_FLAG.BY_ANTISPAM ? 'blocked by antispam' : `reason 0x${reason.toString(16)}`;
      this.logoutError = new MrimClientError('LOGGED_OUT', `the server logged us out: ${why}`, { status: reason, reason: why });
      void link.end();
    },
  };

  // ------------------------------------------------------------------------------------------------
  // Operations (requests and replies in operations.ts)

  /** Sends a message; resolves with the delivery status the server reports (MESSAGE_STATUS). */
  sendMessage(to: string, text: string, opts: { rtf?: boolean | string } = {}): Promise<Delivery> {
    return this.operations.sendMessage(to, text, opts);
  }

  /**
   * One message to several recipients: a single MULTICAST MESSAGE where the profile has it (≥1.19
   * here; at most 50 recipients), otherwise one MESSAGE each. One Delivery per MESSAGE sent.
   */
  sendMulticast(to: string[], text: string, opts: { rtf?: boolean | string } = {}): Promise<Delivery[]> {
    return this.operations.sendMulticast(to, text, opts);
  }

  /** "Typing…" to a contact (MESSAGE with NOTIFY; repeat every ~10 s while typing). No reply. */
  sendTyping(to: string): Promise<void> {
    return this.operations.sendTyping(to);
  }

  /** Changes own presence; x-statuses need a ≥1.14 profile (1.8 sends the nearest base status). */
  async setStatus(name: StatusName, opts: { title?: string; description?: string } = {}): Promise<void> {
    statusSpec(name);
    const link = await this.online();
    // Kept for the session: a reconnect logs in with it again.
    this.status = { name, title: opts.title, description: opts.description };
    this.sendStatus(link);
  }

  /** Adds a contact; the server forwards `authText` to them as an authorization request. */
  addContact(email: string, opts: { nick?: string; group?: number; authText?: string } = {}): Promise<Contact> {
    return this.operations.addContact(email, opts);
  }

  /** Renames a contact or moves it to another group. */
  modifyContact(email: string, changes: { nick?: string; group?: number }): Promise<Contact> {
    return this.operations.modifyContact(email, changes);
  }

  removeContact(email: string): Promise<void> {
    return this.operations.removeContact(email);
  }

  /** Adds a group; resolves with its id (the index the server gave it). */
  addGroup(name: string): Promise<Group> {
    return this.operations.addGroup(name);
  }

  renameGroup(id: number, name: string): Promise<void> {
    return this.operations.renameGroup(id, name);
  }

  removeGroup(id: number): Promise<void> {
    return this.operations.removeGroup(id);
  }

  /** Asks a contact (again) for authorization: MESSAGE with AUTHORIZE and the auth blob (§10.4). */
  requestAuthorization(email: string, text = 'Please authorize me'): Promise<Delivery> {
    return this.operations.requestAuthorization(email, text);
  }

  /** Grants authorization to a user who asked for it (AUTHORIZE; the server sends no reply). */
  authorize(email: string): Promise<void> {
    return this.operations.authorize(email);
  }

  /** White-pages search (WP_REQUEST → ANKETA_INFO). Nothing found is an empty result. */
  search(criteria: SearchCriteria): Promise<SearchResult> {
    return this.operations.search(criteria);
  }

  /** One user's profile: a search by exact address. */
  async getProfile(email: string): Promise<AnketaRow | undefined> {
    return (await this.search({ email })).rows[0];
  }

  /** A short-lived key for web single sign-on (GET_MPOP_SESSION → MPOP_SESSION). */
  requestMpopSession(): Promise<string> {
    return this.operations.requestMpopSession();
  }
}

/**
 * The reference MRIM client: the session as the official Agent ran it (reference §5, §21.3).
 *
 *   HELLO → HELLO_ACK → [STARTTLS → OK → TLS] → [CAPABILITIES] → LOGIN2/LOGIN3 → LOGIN_ACK
 *   → PING every period, [CHANGE_STATUS after LOGIN3] → USER_INFO, CONTACT_LIST2 → requests allowed
 *
 * Incoming messages are acknowledged (MESSAGE_RECV) and offline messages deleted after they are
 * reported; every request resolves with its reply, matched by seq, or rejects with a typed error.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type tls from 'node:tls';
import { parseEndpoint, type Endpoint } from '../net/endpoint.js';
import { decodeFrame, type DecodedFrame } from '../protocol/codec.js';
import { ANKETA_STATUS, CONTACT_FLAG, CONTACT_OPER, LOGOUT_FLAG, MESSAGE_FLAG, MESSAGE_STATUS, MESSAGE_STATUS_CODE, MPOP_STATUS, WP_FIELD } from '../protocol/constants.js';
import type { Fields } from '../protocol/fields.js';
import { encodeAuthBlob, formatRecipients, type AuthBlob, type OfflineMessage } from '../protocol/formats.js';
import { encodeString } from '../protocol/text.js';
import { ContactListState, normalizeEmail, toStatus } from './contacts.js';
import { MrimClientError } from './errors.js';
import { Link } from './link.js';
import { incomingMessage, messageBody, offlineMessage } from './messages.js';
import { profileByName, type Profile } from './profiles.js';
import { statusSpec, type StatusName } from './status.js';
import { openSocket, parseSocksUrl, resolveRedirect, seconds, type TransportOptions } from './transport.js';
import type {
  AnketaRow,
  Contact,
  ContactList,
  Delivery,
  Group,
  MrimClientEvents,
  MrimClientOptions,
  ReadyEvent,
  ReconnectOptions,
  SearchCriteria,
  SearchResult,
  UserInfo,
} from './types.js';

export type ClientState = 'idle' | 'connecting' | 'online' | 'reconnecting' | 'closed';

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_RESPONSE_TIMEOUT_MS = 15_000;
/** Until HELLO_ACK says otherwise (P1412's default). */
const DEFAULT_PING_SECONDS = 40;
const MAX_MULTICAST = 50;

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
  private readonly password: string;
  private readonly server?: Endpoint;
  private readonly redirector?: Endpoint;
  private readonly transport: TransportOptions;
  private readonly responseTimeoutMs: number;
  private readonly tlsOptions?: tls.ConnectionOptions;
  private readonly reconnect?: Required<ReconnectOptions>;
  private readonly features: number;
  private readonly userAgent: string;
  private readonly description: string;
  private readonly lang: string;

  private status: { name: StatusName; title?: string; description?: string };
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

  constructor(options: MrimClientOptions) {
    super();
    this.profile = profileByName(options.proto ?? '1.21');
    if (!options.login) throw new MrimClientError('INVALID_ARGUMENT', 'a login (e-mail address) is required');
    if (!options.server && !options.redirector) throw new MrimClientError('INVALID_ARGUMENT', 'give a server or a redirector address');
    this.login = normalizeEmail(options.login);
    this.password = options.password ?? '';
    const endpoint = (v: string | Endpoint, what: string): Endpoint => {
      if (typeof v !== 'string') return v;
      const parsed = parseEndpoint(v);
      if (!parsed) throw new MrimClientError('INVALID_ARGUMENT', `${what} must be HOST:PORT, not "${v}"`);
      return parsed;
    };
    if (options.server) this.server = endpoint(options.server, 'server');
    if (options.redirector) this.redirector = endpoint(options.redirector, 'redirector');
    this.responseTimeoutMs = options.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS;
    this.transport = {
      socks: options.socks ? parseSocksUrl(options.socks) : undefined,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      responseTimeoutMs: this.responseTimeoutMs,
    };
    if (options.tls) {
      if (!this.profile.starttls) {
        throw new MrimClientError('INVALID_ARGUMENT', `STARTTLS needs protocol 1.22 or later; profile ${this.profile.name} has none (use 1.23)`);
      }
      this.tlsOptions = options.tls === true ? {} : options.tls;
    }
    if (options.reconnect) {
      const r = options.reconnect === true ? {} : options.reconnect;
      this.reconnect = { retries: r.retries ?? 5, minDelayMs: r.minDelayMs ?? 1000, maxDelayMs: r.maxDelayMs ?? 30_000 };
    }
    statusSpec(options.status ?? 'online');
    this.status = { name: options.status ?? 'online', title: options.statusTitle, description: options.statusDescription };
    this.features = options.features ?? 0x0001;
    this.userAgent = options.userAgent ?? `client="mrimtap" protocol="${this.profile.name}"`;
    this.description = options.description ?? 'mrimtap';
    this.lang = options.lang ?? 'ru';
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
    const server = this.redirector ? await resolveRedirect(this.redirector, this.transport) : this.server!;
    const socket = await openSocket(server, this.transport);
    this.listReceived = deferred<void>();
    this.logoutError = undefined;
    const link = new Link(socket, this.profile, this.responseTimeoutMs, {
      frame: (f) => this.onFrame(link, f),
      observe: (dir, raw, decoded) => this.observe(dir, raw, decoded),
      warning: (text) => this.emit('warning', { text }),
      closed: (error) => this.onClosed(link, error),
    });
    this.link = link;
    try {
      const helloAck = await link.request('HELLO');
      this.pingSeconds = Number(helloAck.fields.pingPeriod) || DEFAULT_PING_SECONDS;
      if (this.tlsOptions) await this.negotiateTls(link, server);
      if (this.profile.capabilities) link.send('CAPABILITIES', { capabilities: [] });
      const reply = await link.request(this.profile.login, this.loginFields());
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
    await link.startTls({ host: server.host, servername, ...this.tlsOptions });
  }

  private loginFields(): Fields {
    const password = this.profile.md5Password ? createHash('md5').update(encodeString(this.password, 'cp1251')).digest('hex') : this.password;
    // Fields a version does not have are skipped by the codec (the layout's version conditions).
    const common = { login: this.login, password, features: this.features, userAgent: this.userAgent, lang: this.lang, description: this.description };
    if (this.profile.login === 'LOGIN3') return { ...common, uaDataNames: [] };
    return { ...common, ...this.statusFields(), uaSession: '', replacedUaSession: '' };
  }

  private statusFields(): Fields {
    const spec = statusSpec(this.status.name);
    if (!this.profile.xstatus) return { status: spec.fallback };
    return {
      status: spec.value,
      statusUri: spec.uri,
      statusTitle: this.status.title ?? spec.title,
      statusDesc: this.status.description ?? '',
      features: this.features,
    };
  }

  private sendStatus(link: Link): void {
    link.send('CHANGE_STATUS', this.statusFields());
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
        () => reject(new MrimClientError('TIMEOUT', `the server did not send ${what} within ${seconds(this.responseTimeoutMs)}`)),
        this.responseTimeoutMs,
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
    const willReconnect = !!this.reconnect && !this.userClosed && !noRelogin;
    this.currentState = willReconnect ? 'reconnecting' : 'closed';
    this.readiness = deferred<Link>();
    if (!willReconnect) this.readiness.reject(err);
    this.emit('disconnect', { error: err, willReconnect });
    if (willReconnect) void this.reconnectLoop(err);
  }

  private async reconnectLoop(cause: MrimClientError): Promise<void> {
    const r = this.reconnect!;
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
    const handler = this.handlers[f.type];
    handler?.call(this, f.fields, link);
  }

  private readonly handlers: Record<string, (this: MrimClient, f: Fields, link: Link) => void> = {
    MESSAGE_ACK(f, link) {
      const flags = Number(f.flags) >>> 0;
      const from = String(f.from ?? '');
      if (!(flags & MESSAGE_FLAG.NORECV) && !(flags & MESSAGE_FLAG.OFFLINE)) link.send('MESSAGE_RECV', { from, msgId: f.msgId });
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
      link.send('DELETE_OFFLINE_MESSAGE', { uidl: f.uidl });
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
  // Operations

  /** Sends a message; resolves with the delivery status the server reports (MESSAGE_STATUS). */
  async sendMessage(to: string, text: string, opts: { rtf?: boolean | string } = {}): Promise<Delivery> {
    const link = await this.online();
    const { flags, fields } = messageBody(text, opts.rtf);
    return this.deliver(link, [normalizeEmail(to)], { ...fields, flags, to: normalizeEmail(to) });
  }

  /**
   * One message to several recipients: a single MULTICAST MESSAGE where the profile has it (≥1.19
   * here; at most 50 recipients), otherwise one MESSAGE each. One Delivery per MESSAGE sent.
   */
  async sendMulticast(to: string[], text: string, opts: { rtf?: boolean | string } = {}): Promise<Delivery[]> {
    const recipients = [...new Set(to.map(normalizeEmail))];
    if (recipients.length === 0) throw new MrimClientError('INVALID_ARGUMENT', 'no recipients');
    if (!this.profile.multicast || recipients.length === 1) return Promise.all(recipients.map((r) => this.sendMessage(r, text, opts)));
    if (recipients.length > MAX_MULTICAST) throw new MrimClientError('INVALID_ARGUMENT', `at most ${MAX_MULTICAST} recipients per multicast`);
    const link = await this.online();
    const { flags, fields } = messageBody(text, opts.rtf);
    // The recipient list is binary (nested LPS), so it travels as bytes, not as text.
    const list = formatRecipients(recipients).toString('latin1');
    return [await this.deliver(link, recipients, { ...fields, flags: flags | MESSAGE_FLAG.MULTICAST, to: list }, { to: 'latin1' })];
  }

  private async deliver(link: Link, to: string[], fields: Fields, enc?: Record<string, 'latin1'>): Promise<Delivery> {
    const reply = await link.request('MESSAGE', fields, { enc });
    const status = Number(reply.fields.status) >>> 0;
    return { to, status, statusName: MESSAGE_STATUS[status] ?? `0x${status.toString(16)}`, delivered: status === MESSAGE_STATUS_CODE.DELIVERED };
  }

  /** "Typing…" to a contact (MESSAGE with NOTIFY; repeat every ~10 s while typing). No reply. */
  async sendTyping(to: string): Promise<void> {
    const link = await this.online();
    link.send('MESSAGE', { flags: MESSAGE_FLAG.NOTIFY, to: normalizeEmail(to), text: ' ', rtf: ' ' });
  }

  /** Changes own presence; x-statuses need a ≥1.14 profile (1.8 sends the nearest base status). */
  async setStatus(name: StatusName, opts: { title?: string; description?: string } = {}): Promise<void> {
    statusSpec(name);
    const link = await this.online();
    this.status = { name, title: opts.title, description: opts.description };
    this.sendStatus(link);
  }

  /** Adds a contact; the server forwards `authText` to them as an authorization request. */
  async addContact(email: string, opts: { nick?: string; group?: number; authText?: string } = {}): Promise<Contact> {
    const link = await this.online();
    const address = normalizeEmail(email);
    const nick = opts.nick ?? address;
    const flags = this.profile.minor >= 16 ? CONTACT_FLAG.UNICODE_NAME : 0;
    const group = opts.group ?? this.contactList.firstGroupId ?? 0;
    const authMessage = encodeAuthBlob({ nick: this.ownNick(), text: opts.authText ?? 'Please authorize me' }, this.profile.text);
    const reply = await link.request('ADD_CONTACT', { flags, group, email: address, name: nick, phones: '', authMessage, actions: 0 });
    const id = this.checkContactOper(reply, `adding ${address}`, Number(reply.fields.contactId));
    const contact = this.contactList.addContact({ id, email: address, nick, group, flags });
    this.emit('contactList', this.contacts);
    return contact;
  }

  /** Renames a contact or moves it to another group. */
  async modifyContact(email: string, changes: { nick?: string; group?: number }): Promise<Contact> {
    const link = await this.online();
    const contact = this.contactList.contact(email);
    const next = { ...contact, nick: changes.nick ?? contact.nick, group: changes.group ?? contact.group };
    const reply = await link.request('MODIFY_CONTACT', { id: contact.id, flags: contact.flags, group: next.group, email: contact.email, name: next.nick, phones: contact.phones });
    this.checkContactOper(reply, `changing ${contact.email}`);
    const changed = this.contactList.updateContact(contact, next);
    this.emit('contactList', this.contacts);
    return changed;
  }

  async removeContact(email: string): Promise<void> {
    const link = await this.online();
    const contact = this.contactList.contact(email);
    const flags = (contact.flags | CONTACT_FLAG.REMOVED) & ~CONTACT_FLAG.SHADOW;
    const reply = await link.request('MODIFY_CONTACT', { id: contact.id, flags, group: contact.group, email: contact.email, name: contact.nick, phones: contact.phones });
    this.checkContactOper(reply, `removing ${contact.email}`);
    this.contactList.removeContact(contact);
    this.emit('contactList', this.contacts);
  }

  /** Adds a group; resolves with its id (the index the server gave it). */
  async addGroup(name: string): Promise<Group> {
    const link = await this.online();
    const position = this.contactList.groupCount;
    const flags = (CONTACT_FLAG.GROUP | (this.profile.minor >= 16 ? CONTACT_FLAG.UNICODE_NAME : 0) | (position << 24)) >>> 0;
    const reply = await link.request('ADD_CONTACT', { flags, group: 0, email: '', name, phones: '', authMessage: '', actions: 0 });
    const id = this.checkContactOper(reply, `adding group "${name}"`, Number(reply.fields.contactId));
    const group = this.contactList.addGroup({ id, name, flags });
    this.emit('contactList', this.contacts);
    return group;
  }

  async renameGroup(id: number, name: string): Promise<void> {
    const link = await this.online();
    const group = this.contactList.group(id);
    const reply = await link.request('MODIFY_CONTACT', { id, flags: group.flags, group: 0, email: '', name, phones: '' });
    this.checkContactOper(reply, `renaming group ${id}`);
    this.contactList.renameGroup(group, name);
    this.emit('contactList', this.contacts);
  }

  async removeGroup(id: number): Promise<void> {
    const link = await this.online();
    const group = this.contactList.group(id);
    const reply = await link.request('MODIFY_CONTACT', { id, flags: group.flags | CONTACT_FLAG.REMOVED, group: 0, email: '', name: group.name, phones: '' });
    this.checkContactOper(reply, `removing group ${id}`);
    this.contactList.removeGroup(group);
    this.emit('contactList', this.contacts);
  }

  /** Asks a contact (again) for authorization: MESSAGE with AUTHORIZE and the auth blob (§10.4). */
  async requestAuthorization(email: string, text = 'Please authorize me'): Promise<Delivery> {
    const link = await this.online();
    const blob = encodeAuthBlob({ nick: this.ownNick(), text }, this.profile.text);
    return this.deliver(link, [normalizeEmail(email)], { flags: MESSAGE_FLAG.AUTHORIZE, to: normalizeEmail(email), text: blob, rtf: ' ' });
  }

  /** Grants authorization to a user who asked for it (AUTHORIZE; the server sends no reply). */
  async authorize(email: string): Promise<void> {
    const link = await this.online();
    link.send('AUTHORIZE', { email: normalizeEmail(email) });
  }

  /** White-pages search (WP_REQUEST → ANKETA_INFO). Nothing found is an empty result. */
  async search(criteria: SearchCriteria): Promise<SearchResult> {
    const link = await this.online();
    const list = searchCriteria(criteria);
    if (list.length === 0) throw new MrimClientError('INVALID_ARGUMENT', 'give at least one search criterion');
    const reply = await link.request('WP_REQUEST', { criteria: list });
    const status = Number(reply.fields.status);
    if (status === 0) return { rows: [], maxRows: Number(reply.fields.maxRows ?? 0) };
    if (status !== 1) {
      const reason = ANKETA_STATUS[status] ?? String(status);
      throw new MrimClientError('OPERATION_FAILED', `search failed: ${reason}`, { reason, status });
    }
    return { rows: ((reply.fields.rows as Fields[]) ?? []).map(toAnketaRow), maxRows: Number(reply.fields.maxRows ?? 0) };
  }

  /** One user's profile: a search by exact address. */
  async getProfile(email: string): Promise<AnketaRow | undefined> {
    return (await this.search({ email })).rows[0];
  }

  /** A short-lived key for web single sign-on (GET_MPOP_SESSION → MPOP_SESSION). */
  async requestMpopSession(): Promise<string> {
    const link = await this.online();
    const reply = await link.request('GET_MPOP_SESSION');
    const status = Number(reply.fields.status);
    if (status !== 1) {
      const reason = MPOP_STATUS[status] ?? String(status);
      throw new MrimClientError('OPERATION_FAILED', `no MPOP session: ${reason}`, { reason, status });
    }
    return String(reply.fields.session ?? '');
  }

  private ownNick(): string {
    return this.contactList.nickname || this.login.split('@')[0];
  }

  /** ADD_CONTACT_ACK / MODIFY_CONTACT_ACK: SUCCESS returns `value`, anything else rejects. */
  private checkContactOper(reply: DecodedFrame, what: string, value = 0): number {
    const status = Number(reply.fields.status);
    if (status === 0) return value;
    const reason = CONTACT_OPER[status] ?? String(status);
    throw new MrimClientError('OPERATION_FAILED', `${what} failed: ${reason}`, { reason, status });
  }
}

// --------------------------------------------------------------------------------------------------
// Mapping packet fields to the typed objects

/** Criteria as WP_REQUEST pairs; ONLINE must be the last pair (§11.1). */
function searchCriteria(c: SearchCriteria): Fields[] {
  const ids = Object.fromEntries(Object.entries(WP_FIELD).map(([id, name]) => [name, Number(id)]));
  const out: Fields[] = [];
  const add = (name: string, value: string | number | undefined) => {
    if (value !== undefined && value !== '') out.push({ field: ids[name], value: String(value) });
  };
  let { user, domain } = c;
  if (c.email) {
    const at = c.email.lastIndexOf('@');
    if (at <= 0) throw new MrimClientError('INVALID_ARGUMENT', `"${c.email}" is not an e-mail address`);
    user = c.email.slice(0, at).toLowerCase();
    domain = c.email.slice(at + 1).toLowerCase();
  }
  add('USER', user);
  add('DOMAIN', domain);
  add('NICKNAME', c.nickname);
  add('FIRSTNAME', c.firstname);
  add('LASTNAME', c.lastname);
  add('SEX', c.sex === 'male' ? 1 : c.sex === 'female' ? 2 : undefined);
  add('DATE1', c.minAge);
  add('DATE2', c.maxAge);
  add('CITY_ID', c.cityId);
  add('ZODIAC', c.zodiac);
  add('BIRTHDAY_MONTH', c.birthMonth);
  add('BIRTHDAY_DAY', c.birthDay);
  add('COUNTRY_ID', c.countryId);
  if (c.online) add('ONLINE', 1);
  return out;
}

function toAnketaRow(row: Fields): AnketaRow {
  const fields: Record<string, string> = {};
  const by: Record<string, string> = {};
  for (const [k, v] of Object.entries(row)) {
    fields[k] = String(v ?? '');
    by[k.toLowerCase()] = String(v ?? '');
  }
  const out: AnketaRow = { fields };
  const set = <K extends keyof AnketaRow>(key: K, value: AnketaRow[K] | undefined) => {
    if (value !== undefined && value !== '') out[key] = value;
  };
  set('username', by.username);
  set('domain', by.domain);
  if (by.username && by.domain) out.email = `${by.username}@${by.domain}`.toLowerCase();
  set('nickname', by.nickname);
  set('firstname', by.firstname);
  set('lastname', by.lastname);
  set('sex', by.sex === '1' ? 'male' : by.sex === '2' ? 'female' : undefined);
  set('birthday', by.birthday);
  set('location', by.location);
  set('phone', by.phone);
  if (by.mrim_status !== undefined && /^[0-9a-f]+$/i.test(by.mrim_status)) {
    out.status = toStatus({ status: parseInt(by.mrim_status, 16), statusUri: by.status_uri, statusTitle: by.status_title, statusDesc: by.status_desc });
  }
  return out;
}

/**
 * The server's user directory: accounts, their groups and contacts, stored offline messages and live
 * presence. Loaded from options or a JSON users file and written back to that file on a clean close.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { CONTACT_FLAG, STATUS_FLAG_INVISIBLE, STATUS_UNDETERMINATED } from '../protocol/constants.js';
import type { ServerContact, ServerUser } from './types.js';

export const STATUS_OFFLINE = 0;
/** Group limit of the protocol (GROUP_LIMIT, reference §10.1). */
export const MAX_GROUPS = 20;
/**
 * A recipient's offline storage: past either bound a new message is refused (the sender gets
 * REJECTED_LIMIT_EXCEEDED), so senders cannot fill the server's memory through one account.
 */
export const OFFLINE_LIMITS = { messages: 500, bytes: 2 * 1024 * 1024 } as const;

export interface Presence {
  status: number;
  statusUri: string;
  statusTitle: string;
  statusDesc: string;
  features: number;
  userAgent: string;
}

export const OFFLINE: Presence = Object.freeze({
  status: STATUS_OFFLINE,
  statusUri: '',
  statusTitle: '',
  statusDesc: '',
  features: 0,
  userAgent: '',
});

export interface GroupRecord {
  name: string;
  /** Position byte and other client flags; GROUP/UNICODE_NAME are added when sending. */
  flags: number;
  removed: boolean;
}

export interface ContactRecord {
  email: string;
  nick: string;
  group: number;
  flags: number;
  phones: string;
  /** The contact has authorized the owner (else CONTACT_LIST2 shows NOT_AUTHORIZED and no presence). */
  authorized: boolean;
}

/** A message kept for an offline recipient; its text is rendered for the recipient's version on delivery. */
export interface StoredMessage {
  uidl: string;
  from: string;
  date: Date;
  /** Message flags without the encoding flags (chosen per recipient). */
  flags: number;
  text: string;
  rtf?: string;
}

export interface UserRecord {
  login: string;
  password: string;
  nick: string;
  firstName: string;
  lastName: string;
  groups: GroupRecord[];
  contacts: ContactRecord[];
  offline: StoredMessage[];
  /** Live presence; OFFLINE without a session. */
  presence: Presence;
}

/** What the users file holds: the ServerUser shape plus the state the server writes back. */
interface StoredContactJson extends ServerContact {
  phones?: string;
  /** Written as false for contacts that have not authorized the owner yet (default true). */
  authorized?: boolean;
}
interface StoredUserJson extends Omit<ServerUser, 'contacts'> {
  contacts?: StoredContactJson[];
  offlineMessages?: { uidl: string; from: string; date: string; flags: number; text: string; rtf?: string }[];
}

export const DEMO_USERS: readonly ServerUser[] = Object.freeze([
  { login: 'alice@mail.ru', password: 'alice', nick: 'Алиса', firstName: 'Алиса', lastName: 'Иванова', groups: ['Друзья'] },
  { login: 'bob@mail.ru', password: 'bob', nick: 'Боб', firstName: 'Борис', lastName: 'Петров', groups: ['Друзья'] },
  { login: 'carol@list.ru', password: 'carol', nick: 'Carol', firstName: 'Carol', lastName: 'Smith', groups: ['Friends'] },
]);

export const normalizeLogin = (login: string): string => login.trim().toLowerCase();

/** Demo and `--user` accounts: everyone gets everyone else as an authorized contact in group 0. */
export function withMutualContacts(users: readonly ServerUser[]): ServerUser[] {
  return users.map((u) => ({
    ...u,
    contacts: [
      ...(u.contacts ?? []),
      ...users
        .filter((o) => normalizeLogin(o.login) !== normalizeLogin(u.login))
        .filter((o) => !(u.contacts ?? []).some((c) => normalizeLogin(c.email) === normalizeLogin(o.login)))
        .map((o) => ({ email: o.login, nick: o.nick ?? o.login.split('@')[0], group: 0 })),
    ],
  }));
}

function fail(where: string, what: string): never {
  throw new Error(`${where}: ${what}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function optionalString(v: unknown, where: string, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') fail(where, `"${name}" must be a string`);
  return v;
}

function optionalUint(v: unknown, where: string, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) fail(where, `"${name}" must be a whole number ≥ 0`);
  return v;
}

/** Validates one user as given (options or file) and turns it into a record; messages name the culprit. */
export function toUserRecord(input: unknown, where: string): UserRecord {
  if (!isObject(input)) fail(where, 'must be an object with "login" and "password"');
  const u = input as StoredUserJson & Record<string, unknown>;
  if (typeof u.login !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(u.login.trim())) fail(where, `"login" must be an e-mail address, not ${JSON.stringify(u.login)}`);
  const login = normalizeLogin(u.login);
  const at = `${where} (${login})`;
  if (typeof u.password !== 'string' || u.password === '') fail(at, '"password" must be a non-empty string');
  if (u.groups !== undefined && (!Array.isArray(u.groups) || u.groups.some((g) => typeof g !== 'string'))) fail(at, '"groups" must be a list of names');
  if (u.contacts !== undefined && !Array.isArray(u.contacts)) fail(at, '"contacts" must be a list');
  if (u.offlineMessages !== undefined && !Array.isArray(u.offlineMessages)) fail(at, '"offlineMessages" must be a list');
  const groups: GroupRecord[] = (u.groups && u.groups.length ? u.groups : ['General']).slice(0, MAX_GROUPS).map((name, i) => ({
    name,
    flags: i << 24,
    removed: false,
  }));
  const contacts: ContactRecord[] = [];
  (u.contacts ?? []).forEach((c, i) => {
    const cw = `${at} contact #${i + 1}`;
    if (!isObject(c) || typeof c.email !== 'string' || !c.email.includes('@')) fail(cw, '"email" must be an e-mail address');
    const email = normalizeLogin(c.email);
    if (email === login || contacts.some((x) => x.email === email)) return;
    const group = optionalUint(c.group, cw, 'group') ?? 0;
    contacts.push({
      email,
      nick: optionalString(c.nick, cw, 'nick') ?? email.split('@')[0],
      group: group < groups.length ? group : 0,
      flags: (optionalUint(c.flags, cw, 'flags') ?? 0) & ~(CONTACT_FLAG.UNICODE_NAME | CONTACT_FLAG.REMOVED | CONTACT_FLAG.GROUP),
      phones: optionalString(c.phones, cw, 'phones') ?? '',
      authorized: c.authorized !== false,
    });
  });
  const offline: StoredMessage[] = (u.offlineMessages ?? []).map((m, i) => {
    const mw = `${at} offline message #${i + 1}`;
    if (!isObject(m) || typeof m.from !== 'string' || typeof m.text !== 'string') fail(mw, 'needs "from" and "text"');
    const date = new Date(typeof m.date === 'string' ? m.date : Date.now());
    return {
      uidl: typeof m.uidl === 'string' && /^[0-9a-f]{16}$/i.test(m.uidl) ? m.uidl.toLowerCase() : newUidl(),
      from: normalizeLogin(m.from),
      date: Number.isNaN(date.getTime()) ? new Date() : date,
      flags: optionalUint(m.flags, mw, 'flags') ?? 0,
      text: m.text,
      rtf: optionalString(m.rtf, mw, 'rtf'),
    };
  });
  return {
    login,
    password: u.password,
    nick: optionalString(u.nick, at, 'nick') ?? login.split('@')[0],
    firstName: optionalString(u.firstName, at, 'firstName') ?? '',
    lastName: optionalString(u.lastName, at, 'lastName') ?? '',
    groups,
    contacts,
    offline,
    presence: OFFLINE,
  };
}

/** Memory a stored message takes, about: its texts as UTF-16. */
function storedBytes(m: StoredMessage): number {
  return 2 * (m.text.length + (m.rtf?.length ?? 0) + m.from.length);
}

/** Whether one more message fits in the user's offline storage (OFFLINE_LIMITS). */
export function offlineRoom(user: UserRecord, message: StoredMessage): boolean {
  if (user.offline.length >= OFFLINE_LIMITS.messages) return false;
  return user.offline.reduce((n, m) => n + storedBytes(m), storedBytes(message)) <= OFFLINE_LIMITS.bytes;
}

export function newUidl(): string {
  return randomBytes(8).toString('hex');
}

/** Reads a users file: `{ "users": [...] }` or a bare list. A missing file is an empty directory. */
export function readUsersFile(path: string): UserRecord[] | undefined {
  if (!existsSync(path)) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`users file ${path}: ${(e as Error).message}`);
  }
  const list = Array.isArray(data) ? data : isObject(data) && Array.isArray(data.users) ? data.users : undefined;
  if (!list) throw new Error(`users file ${path}: expected a list of users or {"users": [...]}`);
  return list.map((u, i) => toUserRecord(u, `users file ${path}: user #${i + 1}`));
}

/** Adds or updates users given as options over the ones of the file (new contacts only; nothing is removed). */
export function mergeUsers(base: Map<string, UserRecord>, extra: UserRecord[]): void {
  for (const u of extra) {
    const known = base.get(u.login);
    if (!known) {
      base.set(u.login, u);
      continue;
    }
    known.password = u.password;
    for (const c of u.contacts) if (!known.contacts.some((k) => k.email === c.email)) known.contacts.push(c);
  }
}

/** The file form of the directory: removed groups compacted away, contacts' group indexes remapped. */
function toUsersJson(users: Iterable<UserRecord>): { users: StoredUserJson[] } {
  return {
    users: [...users].map((u) => {
      const index = new Map<number, number>();
      const groups: string[] = [];
      u.groups.forEach((g, i) => {
        if (!g.removed) index.set(i, groups.push(g.name) - 1);
      });
      const out: StoredUserJson = { login: u.login, password: u.password, nick: u.nick };
      if (u.firstName) out.firstName = u.firstName;
      if (u.lastName) out.lastName = u.lastName;
      out.groups = groups;
      out.contacts = u.contacts.map((c) => {
        const sc: StoredContactJson = { email: c.email, nick: c.nick, group: index.get(c.group) ?? 0 };
        if (c.flags) sc.flags = c.flags;
        if (c.phones) sc.phones = c.phones;
        if (!c.authorized) sc.authorized = false;
        return sc;
      });
      if (u.offline.length) {
        out.offlineMessages = u.offline.map((m) => ({ uidl: m.uidl, from: m.from, date: m.date.toISOString(), flags: m.flags, text: m.text, ...(m.rtf ? { rtf: m.rtf } : {}) }));
      }
      return out;
    }),
  };
}

/**
 * Writes the file through a temporary name, so an interrupted write never leaves half a file; readable
 * by the owner only, since it holds passwords.
 */
export function writeUsersFile(path: string, users: Iterable<UserRecord>): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(toUsersJson(users), null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * What `observer` sees of `target` (reference §9.1): nothing without the target's authorization; the
 * target's per-contact INVISIBLE ("always invisible for") and VISIBLE ("always visible for") lists; an
 * invisible target looks offline except to its VISIBLE contacts.
 */
export function presenceSeenBy(target: UserRecord | undefined, observer: UserRecord, entry: ContactRecord): Presence {
  if (!entry.authorized) return { ...OFFLINE, status: STATUS_UNDETERMINATED };
  if (!target || target.presence.status === STATUS_OFFLINE) return OFFLINE;
  const reverse = target.contacts.find((c) => c.email === observer.login);
  const flags = reverse?.flags ?? 0;
  if (flags & CONTACT_FLAG.INVISIBLE) return OFFLINE;
  if (target.presence.status & STATUS_FLAG_INVISIBLE && !(flags & CONTACT_FLAG.VISIBLE)) return OFFLINE;
  return target.presence;
}

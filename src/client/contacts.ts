/** The client's copy of the contact list and own user info: built from what the server pushes, then kept current. */
import { CONTACT_FLAG, SERVER_FLAG } from '../protocol/constants.js';
import type { Fields } from '../protocol/fields.js';
import { MrimClientError } from './errors.js';
import { statusName } from './status.js';
import type { Contact, ContactList, ContactStatus, Group, MrimClientEvents, UserInfo } from './types.js';

/** Addresses are kept and compared trimmed and lower-case. */
export const normalizeEmail = (email: string) => email.trim().toLowerCase();

export class ContactListState {
  private groups: Group[] = [];
  private contacts: Contact[] = [];
  private info: UserInfo = { values: {} };

  /** Copies: what callers keep or change is not the client's state. */
  get list(): ContactList {
    return { groups: this.groups.map((g) => ({ ...g })), contacts: this.contacts.map((c) => ({ ...c, status: { ...c.status } })) };
  }

  get userInfo(): UserInfo {
    return { ...this.info, values: { ...this.info.values } };
  }

  get nickname(): string | undefined {
    return this.info.nickname;
  }

  /** Where a contact goes when no group is given. */
  get firstGroupId(): number | undefined {
    return this.groups[0]?.id;
  }

  get groupCount(): number {
    return this.groups.length;
  }

  // ------------------------------------------------------------------------------------------------
  // What the server pushes

  /** CONTACT_LIST2 with status 0: the whole list; entries marked REMOVED are left out. */
  load(f: Fields): void {
    const groups = (f.groups as Fields[]) ?? [];
    this.groups = groups.flatMap((g, id) => ((Number(g.flags) & CONTACT_FLAG.REMOVED) !== 0 ? [] : [{ id, name: String(g.name ?? ''), flags: Number(g.flags) >>> 0 }]));
    this.contacts = ((f.contacts as Fields[]) ?? [])
      .filter((c) => (Number(c.flags) & CONTACT_FLAG.REMOVED) === 0)
      .map((c) => toContact(c));
  }

  /** USER_STATUS; addresses not in the list are reported too, without a contact. */
  applyStatus(f: Fields): MrimClientEvents['contactStatus'][0] {
    const email = normalizeEmail(String(f.user ?? ''));
    const status = toStatus(f);
    const contact = this.contacts.find((c) => c.email === email);
    if (contact) contact.status = status;
    return { email, status, ...(contact ? { contact: { ...contact } } : {}) };
  }

  /** AUTHORIZE_ACK: the contact authorized us. */
  applyAuthorized(f: Fields): MrimClientEvents['authGranted'][0] {
    const from = normalizeEmail(String(f.email ?? ''));
    const contact = this.contacts.find((c) => c.email === from);
    if (contact) {
      contact.serverFlags &= ~SERVER_FLAG.NOT_AUTHORIZED;
      contact.authorized = true;
    }
    return { from };
  }

  /** MODIFY_CONTACT from the server: another session of this account changed the list (§10.3 S→C). */
  applyModify(f: Fields): void {
    const id = Number(f.id);
    const flags = Number(f.flags) >>> 0;
    if (flags & CONTACT_FLAG.GROUP) {
      this.groups = this.groups.filter((g) => g.id !== id);
      if (!(flags & CONTACT_FLAG.REMOVED)) this.groups.push({ id, name: String(f.name ?? ''), flags });
      this.groups.sort((a, b) => a.id - b.id);
    } else {
      const existing = this.contacts.find((c) => c.id === id);
      this.contacts = this.contacts.filter((c) => c.id !== id);
      if (!(flags & CONTACT_FLAG.REMOVED)) {
        this.contacts.push({ ...toContact({ ...f, serverFlags: existing?.serverFlags ?? 0 }), id, status: existing?.status ?? offlineStatus() });
      }
    }
  }

  applyUserInfo(f: Fields): void {
    const values: Record<string, string> = {};
    for (const pair of (f.info as Fields[]) ?? []) values[String(pair.key)] = String(pair.value ?? '');
    const num = (k: string) => (values[k] !== undefined && /^\d+$/.test(values[k]) ? Number(values[k]) : undefined);
    this.info = { values };
    if (values['MRIM.NICKNAME'] !== undefined) this.info.nickname = values['MRIM.NICKNAME'];
    if (num('MESSAGES.TOTAL') !== undefined) this.info.totalMessages = num('MESSAGES.TOTAL');
    if (num('MESSAGES.UNREAD') !== undefined) this.info.unreadMessages = num('MESSAGES.UNREAD');
    if (values['client.endpoint']) this.info.endpoint = values['client.endpoint'];
  }

  // ------------------------------------------------------------------------------------------------
  // Our own changes, applied once the server accepted them

  /** The entry itself (not a copy), to change after the server's answer; INVALID_ARGUMENT when absent. */
  contact(email: string): Contact {
    const address = normalizeEmail(email);
    const contact = this.contacts.find((c) => c.email === address);
    if (!contact) throw new MrimClientError('INVALID_ARGUMENT', `${address} is not in the contact list`);
    return contact;
  }

  /** The entry itself (not a copy), to change after the server's answer; INVALID_ARGUMENT when absent. */
  group(id: number): Group {
    const group = this.groups.find((g) => g.id === id);
    if (!group) throw new MrimClientError('INVALID_ARGUMENT', `there is no group ${id}`);
    return group;
  }

  /** A contact just added: not authorized yet, and offline until a USER_STATUS says otherwise. */
  addContact(added: Pick<Contact, 'id' | 'email' | 'nick' | 'group' | 'flags'>): Contact {
    const contact: Contact = { ...added, serverFlags: SERVER_FLAG.NOT_AUTHORIZED, authorized: false, phones: '', status: offlineStatus() };
    this.contacts.push(contact);
    return { ...contact };
  }

  updateContact(contact: Contact, next: Contact): Contact {
    Object.assign(contact, next);
    return { ...contact };
  }

  removeContact(contact: Contact): void {
    this.contacts = this.contacts.filter((c) => c !== contact);
  }

  addGroup(group: Group): Group {
    this.groups.push(group);
    return { ...group };
  }

  renameGroup(group: Group, name: string): void {
    group.name = name;
  }

  removeGroup(group: Group): void {
    this.groups = this.groups.filter((g) => g !== group);
  }
}

function offlineStatus(): ContactStatus {
  return { name: 'offline', value: 0 };
}

/**
 * Presence fields (USER_STATUS, contact rows, ANKETA_INFO columns) as a ContactStatus; `undetermined`
 * names status 3 (see statusName).
 */
export function toStatus(f: Fields, undetermined: 'offline' | 'unknown' = 'offline'): ContactStatus {
  const value = Number(f.status ?? 0) >>> 0;
  const uri = typeof f.statusUri === 'string' && f.statusUri ? f.statusUri : undefined;
  const status: ContactStatus = { name: statusName(value, uri, undetermined), value };
  if (uri) status.uri = uri;
  if (typeof f.statusTitle === 'string' && f.statusTitle) status.title = f.statusTitle;
  if (typeof f.statusDesc === 'string' && f.statusDesc) status.description = f.statusDesc;
  if (typeof f.features === 'number') status.features = f.features;
  if (typeof f.userAgent === 'string' && f.userAgent) status.userAgent = f.userAgent;
  return status;
}

function toContact(c: Fields): Contact {
  const serverFlags = Number(c.serverFlags ?? 0) >>> 0;
  return {
    id: Number(c.id),
    email: normalizeEmail(String(c.email ?? '')),
    nick: String(c.nick ?? c.name ?? ''),
    group: Number(c.group ?? 0),
    flags: Number(c.flags ?? 0) >>> 0,
    serverFlags,
    authorized: (serverFlags & SERVER_FLAG.NOT_AUTHORIZED) === 0,
    phones: String(c.phones ?? ''),
    status: toStatus(c),
  };
}

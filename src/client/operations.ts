/** The requests of a ready session (messages, contact list, authorization, search, MPOP): fields built, replies read. */
import type { DecodedFrame } from '../protocol/codec.js';
import { ANKETA_STATUS, CONTACT_FLAG, CONTACT_OPER, MESSAGE_FLAG, MESSAGE_STATUS, MESSAGE_STATUS_CODE, MPOP_STATUS, WP_FIELD } from '../protocol/constants.js';
import type { Fields } from '../protocol/fields.js';
import { encodeAuthBlob, formatRecipients } from '../protocol/formats.js';
import { normalizeEmail, toStatus, type ContactListState } from './contacts.js';
import { MrimClientError } from './errors.js';
import type { Link } from './link.js';
import { messageBody } from './messages.js';
import type { Profile } from './profiles.js';
import type { AnketaRow, Contact, Delivery, Group, SearchCriteria, SearchResult } from './types.js';

const MAX_MULTICAST = 50;

/** What the operations need from the client that runs them. */
interface OperationContext {
  readonly login: string;
  readonly profile: Profile;
  readonly contactList: ContactListState;
  /** The link of the ready session, waiting while one is being set up. */
  online(): Promise<Link>;
  /** Our own change to the contact list went through (a `contactList` event). */
  listChanged(): void;
}

export class Operations {
  constructor(private readonly client: OperationContext) {}

  async sendMessage(to: string, text: string, opts: { rtf?: boolean | string }): Promise<Delivery> {
    const link = await this.client.online();
    const { flags, fields } = messageBody(text, opts.rtf);
    return deliver(link, [normalizeEmail(to)], { ...fields, flags, to: normalizeEmail(to) });
  }

  async sendMulticast(to: string[], text: string, opts: { rtf?: boolean | string }): Promise<Delivery[]> {
    const recipients = [...new Set(to.map(normalizeEmail))];
    if (recipients.length === 0) throw new MrimClientError('INVALID_ARGUMENT', 'no recipients');
    if (!this.client.profile.multicast || recipients.length === 1) return Promise.all(recipients.map((r) => this.sendMessage(r, text, opts)));
    if (recipients.length > MAX_MULTICAST) throw new MrimClientError('INVALID_ARGUMENT', `at most ${MAX_MULTICAST} recipients per multicast`);
    const link = await this.client.online();
    const { flags, fields } = messageBody(text, opts.rtf);
    // The recipient list is binary (nested LPS), so it travels as bytes, not as text.
    const list = formatRecipients(recipients).toString('latin1');
    return [await deliver(link, recipients, { ...fields, flags: flags | MESSAGE_FLAG.MULTICAST, to: list }, { to: 'latin1' })];
  }

  async sendTyping(to: string): Promise<void> {
    const link = await this.client.online();
    link.send('MESSAGE', { flags: MESSAGE_FLAG.NOTIFY, to: normalizeEmail(to), text: ' ', rtf: ' ' });
  }

  async addContact(email: string, opts: { nick?: string; group?: number; authText?: string }): Promise<Contact> {
    const { profile, contactList } = this.client;
    const link = await this.client.online();
    const address = normalizeEmail(email);
    const nick = opts.nick ?? address;
    const flags = nameFlags(profile);
    const group = opts.group ?? contactList.firstGroupId ?? 0;
    const authMessage = encodeAuthBlob({ nick: this.ownNick(), text: opts.authText ?? 'Please authorize me' }, profile.text);
    const reply = await link.request('ADD_CONTACT', { flags, group, email: address, name: nick, phones: '', authMessage, actions: 0 });
    const id = checkContactOper(reply, `adding ${address}`, Number(reply.fields.contactId));
    const contact = contactList.addContact({ id, email: address, nick, group, flags });
    this.client.listChanged();
    return contact;
  }

  async modifyContact(email: string, changes: { nick?: string; group?: number }): Promise<Contact> {
    const link = await this.client.online();
    const contact = this.client.contactList.contact(email);
    const next = { ...contact, nick: changes.nick ?? contact.nick, group: changes.group ?? contact.group };
    const reply = await link.request('MODIFY_CONTACT', { id: contact.id, flags: contact.flags, group: next.group, email: contact.email, name: next.nick, phones: contact.phones });
    checkContactOper(reply, `changing ${contact.email}`);
    const changed = this.client.contactList.updateContact(contact, next);
    this.client.listChanged();
    return changed;
  }

  async removeContact(email: string): Promise<void> {
    const link = await this.client.online();
    const contact = this.client.contactList.contact(email);
    const flags = (contact.flags | CONTACT_FLAG.REMOVED) & ~CONTACT_FLAG.SHADOW;
    const reply = await link.request('MODIFY_CONTACT', { id: contact.id, flags, group: contact.group, email: contact.email, name: contact.nick, phones: contact.phones });
    checkContactOper(reply, `removing ${contact.email}`);
    this.client.contactList.removeContact(contact);
    this.client.listChanged();
  }

  async addGroup(name: string): Promise<Group> {
    const { profile, contactList } = this.client;
    const link = await this.client.online();
    const position = contactList.groupCount;
    const flags = (CONTACT_FLAG.GROUP | nameFlags(profile) | (position << 24)) >>> 0;
    const reply = await link.request('ADD_CONTACT', { flags, group: 0, email: '', name, phones: '', authMessage: '', actions: 0 });
    const id = checkContactOper(reply, `adding group "${name}"`, Number(reply.fields.contactId));
    const group = contactList.addGroup({ id, name, flags });
    this.client.listChanged();
    return group;
  }

  async renameGroup(id: number, name: string): Promise<void> {
    const link = await this.client.online();
    const group = this.client.contactList.group(id);
    const reply = await link.request('MODIFY_CONTACT', { id, flags: group.flags, group: 0, email: '', name, phones: '' });
    checkContactOper(reply, `renaming group ${id}`);
    this.client.contactList.renameGroup(group, name);
    this.client.listChanged();
  }

  async removeGroup(id: number): Promise<void> {
    const link = await this.client.online();
    const group = this.client.contactList.group(id);
    const reply = await link.request('MODIFY_CONTACT', { id, flags: group.flags | CONTACT_FLAG.REMOVED, group: 0, email: '', name: group.name, phones: '' });
    checkContactOper(reply, `removing group ${id}`);
    this.client.contactList.removeGroup(group);
    this.client.listChanged();
  }

  async requestAuthorization(email: string, text: string): Promise<Delivery> {
    const link = await this.client.online();
    const blob = encodeAuthBlob({ nick: this.ownNick(), text }, this.client.profile.text);
    return deliver(link, [normalizeEmail(email)], { flags: MESSAGE_FLAG.AUTHORIZE, to: normalizeEmail(email), text: blob, rtf: ' ' });
  }

  async authorize(email: string): Promise<void> {
    const link = await this.client.online();
    link.send('AUTHORIZE', { email: normalizeEmail(email) });
  }

  async search(criteria: SearchCriteria): Promise<SearchResult> {
    const link = await this.client.online();
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

  async requestMpopSession(): Promise<string> {
    const link = await this.client.online();
    const reply = await link.request('GET_MPOP_SESSION');
    const status = Number(reply.fields.status);
    if (status !== 1) {
      const reason = MPOP_STATUS[status] ?? String(status);
      throw new MrimClientError('OPERATION_FAILED', `no MPOP session: ${reason}`, { reason, status });
    }
    return String(reply.fields.session ?? '');
  }

  /** The name an authorization request is signed with. */
  private ownNick(): string {
    return this.client.contactList.nickname || this.client.login.split('@')[0];
  }
}

/** UNICODE_NAME where the profile writes names as UTF-16LE (the codec's rule: from 1.16). */
function nameFlags(profile: Profile): number {
  return profile.text === 'utf16le' ? CONTACT_FLAG.UNICODE_NAME : 0;
}

/** A MESSAGE and its MESSAGE_STATUS. */
async function deliver(link: Link, to: string[], fields: Fields, enc?: Record<string, 'latin1'>): Promise<Delivery> {
  const reply = await link.request('MESSAGE', fields, { enc });
  const status = Number(reply.fields.status) >>> 0;
  return { to, status, statusName: MESSAGE_STATUS[status] ?? `0x${status.toString(16)}`, delivered: status === MESSAGE_STATUS_CODE.DELIVERED };
}

/** ADD_CONTACT_ACK / MODIFY_CONTACT_ACK: SUCCESS returns `value`, anything else rejects. */
function checkContactOper(reply: DecodedFrame, what: string, value = 0): number {
  const status = Number(reply.fields.status);
  if (status === 0) return value;
  const reason = CONTACT_OPER[status] ?? String(status);
  throw new MrimClientError('OPERATION_FAILED', `${what} failed: ${reason}`, { reason, status });
}

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
    out.status = toStatus({ status: parseInt(by.mrim_status, 16), statusUri: by.status_uri, statusTitle: by.status_title, statusDesc: by.status_desc }, 'unknown');
  }
  return out;
}

/**
 * Protocol profiles: which version the client announces and what follows from it (reference §5.2,
 * §20). Field layouts and string encodings are not decided here — the codec derives them from the
 * minor version; a profile only chooses between packets and options the versions allow.
 */
import { makeProto } from '../protocol/header.js';
import { textEncodingFor, type Encoding } from '../protocol/text.js';
import { MrimClientError } from './errors.js';

export const PROFILE_NAMES = ['1.8', '1.19', '1.21', '1.23'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export interface Profile {
  name: ProfileName;
  /** Header version `(1 << 16) | minor`. */
  proto: number;
  minor: number;
  login: 'LOGIN2' | 'LOGIN3';
  /** LOGIN3 from 1.22 carries MD5(CP1251 password); older logins the plain text. */
  md5Password: boolean;
  /** Status URI, title and description in LOGIN2/CHANGE_STATUS (≥1.14). */
  xstatus: boolean;
  /** STARTTLS may be asked for (≥1.22). */
  starttls: boolean;
  /** CAPABILITIES goes before LOGIN3, as MRA 5.10 (1.23) did. */
  capabilities: boolean;
  /** DISCONNECT exists (≥1.19); older clients just close the socket. */
  disconnect: boolean;
  /** Several recipients in one MESSAGE (nested LPS list); 1.8 sends one MESSAGE per recipient. */
  multicast: boolean;
  /** Text of names, auth blobs, search values: CP1251 before 1.16, UTF-16LE after. */
  text: Encoding;
}

function profile(name: ProfileName, p: Omit<Profile, 'name' | 'proto' | 'minor' | 'text'>): Profile {
  const minor = Number(name.split('.')[1]);
  return { name, proto: makeProto(1, minor), minor, text: textEncodingFor(minor), ...p };
}

export const PROFILES: Record<ProfileName, Profile> = {
  // pidgin-mra's version: LOGIN2 basic form, CP1251 everywhere, short statuses.
  '1.8': profile('1.8', { login: 'LOGIN2', md5Password: false, xstatus: false, starttls: false, capabilities: false, disconnect: false, multicast: false }),
  // MRA 5.5: LOGIN2 with x-status, features, user agent and lang; UTF-16LE text.
  '1.19': profile('1.19', { login: 'LOGIN2', md5Password: false, xstatus: true, starttls: false, capabilities: false, disconnect: true, multicast: true }),
  // LOGIN3 with a plain password (MYA, JAS); no status in the login, CHANGE_STATUS right after.
  '1.21': profile('1.21', { login: 'LOGIN3', md5Password: false, xstatus: true, starttls: false, capabilities: false, disconnect: true, multicast: true }),
  // MRA 5.10: optional STARTTLS, CAPABILITIES, LOGIN3 with MD5 password.
  '1.23': profile('1.23', { login: 'LOGIN3', md5Password: true, xstatus: true, starttls: true, capabilities: true, disconnect: true, multicast: true }),
};

export function profileByName(name: string): Profile {
  const key = name.trim().replace(/^v/i, '') as ProfileName;
  const p = PROFILES[key];
  if (!p) throw new MrimClientError('INVALID_ARGUMENT', `unknown protocol profile "${name}": choose one of ${PROFILE_NAMES.join(', ')}`);
  return p;
}

/** MrimClientOptions checked and given their defaults, and the login and status fields the client announces from them. */
import type tls from 'node:tls';
import { parseEndpoint, type Endpoint } from '../net/endpoint.js';
import type { Fields } from '../protocol/fields.js';
import { passwordMd5 } from '../protocol/formats.js';
import { normalizeEmail } from './contacts.js';
import { MrimClientError } from './errors.js';
import { profileByName, type Profile } from './profiles.js';
import { statusSpec, type StatusName } from './status.js';
import { parseSocksUrl, type TransportOptions } from './transport.js';
import type { MrimClientOptions, ReconnectOptions } from './types.js';

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_RESPONSE_TIMEOUT_MS = 15_000;

export interface OwnStatus {
  name: StatusName;
  title?: string;
  description?: string;
}

export interface ClientSettings {
  profile: Profile;
  login: string;
  password: string;
  server?: Endpoint;
  redirector?: Endpoint;
  transport: TransportOptions;
  responseTimeoutMs: number;
  /** Set when STARTTLS is asked for. */
  tls?: tls.ConnectionOptions;
  /** Set when reconnecting is on. */
  reconnect?: Required<ReconnectOptions>;
  /** Presence at login. */
  status: OwnStatus;
  features: number;
  userAgent: string;
  description: string;
  lang: string;
}

/** Throws INVALID_ARGUMENT for the first option that is wrong. */
export function resolveOptions(options: MrimClientOptions): ClientSettings {
  const profile = profileByName(options.proto ?? '1.21');
  if (!options.login) throw new MrimClientError('INVALID_ARGUMENT', 'a login (e-mail address) is required');
  if (!options.server && !options.redirector) throw new MrimClientError('INVALID_ARGUMENT', 'give a server or a redirector address');
  const endpoint = (v: string | Endpoint, what: string): Endpoint => {
    if (typeof v !== 'string') return v;
    const parsed = parseEndpoint(v);
    if (!parsed) throw new MrimClientError('INVALID_ARGUMENT', `${what} must be HOST:PORT, not "${v}"`);
    return parsed;
  };
  const server = options.server ? endpoint(options.server, 'server') : undefined;
  const redirector = options.redirector ? endpoint(options.redirector, 'redirector') : undefined;
  const responseTimeoutMs = options.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS;
  const transport: TransportOptions = {
    socks: options.socks ? parseSocksUrl(options.socks) : undefined,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    responseTimeoutMs,
  };
  let tlsOptions: tls.ConnectionOptions | undefined;
  if (options.tls) {
    if (!profile.starttls) {
      throw new MrimClientError('INVALID_ARGUMENT', `STARTTLS needs protocol 1.22 or later; profile ${profile.name} has none (use 1.23)`);
    }
    tlsOptions = options.tls === true ? {} : options.tls;
  }
  let reconnect: Required<ReconnectOptions> | undefined;
  if (options.reconnect) {
    const r = options.reconnect === true ? {} : options.reconnect;
    reconnect = { retries: r.retries ?? 5, minDelayMs: r.minDelayMs ?? 1000, maxDelayMs: r.maxDelayMs ?? 30_000 };
  }
  statusSpec(options.status ?? 'online');
  return {
    profile,
    login: normalizeEmail(options.login),
    password: options.password ?? '',
    server,
    redirector,
    transport,
    responseTimeoutMs,
    tls: tlsOptions,
    reconnect,
    status: { name: options.status ?? 'online', title: options.statusTitle, description: options.statusDescription },
    features: options.features ?? 0x0001,
    userAgent: options.userAgent ?? `client="mrimtap" protocol="${profile.name}"`,
    description: options.description ?? 'mrimtap',
    lang: options.lang ?? 'ru',
  };
}

/** LOGIN2 / LOGIN3 (the profile says which); LOGIN2 carries the presence too. */
export function loginFields(s: ClientSettings, status: OwnStatus): Fields {
  const password = s.profile.md5Password ? passwordMd5(s.password) : s.password;
  // Fields a version does not have are skipped by the codec (the layout's version conditions).
  const common = { login: s.login, password, features: s.features, userAgent: s.userAgent, lang: s.lang, description: s.description };
  if (s.profile.login === 'LOGIN3') return { ...common, uaDataNames: [] };
  return { ...common, ...statusFields(s, status), uaSession: '', replacedUaSession: '' };
}

/** Own presence as LOGIN2 / CHANGE_STATUS fields; without x-statuses, the nearest base status. */
export function statusFields(s: ClientSettings, status: OwnStatus): Fields {
  const spec = statusSpec(status.name);
  if (!s.profile.xstatus) return { status: spec.fallback };
  return {
    status: spec.value,
    statusUri: spec.uri,
    statusTitle: status.title ?? spec.title,
    statusDesc: status.description ?? '',
    features: s.features,
  };
}

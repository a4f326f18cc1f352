/** The reference MRIM client (library). */
export { MrimClient, type ClientState } from './client.js';
export { MrimClientError, type MrimErrorCode } from './errors.js';
export { PROFILES, PROFILE_NAMES, profileByName, type Profile, type ProfileName } from './profiles.js';
export { STATUSES, statusName, statusSpec, type StatusName, type StatusSpec } from './status.js';
export { parseSocksUrl, type SocksProxy } from './transport.js';
export type * from './types.js';

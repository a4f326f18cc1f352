/** The reference MRIM server (`mrimtap server`). */
export type { ServerAddress, ServerContact, ServerLimits, ServerLogEvent, ServerLogKind, ServerOptions, ServerUser } from './types.js';
export { MrimServer, DEFAULT_LIMITS, DEFAULT_PING_PERIOD, DEFAULT_PORT, DEFAULT_REDIRECTOR_PORT } from './server.js';
export { DEMO_USERS, withMutualContacts, type ContactRecord, type GroupRecord, type Presence, type StoredMessage, type UserRecord } from './users.js';

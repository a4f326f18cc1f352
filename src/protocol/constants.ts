/** Constant tables (reference §17), used by the packet table to turn numbers into names. */

export type ValueNames = Readonly<Record<number, string>>;
export type FlagNames = ReadonlyArray<readonly [bit: number, name: string]>;

export const STATUS: ValueNames = {
  0x00000000: 'OFFLINE',
  0x00000001: 'ONLINE',
  0x00000002: 'AWAY',
  0x00000003: 'UNDETERMINATED',
  0x00000004: 'USER_DEFINED',
  0x80000000: 'FLAG_INVISIBLE',
  0x80000001: 'INVISIBLE',
  0x80000002: 'INVISIBLE|AWAY',
  0x80000003: 'INVISIBLE|UNDETERMINATED',
  0x80000004: 'INVISIBLE|USER_DEFINED',
};

export const STATUS_ONLINE = 1;
export const STATUS_AWAY = 2;
export const STATUS_UNDETERMINATED = 3;
export const STATUS_USER_DEFINED = 4;
export const STATUS_FLAG_INVISIBLE = 0x80000000;

export const MESSAGE_FLAGS: FlagNames = [
  [0x00000001, 'OFFLINE'],
  [0x00000002, 'BROADCAST'],
  [0x00000004, 'NORECV'],
  [0x00000008, 'AUTHORIZE'],
  [0x00000020, 'URL'],
  [0x00000040, 'SYSTEM'],
  [0x00000080, 'RTF'],
  [0x00000200, 'CONTACT'],
  [0x00000400, 'NOTIFY'],
  [0x00000800, 'SMS'],
  [0x00001000, 'MULTICAST'],
  [0x00002000, 'SMS_DELIVERY_REPORT'],
  [0x00004000, 'ALARM'],
  [0x00008000, 'FLASH'],
  // [CONFLICT] §17.2: P1412/PHP say 0x10000, MIR/QUT/PRPL say 0x20000; both are named.
  [0x00010000, 'SPAM'],
  [0x00020000, 'SPAMF_SPAM'],
  [0x00100000, 'UNICODE'],
  [0x00200000, 'CP1251'],
  [0x00400000, 'MULTICHAT'],
  [0x00800000, 'STATISTIC_OF'],
  [0x01000000, 'VIDEOMISS'],
  [0x02000000, 'VOICEMISS'],
];

export const MESSAGE_FLAG = {
  OFFLINE: 0x1,
  NORECV: 0x4,
  AUTHORIZE: 0x8,
  SYSTEM: 0x40,
  RTF: 0x80,
  CONTACT: 0x200,
  NOTIFY: 0x400,
  SMS: 0x800,
  MULTICAST: 0x1000,
  SMS_DELIVERY_REPORT: 0x2000,
  ALARM: 0x4000,
  FLASH: 0x8000,
  UNICODE: 0x100000,
  CP1251: 0x200000,
  MULTICHAT: 0x400000,
} as const;

export const FEATURES: FlagNames = [
  [0x0001, 'RTF_MESSAGE'],
  [0x0002, 'BASE_SMILES'],
  [0x0004, 'ADVANCED_SMILES'],
  [0x0008, 'CONTACTS_EXCH'],
  [0x0010, 'WAKEUP'],
  [0x0020, 'MULTS'],
  [0x0040, 'FILE_TRANSFER'],
  [0x0080, 'VOICE'],
  [0x0100, 'VIDEO'],
  [0x0200, 'GAMES'],
  [0x0400, 'ENABLE_VIDEO_CAMERA'],
  [0x0800, 'WEBRTC'],
  [0x1000, 'GOOBER'],
  [0x2000, 'TRANSCODING_SUPPORTED'],
  [0x4000, 'WEB_CALL'],
];

export const CONTACT_FLAGS: FlagNames = [
  [0x00000001, 'REMOVED'],
  [0x00000002, 'GROUP'],
  [0x00000004, 'INVISIBLE'],
  [0x00000008, 'VISIBLE'],
  [0x00000010, 'IGNORE'],
  [0x00000020, 'SHADOW'],
  [0x00000040, 'AUTHORIZED'],
  [0x00000080, 'MULTICHAT'],
  [0x00000100, 'AWAITING_AUTHORIZATION_USER'],
  [0x00000200, 'UNICODE_NAME'],
  [0x00010000, 'TEMPORARY'],
  [0x00100000, 'PHONE'],
];

export const CONTACT_FLAG = {
  REMOVED: 0x1,
  GROUP: 0x2,
  INVISIBLE: 0x4,
  VISIBLE: 0x8,
  IGNORE: 0x10,
  SHADOW: 0x20,
  MULTICHAT: 0x80,
  UNICODE_NAME: 0x200,
  PHONE: 0x100000,
} as const;

export const SERVER_FLAGS: FlagNames = [[0x1, 'NOT_AUTHORIZED']];
export const SERVER_FLAG = { NOT_AUTHORIZED: 0x1 } as const;

/** MODIFY_CONTACT addresses contacts as this + their index in CONTACT_LIST2 (§10.1); groups by index. */
export const FIRST_CONTACT_ID = 20;
/** ADD_CONTACT_ACK's contact id on failure. */
export const NO_CONTACT_ID = 0xffffffff;

/** A name table from named codes, for codes that programs also use by name: each is written once. */
function namesOf(codes: Readonly<Record<string, number>>): ValueNames {
  return Object.fromEntries(Object.entries(codes).map(([name, code]) => [code, name]));
}

export const MESSAGE_STATUS_CODE = {
  DELIVERED: 0x0000,
  REJECTED_NOUSER: 0x8001,
  REJECTED_INTERR: 0x8003,
  REJECTED_LIMIT_EXCEEDED: 0x8004,
  REJECTED_TOO_LARGE: 0x8005,
  REJECTED_DENY_OFFMSG: 0x8006,
  REJECTED_DENY_OFFFLSH: 0x8007,
  REJECTED_PERMISSION: 0x8008,
  REJECTED_LIMIT: 0x8009,
} as const;
export const MESSAGE_STATUS: ValueNames = namesOf(MESSAGE_STATUS_CODE);

/** ADD_CONTACT_ACK / MODIFY_CONTACT_ACK status. */
export const CONTACT_OPER_CODE = {
  SUCCESS: 0,
  ERROR: 1,
  INTERR: 2,
  NO_SUCH_USER: 3,
  INVALID_INFO: 4,
  USER_EXISTS: 5,
  GROUP_LIMIT: 6,
} as const;
export const CONTACT_OPER: ValueNames = namesOf(CONTACT_OPER_CODE);

export const GET_CONTACTS: ValueNames = { 0: 'OK', 1: 'ERROR', 2: 'INTERR' };

export const LOGOUT_FLAG = { NO_RELOGIN: 0x10, BY_ANTISPAM: 0x20 } as const;

export const LOGOUT_REASON: FlagNames = [
  [0x10, 'NO_RELOGIN'],
  [0x20, 'BY_ANTISPAM'],
];

export const ANKETA_STATUS_CODE = { NOUSER: 0, OK: 1, DBERR: 2, RATELIMERR: 3 } as const;
export const ANKETA_STATUS: ValueNames = namesOf(ANKETA_STATUS_CODE);
export const MPOP_STATUS: ValueNames = { 0: 'FAIL', 1: 'SUCCESS' };
export const SMS_STATUS: ValueNames = { 1: 'SUCCESS', 2: 'SERVICE_UNAVAILABLE', 0x10000: 'INVALID_PARAMS' };
export const FILE_TRANSFER_STATUS: ValueNames = { 0: 'DECLINE', 1: 'OK', 2: 'ERROR', 3: 'INCOMPATIBLE_VERS', 4: 'MIRROR' };
export const TALK_STATUS: ValueNames = { ...FILE_TRANSFER_STATUS, 4: 'NOHARDWARE', 5: 'MIRROR' };
export const PROXY_STATUS: ValueNames = { ...TALK_STATUS, 6: 'CLOSED', 7: 'CHANGE_PROTOCOL', 8: 'BUSY' };
export const PROXY_TYPE: ValueNames = {
  1: 'VOICE',
  2: 'FILES',
  3: 'CALLOUT',
  4: 'VIDEO',
  5: 'UDP_VOICE',
  6: 'UDP_VIDEO',
  7: 'UDP_PHONE',
  8: 'WEBRTC',
  9: 'WEBRTC_PHONE',
};
/** FAILURE (0x1088) codes. */
export const FAILURE = {
  DECLINE: 1,
  NOENT: 2,
  INVVAL: 3,
  ACCESS: 4,
  SERVICE_UNAVAILABLE: 5,
  TIMEDOUT: 6,
  RATE_LIMIT: 7,
} as const;
export const FAILURE_CODE: ValueNames = namesOf(FAILURE);
export const RESULT_CODE: ValueNames = { 0: 'OK' };
export const CAPABILITY: ValueNames = {
  0: 'ONLINE_ALERTS',
  1: 'OFFLINE_ALERTS',
  2: 'WEBRTC',
  3: 'WEBRTC_BUSY',
  4: 'ARCH',
  5: 'NORTF',
  6: 'DEVICE_ID',
  7: 'PUBSUB',
  41: 'ARCH_STATES',
};
export const COMPRESS_METHOD: ValueNames = { 0: 'ZLIB' };
/** LOGIN2/LOGIN3 statistics entry ids (§7.2.3, §17.8). */
export const STAT_ID: ValueNames = {
  0: 'BUILD',
  1: 'LOGIN_CNT',
  2: 'STC',
  3: 'ID',
  4: 'SET_AUTORUN',
  5: 'SET_MAIL_NOTIFY',
  6: 'SET_ANTISPAM_TYPE',
  7: 'SET_TABS',
  8: 'WINDOW_OPENINGS',
};
export const BLOG_FLAGS: FlagNames = [
  [0x1, 'UPDATE'],
  [0x2, 'MUSIC'],
  [0x4, 'REPLY'],
  [0x8, 'GEO'],
  [0x10, 'NOTIFY'],
  [0x20, 'NO_POSTING_TO_ODKL'],
];
export const MULTICHAT_TYPE: ValueNames = {
  0: 'MESSAGE',
  1: 'GET_MEMBERS',
  2: 'MEMBERS',
  3: 'ADD_MEMBERS',
  4: 'ATTACHED',
  5: 'DETACHED',
  6: 'DESTROYED',
  7: 'INVITE',
  8: 'DEL_MEMBERS',
  9: 'TURN_OUT',
};
export const ADD_CONTACT_ACTIONS: FlagNames = [
  [0x1, 'MYMAIL_INVITE'],
  [0x2, 'MULTICHAT_ATTACHE'],
];
export const GAME_MSG: ValueNames = {
  0: 'BASE',
  1: 'CONNECTION_INVITE',
  2: 'CONNECTION_ACCEPT',
  3: 'DECLINE',
  4: 'INC_VERSION',
  5: 'NO_SUCH_GAME',
  6: 'JOIN',
  7: 'CLOSE',
  8: 'SPEED',
  9: 'SYNCHRONIZATION',
  10: 'USER_NOT_FOUND',
  11: 'ACCEPT_ACK',
  12: 'PING',
  13: 'RESULT',
  14: 'MESSAGES_NUMBER',
};
export const UA_DATA_STATUS: ValueNames = { 0: 'OK', 1: 'INTERR', 2: 'NAMETOOLONG', 3: 'BIGVAL', 4: 'LIMIT', 5: 'RATELIMIT' };
export const USER_SETTINGS_STATUS: ValueNames = {
  0: 'OK',
  1: 'INTERR',
  2: 'TOOMANY',
  3: 'NAMETOOLONG',
  4: 'BIGVAL',
  5: 'NOACCESS',
  6: 'RATELIMIT',
};
export const LOOKUP_STATUS: ValueNames = { 0: 'ERROR', 1: 'SUCCESS' };
export const CLIENT_ACTION_CODEPAGE: ValueNames = { 0: 'UTF16LE', 0x200000: 'CP1251' };
export const EXT_STATUS_FLAGS: FlagNames = [[0x1, 'SEARCHABLE']];

/** WP_REQUEST search field ids (§11.1). Ids 2–4 carry text in the session's text encoding. */
export const WP_FIELD: ValueNames = {
  0: 'USER',
  1: 'DOMAIN',
  2: 'NICKNAME',
  3: 'FIRSTNAME',
  4: 'LASTNAME',
  5: 'SEX',
  6: 'BIRTHDAY',
  7: 'DATE1',
  8: 'DATE2',
  9: 'ONLINE',
  10: 'STATUS',
  11: 'CITY_ID',
  12: 'ZODIAC',
  13: 'BIRTHDAY_MONTH',
  14: 'BIRTHDAY_DAY',
  15: 'COUNTRY_ID',
  17: 'CAMERA',
  18: 'DATING',
};
export const WP_TEXT_FIELDS = new Set([2, 3, 4]);

/** ANKETA_INFO columns whose values are UTF-16LE from 1.16 on (§11.2, MIR). */
export const ANKETA_TEXT_COLUMNS = new Set(['nickname', 'firstname', 'lastname', 'location', 'status_title', 'status_desc']);

export function nameFlags(names: FlagNames, value: number): string[] {
  const out: string[] = [];
  let rest = value >>> 0;
  for (const [bit, name] of names) {
    if ((rest & bit) >>> 0 === bit) {
      out.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  if (rest !== 0) out.push(`0x${rest.toString(16)}`);
  return out;
}

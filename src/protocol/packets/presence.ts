/** Presence: own and contacts' statuses, extended statuses, microblog posts. */
import type { PayloadReader } from '../buffer.js';
import * as K from '../constants.js';
import { field, u64Type, ul, type FieldContext } from '../fields.js';
import { clpsType } from '../text-fields.js';
import { packet, variant } from './def.js';
import { ascii, guessed, str, utf16, xstatusFields } from './rules.js';

const USER_STATUS_LAYOUT_SHORT = [ul('status', { values: K.STATUS }), str('user', ascii)] as const;
const USER_STATUS_LAYOUT_EXTENDED = [
  ul('status', { values: K.STATUS }),
  ...xstatusFields,
  str('user', ascii),
  ul('features', { flags: K.FEATURES, optional: true }),
  str('userAgent', ascii, { optional: true }),
] as const;
const USER_STATUS_SHORT = variant('short', USER_STATUS_LAYOUT_SHORT);
const USER_STATUS_EXTENDED = variant('extended', USER_STATUS_LAYOUT_EXTENDED);
const CHANGE_STATUS_SHORT = variant('short', [ul('status', { values: K.STATUS })], 'c2s');
const CHANGE_STATUS_EXTENDED = variant(
  'extended',
  [ul('status', { values: K.STATUS }), ...xstatusFields, ul('features', { flags: K.FEATURES, optional: true })],
  'c2s',
);
// P1412 lists CHANGE_STATUS S→C too: a server sends it with the USER_STATUS layout (the contact's e-mail
// after the status), so the server's forms are USER_STATUS's under names of their own.
const CHANGE_STATUS_CONTACT_SHORT = variant('contact-short', USER_STATUS_LAYOUT_SHORT, 's2c');
const CHANGE_STATUS_CONTACT_EXTENDED = variant('contact-extended', USER_STATUS_LAYOUT_EXTENDED, 's2c');

/**
 * The USER_STATUS form of a payload. [CONFLICT §22.2] extended from 1.14 (P1412, OMRA) or 1.15 (SRV):
 * decoded by shape, as the reference advises (payload ends after UL + one LPS → short form); encoded by
 * the fields given.
 */
function userStatusForm(c: FieldContext, payload?: PayloadReader): 'short' | 'extended' {
  if (payload) {
    const start = payload.pos;
    payload.ul();
    payload.skipLps();
    const short = payload.atEnd;
    payload.pos = start;
    return short ? 'short' : 'extended';
  }
  return c.fields.statusUri !== undefined ? 'extended' : 'short';
}

export const PRESENCE_PACKETS = [
  packet({
    code: 0x100f,
    name: 'USER_STATUS',
    dir: 's2c',
    section: '9.1',
    summary: "a contact's presence changed",
    variant: (c, payload) => (userStatusForm(c, payload) === 'short' ? USER_STATUS_SHORT : USER_STATUS_EXTENDED),
    variants: [USER_STATUS_SHORT, USER_STATUS_EXTENDED],
  }),
  packet({
    code: 0x1022,
    name: 'CHANGE_STATUS',
    dir: 'both',
    section: '9.2',
    summary: "set own status (x-status, title, description ≥1.14); S→C: a contact's, as USER_STATUS",
    // The direction decides the layout: the client's own status, or (S→C) a contact's in the USER_STATUS
    // layout. [CONFLICT §22.2] extended from 1.14 (P1412) or 1.15 (SRV): decoded by shape (a bare UL is
    // the client's short form), encoded by the fields given.
    variant: (c, payload) => {
      if (c.dir === 's2c') return userStatusForm(c, payload) === 'short' ? CHANGE_STATUS_CONTACT_SHORT : CHANGE_STATUS_CONTACT_EXTENDED;
      if (payload) return payload.remaining <= 4 ? CHANGE_STATUS_SHORT : CHANGE_STATUS_EXTENDED;
      return c.fields.statusUri !== undefined ? CHANGE_STATUS_EXTENDED : CHANGE_STATUS_SHORT;
    },
    variants: [CHANGE_STATUS_SHORT, CHANGE_STATUS_EXTENDED, CHANGE_STATUS_CONTACT_SHORT, CHANGE_STATUS_CONTACT_EXTENDED],
  }),
  packet({
    code: 0x1063,
    name: 'USER_BLOG_STATUS',
    aliases: ['MICROBLOG_RECV'],
    dir: 's2c',
    section: '15.1',
    since: '1.20',
    summary: "a contact's microblog post",
    // Revival servers (SRV) echo a post back to its author, with the post id: linked by its text. Other
    // servers send nothing back, so it is not awaited.
    reply: { requests: ['CHANGE_USER_BLOG_STATUS'], by: 'field', field: 'text', requestField: 'text', awaited: () => false },
    layout: [
      ul('flags', { flags: K.BLOG_FLAGS }),
      str('user', ascii),
      field('postId', u64Type),
      ul('time', { time: true }),
      str('text', utf16, { content: 'text' }),
      str('replyNick', utf16),
      str('xml', guessed, { optional: true }),
    ],
  }),
  packet({
    code: 0x1064,
    name: 'CHANGE_USER_BLOG_STATUS',
    aliases: ['MICROBLOG_POST'],
    dir: 'c2s',
    section: '15.1',
    since: '1.20',
    summary: 'post to the microblog',
    layout: [ul('flags', { flags: K.BLOG_FLAGS }), str('text', utf16, { content: 'text' }), field('originalPostId', u64Type, { optional: true })],
  }),
  packet({
    code: 0x1075,
    name: 'SET_USER_EXT_STATUS',
    dir: 'c2s',
    section: '9.4',
    summary: 'set an extended (e.g. geo) status',
    layout: [
      ul('flags', { flags: K.EXT_STATUS_FLAGS }),
      field('to', clpsType(ascii)),
      str('type', ascii),
      str('status', guessed),
    ],
  }),
  packet({
    code: 0x1076,
    name: 'CLEAR_USER_EXT_STATUS',
    dir: 'c2s',
    section: '9.4',
    summary: 'clear an extended status',
    layout: [field('to', clpsType(ascii)), str('type', ascii)],
  }),
  packet({
    code: 0x1077,
    name: 'USER_EXT_STATUS',
    aliases: ['USER_GEO'],
    dir: 's2c',
    section: '9.4',
    summary: "a contact's extended statuses (type/status pairs)",
    layout: [str('from', ascii), field('list', clpsType(guessed))],
  }),
  packet({
    code: 0x1093,
    name: 'INVISIBLE_OUT',
    dir: 'both',
    section: '9.3',
    summary: 'invisible timeout [semantics unknown]',
    layout: [ul('timeout')],
  }),
];

/**
 * What a replay changes in a recorded frame before it goes out again, sans-IO, so that it is a valid
 * frame of the live session rather than stale bytes. Client side: other credentials in the login packet
 * (plain or MD5 as the recorded one, or as its version sends it when the capture was redacted), and
 * the ids the live server chose (msg_id, UIDL, id_request) in the frames that answer it by field.
 * Server side: the live client's seq in replies, its ids in replies by field, its protocol version.
 * Seq numbering itself is the Conversation's. A frame nothing changes in goes out byte for byte.
 */
import { reencode, frameLayout, type DecodedFrame } from '../protocol/codec.js';
import type { Fields } from '../protocol/fields.js';
import { passwordMd5 } from '../protocol/formats.js';
import { formatProto, headerField, protoMinor } from '../protocol/header.js';
import { packetByCode, requestFieldOf } from '../protocol/packets/index.js';
import type { Encoding } from '../protocol/text.js';
import { secretEncoding } from '../tap/mask.js';
import type { RecordedFrame } from './recording.js';

export interface Credentials {
  login?: string;
  password?: string;
}

export interface Rewritten {
  raw: Buffer;
  frame: DecodedFrame;
  /** What was changed, for the report (`msgId 4 → 9 (the live server's)`); empty when nothing was. */
  changes: string[];
}

/** The fields of a login packet that carry the account and the password, from the table. */
function loginFields(frame: DecodedFrame): { login: string; password?: string } | undefined {
  const login = packetByCode(frame.msg)?.session?.login;
  if (!login) return undefined;
  return { login, password: frameLayout(frame).find((s) => s.secret)?.name };
}

/** A password the capture's writer overwrote with `*` (a redacted copy keeps its length, not its value). */
export function isRedactedLogin(frame: DecodedFrame): boolean {
  const f = loginFields(frame);
  const value = f?.password !== undefined ? frame.fields[f.password] : undefined;
  return typeof value === 'string' && /^\*+$/.test(value);
}

function withFields(rec: RecordedFrame, fields: Fields, enc: Record<string, Encoding>, changes: string[]): Rewritten {
  if (!changes.length) return { raw: rec.raw, frame: rec.frame, changes };
  const frame: DecodedFrame = { ...rec.frame, fields, enc };
  try {
    return { raw: reencode(frame), frame, changes };
  } catch (e) {
    // A damaged recorded frame the encoder cannot write again: better the recorded bytes than none.
    return { raw: rec.raw, frame: rec.frame, changes: [`not rewritten (${(e as Error).message}): sent as recorded`] };
  }
}

const shown = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** A frame that answers another by field (reply rule `by: 'field'`) takes that field from the live one it answers. */
function takeAnsweredId(rec: RecordedFrame, fields: Fields, answered: DecodedFrame | undefined, whose: string, changes: string[]): void {
  const rule = packetByCode(rec.frame.msg)?.reply;
  if (rule?.by !== 'field' || !answered) return;
  const requestField = requestFieldOf(rule, answered.type);
  const value = requestField === undefined ? undefined : answered.fields[requestField];
  if (value === undefined || value === fields[rule.field]) return;
  changes.push(`${rule.field} ${shown(fields[rule.field])} → ${shown(value)} (the live ${whose}'s)`);
  fields[rule.field] = value;
}

/**
 * A recorded client frame for the live session. `answered` is the live frame that the recorded
 * server frame it answers was paired with.
 */
export function rewriteClientFrame(rec: RecordedFrame, opts: { credentials?: Credentials; answered?: DecodedFrame } = {}): Rewritten {
  const fields: Fields = { ...rec.frame.fields };
  const enc = { ...rec.frame.enc };
  const changes: string[] = [];
  const login = loginFields(rec.frame);
  const { credentials, answered } = opts;
  if (login && credentials?.login !== undefined && credentials.login !== fields[login.login]) {
    changes.push(`login ${shown(fields[login.login])} → ${shown(credentials.login)}`);
    fields[login.login] = credentials.login;
  }
  if (login?.password && credentials?.password !== undefined) {
    const spec = frameLayout(rec.frame).find((s) => s.name === login.password)!;
    // A redacted password tells nothing of its form: the one its version sends.
    const form = secretEncoding(spec, isRedactedLogin(rec.frame) ? { ...rec.frame, enc: {} } : rec.frame);
    fields[login.password] = form === 'md5' ? passwordMd5(credentials.password) : credentials.password;
    enc[login.password] = form === 'md5' ? 'hex' : 'cp1251';
    changes.push(`password replaced (${form === 'md5' ? 'MD5' : 'plain text'})`);
  }
  takeAnsweredId(rec, fields, answered, 'server', changes);
  return withFields(rec, fields, enc, changes);
}

export interface ServerRewritten extends Rewritten {
  /** The seq to send it with: the live request's for a reply, the recorded one otherwise. */
  seq: number;
}

/**
 * A recorded server frame for the live client. `request` is the live frame its recorded request was
 * paired with (for replies); `proto` the live client's header version.
 */
export function rewriteServerFrame(rec: RecordedFrame, live: { proto?: number; request?: DecodedFrame }): ServerRewritten {
  const fields: Fields = { ...rec.frame.fields };
  let enc = { ...rec.frame.enc };
  const changes: string[] = [];
  const { request } = live;
  // A reply that copied its request's seq copies the live one's (one that did not keeps its own).
  const seq = request && rec.answers && rec.frame.seq === rec.answers.frame.seq ? request.seq : rec.frame.seq;
  takeAnsweredId(rec, fields, request, 'client', changes);
  const recorded = headerField(rec.raw, 'proto');
  let frame: DecodedFrame = rec.frame;
  if (live.proto !== undefined && live.proto !== recorded) {
    // Layouts and encodings follow the live client's version; the recorded string encodings were the old one's.
    enc = {};
    frame = { ...rec.frame, proto: formatProto(live.proto), minor: protoMinor(live.proto) };
    changes.push(`re-encoded for v${formatProto(live.proto)} (recorded v${formatProto(recorded)})`);
  }
  const out = withFields({ ...rec, frame }, fields, enc, changes);
  return { ...out, seq };
}

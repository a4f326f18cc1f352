/**
 * What one row of the packet table declares: code, name, direction, layout (or wire forms), how its
 * reply finds the request, and what the packet does to a session. Every part of the toolkit that needs
 * one of these facts reads it here, never from a list of its own.
 */
import type { PayloadReader } from '../buffer.js';
import type { Direction, FieldContext, Fields, Layout } from '../fields.js';

export type PacketDirection = 'c2s' | 's2c' | 'both';

interface ReplyRuleBase {
  requests: readonly string[];
  /** Only requests this holds for (by their fields and type) are answered by this reply: a MESSAGE with AUTHORIZE. */
  answers?: (request: Fields, type: string) => boolean;
  /**
   * Whether a request awaits this reply, so that one without it is flagged when the connection closes
   * (default: yes). A MESSAGE_ACK with NORECV awaits no MESSAGE_RECV.
   */
  awaited?: (request: Fields) => boolean;
  /**
   * A reply besides the request's answer, found on its own and never awaited: AUTHORIZE_ACK comes (if
   * the other user ever authorizes) after ADD_CONTACT_ACK has answered the ADD_CONTACT.
   */
  extra?: true;
}

/** How a reply finds the request it answers (reference §3.2). */
export type ReplyRule = ReplyRuleBase &
  (
    | { by: 'seq' }
    /** The most recent outstanding request of that type (HELLO_ACK, LOGIN_ACK). */
    | { by: 'last' }
    /**
     * A field of the reply equals a field of the request (msg_id, id_request, UIDL; text compared in
     * any case), named per request type where they differ.
     */
    | { by: 'field'; field: string; requestField: string | Readonly<Record<string, string>> }
  );

/** The request's field a `by: 'field'` reply is compared with, for that request type. */
export function requestFieldOf(rule: Extract<ReplyRule, { by: 'field' }>, requestType: string): string | undefined {
  return typeof rule.requestField === 'string' ? rule.requestField : rule.requestField[requestType];
}

export interface Variant<L extends Layout = Layout> {
  name: string;
  layout: L;
  /** For a packet that travels both ways: the one direction this form is sent in, if it is only one. */
  dir?: Direction;
}

/** What a packet does to the session it travels in (reference §0, §2.3, §5). */
export interface SessionRules {
  /**
   * The client's header version from this packet on governs the session's layouts (HELLO and the
   * login packets), until the login is accepted.
   */
  learnsVersion?: true;
  /** Carries the account being logged in, in this field. */
  login?: string;
  /** Once accepted with OK, the connection switches: TLS both ways, or a zlib stream server→client. */
  switchesTo?: 'tls' | 'zlib';
  /** A client may send it before LOGIN_ACK (reference §5.3); anything else before login is ignored. */
  beforeLogin?: true;
  /** What a server that does not implement the request answers, so the client does not wait in vain. */
  errorReply?: { type: string; fields: Fields };
  /**
   * A reply of this type accepts the request it answers: a login (LOGIN_ACK, after which the version
   * is settled) or a switch (OK to STARTTLS). Refusals (LOGIN_REJ, FAILURE) do not say so.
   */
  accepts?: true;
}

export interface PacketDef<Name extends string = string, L extends Layout = Layout, V extends readonly Variant[] = readonly Variant[]> {
  code: number;
  name: Name;
  /** Names other sources use, accepted wherever a user types a packet name. */
  aliases?: readonly string[];
  dir: PacketDirection;
  /** Reference section with the layout. */
  section: string;
  /** Earliest version where a source shows it, for documentation. */
  since?: string;
  summary: string;
  layout?: L;
  /**
   * For packets with several wire forms: picks one from the payload when decoding (a reader at its
   * start, to be left there) or from the fields when encoding.
   */
  variant?: (c: FieldContext, payload?: PayloadReader) => Variant;
  /** Every wire form `variant` can pick, for documentation, tests and the field types. */
  variants?: V;
  /**
   * Decode-only annotations derived from the fields (unpacked RTF, parsed offline mail…). In a lazy
   * decode `f` makes a top-level field's texts when read; texts nested deeper are still LazyText.
   */
  derive?: (f: Fields, c: FieldContext) => Fields | undefined;
  /**
   * The annotations `derive` adds, declared like fields: filters know their names, the listing the
   * names of the constants in them.
   */
  derived?: Layout;
  reply?: ReplyRule;
  session?: SessionRules;
  /**
   * Bytes real peers are known to append after the last field (hex), and who does: kept as trailing
   * bytes like any others, but reported as a note instead of a warning, since nothing is wrong.
   */
  knownTrailing?: readonly { bytes: string; by: string }[];
  /** The reference has no public layout: the payload is kept as raw bytes. */
  unknownLayout?: boolean;
}

/**
 * Every key a row may have, in one order: rows made from it share one shape, so reading a row (every
 * decoded frame reads several of its keys) is not a lookup among a hundred shapes.
 */
const ROW_KEYS: Record<keyof PacketDef, undefined> = {
  code: undefined,
  name: undefined,
  aliases: undefined,
  dir: undefined,
  section: undefined,
  since: undefined,
  summary: undefined,
  layout: undefined,
  variant: undefined,
  variants: undefined,
  derive: undefined,
  derived: undefined,
  reply: undefined,
  session: undefined,
  knownTrailing: undefined,
  unknownLayout: undefined,
};

/** Declares one row, keeping its name and field layout as types (so encoding is type-checked). */
export const packet = <const Name extends string, const L extends Layout = readonly [], const V extends readonly Variant[] = readonly []>(
  def: PacketDef<Name, L, V>,
): PacketDef<Name, L, V> => ({ ...ROW_KEYS, ...def });

/** Declares one wire form of a packet with several. */
export const variant = <const L extends Layout>(name: string, layout: L, dir?: Direction): Variant<L> => ({ name, layout, ...(dir ? { dir } : {}) });

/** The layout of a packet without fields: one, as decodeFields makes a reader per layout. */
const NO_FIELDS: Layout = Object.freeze([]);

/** The layout a packet has in the form the context (and, when decoding, the payload) selects. */
export function layoutOf(def: PacketDef, c: FieldContext, payload?: PayloadReader): { variant?: string; layout: Layout } {
  if (def.variant) {
    const v = def.variant(c, payload);
    return { variant: v.name, layout: v.layout };
  }
  return { layout: def.layout ?? NO_FIELDS };
}

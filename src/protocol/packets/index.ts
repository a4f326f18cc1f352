/**
 * THE packet table: every MRIM packet type of the reference's master table (§6), declared once, one
 * file per area of the protocol. Decoding, encoding, pretty-printing, filters, session behaviour and
 * the packet list in the README are all driven by it; the field types below are derived from it.
 * Where the reference marks a point [CONFLICT], the rule chosen is named in a comment next to it.
 */
import type { Fields, LayoutFields } from '../fields.js';
import { CONTACT_PACKETS } from './contacts.js';
import type { PacketDef } from './def.js';
import { MEDIA_PACKETS } from './media.js';
import { MESSAGE_PACKETS } from './messages.js';
import { PRESENCE_PACKETS } from './presence.js';
import { SEARCH_PACKETS } from './search.js';
import { SERVICE_PACKETS } from './services.js';
import { SESSION_PACKETS } from './session.js';

export { layoutOf, requestFieldOf, type PacketDef, type PacketDirection, type ReplyRule, type SessionRules, type Variant } from './def.js';
export { CONTACT_COLUMNS, GROUP_COLUMNS, GROUP_MASK, contactMaskFor, maskSpecs } from './contacts.js';

/** Ordered by code. */
export const PACKETS = [
  ...SESSION_PACKETS,
  ...MESSAGE_PACKETS,
  ...CONTACT_PACKETS,
  ...PRESENCE_PACKETS,
  ...SEARCH_PACKETS,
  ...MEDIA_PACKETS,
  ...SERVICE_PACKETS,
].sort((a, b) => a.code - b.code);

type AnyPacket = (typeof PACKETS)[number];

/** Every packet name of the table: a misspelt one is a compile error. */
export type PacketName = AnyPacket['name'];

// A packet with wire forms has the fields of all of them (USER_STATUS: short and extended).
type FieldsOfDef<D> =
  D extends PacketDef<string, infer L, infer V> ? (V extends readonly [] ? LayoutFields<L> : LayoutFields<V[number]['layout']>) : never;

/** The fields of a packet type as the table declares them (all optional: absent ones encode empty). */
export type PacketFields<N extends PacketName> = FieldsOfDef<Extract<AnyPacket, { name: N }>>;

// ---------------------------------------------------------------------------------------------------
// Lookup

// By code as an array from the lowest code (the codes are dense): every decoded frame looks its type up,
// and hashing the number for a Map cost more than an index.
const CODES = PACKETS.map((def) => def.code);
const FIRST_CODE = Math.min(...CODES);
const byCode: (PacketDef | undefined)[] = Array.from({ length: Math.max(...CODES) - FIRST_CODE + 1 }, () => undefined);
const byName = new Map<string, PacketDef>();
for (const def of PACKETS as readonly PacketDef[]) {
  if (byCode[def.code - FIRST_CODE]) throw new Error(`duplicate packet code 0x${def.code.toString(16)}`);
  byCode[def.code - FIRST_CODE] = def;
  for (const name of [def.name, ...(def.aliases ?? [])]) byName.set(name.toUpperCase(), def);
}
// The table names packets in its reply rules and session rules: those must be rows of it.
for (const def of PACKETS as readonly PacketDef[]) {
  for (const name of [...(def.reply?.requests ?? []), ...(def.session?.errorReply ? [def.session.errorReply.type] : [])]) {
    if (!byName.has(name)) throw new Error(`${def.name} names an unknown packet ${name}`);
  }
}

export function packetByCode(code: number): PacketDef | undefined {
  const at = code - FIRST_CODE;
  return at >= 0 && at < byCode.length ? byCode[at] : undefined;
}

/** Accepts a name, an alias, `MRIM_CS_` prefixed names, or a code (`0x1008`, `4104`). */
export function packetByName(name: string): PacketDef | undefined {
  // A frame's own type is the canonical name: found at once (this runs for every frame decoded).
  const exact = byName.get(name);
  if (exact) return exact;
  const key = name.trim().toUpperCase().replace(/^MRIM_CS_/, '');
  if (/^(0X[0-9A-F]+|\d+)$/.test(key)) return packetByCode(Number(key));
  return byName.get(key);
}

export function packetName(code: number): string {
  return packetByCode(code)?.name ?? `UNKNOWN(0x${code.toString(16).padStart(4, '0')})`;
}

/** True when `name` is a packet of the table (narrows a string read at run time). */
export function isPacketName(name: string): name is PacketName {
  return byName.get(name)?.name === name;
}

/** A decoded frame's fields, seen as the fields of its packet type. */
export type FieldsOf<N extends PacketName> = PacketFields<N> & Fields;

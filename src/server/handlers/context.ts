/** What every packet handler receives from the core (state, config, log), and the frame checks all areas share. */
import type tls from 'node:tls';
import type { DecodedFrame, FrameOf } from '../../protocol/codec.js';
import type { Fields } from '../../protocol/fields.js';
import type { PacketName } from '../../protocol/packets/index.js';
import type { ClientConnection } from '../connection.js';
import type { ServerLogEvent, ServerLogKind } from '../types.js';
import type { UserRecord } from '../users.js';

export interface CoreConfig {
  pingPeriod: number;
  secureContext?: tls.SecureContext;
}

/** The core as handlers see it; the handler modules import each other's functions, never the core. */
export interface ServerContext {
  readonly users: ReadonlyMap<string, UserRecord>;
  /** The logged-in connection of each user. */
  readonly sessions: Map<string, ClientConnection>;
  readonly config: CoreConfig;
  log(conn: ClientConnection | undefined, level: 'info' | 'warn', event: ServerLogKind, text: string, extra?: Partial<ServerLogEvent>): void;
  /** The msg_id of the next MESSAGE_ACK; one counter for the server (messages, typing, authorization requests). */
  nextMsgId(): number;
}

export type Handler = (ctx: ServerContext, conn: ClientConnection, f: DecodedFrame) => void;

/** One handler per packet type, given that packet's frame: a misspelt packet name does not compile. */
export type Handlers = { [N in PacketName]?: (ctx: ServerContext, conn: ClientConnection, f: FrameOf<N>) => void };

export const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** True (and the error reply sent) when a frame lacks fields the handler cannot do without. */
export function lacks(ctx: ServerContext, conn: ClientConnection, f: DecodedFrame, names: string[], reply?: [PacketName, Fields]): boolean {
  const absent = names.filter((n) => f.fields[n] === undefined);
  if (!absent.length) return false;
  if (reply) conn.send(reply[0], reply[1], f.seq);
  ctx.log(conn, 'warn', 'bad-frame', `${f.type} without ${absent.join(', ')}${reply ? ` → ${reply[0]}` : ': ignored'}`, {
    packet: f.type,
    warnings: f.warnings,
  });
  return true;
}

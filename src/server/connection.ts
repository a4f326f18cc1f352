/**
 * One client connection of the reference server: reassembles frames with the shared Framer, decodes
 * them with the packet table in the client's version, writes every reply as its own socket write (the
 * revival-era peers assume one frame per read), switches to TLS after STARTTLS and drops a peer that
 * stops sending PINGs, holds too many bytes of unfinished frames before logging in, or reads nothing
 * of what it is sent.
 */
import type net from 'node:net';
import tls from 'node:tls';
import { formatEndpoint } from '../net/endpoint.js';
import type { DecodedFrame } from '../protocol/codec.js';
import { Conversation, type ReplyInfo, type Sent } from '../protocol/conversation.js';
import { Framer, type FramerEvent } from '../protocol/framer.js';
import { formatProto } from '../protocol/header.js';
import type { PacketFields, PacketName } from '../protocol/packets/index.js';
import type { StoredMessage, UserRecord } from './users.js';

/**
 * Garbage bytes reported in a row, with no frame in between, after which the stream counts as
 * impossible to resync: no MRIM client sends that much that is not frames. (The Framer holds garbage
 * until it finds the next magic, or reports it in parts past 64 KiB, so this always gets reached.)
 */
const MAX_GARBAGE_RUN = 32 * 1024;
/** How long a gracefully ended connection may take to close before it is destroyed. */
const END_GRACE_MS = 2000;

/** What a single connection may hold in the server's memory (ServerLimits, resolved). */
export interface ConnectionLimits {
  maxPreLoginBytes: number;
  maxUnreadBytes: number;
}

export interface ConnectionHooks {
  /** A frame of the client, with the frame of ours it answers, if any. */
  onFrame(conn: ClientConnection, frame: DecodedFrame, replyTo?: ReplyInfo): void;
  /** A frame sent with text the client's encoding could not carry (the encoder's notes). */
  onLossySend(conn: ClientConnection, type: PacketName, notes: string[]): void;
  onGarbage(conn: ClientConnection, ev: Extract<FramerEvent, { kind: 'garbage' }>): void;
  onTls(conn: ClientConnection, text: string, ok: boolean): void;
  onClose(conn: ClientConnection, reason: string, kind: 'disconnect' | 'timeout' | 'error'): void;
}

/** A message handed to this connection's user that awaits their MESSAGE_RECV. */
export interface AwaitingRecv {
  sender: ClientConnection;
  seq: number;
  message: StoredMessage;
}

/** A socket's address for logs and redirector answers; IPv4-mapped IPv6 as plain IPv4. */
export function addressText(ip: string | undefined, port: number | undefined): string {
  // Node leaves both undefined on a socket already gone; the text is then `?:undefined`.
  return formatEndpoint({ host: (ip ?? '?').replace(/^::ffff:/, ''), port: port as number });
}

export class ClientConnection {
  readonly remote: string;
  user?: UserRecord;
  loggedIn = false;
  /** Replaced by a newer login of the same user: its close must not touch the user's presence. */
  replaced = false;
  /** Contact ids of this session (reference §10.1): `contactIds[i]` is the e-mail of contact id 20 + i. */
  contactIds: string[] = [];
  /** Features and user agent the client announced at login, kept for its status notifications. */
  client = { features: 0, userAgent: '' };
  /** Last USER_STATUS sent per contact, so unchanged presence is not repeated. */
  readonly lastSeen = new Map<string, string>();
  readonly awaitingRecv = new Map<number, AwaitingRecv>();
  private socket: net.Socket | tls.TLSSocket;
  private framer = new Framer({ dir: 'c2s', detectPreamble: false });
  /** The client's version (echoed in every reply), numbering, reply matching: by the packet table. */
  private readonly conversation = new Conversation('server');
  private garbageRun = 0;
  private readonly deadPeer: NodeJS.Timeout;
  private endGrace?: NodeJS.Timeout;
  private ending = false;
  private finished = false;
  private closeReason?: { text: string; kind: 'disconnect' | 'timeout' | 'error' };

  constructor(
    socket: net.Socket,
    readonly id: number,
    private readonly hooks: ConnectionHooks,
    readonly pingPeriod: number,
    private readonly limits: ConnectionLimits,
  ) {
    this.socket = socket;
    this.remote = addressText(socket.remoteAddress, socket.remotePort);
    socket.setNoDelay(true);
    this.attach(socket);
    // Runs from the connection's start: a peer that never sends HELLO/PING is dropped the same way.
    this.deadPeer = setTimeout(() => this.destroy(`no PING for ${this.pingPeriod * 1.5} s`, 'timeout'), this.pingPeriod * 1500);
  }

  get minor(): number {
    return this.conversation.minor;
  }

  get protoText(): string | undefined {
    const proto = this.conversation.state.proto;
    return proto === undefined ? undefined : formatProto(proto);
  }

  /** STARTTLS was accepted: the connection is (or is becoming) TLS. */
  get tls(): boolean {
    return this.conversation.state.tls;
  }

  get open(): boolean {
    return !this.ending && !this.finished;
  }

  /** A PING arrived: the peer is alive for another 1.5 periods (other packets do not count, §2.5). */
  pinged(): void {
    this.deadPeer.refresh();
  }

  /** The client's socket address, for per-address limits. */
  get address(): string {
    return this.socket.remoteAddress ?? '?';
  }

  /** Encodes and writes one frame in the client's version; `seq` defaults to the next unsolicited one. */
  send<N extends PacketName>(type: N, fields?: PacketFields<N>, seq?: number): void {
    if (!this.open) return;
    const sent = this.conversation.send(type, fields, { seq });
    this.socket.write(sent.frame);
    if (sent.notes.length) this.hooks.onLossySend(this, type, sent.notes);
    this.checkUnread();
  }

  /** Writes a frame encoded already (a recorded one, replayed), with the given seq or the next of ours; undefined once closing. */
  resend(raw: Buffer, decoded: DecodedFrame, seq?: number): Sent | undefined {
    if (!this.open) return undefined;
    const sent = this.conversation.resend(raw, decoded, { seq });
    this.socket.write(sent.frame);
    this.checkUnread();
    return sent;
  }

  /** A client that reads nothing would have the server buffer everything sent to it (other users' messages, presence…). */
  private checkUnread(): void {
    if (this.socket.writableLength > this.limits.maxUnreadBytes) {
      this.destroy(`${this.socket.writableLength} bytes sent to the client unread (limit ${this.limits.maxUnreadBytes}): it does not read`, 'error');
    }
  }

  /**
   * Switches to TLS right after the OK: synchronously, so no byte of the client's handshake is read
   * by the plain-text side in between.
   */
  startTls(context: tls.SecureContext): void {
    const raw = this.socket as net.Socket;
    this.framer.enterTls();
    this.detach(raw);
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
    this.socket = secure;
    this.framer = new Framer({ dir: 'c2s', detectPreamble: false });
    secure.once('secure', () => this.hooks.onTls(this, `TLS established (${secure.getProtocol() ?? 'TLS'}, ${secure.getCipher()?.name ?? '?'})`, true));
    this.attach(secure);
  }

  /** Ends after the queued frames are written (LOGOUT, LOGIN_REJ…). */
  end(reason: string, kind: 'disconnect' | 'timeout' | 'error' = 'disconnect'): void {
    if (!this.open) return;
    this.closeReason ??= { text: reason, kind };
    this.ending = true;
    this.socket.end();
    this.endGrace = setTimeout(() => this.destroy(reason, kind), END_GRACE_MS);
  }

  destroy(reason: string, kind: 'disconnect' | 'timeout' | 'error' = 'disconnect'): void {
    this.closeReason ??= { text: reason, kind };
    this.socket.destroy();
    this.finish();
  }

  private readonly onData = (chunk: Buffer): void => {
    for (const ev of this.framer.push(chunk)) {
      if (!this.open) return;
      if (ev.kind === 'frame') {
        this.garbageRun = 0;
        const { frame, replyTo } = this.conversation.receive(ev.frame);
        this.hooks.onFrame(this, frame, replyTo);
      } else if (ev.kind === 'garbage') {
        if (ev.skipped === undefined) this.garbageRun += ev.bytes.length;
        this.hooks.onGarbage(this, ev);
        if (this.garbageRun > MAX_GARBAGE_RUN) {
          this.destroy(`no frame found in ${this.garbageRun} bytes: stream cannot be resynced`, 'error');
          return;
        }
      } else if (ev.kind === 'tls') {
        // Bytes sent after STARTTLS in the same read, before our OK could have arrived: not a handshake.
        this.hooks.onTls(this, `${ev.bytes.length} bytes after STARTTLS ignored`, false);
      }
    }
    // Unfinished frames are held until they complete: before login nobody may make the server hold much.
    if (this.open && !this.loggedIn && this.framer.pending > this.limits.maxPreLoginBytes) {
      this.destroy(`${this.framer.pending} bytes of unfinished frames before login (limit ${this.limits.maxPreLoginBytes})`, 'error');
    }
  };

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    const reset = err.code === 'ECONNRESET' || err.code === 'EPIPE';
    this.closeReason ??= reset ? { text: 'connection reset by the client', kind: 'disconnect' } : { text: err.message, kind: 'error' };
  };

  /** MRIM has no half-close: once the client sent FIN the session is over (and nothing is written into it). */
  private readonly onEnd = (): void => this.destroy('closed by the client');

  private readonly onClose = (): void => this.finish();

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.deadPeer);
    clearTimeout(this.endGrace);
    const reason = this.closeReason ?? { text: 'closed by the client', kind: 'disconnect' as const };
    this.hooks.onClose(this, reason.text, reason.kind);
  }
}

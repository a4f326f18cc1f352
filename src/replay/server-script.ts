/**
 * Server replay, sans-IO: the recorded server side of a session, played to one live client. Until the
 * client logs in, the first recorded session is played; its login packet picks the recorded session of
 * that account (or, for an account the capture does not have, LOGIN_REJ). A recorded reply goes out
 * when the live client sends the request it answered, with that request's seq and ids; unsolicited
 * frames go in their recorded order once the client frames recorded before them have come, or the
 * timeout passed, so a client that does less than the recorded one still gets its contact list and
 * messages. The login packet is waited for as long as it takes. The live client's frames are compared
 * with the recorded client's.
 */
import type { DecodedFrame } from '../protocol/codec.js';
import { FAILURE } from '../protocol/constants.js';
import type { ReplyInfo, Switch } from '../protocol/conversation.js';
import type { Fields } from '../protocol/fields.js';
import { formatProto } from '../protocol/header.js';
import { packetByCode, packetByName, type PacketName } from '../protocol/packets/index.js';
import type { Comparer } from './compare.js';
import { FrameMatcher, type Expectation } from './matcher.js';
import { isKeepAlive, type RecordedConnection, type RecordedFrame } from './recording.js';
import { countRows, type ReportRow, type SessionReport, type Timing } from './report.js';
import { rewriteServerFrame } from './rewrite.js';

/** The recorded sessions a replaying server plays, shared by its live clients. */
export class SessionPool {
  private readonly used = new Set<RecordedConnection>();

  constructor(readonly sessions: readonly RecordedConnection[]) {}

  /** What a client gets before it logs in: a session no client has taken yet, if there is one. */
  first(): RecordedConnection {
    return this.sessions.find((s) => !this.used.has(s)) ?? this.sessions[0];
  }

  /** The session of an account: one not played yet first (two clients of one account get one each). */
  forLogin(login: string): RecordedConnection | undefined {
    const mine = this.sessions.filter((s) => s.login?.toLowerCase() === login.toLowerCase());
    return mine.find((s) => !this.used.has(s)) ?? mine[0];
  }

  take(s: RecordedConnection): void {
    this.used.add(s);
  }

  get logins(): string[] {
    return [...new Set(this.sessions.flatMap((s) => (s.login ? [s.login] : [])))];
  }
}

export type Outgoing =
  | { kind: 'recorded'; rec: RecordedFrame; raw: Buffer; frame: DecodedFrame; seq: number; switchesTo?: Switch }
  /** A frame the recording does not have, answering what it cannot (an unknown account, a request it never saw). */
  | { kind: 'generated'; type: PacketName; fields: Fields; seq: number };

export interface PumpResult {
  send: Outgoing[];
  /** The recorded server closed the connection here. */
  close: boolean;
  /** When to pump again (a timeout or a recorded delay runs out); a live frame may come first. */
  wakeAt?: number;
}

export interface ServedOptions {
  timing: Timing;
  timeoutMs: number;
  comparer: Comparer;
  /** The server can switch to TLS (it has a certificate); without, an accepted STARTTLS becomes FAILURE. */
  tls: boolean;
}

const loginFieldOf = (f: DecodedFrame) => packetByCode(f.msg)?.session?.login;

/** The recorded server frame accepts a switch its request asks for (OK to STARTTLS). */
function switchOf(rec: RecordedFrame): Switch | undefined {
  if (!packetByCode(rec.frame.msg)?.session?.accepts || !rec.answers) return undefined;
  return packetByCode(rec.answers.frame.msg)?.session?.switchesTo;
}

interface Extra {
  /** The recorded frame it came after. */
  after?: RecordedFrame;
  row: ReportRow;
}

export class ServedSession {
  private session: RecordedConnection;
  private bound = false;
  private matcher!: FrameMatcher;
  private readonly ids = new Map<RecordedFrame, number>();
  private walk = 0;
  private lastDone?: RecordedFrame;
  private readonly sentRecs = new Map<RecordedFrame, string>();
  /** The live index of each frame we sent → the recorded frame it was. */
  private readonly recOfLive = new Map<number, RecordedFrame>();
  /** The live frame each recorded client frame was paired with. */
  private readonly liveOf = new Map<RecordedFrame, DecodedFrame>();
  private readonly deadlines = new Map<RecordedFrame, number>();
  /** Recorded replies passed over because their request has not come (yet). */
  private held: RecordedFrame[] = [];
  private readonly received: Array<{ frame: DecodedFrame; at: number }> = [];
  private readonly pending: Outgoing[] = [];
  private readonly extras: Extra[] = [];
  private anchor?: { live: number; rec: number };
  private rejected?: 'pending' | 'sent';
  private closedBy?: 'us' | 'client';
  private liveProto?: number;

  constructor(
    private readonly pool: SessionPool,
    private readonly opts: ServedOptions,
    readonly live: number,
    readonly peer: string,
  ) {
    this.session = pool.first();
    this.load(this.session);
  }

  /** The recorded session being played (the first one until the client logged in). */
  get playing(): RecordedConnection {
    return this.session;
  }

  get loggedIn(): boolean {
    return this.bound && !this.rejected;
  }

  /** The client has sent a frame (a connection that sent none is not a session to report). */
  get heard(): boolean {
    return this.received.length > 0 || this.rejected !== undefined;
  }

  private load(session: RecordedConnection): void {
    this.session = session;
    this.ids.clear();
    session.frames.forEach((f, i) => this.ids.set(f, i));
    const expectations: Expectation[] = session.frames.flatMap((f, i) => {
      if (f.dir !== 'c2s' || isKeepAlive(f)) return [];
      const answers = f.answers && this.ids.get(f.answers);
      return [{ id: i, rec: f, ...(answers !== undefined ? { answers } : {}) }];
    });
    this.matcher = new FrameMatcher(expectations, this.opts.comparer);
    this.walk = 0;
    this.deadlines.clear();
    this.held = [];
  }

  private recordedLogin(): RecordedFrame | undefined {
    return this.session.frames.find((f) => f.dir === 'c2s' && loginFieldOf(f.frame));
  }

  private claimed(rec: RecordedFrame): boolean {
    return this.matcher.isClaimed(this.ids.get(rec)!);
  }

  /** A frame of the live client; `replyTo` names the frame of ours it answers; `proto` its header version. */
  receive(frame: DecodedFrame, replyTo: ReplyInfo | undefined, proto: number, now: number): void {
    if (!this.bound || this.liveProto === undefined) this.liveProto = proto;
    if (isKeepAlive(frame) || this.rejected) return;
    const loginField = loginFieldOf(frame);
    if (loginField && !this.bound) this.bind(String(frame.fields[loginField] ?? ''), frame);
    if (this.rejected) return;
    let e: Expectation | undefined;
    const login = loginField ? this.recordedLogin() : undefined;
    // The login packet is the recorded one's counterpart whatever its type (LOGIN3 for LOGIN2).
    if (login && !this.claimed(login)) e = this.matcher.claimAs(this.ids.get(login)!, frame, now);
    const answered = replyTo && this.recOfLive.get(replyTo.index);
    e ??= this.matcher.claim(frame, answered ? this.ids.get(answered) : undefined, now);
    this.received.push({ frame, at: now });
    if (e) {
      this.liveOf.set(e.rec, frame);
      this.anchor = { live: now, rec: e.rec.time };
      return;
    }
    this.unexpected(frame);
    const reply = packetByCode(frame.msg)?.session?.errorReply;
    if (reply) this.pending.push({ kind: 'generated', type: reply.type as PacketName, fields: reply.fields, seq: frame.seq });
  }

  private unexpected(frame: DecodedFrame): void {
    const reply = packetByCode(frame.msg)?.session?.errorReply;
    const note = reply ? `answered ${reply.type}, as a server without it` : 'not in the recording: not answered';
    this.extras.push({ after: this.lastDone, row: { dir: 'c2s', what: frame.type, verdict: 'unexpected', summary: this.opts.comparer.summary(frame), note } });
  }

  private bind(login: string, frame: DecodedFrame): void {
    this.bound = true;
    const target = this.pool.forLogin(login);
    if (!target) {
      this.rejected = 'pending';
      const known = this.pool.logins.join(', ') || 'none';
      this.extras.push({ after: this.lastDone, row: { dir: 'c2s', what: frame.type, verdict: 'unexpected', note: `no recorded session logs in as ${login} (the capture has ${known}): answered LOGIN_REJ` } });
      this.pending.push({ kind: 'generated', type: 'LOGIN_REJ', fields: { reason: 'Invalid login' }, seq: frame.seq });
      return;
    }
    this.pool.take(target);
    if (target === this.session) return;
    // What the first session did before the login counts as this one's: the client's frames so far,
    // and its server frames up to its login packet (their equivalents went out already).
    this.load(target);
    this.extras.length = 0;
    for (const r of this.received) {
      const e = this.matcher.claim(r.frame, undefined, r.at);
      if (e) this.liveOf.set(e.rec, r.frame);
      else this.unexpected(r.frame);
    }
    const loginAt = target.frames.findIndex((f) => f.dir === 'c2s' && loginFieldOf(f.frame));
    for (const f of target.frames.slice(0, Math.max(0, loginAt))) if (f.dir === 's2c') this.sentRecs.set(f, 'sent before the login, from the first recorded session');
    this.walk = Math.max(0, loginAt);
  }

  /** The frame of ours with this live index was the recorded one. */
  served(rec: RecordedFrame, index: number): void {
    this.recOfLive.set(index, rec);
  }

  /** What to send now, in order, and when to come back. */
  pump(now: number): PumpResult {
    const send = this.pending.splice(0);
    if (this.rejected) {
      const first = this.rejected === 'pending';
      this.rejected = 'sent';
      if (first) this.closedBy = 'us';
      return { send, close: first };
    }
    // Replies held back until their request came.
    const due = this.held.filter((f) => this.claimed(f.answers!));
    this.held = this.held.filter((f) => !due.includes(f));
    for (const f of due) send.push(this.serve(f));
    const { frames } = this.session;
    while (this.walk < frames.length) {
      const f = frames[this.walk];
      if (isKeepAlive(f)) {
        this.walk++;
        continue;
      }
      if (f.dir === 'c2s') {
        if (!this.claimed(f)) {
          // A session cannot go on without its login.
          if (loginFieldOf(f.frame)) return { send, close: false };
          let deadline = this.deadlines.get(f);
          if (deadline === undefined) this.deadlines.set(f, (deadline = now + this.opts.timeoutMs));
          if (now < deadline) return { send, close: false, wakeAt: deadline };
        }
        this.walk++;
        this.lastDone = f;
        continue;
      }
      if (f.answers?.dir === 'c2s' && !this.claimed(f.answers)) {
        this.held.push(f);
        this.walk++;
        continue;
      }
      if (this.opts.timing === 'original' && this.anchor) {
        const due = this.anchor.live + Math.max(0, f.time - this.anchor.rec);
        if (now < due) return { send, close: false, wakeAt: due };
      }
      send.push(this.serve(f));
      this.walk++;
      this.lastDone = f;
    }
    const close = this.session.closed?.by === 'server' && !this.closedBy;
    if (close) this.closedBy = 'us';
    return { send, close };
  }

  private serve(f: RecordedFrame): Outgoing {
    const request = f.answers?.dir === 'c2s' ? this.liveOf.get(f.answers) : undefined;
    const out = rewriteServerFrame(f, { proto: this.liveProto, request });
    const switchesTo = switchOf(f);
    if (switchesTo === 'tls' && !this.opts.tls) {
      this.sentRecs.set(f, `FAILURE sent instead: this replaying server has no certificate (--tls-cert, --tls-key)`);
      const method = packetByName('STARTTLS')!.code;
      return { kind: 'generated', type: 'FAILURE', fields: { code: FAILURE.SERVICE_UNAVAILABLE, reason: 'STARTTLS is not configured', failedMethod: method }, seq: out.seq };
    }
    this.sentRecs.set(f, [`seq ${out.seq}`, ...out.changes].join('; '));
    return { kind: 'recorded', rec: f, raw: out.raw, frame: out.frame, seq: out.seq, ...(switchesTo ? { switchesTo } : {}) };
  }

  /** The live connection is gone. */
  closed(): void {
    this.closedBy ??= 'client';
  }

  report(): SessionReport {
    const { comparer } = this.opts;
    const rows: ReportRow[] = [];
    // A rejected client played no session: its rows are what it sent that had no counterpart.
    const extrasAfter = (f?: RecordedFrame) => this.extras.filter((x) => this.rejected || x.after === f).map((x) => x.row);
    rows.push(...extrasAfter(undefined));
    const at = (time: number) => Math.max(0, (time - (this.session.frames[0]?.time ?? time)) / 1000);
    if (!this.rejected) {
      for (const [i, f] of this.session.frames.entries()) {
        if (isKeepAlive(f)) continue;
        const base = { at: at(f.time), dir: f.dir, what: f.frame.type, index: f.index };
        if (f.dir === 'c2s') {
          const claim = this.matcher.claims.get(i);
          if (claim) rows.push({ ...base, verdict: claim.diffs.length ? 'differs' : 'match', ...(claim.diffs.length ? { diffs: claim.diffs } : {}) });
          else rows.push({ ...base, verdict: 'missing', summary: comparer.summary(f.frame) });
        } else {
          const note = this.sentRecs.get(f);
          const why = f.answers?.dir === 'c2s' && !this.claimed(f.answers) ? 'its request never came' : 'the client left before';
          rows.push({ ...base, verdict: note === undefined ? 'not-sent' : 'sent', note: note ?? why });
        }
        rows.push(...extrasAfter(f));
      }
    }
    const recordedBy = this.session.closed?.by;
    if (this.closedBy === 'us') rows.push({ dir: 'conn', what: 'close', verdict: 'sent', note: this.rejected ? 'after LOGIN_REJ' : 'the recorded server closed the connection' });
    else if (this.closedBy === 'client') rows.push({ dir: 'conn', what: 'close', verdict: recordedBy === 'server' ? 'unexpected' : 'match', note: 'the client closed the connection' });
    const s = this.session;
    return {
      ...(this.rejected ? {} : { conn: s.conn }),
      live: this.live,
      ...(s.login && !this.rejected ? { login: s.login } : {}),
      ...(this.liveProto !== undefined ? { proto: formatProto(this.liveProto) } : {}),
      peer: this.peer,
      rows,
      counts: countRows(rows),
      notes: this.rejected ? [] : s.notes,
    };
  }
}

/**
 * Client replay, sans-IO: what to do next and when. Every recorded event of the replayed sessions goes
 * into one timeline, in recorded order across connections: opening a connection, a client frame to
 * send, a server frame to expect, a close. `next()` says which action is due (the caller opens the
 * socket, sends, closes, and reports back what happened), or until when to wait:
 *
 * - `step`: an action waits until the server frames recorded before it have arrived (on its own
 *   connection and on the others, so that a multi-party session keeps its order), each for at most
 *   the timeout;
 * - `original`: an action goes at its recorded offset;
 * - `asap`: no waiting.
 *
 * In every mode a frame that answers a server frame by its id (MESSAGE_RECV, DELETE_OFFLINE_MESSAGE)
 * waits for that frame, whose live id it carries. Keep-alives are not part of the timeline: the caller
 * pings on the live server's period.
 */
import type { DecodedFrame } from '../protocol/codec.js';
import type { ReplyInfo } from '../protocol/conversation.js';
import { formatProto } from '../protocol/header.js';
import { packetByCode } from '../protocol/packets/index.js';
import type { Comparer } from './compare.js';
import { FrameMatcher, type Expectation } from './matcher.js';
import { isKeepAlive, type RecordedConnection, type RecordedFrame } from './recording.js';
import { countRows, type ReportRow, type SessionReport, type Timing } from './report.js';
import { rewriteClientFrame, type Credentials, type Rewritten } from './rewrite.js';

interface StepBase {
  id: number;
  conn: number;
  time: number;
  /** Its place in the capture. */
  order: number;
}

type Step =
  | (StepBase & { kind: 'open' })
  | (StepBase & { kind: 'send'; rec: RecordedFrame })
  | (StepBase & { kind: 'expect'; rec: RecordedFrame })
  /** `by: 'server'` is expected of the live server; a client close is ours to do. */
  | (StepBase & { kind: 'close'; by: 'client' | 'server'; gateOrder: number });

export type Action =
  | { kind: 'open'; session: RecordedConnection }
  | { kind: 'send'; session: RecordedConnection; step: number; out: Rewritten }
  | { kind: 'close'; session: RecordedConnection };

export type Next = { kind: 'act'; action: Action } | { kind: 'wait'; until: number } | { kind: 'done' };

export interface PlaybackOptions {
  timing: Timing;
  timeoutMs: number;
  comparer: Comparer;
  credentials?: Credentials;
}

interface Live {
  session: RecordedConnection;
  state: 'waiting' | 'open' | 'closed' | 'failed';
  matcher: FrameMatcher;
  /** The live index of each frame we sent → its step. */
  stepOfSent: Map<number, number>;
  sent: Map<number, { seq: number; changes: string[] }>;
  /**
   * The latest step the timeline has reached on this connection (acted on, or an expectation it passed
   * that came), so that what comes without a counterpart is shown where it came.
   */
  lastAction?: number;
  unexpectedAfter: Array<number | undefined>;
  /** `atEnd`: nothing of ours was left to send but the close (who sends FIN first is then a race). */
  closedByServer?: { after?: number; atEnd: boolean };
  target?: string;
  error?: string;
  startedAt?: number;
}

const isServerClose = (s: Step): boolean => s.kind === 'close' && s.by === 'server';

export class ClientPlayback {
  private readonly steps: Step[] = [];
  private readonly lives = new Map<number, Live>();
  /** The step of each recorded frame, to find the one a frame answers. */
  private readonly stepOfRecorded = new Map<RecordedFrame, number>();
  private cursor = 0;
  /** Expectations the timeline has passed that may still gate an action. */
  private passed: Step[] = [];
  private readonly deadlines = new Map<number, number>();
  private replayStart?: number;
  private readonly recordStart: number;

  constructor(
    sessions: readonly RecordedConnection[],
    private readonly opts: PlaybackOptions,
  ) {
    type Timed = { order: number; make: (id: number) => Step };
    const timed: Timed[] = [];
    for (const s of sessions) {
      const last = s.frames.at(-1) ?? { time: s.opened, order: s.openedOrder };
      timed.push({ order: s.openedOrder, make: (id) => ({ id, kind: 'open', conn: s.conn, time: s.opened, order: s.openedOrder }) });
      for (const rec of s.frames) {
        if (isKeepAlive(rec)) continue;
        const kind = rec.dir === 'c2s' ? 'send' : 'expect';
        timed.push({ order: rec.order, make: (id) => ({ id, kind, conn: s.conn, time: rec.time, order: rec.order, rec }) });
      }
      // A close is logged once both sides closed, after what it caused elsewhere (presence going
      // offline): it waits only for what other connections got up to its own last frame.
      const closed = s.closed ?? { time: last.time, order: last.order + 0.5, by: 'unknown' };
      const by = closed.by === 'server' ? 'server' : 'client';
      timed.push({ order: closed.order, make: (id) => ({ id, kind: 'close', conn: s.conn, time: closed.time, order: closed.order, by, gateOrder: last.order }) });
    }
    // The capture's order, across connections.
    timed.sort((a, b) => a.order - b.order);
    timed.forEach((t, id) => this.steps.push(t.make(id)));
    for (const step of this.steps) if (step.kind === 'send' || step.kind === 'expect') this.stepOfRecorded.set(step.rec, step.id);
    const expectations = new Map<number, Expectation[]>();
    for (const step of this.steps) {
      if (step.kind !== 'expect') continue;
      const answers = step.rec.answers && this.stepOfRecorded.get(step.rec.answers);
      const list = expectations.get(step.conn) ?? [];
      list.push({ id: step.id, rec: step.rec, ...(answers !== undefined ? { answers } : {}) });
      expectations.set(step.conn, list);
    }
    for (const s of sessions) {
      this.lives.set(s.conn, {
        session: s,
        state: 'waiting',
        matcher: new FrameMatcher(expectations.get(s.conn) ?? [], opts.comparer),
        stepOfSent: new Map(),
        sent: new Map(),
        unexpectedAfter: [],
      });
    }
    this.recordStart = this.steps[0]?.time ?? 0;
  }

  /** Steps done, of all, for a progress line. */
  get progress(): { done: number; total: number } {
    return { done: this.cursor, total: this.steps.length };
  }

  /** The next action, or until when to wait (a frame arriving may end the wait sooner), or done. */
  next(now: number): Next {
    this.replayStart ??= now;
    while (this.cursor < this.steps.length) {
      const step = this.steps[this.cursor];
      const live = this.lives.get(step.conn)!;
      if (step.kind === 'expect' || isServerClose(step)) {
        this.passed.push(step);
        this.cursor++;
        continue;
      }
      // A connection that failed or was closed by the server sends nothing more (shown as not sent).
      if (step.kind !== 'open' && live.state !== 'open') {
        this.cursor++;
        continue;
      }
      const until = this.gate(step, now);
      if (until !== undefined) return { kind: 'wait', until };
      this.cursor++;
      live.lastAction = step.id;
      if (step.kind === 'open') return { kind: 'act', action: { kind: 'open', session: live.session } };
      if (step.kind === 'close') return { kind: 'act', action: { kind: 'close', session: live.session } };
      const answered = step.rec.answers && this.claimOf(step.rec.answers);
      const out = rewriteClientFrame(step.rec, { credentials: this.opts.credentials, answered });
      return { kind: 'act', action: { kind: 'send', session: live.session, step: step.id, out } };
    }
    // The end: what is still expected gets its time, then what is still open is closed.
    const pending = this.unsettled(this.passed, now);
    if (pending !== undefined) return { kind: 'wait', until: pending };
    const open = [...this.lives.values()].find((l) => l.state === 'open');
    if (open) return { kind: 'act', action: { kind: 'close', session: open.session } };
    return { kind: 'done' };
  }

  private claimOf(rec: RecordedFrame): DecodedFrame | undefined {
    const id = this.stepOfRecorded.get(rec);
    return id === undefined ? undefined : this.lives.get(rec.conn)?.matcher.claims.get(id)?.actual;
  }

  /** Until when the step must wait, or undefined when it may go now. */
  private gate(step: Step, now: number): number | undefined {
    const { timing } = this.opts;
    if (timing === 'original') {
      const due = this.replayStart! + (step.time - this.recordStart);
      if (now < due) return due;
    }
    const gating: Step[] = [];
    if (timing === 'step') {
      const upTo = step.kind === 'close' ? step.gateOrder : step.order;
      gating.push(...this.passed.filter((e) => e.conn === step.conn || e.order <= upTo));
    }
    // Its live id comes from the frame it answers.
    if (step.kind === 'send' && step.rec.answers && packetByCode(step.rec.frame.msg)?.reply?.by === 'field') {
      const id = this.stepOfRecorded.get(step.rec.answers);
      const answered = id !== undefined ? this.steps[id] : undefined;
      if (answered) gating.push(answered);
    }
    return this.unsettled(gating, now);
  }

  /** The earliest deadline among expectations not settled yet (each gets the timeout from when it is first waited for). */
  private unsettled(expectations: readonly Step[], now: number): number | undefined {
    let until: number | undefined;
    for (const e of expectations) {
      if (this.settled(e, now)) continue;
      let deadline = this.deadlines.get(e.id);
      if (deadline === undefined) this.deadlines.set(e.id, (deadline = now + this.opts.timeoutMs));
      if (now >= deadline) continue;
      until = until === undefined ? deadline : Math.min(until, deadline);
    }
    this.passed = this.passed.filter((e) => !this.settled(e, now));
    return until;
  }

  private settled(e: Step, now: number): boolean {
    const live = this.lives.get(e.conn)!;
    // What a closed (or never opened) connection did not bring will not come.
    if (live.state !== 'open') return true;
    if (isServerClose(e)) return live.closedByServer !== undefined;
    const deadline = this.deadlines.get(e.id);
    return live.matcher.isClaimed(e.id) || (deadline !== undefined && deadline <= now);
  }

  // ------------------------------------------------------------------------------ what happened

  opened(conn: number, target: string, now: number): void {
    const live = this.lives.get(conn)!;
    live.state = 'open';
    live.target = target;
    live.startedAt = now;
  }

  failed(conn: number, error: string): void {
    const live = this.lives.get(conn)!;
    live.state = 'failed';
    live.error = error;
  }

  sent(conn: number, step: number, index: number, seq: number, changes: string[]): void {
    const live = this.lives.get(conn)!;
    live.stepOfSent.set(index, step);
    live.sent.set(step, { seq, changes });
  }

  /** A live server frame; `replyTo` names the frame of ours it answers, if any. */
  received(conn: number, frame: DecodedFrame, replyTo: ReplyInfo | undefined, now: number): void {
    const live = this.lives.get(conn)!;
    if (isKeepAlive(frame)) return;
    const answers = replyTo ? live.stepOfSent.get(replyTo.index) : undefined;
    const e = live.matcher.claim(frame, answers, now);
    if (!e) live.unexpectedAfter.push(live.lastAction);
    else if (this.steps[this.cursor] === undefined || e.id < this.steps[this.cursor].id) live.lastAction = Math.max(live.lastAction ?? -1, e.id);
  }

  /** The connection is gone: closed by the server (`byServer`), or by us. */
  closed(conn: number, byServer: boolean): void {
    const live = this.lives.get(conn)!;
    if (live.state !== 'open') return;
    live.state = 'closed';
    if (!byServer) return;
    const next = this.steps[this.cursor]?.id ?? this.steps.length;
    const atEnd = !this.steps.some((s) => s.conn === conn && s.id >= next && s.kind === 'send');
    live.closedByServer = { after: live.lastAction, atEnd };
  }

  // ------------------------------------------------------------------------------------ report

  /** One report per session: every step of it in recorded order, with the unexpected where they came. */
  reports(): SessionReport[] {
    return [...this.lives.values()].map((live) => this.report(live));
  }

  private report(live: Live): SessionReport {
    const at = (time: number) => Math.max(0, (time - this.recordStart) / 1000);
    const since = (ms: number) => (live.startedAt !== undefined && this.replayStart !== undefined ? ms - this.replayStart : undefined);
    const { comparer } = this.opts;
    const rows: ReportRow[] = [];
    const after = new Map<number | undefined, ReportRow[]>();
    const stepName = (id: number | undefined) => {
      const s = id === undefined ? undefined : this.steps[id];
      return !s ? 'before anything was sent' : s.kind === 'send' ? `after C→S ${s.rec.frame.type} [${s.rec.index}]` : `after the ${s.kind === 'open' ? 'connect' : 'close'}`;
    };
    live.matcher.unexpected.forEach((u, i) => {
      const key = live.unexpectedAfter[i];
      const row: ReportRow = { dir: 's2c', what: u.actual.type, verdict: 'unexpected', summary: comparer.summary(u.actual), liveMs: since(u.at), note: `arrived ${stepName(key)}` };
      after.set(key, [...(after.get(key) ?? []), row]);
    });
    const serverCloseExpected = this.steps.some((s) => s.conn === live.session.conn && isServerClose(s));
    if (live.closedByServer && !live.closedByServer.atEnd && !serverCloseExpected) {
      const key = live.closedByServer.after;
      after.set(key, [...(after.get(key) ?? []), { dir: 'conn', what: 'close', verdict: 'unexpected', note: 'the server closed the connection' }]);
    }
    rows.push(...(after.get(undefined) ?? []));
    const gone = live.error ? 'the connection could not be made' : 'the connection was closed';
    for (const step of this.steps.filter((s) => s.conn === live.session.conn)) {
      const base = { at: at(step.time) };
      if (step.kind === 'open') {
        const made = live.state !== 'waiting' && !live.error;
        rows.push({ ...base, dir: 'conn', what: 'connect', verdict: live.error ? 'error' : made ? 'sent' : 'not-sent', note: live.error ?? live.target });
      } else if (step.kind === 'send') {
        const sent = live.sent.get(step.id);
        const note = sent ? [`seq ${sent.seq}`, ...sent.changes].join('; ') : gone;
        rows.push({ ...base, dir: 'c2s', what: step.rec.frame.type, index: step.rec.index, verdict: sent ? 'sent' : 'not-sent', note });
      } else if (step.kind === 'expect') {
        const claim = live.matcher.claims.get(step.id);
        const row: ReportRow = { ...base, dir: 's2c', what: step.rec.frame.type, index: step.rec.index, verdict: claim ? (claim.diffs.length ? 'differs' : 'match') : 'missing' };
        if (claim?.diffs.length) row.diffs = claim.diffs;
        if (claim) row.liveMs = since(claim.at);
        else row.summary = comparer.summary(step.rec.frame);
        rows.push(row);
      } else if (step.by === 'server') {
        rows.push({ ...base, dir: 'conn', what: 'close', verdict: live.closedByServer ? 'match' : 'missing', note: 'the server closes the connection' });
      } else if (live.closedByServer?.atEnd) {
        rows.push({ ...base, dir: 'conn', what: 'close', verdict: 'match', note: 'the server closed it first, after the last frame' });
      } else {
        const ours = live.state === 'closed' && !live.closedByServer;
        rows.push({ ...base, dir: 'conn', what: 'close', verdict: ours ? 'sent' : 'not-sent', note: live.closedByServer ? 'the server had closed it' : 'the client closes the connection' });
      }
      rows.push(...(after.get(step.id) ?? []));
    }
    const s = live.session;
    return {
      conn: s.conn,
      ...(s.login ? { login: s.login } : {}),
      ...(s.proto !== undefined ? { proto: formatProto(s.proto) } : {}),
      ...(live.target ? { peer: live.target } : {}),
      rows,
      counts: countRows(rows),
      ...(live.error ? { error: live.error } : {}),
      notes: [...s.notes, ...(s.encrypted ? ['the capture holds this connection encrypted after STARTTLS (recorded without --tls-intercept): replayed up to the switch'] : [])],
    };
  }
}

/**
 * The outcome of a replay: one row per step of each session (what was sent, what was expected and what
 * came instead), counts, a verdict and its exit code; as JSON for machines and as cli-table3 tables.
 */
import type { ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import type { FieldDiff } from './compare.js';

export type Timing = 'step' | 'original' | 'asap';

/**
 * `match`/`differs`: an expected frame and the live one paired with it; `missing`: expected, never
 * came; `unexpected`: came, nothing recorded corresponds; `sent`/`not-sent`: what the replay itself
 * played (not sent: the connection was gone); `error`: the connection could not be made.
 */
export type Verdict = 'match' | 'differs' | 'missing' | 'unexpected' | 'sent' | 'not-sent' | 'error';

export interface ReportRow {
  /** Seconds after the capture's first event, for recorded steps. */
  at?: number;
  dir: 'c2s' | 's2c' | 'conn';
  /** The packet type (the recorded one), `connect` or `close`. */
  what: string;
  verdict: Verdict;
  /** The recorded frame's index in its connection, as `decode --json` numbers it. */
  index?: number;
  /** When the live frame arrived, in ms after the replay started. */
  liveMs?: number;
  diffs?: FieldDiff[];
  /** Frames without a counterpart: their compared fields, in short. */
  summary?: string;
  /** What the replay did or why it could not: the seq used, rewritten ids, the address connected to. */
  note?: string;
}

export interface Counts {
  match: number;
  differs: number;
  missing: number;
  unexpected: number;
}

export interface SessionReport {
  /** The recorded connection (none for a live client the recording had no session for). */
  conn?: number;
  /** Server replay: the live client's connection number. */
  live?: number;
  login?: string;
  proto?: string;
  /** Client replay: the server connected to; server replay: the client's address. */
  peer?: string;
  rows: ReportRow[];
  counts: Counts;
  error?: string;
  notes: string[];
}

export interface ReplayReport {
  capture: string;
  mode: 'client' | 'server';
  target?: string;
  timing: Timing;
  startedAt: string;
  durationMs: number;
  /** The --ignore patterns in effect, defaults included. */
  ignored: readonly string[];
  sessions: SessionReport[];
  notes: string[];
  totals: Counts;
  verdict: 'match' | 'differs' | 'error';
}

export function countRows(rows: readonly ReportRow[]): Counts {
  const counts: Counts = { match: 0, differs: 0, missing: 0, unexpected: 0 };
  for (const r of rows) if (r.verdict in counts) counts[r.verdict as keyof Counts]++;
  return counts;
}

export function buildReport(base: Omit<ReplayReport, 'totals' | 'verdict'>): ReplayReport {
  const totals = countRows(base.sessions.flatMap((s) => s.rows));
  const failed = base.sessions.some((s) => s.error);
  const differs = totals.differs + totals.missing + totals.unexpected > 0;
  return { ...base, totals, verdict: failed ? 'error' : differs ? 'differs' : 'match' };
}

/** 0 when every step matched, 1 when something differed, 2 when a connection could not be made. */
export function exitCodeOf(report: ReplayReport): 0 | 1 | 2 {
  return report.verdict === 'error' ? 2 : report.verdict === 'differs' ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------------
// Tables

const CELL_MAX = 48;
const clip = (s: string) => (s.length > CELL_MAX ? `${s.slice(0, CELL_MAX - 1)}…` : s);
const ARROW = { c2s: 'C→S', s2c: 'S→C', conn: '' } as const;

function paint(verdict: Verdict, c: ChalkInstance): string {
  const text = verdict === 'not-sent' ? 'not sent' : verdict;
  if (verdict === 'match' || verdict === 'sent') return c.green(text);
  if (verdict === 'differs' || verdict === 'error') return c.red(text);
  return c.yellow(text);
}

function table(head: string[]): Table.Table {
  // No colours of its own: the cells carry them (and none under NO_COLOR).
  return new Table({ head, style: { head: [], border: [], compact: true } });
}

const sessionName = (s: SessionReport) =>
  s.conn === undefined ? `live #${s.live}` : `#${s.conn}${s.live !== undefined ? ` (live #${s.live})` : ''}`;

function sessionVerdict(s: SessionReport, c: ChalkInstance): string {
  if (s.error) return c.red('error');
  const n = s.counts;
  return n.differs + n.missing + n.unexpected ? c.red('differs') : c.green('match');
}

function rowCells(s: SessionReport, r: ReportRow, c: ChalkInstance): string[] {
  const step = `${ARROW[r.dir]} ${r.what}`.trim() + (r.index !== undefined ? c.dim(` [${r.index}]`) : '');
  const at = r.at !== undefined ? `${r.at.toFixed(3)} s` : '';
  const diffs = r.diffs ?? [];
  const fields = diffs.map((d) => clip(d.path)).join('\n');
  const expected = diffs.map((d) => clip(d.expected ?? '—')).join('\n') || (r.verdict === 'missing' ? clip(r.summary ?? '') : '');
  const actual = diffs.map((d) => clip(d.actual ?? '—')).join('\n') || (r.verdict === 'unexpected' ? clip(r.summary ?? '') : '');
  return [sessionName(s), at, step, paint(r.verdict, c), fields || clip(r.note ?? ''), expected, actual];
}

/**
 * The report as text: the sessions with their counts, then every step that did not match (every step
 * with `all`, none with `steps: false`), then notes and the verdict.
 */
export function renderReport(report: ReplayReport, opts: { color: ChalkInstance; all?: boolean; steps?: boolean }): string {
  const c = opts.color;
  const peerHead = report.mode === 'client' ? 'server' : 'client';
  const sessions = table(['session', 'login', 'version', peerHead, 'match', 'differs', 'missing', 'unexpected', 'verdict']);
  for (const s of report.sessions) {
    const n = s.counts;
    sessions.push([sessionName(s), s.login ?? '', s.proto ?? '', s.error ? c.red(clip(s.error)) : (s.peer ?? ''), n.match, n.differs, n.missing, n.unexpected, sessionVerdict(s, c)]);
  }
  const out = [sessions.toString()];
  const steps = table(['session', 'at', 'step', 'verdict', opts.all ? 'field / note' : 'field', 'expected', 'actual']);
  for (const s of report.sessions) {
    for (const r of s.rows) {
      // What the replay did, and what it could not do once a connection was gone, follow from the rest.
      const quiet = r.verdict === 'match' || r.verdict === 'sent' || r.verdict === 'not-sent';
      if (opts.all || !quiet) steps.push(rowCells(s, r, c));
    }
  }
  if (steps.length && opts.steps !== false) out.push(opts.all ? 'Steps:' : 'Steps that differ:', steps.toString());
  const notes = [...report.notes, ...report.sessions.flatMap((s) => s.notes.map((n) => `${sessionName(s)}: ${n}`))];
  if (notes.length) out.push(c.dim(notes.map((n) => `note: ${n}`).join('\n')));
  out.push(verdictLine(report, c));
  return out.join('\n');
}

function verdictLine(report: ReplayReport, c: ChalkInstance): string {
  const t = report.totals;
  const compared = t.match + t.differs + t.missing;
  const took = report.durationMs < 1000 ? `${report.durationMs} ms` : `${(report.durationMs / 1000).toFixed(1)} s`;
  if (report.verdict === 'error') {
    const failed = report.sessions.filter((s) => s.error).map(sessionName).join(', ');
    return c.red.bold(`✗ error: ${failed} could not be replayed (exit code 2)`);
  }
  if (report.verdict === 'match') return c.green.bold(`✓ every expected step matched: ${compared} in ${report.sessions.length} session(s), ${took}`);
  const parts = [`${t.differs} differ`, `${t.missing} missing`, `${t.unexpected} unexpected`].filter((p) => !p.startsWith('0 '));
  return c.red.bold(`✗ ${parts.join(', ')} (${t.match} of ${compared} expected steps matched, ${took}; exit code 1)`);
}

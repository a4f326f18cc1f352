/**
 * Sequence diagrams of sessions as standalone SVG: a client and a server lane per connection, one
 * arrow per packet (named, with its seq, size and fields in brief), reply latencies, the connection's
 * opening and closing, and idle gaps drawn as breaks with their length instead of to scale. Pure: events
 * in, SVG text out — `mrimtap diagram` writes it, the web view shows it inline (rows carry `data-id`).
 */
import { isConnEvent, type TapEvent } from '../tap/events.js';
import { summarize, type ConnectionInfo } from './connection.js';
import { frameSummary } from './tree.js';
import { formatClock, formatDuration, renderTapEventLine } from './text.js';

export interface DiagramEntry {
  event: TapEvent;
  /** Written as `data-id` on the event's row, for a page that links rows to packets. */
  id?: number;
}

export interface DiagramSession {
  /** One connection's events, in order. */
  entries: readonly DiagramEntry[];
  /** Events of the connection left out before and after these (a window of a long session). */
  omittedBefore?: number;
  omittedAfter?: number;
}

export interface DiagramOptions {
  showSecrets?: boolean;
  /** A pause longer than this between two events is drawn as a break (default 1 s). */
  gapMs?: number;
}

const WIDTH = 800;
const MARGIN = 16;
const CLIENT_X = 175;
const SERVER_X = 695;
const ROW = 36;
const NOTE_ROW = 30;
const GAP_ROW = 24;
const HEAD = 64;
const PANEL_GAP = 28;
const LABEL_CHARS = 76;
const SUMMARY_CHARS = 80;
const TITLE_CHARS = 96;

const COLOR = { c2s: '#1f6feb', s2c: '#1a7f37', reply: '#8250df', warn: '#9a6700', error: '#cf222e', text: '#1f2328', dim: '#59636e', line: '#d1d9e0', box: '#f6f8fa' };
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"';
const MONO = 'font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"';

/** Text for XML: escaped, without the characters XML 1.0 forbids (control bytes of odd payloads). */
function xml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const cut = (text: string, max: number) => (text.length > max ? text.slice(0, max - 1) + '…' : text);

type Row =
  | { kind: 'arrow'; entry: DiagramEntry; at: number }
  | { kind: 'note'; entry: DiagramEntry; at: number }
  | { kind: 'gap'; ms: number }
  | { kind: 'omitted'; count: number; where: 'before' | 'after' };

const rowHeight = (r: Row) => (r.kind === 'arrow' ? ROW : r.kind === 'gap' ? GAP_ROW : NOTE_ROW);

function rowsOf(session: DiagramSession, gapMs: number): Row[] {
  const rows: Row[] = [];
  if (session.omittedBefore) rows.push({ kind: 'omitted', count: session.omittedBefore, where: 'before' });
  let previous: number | undefined;
  for (const entry of session.entries) {
    const e = entry.event.event;
    const at = e.time ?? previous ?? 0;
    if (previous !== undefined && at - previous > gapMs) rows.push({ kind: 'gap', ms: at - previous });
    previous = at;
    rows.push({ kind: e.kind === 'frame' || (!isConnEvent(e) && e.dir !== undefined) ? 'arrow' : 'note', entry, at });
  }
  if (session.omittedAfter) rows.push({ kind: 'omitted', count: session.omittedAfter, where: 'after' });
  return rows;
}

function arrowRow(y: number, entry: DiagramEntry, first: number, opts: DiagramOptions): string {
  const ev = entry.event;
  const e = ev.event;
  const dir = 'dir' in e && e.dir === 's2c' ? 's2c' : 'c2s';
  const [x1, x2] = dir === 'c2s' ? [CLIENT_X, SERVER_X] : [SERVER_X, CLIENT_X];
  const lineY = y + 18;
  let label: string;
  let summary = '';
  let stroke: string = COLOR[dir];
  let reply = '';
  let title: string;
  let classes = `row ${dir}`;
  if (e.kind === 'frame') {
    const f = e.frame;
    label = `${f.type} seq=${f.seq} · ${e.raw.length} B`;
    summary = frameSummary(f, opts);
    if (e.replyTo) reply = `↩ ${e.replyTo.type}${e.replyTo.latencyMs !== undefined ? ` +${formatDuration(e.replyTo.latencyMs)}` : ''}`;
    if (f.warnings.length) {
      stroke = f.type.startsWith('UNKNOWN') ? COLOR.error : COLOR.warn;
      label += ` ⚠ ${f.warnings.length}`;
    }
    classes += ' frame';
    title = [label, reply, summary, ...f.warnings.map((w) => `⚠ ${w}`)].filter(Boolean).join('\n');
  } else {
    label = renderTapEventLine(ev);
    stroke = e.kind === 'garbage' ? COLOR.warn : COLOR.dim;
    classes += ` ${e.kind}`;
    title = label;
  }
  const mid = (CLIENT_X + SERVER_X) / 2;
  const dash = e.kind === 'frame' ? '' : ' stroke-dasharray="5 4"';
  const marker = `url(#mrimtap-head-${stroke.slice(1)})`;
  const labelText = `${xml(cut(label, reply ? LABEL_CHARS - reply.length - 2 : LABEL_CHARS))}${reply ? `  <tspan fill="${COLOR.reply}">${xml(reply)}</tspan>` : ''}`;
  return [
    `<g class="${classes}"${entry.id !== undefined ? ` data-id="${entry.id}"` : ''}>`,
    `<title>${xml(title)}</title>`,
    `<rect class="hit" x="${MARGIN}" y="${y}" width="${WIDTH - 2 * MARGIN}" height="${ROW}" fill="transparent"/>`,
    timeLabels(y, e.time, first),
    `<text x="${mid}" y="${lineY - 5}" text-anchor="middle" font-size="12" fill="${e.kind === 'frame' ? COLOR.text : COLOR.dim}" ${FONT}>${labelText}</text>`,
    `<line x1="${x1}" y1="${lineY}" x2="${x2 + (dir === 'c2s' ? -2 : 2)}" y2="${lineY}" stroke="${stroke}" stroke-width="1.5"${dash} marker-end="${marker}"/>`,
    summary ? `<text x="${mid}" y="${lineY + 13}" text-anchor="middle" font-size="10.5" fill="${COLOR.dim}" ${MONO}>${xml(cut(summary, SUMMARY_CHARS))}</text>` : '',
    '</g>',
  ].join('');
}

function timeLabels(y: number, time: number | undefined, first: number): string {
  if (time === undefined) return '';
  return (
    `<text x="${MARGIN}" y="${y + 16}" font-size="10.5" fill="${COLOR.text}" ${MONO}>${formatClock(time)}</text>` +
    `<text x="${MARGIN}" y="${y + 29}" font-size="10" fill="${COLOR.dim}" ${MONO}>+${((time - first) / 1000).toFixed(3)} s</text>`
  );
}

function noteRow(y: number, entry: DiagramEntry, first: number): string {
  const e = entry.event.event;
  const text = renderTapEventLine(entry.event);
  const warn = (e.kind === 'note' && e.level === 'warn') || (e.kind === 'connect' && e.reply !== 0) || e.kind === 'auth-refused';
  const w = Math.min(SERVER_X - CLIENT_X + 80, Math.max(160, text.length * 6.6 + 24));
  const x = (CLIENT_X + SERVER_X) / 2 - w / 2;
  return [
    `<g class="row note ${e.kind}"${entry.id !== undefined ? ` data-id="${entry.id}"` : ''}>`,
    `<title>${xml(text)}</title>`,
    timeLabels(y - 2, e.time, first),
    `<rect x="${x}" y="${y + 4}" width="${w}" height="${NOTE_ROW - 8}" rx="4" fill="${COLOR.box}" stroke="${warn ? COLOR.warn : COLOR.line}"/>`,
    `<text x="${(CLIENT_X + SERVER_X) / 2}" y="${y + 19}" text-anchor="middle" font-size="11" fill="${warn ? COLOR.warn : COLOR.text}" ${FONT}>${xml(cut(text, Math.floor((w - 16) / 6.2)))}</text>`,
    '</g>',
  ].join('');
}

function panel(session: DiagramSession, top: number, opts: DiagramOptions): { svg: string; height: number } {
  let info: ConnectionInfo | undefined;
  for (const { event } of session.entries) info = summarize(info, event);
  const rows = rowsOf(session, opts.gapMs ?? 1000);
  const first = info?.first ?? 0;
  const parts: string[] = [];
  const title = info
    ? [`#${info.conn}`, info.login, info.proto && `v${info.proto}`, info.userAgent && cut(info.userAgent, 48), `${info.frames} frame${info.frames === 1 ? '' : 's'}`, formatDuration(info.durationMs), info.reason]
        .filter(Boolean)
        .join(' · ')
    : 'no events';
  parts.push(`<text x="${MARGIN}" y="${top + 18}" font-size="14" font-weight="600" fill="${COLOR.text}" ${FONT}>${xml(cut(title, TITLE_CHARS))}<title>${xml(title)}</title></text>`);
  const lane = (x: number, name: string, addr: string | undefined) =>
    `<rect x="${x - 100}" y="${top + 28}" width="200" height="30" rx="5" fill="${COLOR.box}" stroke="${COLOR.line}"/>` +
    `<text x="${x}" y="${top + 41}" text-anchor="middle" font-size="11.5" font-weight="600" fill="${COLOR.text}" ${FONT}>${xml(name)}</text>` +
    `<text x="${x}" y="${top + 53}" text-anchor="middle" font-size="10" fill="${COLOR.dim}" ${MONO}>${xml(addr ?? '')}</text>`;
  parts.push(lane(CLIENT_X, info?.login ? `client · ${info.login}` : 'client', info?.client), lane(SERVER_X, 'server', info?.target ? `${info.server} (${info.target})` : info?.server));
  let y = top + HEAD + 6;
  // Lifelines run between gaps; a gap breaks them.
  let lifeFrom = top + HEAD - 6;
  const lifelines: string[] = [];
  const lifeline = (from: number, to: number) => {
    for (const x of [CLIENT_X, SERVER_X]) lifelines.push(`<line x1="${x}" y1="${from}" x2="${x}" y2="${to}" stroke="${COLOR.line}" stroke-width="2"/>`);
  };
  for (const row of rows) {
    const h = rowHeight(row);
    if (row.kind === 'arrow') parts.push(arrowRow(y, row.entry, first, opts));
    else if (row.kind === 'note') parts.push(noteRow(y, row.entry, first));
    else {
      const text = row.kind === 'gap' ? `${formatDuration(row.ms)} later` : `${row.count} event${row.count === 1 ? '' : 's'} ${row.where === 'before' ? 'before' : 'after'} these`;
      if (row.kind === 'gap') {
        lifeline(lifeFrom, y + 4);
        lifeFrom = y + h - 4;
        for (const x of [CLIENT_X, SERVER_X]) lifelines.push(`<path d="M${x - 7} ${y + 7} l14 -4 M${x - 7} ${y + h - 3} l14 -4" stroke="${COLOR.dim}" stroke-width="1.5"/>`);
      }
      parts.push(`<text class="${row.kind}" x="${(CLIENT_X + SERVER_X) / 2}" y="${y + 16}" text-anchor="middle" font-size="11" font-style="italic" fill="${COLOR.dim}" ${FONT}>⋯ ${xml(text)} ⋯</text>`);
    }
    y += h;
  }
  lifeline(lifeFrom, y + 6);
  return { svg: `<g class="session" data-conn="${info?.conn ?? ''}">${lifelines.join('')}${parts.join('')}</g>`, height: y + 12 - top };
}

/** Arrowheads in every colour the rows use. */
function markers(): string {
  const colors = [...new Set([COLOR.c2s, COLOR.s2c, COLOR.warn, COLOR.error, COLOR.dim])];
  return `<defs>${colors
    .map((c) => `<marker id="mrimtap-head-${c.slice(1)}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0 0 L10 5 L0 10 z" fill="${c}"/></marker>`)
    .join('')}</defs>`;
}

/** One SVG document with a diagram per session, one below the other. */
export function sequenceDiagram(sessions: readonly DiagramSession[], opts: DiagramOptions = {}): string {
  const panels: string[] = [];
  let top = MARGIN;
  for (const session of sessions) {
    const p = panel(session, top, opts);
    panels.push(p.svg);
    top += p.height + PANEL_GAP;
  }
  const height = Math.max(top - PANEL_GAP + MARGIN, 80);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" class="mrimtap-diagram">`,
    markers(),
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    ...panels,
    '</svg>',
    '',
  ].join('\n');
}

/** The events of a capture grouped by connection, in order of first appearance (what `sequenceDiagram` takes). */
export function sessionsOf(entries: Iterable<DiagramEntry>): DiagramSession[] {
  const byConn = new Map<number, DiagramEntry[]>();
  for (const entry of entries) {
    const list = byConn.get(entry.event.conn) ?? [];
    if (!list.length) byConn.set(entry.event.conn, list);
    list.push(entry);
  }
  return [...byConn.values()].map((list) => ({ entries: list }));
}

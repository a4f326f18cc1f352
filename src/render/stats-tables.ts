/** `mrimtap stats` as text: the summaries of stats.ts drawn as cli-table3 tables, one per section. */
import { Chalk, type ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import type { CaptureStats } from './stats.js';
import { formatBytes, formatDuration } from './text.js';

const plain = new Chalk({ level: 0 });

const bytes = formatBytes;
const duration = (ms: number | undefined) => (ms === undefined ? '' : formatDuration(ms));

const ms = (v: number) => (v < 10 ? v.toFixed(1) : String(Math.round(v)));
const cut = (s: string, n = 48) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const conns = (list: number[]) => (list.length > 6 ? `${list.slice(0, 6).map((c) => `#${c}`).join(' ')} …` : list.map((c) => `#${c}`).join(' '));

function table(c: ChalkInstance, head: string[], rows: Array<Array<string | number>>, right: number[] = []): string {
  const t = new Table({
    head: head.map((h) => c.bold(h)),
    style: { head: [], border: [] },
    // No rule between rows: the tables stay as long as their data.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    colAligns: head.map((_, i) => (right.includes(i) ? 'right' : 'left')),
  });
  for (const r of rows) t.push(r.map(String));
  return t.toString();
}

/** Every section that has something to show, titled, separated by blank lines. */
export function renderStats(s: CaptureStats, opts: { color?: ChalkInstance } = {}): string {
  const c = opts.color ?? plain;
  const out: string[] = [];
  const section = (title: string, body: string) => out.push(`${c.bold.underline(title)}\n${body}`);
  const span = s.first && s.last ? `, ${s.first} – ${s.last}` : '';
  out.push(`${s.connections} connections, ${s.frames} frames, ${s.events} events${span}`);

  if (s.packets.length) {
    const rows = s.packets.map((p) => [p.type, p.c2s.count || '', p.c2s.count ? bytes(p.c2s.bytes) : '', p.s2c.count || '', p.s2c.count ? bytes(p.s2c.bytes) : '', p.c2s.count + p.s2c.count, bytes(p.c2s.bytes + p.s2c.bytes)]);
    section('Packet types', table(c, ['type', 'C→S', 'C→S bytes', 'S→C', 'S→C bytes', 'total', 'bytes'], rows, [1, 2, 3, 4, 5, 6]));
  }
  if (s.perConnection.length) {
    const rows = s.perConnection.map((x) => [
      `#${x.conn}`,
      `${x.client} ⇄ ${x.server ?? '?'}`,
      x.login ?? '',
      x.proto ?? '',
      cut(x.userAgent ?? ''),
      duration(x.durationMs),
      x.frames,
      `${bytes(x.bytes.c2s)} / ${bytes(x.bytes.s2c)}`,
      x.warnings || '',
    ]);
    section('Connections', table(c, ['conn', 'peers', 'login', 'proto', 'client', 'duration', 'frames', 'C→S / S→C', 'warnings'], rows, [5, 6, 7, 8]));
  }
  if (s.latencies.length) {
    const rows = s.latencies.map((l) => [`${l.request} → ${l.reply}`, l.count, ms(l.minMs), ms(l.medianMs), ms(l.p95Ms), ms(l.maxMs)]);
    section('Request → reply latency (ms)', table(c, ['request → reply', 'count', 'min', 'median', 'p95', 'max'], rows, [1, 2, 3, 4, 5]));
  }
  if (s.unanswered.length) {
    const rows = s.unanswered.map((u) => [`#${u.conn}`, u.dir === 'c2s' ? 'C→S' : 'S→C', u.type, u.seq, u.time ?? '']);
    section('Requests without a reply', table(c, ['conn', 'dir', 'type', 'seq', 'time'], rows, [3]));
  }
  const u = s.unusual;
  const unusual: Array<Array<string | number>> = [
    ...u.problems.map((p) => ['file', '', cut(p, 90)]),
    ...u.unknownTypes.map((x) => ['unknown type', conns(x.conns), `${x.type} × ${x.count}`]),
    ...u.warnings.map((w) => ['warning', conns(w.conns), cut(`${w.type}: ${w.warning}${w.count > 1 ? ` (× ${w.count})` : ''}`, 90)]),
    ...u.garbage.map((g) => ['garbage', `#${g.conn} ${g.dir === 'c2s' ? 'C→S' : 'S→C'}`, cut(`${bytes(g.bytes)} in ${g.count}: ${g.reasons.join('; ')}`, 90)]),
    ...u.opaque.map((o) => [o.kind === 'tls' ? 'TLS' : 'zlib', `#${o.conn}`, `${bytes(o.bytes)} not decoded`]),
    ...u.notes.map((n) => ['note', `#${n.conn}`, cut(n.message, 90)]),
  ];
  section('Unusual', unusual.length ? table(c, ['what', 'where', 'detail'], unusual) : 'nothing: no warnings, unknown types, garbage, TLS or damaged parts');
  return out.join('\n\n');
}

/**
 * The human-readable annotated listing of session events (live log, `decode`, capture printing).
 * Everything it says about a field comes from the packet table: names, constant names, secrets.
 */
import { Chalk, type ChalkInstance } from 'chalk';
import { formatEndpoint } from '../net/endpoint.js';
import type { DecodedFrame } from '../protocol/codec.js';
import type { Direction, FieldSpec, Fields, Layout } from '../protocol/fields.js';
import type { SessionEvent } from '../protocol/session.js';
import { SOCKS_REPLIES, type SocksMessage } from '../protocol/socks.js';
import { isConnEvent, type AddonMark, type ConnEvent, type TapEvent } from '../tap/events.js';
import { maskFields, maskRaw, maskSocks } from '../tap/mask.js';
import { describeValue as describe, showString, topFields } from './tree.js';

export interface RenderOptions {
  /** Connection label shown after the time (`#3`). */
  conn?: string | number;
  /** Show a hexdump of each frame. */
  hex?: boolean;
  showSecrets?: boolean;
  /** Omit the clock (e.g. for raw files with no timing). */
  noTime?: boolean;
  /** How to show an event's time (clock.ts); the time of day by default. */
  clock?: (ms: number) => string;
  color?: ChalkInstance;
}

const NAME_WIDTH = 12;

const plainChalk = new Chalk({ level: 0 });

function arrow(dir: Direction, c: ChalkInstance): string {
  return dir === 'c2s' ? c.blue('C→S') : c.green('S→C');
}

export function formatClock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function hexdump(buf: Buffer, indent = '    '): string {
  const lines: string[] = [];
  for (let i = 0; i < buf.length; i += 16) {
    const row = buf.subarray(i, i + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${indent}${i.toString(16).padStart(4, '0')}  ${hex.padEnd(47)}  ${text}`);
  }
  return lines.join('\n');
}

/** One record on one line: `k=v k=v`, numbers annotated with their constant names. */
function inlineRecord(record: Fields, layout: Layout | undefined): string {
  return Object.entries(record)
    .map(([k, v]) => {
      return `${k}=${describe(layout?.find((s) => s.name === k), v)}`;
    })
    .join(' ');
}

function fieldLines(name: string, value: unknown, spec: FieldSpec | undefined, layout: Layout | undefined, indent: string, c: ChalkInstance): string[] {
  const label = c.cyan(name.padEnd(NAME_WIDTH));
  if (Array.isArray(value) && value.some((v) => v && typeof v === 'object')) {
    const lines = [`${indent}${label} ${c.dim(`(${value.length})`)}`];
    value.forEach((item, i) => lines.push(`${indent}  ${c.dim(`[${i}]`)} ${inlineRecord(item as Fields, layout ?? spec?.type.layout)}`));
    return lines;
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const nested = spec?.type.layout;
    const lines = [`${indent}${label}`];
    for (const [k, v] of Object.entries(value as Fields)) {
      if (v === undefined) continue;
      lines.push(...fieldLines(k, v, nested?.find((s) => s.name === k), undefined, indent + '  ', c));
    }
    return lines;
  }
  return [`${indent}${label} ${describe(spec, value)}`];
}

export function renderFrameFields(frame: DecodedFrame, opts: RenderOptions = {}): string[] {
  const c = opts.color ?? plainChalk;
  // A masked secret is a string like any other from here on: `******** (md5)`.
  const fields = opts.showSecrets ? frame.fields : maskFields(frame, { encoding: true });
  return topFields(frame, fields).flatMap((f) => {
    const lines = fieldLines(f.name, f.value, f.spec, f.layout, '    ', c);
    // Decode-only annotations (unpacked RTF, parsed offline message, contact-less derived values) in another colour.
    return f.derived ? lines.map((l, i) => (i === 0 ? l.replace(f.name, c.magenta(f.name)) : l)) : lines;
  });
}

function socksText(m: SocksMessage): string {
  switch (m.type) {
    case 'greeting':
      return `greeting, methods: ${m.methods.join(', ')}`;
    case 'auth':
      return `username/password: ${m.user} / ${m.password}`;
    case 'request':
      return `${m.command} ${m.host}:${m.port} (${m.atyp})`;
    case 'method':
      return `method: ${m.method}`;
    case 'auth-reply':
      return `authentication ${m.ok ? 'accepted' : `refused (status ${m.status})`}`;
    case 'reply':
      return `reply: ${m.reply} (${m.code}), bound ${m.host}:${m.port}`;
  }
}

/** Renders one session event as one or more lines (no trailing newline). */
export function renderEvent(ev: SessionEvent, opts: RenderOptions = {}): string {
  const c = opts.color ?? plainChalk;
  const head: string[] = [];
  if (!opts.noTime && ev.time !== undefined) head.push(c.dim((opts.clock ?? formatClock)(ev.time)));
  if (opts.conn !== undefined) head.push(c.yellow(`#${opts.conn}`));
  head.push(arrow(ev.dir, c));
  const lines: string[] = [];
  switch (ev.kind) {
    case 'frame': {
      const f = ev.frame;
      const known = !f.type.startsWith('UNKNOWN');
      head.push(known ? c.bold(f.type) : c.red.bold(f.type), `seq=${f.seq}`, `v${f.proto}`, `${ev.raw.length} B`);
      if (f.variant) head.push(c.dim(`(${f.variant})`));
      if (ev.replyTo) {
        const latency = ev.replyTo.latencyMs !== undefined ? ` +${Math.round(ev.replyTo.latencyMs)} ms` : '';
        head.push(c.magenta(`↩ ${ev.replyTo.type}${latency}`));
      }
      if (ev.sameRead) head.push(c.yellow(`⧉ ${ev.sameRead.position}/${ev.sameRead.frames} in one read`));
      lines.push(head.join(' '));
      lines.push(...renderFrameFields(f, opts));
      if (f.trailing) lines.push(`    ${c.dim('trailing'.padEnd(NAME_WIDTH))} ${c.dim(f.trailing.length > 80 ? f.trailing.slice(0, 80) + '…' : f.trailing)}`);
      for (const n of f.notes) lines.push(`    ${c.cyan(`ℹ ${n}`)}`);
      for (const w of f.warnings) lines.push(`    ${c.yellow(`⚠ ${w}`)}`);
      if (opts.hex) lines.push(c.dim(hexdump(opts.showSecrets ? ev.raw : maskRaw(ev.raw, f))));
      break;
    }
    case 'garbage':
      head.push(c.red.bold('GARBAGE'), `${ev.bytes.length} B at offset ${ev.offset}`);
      lines.push(head.join(' '), `    ${c.yellow(`⚠ ${ev.reason}`)}`);
      if (opts.hex) lines.push(c.dim(hexdump(ev.bytes.subarray(0, 256))));
      break;
    case 'socks':
      head.push(c.bold('SOCKS5'), socksText(opts.showSecrets ? ev.message : maskSocks(ev.message)));
      lines.push(head.join(' '));
      break;
    case 'redirect':
      if (ev.host !== undefined) {
        head.push(c.bold('REDIRECT'), `→ ${ev.host}:${ev.port}`, c.dim(`(${JSON.stringify(ev.bytes.toString('latin1'))})`));
        if (ev.rewritten) head.push(c.magenta(`rewritten for the client: → ${ev.rewritten.text}`), c.dim(`(${JSON.stringify(ev.rewritten.bytes.toString('latin1'))})`));
      } else head.push(c.bold('REDIRECT'), 'request', c.dim(JSON.stringify(ev.text)), c.dim(`${ev.bytes.length} B`));
      lines.push(head.join(' '));
      break;
    case 'tls':
    case 'compressed':
      head.push(c.bold(ev.kind === 'tls' ? 'TLS' : 'ZLIB'), `${ev.bytes.length} B`, ev.start ? c.yellow(ev.kind === 'tls' ? '— encrypted from here, not decoded' : '— compressed stream from here, not decoded') : '');
      lines.push(head.join(' ').trimEnd());
      break;
  }
  return lines.join('\n');
}

export function formatBytes(n: number): string {
  return n < 10 * 1024 ? `${n} B` : n < 10 * 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Renders a connection-level event of the proxy or of a pcap connection (SOCKS outcome, open, close, note). */
function renderConnEvent(ev: ConnEvent, opts: RenderOptions = {}): string {
  const c = opts.color ?? plainChalk;
  const head: string[] = [];
  if (!opts.noTime) head.push(c.dim((opts.clock ?? formatClock)(ev.time)));
  if (opts.conn !== undefined) head.push(c.yellow(`#${opts.conn}`));
  switch (ev.kind) {
    case 'connect': {
      if (ev.listener) {
        head.push(c.bold('REVERSE'), `${formatEndpoint(ev.listener)} → ${formatEndpoint(ev.target)}`);
        if (ev.mapped) head.push(c.dim(`mapped to ${formatEndpoint(ev.mapped)}`));
        head.push(ev.reply === 0 ? c.green('→ connected') : c.red(`→ failed${ev.error ? ` (${ev.error})` : ''}, client reset`));
        break;
      }
      head.push(c.bold('SOCKS5'), `CONNECT ${formatEndpoint(ev.target)}`);
      if (ev.mapped) head.push(c.dim(`mapped to ${formatEndpoint(ev.mapped)}`));
      if (ev.user !== undefined) head.push(`user ${showString(ev.user)}`);
      const reply = `${ev.reply} ${SOCKS_REPLIES[ev.reply] ?? 'unknown'}`;
      head.push(ev.reply === 0 ? c.green(`→ ${reply}`) : c.red(`→ ${reply}${ev.error ? ` (${ev.error})` : ''}`));
      break;
    }
    case 'auth-refused':
      head.push(
        c.bold('SOCKS5'),
        c.red(
          ev.methods
            ? `no acceptable authentication method from ${formatEndpoint(ev.client)} (it offered: ${ev.methods.join(', ') || 'none'}) → 05 FF`
            : `username/password refused for user ${showString(ev.user)} from ${formatEndpoint(ev.client)}`,
        ),
      );
      break;
    case 'open':
      head.push(c.bold.green('OPEN'), `${formatEndpoint(ev.client)} ⇄ ${formatEndpoint(ev.server)}`);
      if (ev.follows !== undefined) head.push(c.magenta(`· follows redirect from #${ev.follows}`));
      if (ev.legOf !== undefined) head.push(c.magenta(`· onward SOCKS leg of #${ev.legOf}`));
      break;
    case 'close':
      head.push(c.bold('CLOSE'), `C→S ${formatBytes(ev.bytes.c2s)}, S→C ${formatBytes(ev.bytes.s2c)} in ${formatDuration(ev.durationMs)}`, c.dim(`— ${ev.reason}`));
      break;
    case 'no-reply': {
      const sent = ev.request.time !== undefined ? ` sent ${formatClock(ev.request.time)}` : '';
      head.push(arrow(ev.dir, c), c.red(`✗ no reply: ${ev.request.type} seq=${ev.request.seq}${sent} never got ${ev.expected.join(' or ')}`));
      break;
    }
    case 'note':
      if (ev.dir) head.push(arrow(ev.dir, c));
      head.push(ev.level === 'warn' ? c.yellow(`⚠ ${ev.message}`) : c.cyan(`ℹ ${ev.message}`));
      break;
  }
  return head.join(' ');
}

/** Any event in one line, as the listing words it, without clock, connection and direction: `OPEN a ⇄ b`, `GARBAGE 5 B … ⚠ why`. */
export function renderTapEventLine(ev: TapEvent): string {
  const e = ev.event;
  const text = isConnEvent(e) ? renderConnEvent(e, { noTime: true }) : renderEvent(e, { noTime: true });
  const line = text.replace(/^(C→S|S→C) /, '').replace(/\n\s*/g, ' ');
  return ev.addon ? `${line} ${addonMarkText(ev.addon)}` : line;
}

const ADDON_SIGNS: Record<AddonMark['action'], string> = { modified: '✎ modified', injected: '✚ injected', dropped: '✗ dropped' };

/** What an addon did, in words: `✎ modified by rewrite.mjs`. */
export function addonMarkText(mark: AddonMark): string {
  return `${ADDON_SIGNS[mark.action]} by ${mark.by}`;
}

/** An addon's mark, after the event's first line. */
function addonLine(mark: AddonMark, c: ChalkInstance): string {
  const original = mark.action === 'modified' && mark.original ? c.dim(` (was ${mark.original.length} B)`) : '';
  return c.magenta.bold(addonMarkText(mark)) + original;
}

/** Renders any event of a connection, labelled with its number; an addon's mark ends its first line. */
export function renderTapEvent(ev: TapEvent, opts: RenderOptions = {}): string {
  const o = { ...opts, conn: ev.conn };
  const text = isConnEvent(ev.event) ? renderConnEvent(ev.event, o) : renderEvent(ev.event, o);
  if (!ev.addon) return text;
  const [first, ...rest] = text.split('\n');
  return [`${first} ${addonLine(ev.addon, opts.color ?? plainChalk)}`, ...rest].join('\n');
}

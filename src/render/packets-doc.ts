/** Documentation of the packet table, generated from it (README list, `mrimtap packets`). */
import { fieldContext, usualDir, type FieldContext, type Layout } from '../protocol/fields.js';
import { PACKETS, layoutOf, type PacketDef } from '../protocol/packets/index.js';

const DIR_TEXT = { c2s: 'C→S', s2c: 'S→C', both: 'C↔S' } as const;
const hexCode = (code: number) => `0x${code.toString(16).toUpperCase()}`;

/** Markdown table of every packet type. */
export function packetTableMarkdown(): string {
  const rows = PACKETS.map(
    (p) =>
      `| ${hexCode(p.code)} | ${p.name}${p.aliases ? ` (${p.aliases.join(', ')})` : ''} | ${DIR_TEXT[p.dir]} | ${p.since ?? ''} | §${p.section} | ${p.summary}${p.unknownLayout ? ' — raw bytes' : ''} |`,
  );
  return ['| Code | Name | Dir | Since | Ref | What |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

function layoutLines(layout: Layout, indent: string, probe: FieldContext): string[] {
  return layout.map((f) => {
    const cond = f.when ? (f.when(probe) ? '' : ' (absent here)') : '';
    return `${indent}${f.name.padEnd(18)} ${f.type.wire}${f.optional ? ' (optional)' : ''}${f.secret ? ' (secret)' : ''}${cond}${f.doc ? ` — ${f.doc}` : ''}`;
  });
}

/** The layout of one packet as the given version sees it. */
export function describePacket(def: PacketDef, minor: number): string {
  const probe = fieldContext(minor, usualDir(def.dir), {});
  const lines = [`${hexCode(def.code)} ${def.name} ${DIR_TEXT[def.dir]} (reference §${def.section}) — ${def.summary}`];
  if (def.variants) {
    for (const v of def.variants) lines.push(`  variant ${v.name}${v.dir ? ` (${DIR_TEXT[v.dir]})` : ''}:`, ...layoutLines(v.layout, '    ', probe));
  } else {
    const { layout } = layoutOf(def, probe);
    lines.push(...(layout.length ? layoutLines(layout, '  ', probe) : ['  (empty payload)']));
  }
  if (def.reply) lines.push(`  answers ${def.reply.requests.join('/')} by ${def.reply.by === 'field' ? def.reply.field : def.reply.by}`);
  return lines.join('\n');
}

const BEGIN = '<!-- packets:begin -->';
const END = '<!-- packets:end -->';

/** The README text with the generated packet list between its markers. */
export function withPacketTable(readme: string): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start === -1 || end < start) throw new Error('README has no packet list markers');
  return `${readme.slice(0, start + BEGIN.length)}\n${packetTableMarkdown()}\n${readme.slice(end)}`;
}

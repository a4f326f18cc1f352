// @ts-check
/**
 * One packet in detail: its header line with the request it answers and the replies it got (links),
 * the decoded field tree, and the hexdump beside it. Hovering a field lights up its bytes; hovering a
 * byte lights up the field it belongs to.
 */
import { el, formatClock, formatLatency } from './format.js';

/** @typedef {import('../wire.js').PacketDetail} PacketDetail */
/** @typedef {import('../wire.js').FieldNode} FieldNode */

/** Bytes drawn at first; a bigger frame offers the rest on a button. */
const HEX_FIRST = 16 * 1024;

/** @typedef {{ span: [number, number], within: boolean, node: HTMLElement }} SpanRef */

export class DetailView {
  /**
   * @param {{ head: HTMLElement, tree: HTMLElement, hex: HTMLElement, onLink: (id: number) => void }} parts
   */
  constructor(parts) {
    this.head = parts.head;
    this.tree = parts.tree;
    this.hex = parts.hex;
    this.onLink = parts.onLink;
    /** @type {HTMLElement[]} byte cells: hex then text column, two per byte */
    this.cells = [];
    /** @type {SpanRef[]} */
    this.spans = [];
    /** @type {[number, number] | undefined} */
    this.lit = undefined;
    /** @type {HTMLElement | undefined} */
    this.litNode = undefined;
    this.tree.addEventListener('mouseover', (e) => {
      const node = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (e.target).closest('[data-span]'));
      if (node) this.highlight(spanOfNode(node), node.dataset.within === '1', node);
    });
    this.tree.addEventListener('mouseleave', () => this.highlight(undefined));
    this.hex.addEventListener('mouseover', (e) => {
      const target = /** @type {HTMLElement} */ (e.target);
      if (target.dataset.i === undefined) return;
      const ref = this.fieldAt(Number(target.dataset.i));
      this.highlight(ref?.span, ref?.within ?? false, ref?.node);
    });
    this.hex.addEventListener('mouseleave', () => this.highlight(undefined));
  }

  clear() {
    this.head.className = 'empty';
    this.head.textContent = 'Select a packet.';
    this.tree.replaceChildren();
    this.hex.replaceChildren();
    this.cells = [];
    this.spans = [];
    this.lit = undefined;
  }

  /** @param {PacketDetail} d */
  show(d) {
    const r = d.row;
    this.head.className = '';
    const title = el('div', 'title', `#${r.id + 1}  ${r.dir === 'c2s' ? 'C→S' : r.dir === 's2c' ? 'S→C' : ''} ${r.type}${r.seq !== undefined ? ` seq=${r.seq}` : ''}${r.size !== undefined ? ` · ${r.size} B` : ''}`);
    const meta = el('div', 'meta', [r.time !== undefined ? formatClock(r.time) : '', `connection #${r.conn}`, r.login ?? '', d.frame?.variant ? `form: ${d.frame.variant}` : ''].filter(Boolean).join(' · '));
    const links = el('div', 'links');
    if (r.replyTo) {
      links.append('answers ');
      const text = `${r.replyTo.type}${formatLatency(r.replyTo.latencyMs, ' ')}`;
      links.append(r.replyTo.id !== undefined ? this.link(r.replyTo.id, `#${r.replyTo.id + 1} ${text}`) : text);
    }
    if (d.replies.length) {
      if (r.replyTo) links.append(' · ');
      links.append('answered by ');
      d.replies.forEach((reply, i) => {
        if (i) links.append(', ');
        links.append(this.link(reply.id, `#${reply.id + 1} ${reply.type}${formatLatency(reply.latencyMs, ' ')}`));
      });
    }
    const warnings = (d.frame?.warnings ?? []).map((w) => el('div', 'warning', `⚠ ${w}`));
    this.head.replaceChildren(title, meta, ...(links.childNodes.length ? [links] : []), ...warnings);

    this.spans = [];
    if (d.frame) {
      this.tree.replaceChildren(
        this.group(`Header (44 bytes)`, d.frame.header, false),
        this.group(d.frame.fields.length ? 'Fields' : 'No fields', d.frame.fields, true),
      );
      this.drawHex(hexBytes(d.frame.raw), HEX_FIRST);
    } else {
      this.tree.replaceChildren(el('pre', '', d.text));
      this.drawHex(d.bytes ? hexBytes(d.bytes) : new Uint8Array(0), HEX_FIRST);
    }
    // Smaller spans first, so a byte finds its innermost field.
    this.spans.sort((a, b) => Number(a.within) - Number(b.within) || a.span[1] - a.span[0] - (b.span[1] - b.span[0]));
  }

  /** @param {number} id @param {string} text */
  link(id, text) {
    const a = el('a', 'link', text);
    a.href = `#id=${id}`;
    a.addEventListener('click', (e) => {
      e.preventDefault();
      this.onLink(id);
    });
    return a;
  }

  /** @param {string} title @param {FieldNode[]} nodes @param {boolean} open */
  group(title, nodes, open) {
    const details = document.createElement('details');
    details.open = open;
    details.append(el('summary', 'group-title', title), this.nodes(nodes));
    return details;
  }

  /** @param {FieldNode[]} nodes */
  nodes(nodes) {
    const box = el('div', 'children');
    for (const n of nodes) box.append(this.node(n));
    return box;
  }

  /** @param {FieldNode} n */
  node(n) {
    const label = [el('span', 'name', n.name)];
    if (n.children) {
      const details = document.createElement('details');
      // Long lists start closed; records and short lists open.
      details.open = (n.count ?? 0) <= 20;
      const summary = el('summary', 'node', label);
      if (n.count !== undefined) summary.append(el('span', 'count', ` (${n.count})`));
      this.mark(summary, n);
      details.append(summary, this.nodes(n.children));
      if (n.derived) details.classList.add('derived');
      return details;
    }
    const node = el('div', `node${n.derived ? ' derived' : ''}`, label);
    node.append(`  ${n.text ?? ''}`);
    this.mark(node, n);
    return node;
  }

  /** @param {HTMLElement} node @param {FieldNode} n */
  mark(node, n) {
    if (!n.span) return;
    node.dataset.span = n.span.join(',');
    if (n.within) node.dataset.within = '1';
    node.title = `bytes ${n.span[0]}–${n.span[1] - 1}${n.within ? ' (the enclosing field)' : ''}`;
    this.spans.push({ span: n.span, within: !!n.within, node });
  }

  /** @param {Uint8Array} bytes @param {number} upTo */
  drawHex(bytes, upTo) {
    const shown = Math.min(bytes.length, upTo);
    const lines = document.createDocumentFragment();
    /** @type {HTMLElement[]} */
    const cells = new Array(shown * 2);
    for (let at = 0; at < shown; at += 16) {
      const line = el('div', 'line');
      line.append(el('span', 'off', at.toString(16).padStart(4, '0')));
      const hex = el('span', 'hx');
      const asc = el('span', 'asc');
      for (let i = at; i < at + 16; i++) {
        if (i >= shown) {
          hex.append(i % 16 === 7 ? '    ' : '   ');
          continue;
        }
        const b = bytes[i];
        const h = el('span', 'b', b.toString(16).padStart(2, '0'));
        const a = el('span', 'b', b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.');
        h.dataset.i = a.dataset.i = String(i);
        hex.append(h, i % 16 === 7 ? '  ' : ' ');
        asc.append(a);
        cells[i * 2] = h;
        cells[i * 2 + 1] = a;
      }
      line.append(hex, asc);
      lines.append(line);
    }
    this.hex.replaceChildren(lines);
    if (!bytes.length) this.hex.append(el('div', 'empty', 'no bytes'));
    if (shown < bytes.length) {
      const more = el('button', 'more', `show all ${bytes.length} bytes`);
      more.addEventListener('click', () => {
        this.drawHex(bytes, Infinity);
      });
      this.hex.append(more);
    }
    this.cells = cells;
    this.lit = undefined;
  }

  /** The innermost field whose bytes hold byte `i`. @param {number} i */
  fieldAt(i) {
    return this.spans.find((s) => s.span[0] <= i && i < s.span[1]);
  }

  /**
   * Lights up bytes `[start, end)` and the field node they belong to (nothing: clears).
   * @param {[number, number] | undefined} span @param {boolean} [within] @param {HTMLElement} [node]
   */
  highlight(span, within = false, node) {
    if (this.lit) for (let i = this.lit[0] * 2; i < this.lit[1] * 2 && i < this.cells.length; i++) this.cells[i]?.classList.remove('hl', 'hl-within');
    this.litNode?.classList.remove('hl', 'hl-within');
    this.lit = span;
    this.litNode = node;
    if (!span) return;
    const cls = within ? 'hl-within' : 'hl';
    for (let i = span[0] * 2; i < span[1] * 2 && i < this.cells.length; i++) this.cells[i]?.classList.add(cls);
    node?.classList.add(cls);
  }
}

/** @param {HTMLElement} node @returns {[number, number]} */
function spanOfNode(node) {
  const [a, b] = (node.dataset.span ?? '0,0').split(',').map(Number);
  return [a, b];
}

/** @param {string} hex */
function hexBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

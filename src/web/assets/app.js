// @ts-check
/**
 * The web view's page: the connection list, the packet list (virtual, filtered on the server with the
 * CLI's filter language), a packet's detail and the sequence diagram of its connection, all kept up
 * to date from the server's event stream.
 */
import { DetailView } from './detail.js';
import { el, formatClock, formatCount, formatDuration, formatLatency } from './format.js';
import { VirtualList } from './list.js';

/** @typedef {import('../wire.js').PacketRow} PacketRow */
/** @typedef {import('../wire.js').ConnectionInfo} ConnectionInfo */
/** @typedef {import('../wire.js').ViewInfo} ViewInfo */
/** @typedef {import('../wire.js').ViewStatus} ViewStatus */
/** @typedef {import('../wire.js').StreamReset} StreamReset */
/** @typedef {import('../wire.js').StreamUpdate} StreamUpdate */

const ROW_HEIGHT = 20;
/** Rows asked for in one request. */
const FETCH_ROWS = 400;
/** A live diagram is redrawn at most this often. */
const DIAGRAM_REFRESH_MS = 1000;

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

const state = {
  /** Ids of the events the filter lets through, ascending. @type {number[]} */
  ids: [],
  total: 0,
  /** @type {Map<number, PacketRow>} */
  rows: new Map(),
  /** @type {Map<number, ConnectionInfo>} */
  connections: new Map(),
  /** @type {number | undefined} */
  selected: undefined,
  /** The connection whose diagram is shown. @type {number | undefined} */
  diagramConn: undefined,
  /** @type {string | undefined} what the diagram shows, to skip redrawing the same */
  diagramKey: undefined,
  filter: '',
  /** @type {ViewStatus} */
  status: 'live',
  /** The stream the list follows. @type {EventSource | undefined} */
  stream: undefined,
  /** A stream for a new filter that has not answered yet. @type {EventSource | undefined} */
  pending: undefined,
};

const list = new VirtualList($('list'), $('list-spacer'), { rowHeight: ROW_HEIGHT, render: renderRow });
const detail = new DetailView({ head: $('detail-head'), tree: $('tree'), hex: $('hex'), onLink: (id) => select(id, { scroll: true }) });

// ---------------------------------------------------------------------------------------------------
// Rows: fetched when scrolled into sight

/** @type {Set<number>} */
const missing = new Set();
/** @type {Set<number>} */
const inFlight = new Set();
let fetchTimer = 0;

/** @param {HTMLElement} row @param {number} index */
function renderRow(row, index) {
  const id = state.ids[index];
  if (!row.firstChild) {
    for (const c of ['c-no', 'c-time', 'c-conn', 'c-dir', 'c-type', 'c-seq', 'c-size', 'c-info']) row.append(el('span', c));
  }
  const cells = /** @type {HTMLElement[]} */ ([...row.children]);
  row.dataset.id = String(id);
  const r = state.rows.get(id);
  if (!r) {
    row.className = 'row placeholder';
    cells.forEach((c, i) => (c.textContent = i === 0 ? String(id + 1) : i === 7 ? '…' : ''));
    if (!inFlight.has(id)) missing.add(id);
    fetchTimer ||= window.setTimeout(fetchMissing, 30);
    return;
  }
  const isFrame = r.size !== undefined;
  row.className = `row ${r.dir ?? ''} ${isFrame ? 'frame' : 'event'}${r.warnings ? ' warned' : ''}${r.type.startsWith('UNKNOWN') ? ' unknown' : ''}${id === state.selected ? ' selected' : ''}`;
  cells[0].textContent = String(id + 1);
  cells[1].textContent = r.time !== undefined ? formatClock(r.time) : '';
  cells[2].textContent = String(r.conn);
  cells[3].textContent = r.dir === 'c2s' ? 'C→S' : r.dir === 's2c' ? 'S→C' : '';
  cells[4].textContent = r.warnings ? `${r.type} ⚠` : r.type;
  cells[5].textContent = r.seq !== undefined ? String(r.seq) : '';
  cells[6].textContent = r.size !== undefined ? String(r.size) : '';
  cells[7].replaceChildren();
  if (r.replyTo) {
    const reply = el('span', 'reply', `↩ ${r.replyTo.type}${formatLatency(r.replyTo.latencyMs)}`);
    if (r.replyTo.id !== undefined) reply.dataset.link = String(r.replyTo.id);
    cells[7].append(reply);
  }
  cells[7].append(r.info);
}

async function fetchMissing() {
  fetchTimer = 0;
  // Only what is still in sight (the list may have scrolled on).
  const { first, end } = list.visibleRange();
  const wanted = state.ids.slice(Math.max(0, first - 20), end + 20).filter((id) => missing.has(id)).slice(0, FETCH_ROWS);
  missing.clear();
  if (!wanted.length) return;
  wanted.forEach((id) => inFlight.add(id));
  try {
    const rows = /** @type {PacketRow[]} */ (await getJson(`api/rows?ids=${runsText(wanted)}`));
    for (const r of rows) state.rows.set(r.id, r);
  } finally {
    wanted.forEach((id) => inFlight.delete(id));
    list.schedule();
  }
}

/** Ascending ids as `1-5,9`. @param {number[]} ids */
function runsText(ids) {
  /** @type {string[]} */
  const parts = [];
  for (let i = 0; i < ids.length; ) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j] + 1) j++;
    parts.push(i === j ? String(ids[i]) : `${ids[i]}-${ids[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** `[first, count, …]` → the ids. @param {number[]} runs @param {number[]} into */
function expandRuns(runs, into) {
  for (let i = 0; i < runs.length; i += 2) for (let id = runs[i]; id < runs[i] + runs[i + 1]; id++) into.push(id);
  return into;
}

/** @param {string} url */
async function getJson(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

// ---------------------------------------------------------------------------------------------------
// The stream: what matches the filter, live

/** Opens the stream for `filter`; the old one is kept until the new one answers (so a typo keeps the list). @param {string} filter */
function connect(filter) {
  if (state.pending !== state.stream) state.pending?.close();
  const stream = new EventSource(`api/events?filter=${encodeURIComponent(filter)}`);
  state.pending = stream;
  stream.addEventListener('reset', (e) => {
    if (state.stream !== stream) {
      state.stream?.close();
      state.stream = stream;
    }
    const m = /** @type {StreamReset} */ (JSON.parse(/** @type {MessageEvent} */ (e).data));
    state.filter = filter;
    showFilterError(undefined);
    state.ids = expandRuns(m.ids, []);
    state.total = m.total;
    state.status = m.status;
    state.connections = new Map(m.connections.map((c) => [c.conn, c]));
    const keep = state.selected !== undefined ? indexOf(state.selected) : -1;
    list.setCount(state.ids.length);
    if (keep >= 0) list.scrollTo(keep, 'center');
    else if (state.status === 'live') list.scrollTo(state.ids.length - 1, 'end');
    renderConnections();
    renderCounts();
    document.body.dataset.ready = '1';
  });
  stream.addEventListener('update', (e) => {
    if (state.stream !== stream) return;
    const m = /** @type {StreamUpdate} */ (JSON.parse(/** @type {MessageEvent} */ (e).data));
    const following = list.atEnd();
    for (const r of m.rows) state.rows.set(r.id, r);
    expandRuns(m.ids, state.ids);
    state.total = m.total;
    state.status = m.status;
    for (const c of m.connections) state.connections.set(c.conn, c);
    list.setCount(state.ids.length);
    if (following && m.ids.length) list.scrollTo(state.ids.length - 1, 'end');
    if (m.connections.length) renderConnections(m.connections.map((c) => c.conn));
    renderCounts();
    if (state.diagramConn !== undefined && m.connections.some((c) => c.conn === state.diagramConn)) refreshDiagramSoon();
  });
  stream.addEventListener('filter-error', (e) => {
    stream.close();
    showFilterError(JSON.parse(/** @type {MessageEvent} */ (e).data).message);
  });
  stream.addEventListener('error', () => {
    // EventSource reconnects by itself; the next `reset` brings the list up to date.
    if (state.stream === stream) renderCounts(stream.readyState === EventSource.OPEN ? undefined : 'disconnected — retrying');
  });
}

/** @param {string | undefined} message */
function showFilterError(message) {
  const box = $('filter-error');
  box.hidden = message === undefined;
  box.textContent = message ? `filter: ${message}` : '';
  $('filter').classList.toggle('invalid', message !== undefined);
}

/** @param {string} [trouble] */
function renderCounts(trouble) {
  const shown = state.ids.length;
  $('count').textContent = state.filter ? `${formatCount(shown)} of ${formatCount(state.total)} events` : `${formatCount(state.total)} events`;
  const status = $('status');
  status.textContent = trouble ?? (state.status === 'live' ? '● live' : state.status === 'loading' ? 'loading…' : 'capture');
  status.className = `badge ${trouble ? 'off' : state.status === 'live' ? 'live' : ''}`;
}

/** Position of an event in the filtered list, or -1. @param {number} id */
function indexOf(id) {
  let [lo, hi] = [0, state.ids.length - 1];
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (state.ids[mid] === id) return mid;
    if (state.ids[mid] < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------------
// Connections

/** The table's row of each connection, kept so that an update redraws only the connections it changed. @type {Map<number, HTMLElement>} */
const connectionRows = new Map();

/** Redraws the rows of `changed` connections (all of them when not given), in connection order. @param {number[]} [changed] */
function renderConnections(changed) {
  const body = /** @type {HTMLElement} */ ($('connections').querySelector('tbody'));
  if (!changed) {
    connectionRows.clear();
    body.replaceChildren();
  }
  const conns = changed ?? [...state.connections.keys()];
  for (const conn of [...conns].sort((a, b) => a - b)) {
    const c = state.connections.get(conn);
    if (!c) continue;
    const tr = connectionRow(c);
    const old = connectionRows.get(conn);
    connectionRows.set(conn, tr);
    if (old) old.replaceWith(tr);
    else {
      // Connections mostly arrive in order: look for the next one from the end.
      let next = null;
      for (const row of [...body.children].reverse()) {
        if (Number(/** @type {HTMLElement} */ (row).dataset.conn) > conn) next = row;
        else break;
      }
      body.insertBefore(tr, next);
    }
  }
}

/** @param {ConnectionInfo} c */
function connectionRow(c) {
  const tr = el('tr', c.conn === state.diagramConn ? 'current' : '');
  tr.dataset.conn = String(c.conn);
  const only = el('a', 'link', 'filter');
  only.dataset.only = String(c.conn);
  only.title = `show only connection #${c.conn}`;
  const cells = [
    String(c.conn),
    c.login ?? '',
    c.proto ?? '',
    c.userAgent ?? '',
    `${c.client} ⇄ ${c.server ?? c.target ?? '?'}`,
    formatClock(c.first),
    formatDuration(c.durationMs),
    String(c.frames),
    c.warnings ? `⚠ ${c.warnings}` : '',
    c.state === 'closed' ? `closed${c.reason ? ` — ${c.reason}` : ''}` : c.state === 'refused' ? `refused — ${c.reason ?? ''}` : c.state,
  ].map((text, i) => {
    const td = el('td', i === 8 && c.warnings ? 'warn' : i === 9 ? `state-${c.state}` : '', text);
    td.title = text;
    return td;
  });
  tr.append(...cells, el('td', '', [only]));
  return tr;
}

/** Marks the connection whose diagram is shown. @param {number | undefined} conn */
function setDiagramConn(conn) {
  if (state.diagramConn === conn) return;
  connectionRows.get(state.diagramConn ?? -1)?.classList.remove('current');
  state.diagramConn = conn;
  connectionRows.get(conn ?? -1)?.classList.add('current');
}

$('connections').addEventListener('click', (e) => {
  const target = /** @type {HTMLElement} */ (e.target);
  if (target.dataset.only) {
    e.preventDefault();
    applyFilter(`conn == ${target.dataset.only}`);
    return;
  }
  const tr = /** @type {HTMLElement | null} */ (target.closest('tr[data-conn]'));
  if (!tr) return;
  setDiagramConn(Number(tr.dataset.conn));
  showTab('diagram');
});

// ---------------------------------------------------------------------------------------------------
// Selection and detail

/** @param {number} id @param {{ scroll?: boolean }} [opts] */
async function select(id, opts = {}) {
  state.selected = id;
  const index = indexOf(id);
  if (index >= 0 && opts.scroll) list.scrollTo(index, 'center');
  list.schedule();
  history.replaceState(null, '', `#${new URLSearchParams({ ...(state.filter ? { filter: state.filter } : {}), id: String(id) })}`);
  try {
    const d = /** @type {import('../wire.js').PacketDetail} */ (await getJson(`api/packet?id=${id}`));
    if (state.selected !== id) return;
    detail.show(d);
    setDiagramConn(d.row.conn);
    if (!$('tab-diagram').hidden) drawDiagram();
  } catch (e) {
    detail.clear();
    $('detail-head').textContent = String(e);
  }
}

$('list').addEventListener('click', (e) => {
  const target = /** @type {HTMLElement} */ (e.target);
  if (target.dataset.link) return void select(Number(target.dataset.link), { scroll: true });
  const row = /** @type {HTMLElement | null} */ (target.closest('.row[data-id]'));
  if (row) select(Number(row.dataset.id));
});

$('list').addEventListener('keydown', (e) => {
  const steps = { ArrowDown: 1, ArrowUp: -1, PageDown: 20, PageUp: -20, Home: -Infinity, End: Infinity };
  const step = steps[/** @type {keyof typeof steps} */ (e.key)];
  if (step === undefined || !state.ids.length) return;
  e.preventDefault();
  const at = state.selected !== undefined ? indexOf(state.selected) : -1;
  const next = Math.max(0, Math.min(state.ids.length - 1, at < 0 ? 0 : at + step));
  list.scrollTo(next);
  select(state.ids[next]);
});

// ---------------------------------------------------------------------------------------------------
// Sequence diagram

/** @param {'packet' | 'diagram'} name */
function showTab(name) {
  for (const b of document.querySelectorAll('.tabs button')) b.setAttribute('aria-selected', String(/** @type {HTMLElement} */ (b).dataset.tab === name));
  $('tab-packet').hidden = name !== 'packet';
  $('tab-diagram').hidden = name !== 'diagram';
  document.querySelector('main')?.classList.toggle('diagram', name === 'diagram');
  if (name === 'diagram') drawDiagram();
}

for (const b of document.querySelectorAll('.tabs button')) {
  b.addEventListener('click', () => showTab(/** @type {'packet' | 'diagram'} */ (/** @type {HTMLElement} */ (b).dataset.tab)));
}

let diagramTimer = 0;
function refreshDiagramSoon() {
  if ($('tab-diagram').hidden || diagramTimer) return;
  diagramTimer = window.setTimeout(() => {
    diagramTimer = 0;
    state.diagramKey = undefined;
    drawDiagram();
  }, DIAGRAM_REFRESH_MS);
}

async function drawDiagram() {
  const conn = state.diagramConn;
  if (conn === undefined) return;
  const around = state.selected !== undefined && state.rows.get(state.selected)?.conn === conn ? state.selected : undefined;
  const key = `${conn}:${around}`;
  const box = $('diagram');
  if (key !== state.diagramKey) {
    state.diagramKey = key;
    const res = await fetch(`api/diagram.svg?conn=${conn}${around !== undefined ? `&around=${around}` : ''}`);
    if (state.diagramKey !== key) return;
    if (!res.ok) {
      box.replaceChildren(el('div', 'empty', await res.text()));
      return;
    }
    const doc = new DOMParser().parseFromString(await res.text(), 'image/svg+xml');
    box.replaceChildren(document.importNode(doc.documentElement, true));
    const c = state.connections.get(conn);
    const head = $('diagram-head');
    head.className = '';
    head.replaceChildren(`Connection #${conn}${c?.login ? ` · ${c.login}` : ''} — click an arrow to open its packet · `);
    const save = el('a', 'link', 'SVG');
    save.setAttribute('href', `api/diagram.svg?conn=${conn}`);
    save.setAttribute('download', `mrimtap-conn${conn}.svg`);
    head.append(save);
  }
  for (const g of box.querySelectorAll('[data-id].selected')) g.classList.remove('selected');
  const mark = state.selected !== undefined ? box.querySelector(`[data-id="${state.selected}"]`) : null;
  if (mark) {
    mark.classList.add('selected');
    mark.scrollIntoView({ block: 'nearest' });
  }
}

$('diagram').addEventListener('click', (e) => {
  const g = /** @type {Element} */ (e.target).closest('[data-id]');
  if (!g) return;
  showTab('packet');
  select(Number(g.getAttribute('data-id')), { scroll: true });
});

// ---------------------------------------------------------------------------------------------------
// Filter and start

/** @param {string} filter */
function applyFilter(filter) {
  /** @type {HTMLInputElement} */ ($('filter')).value = filter;
  history.replaceState(null, '', filter ? `#${new URLSearchParams({ filter })}` : location.pathname);
  connect(filter.trim());
}

$('filter-form').addEventListener('submit', (e) => {
  e.preventDefault();
  applyFilter(/** @type {HTMLInputElement} */ ($('filter')).value);
});

async function start() {
  const info = /** @type {ViewInfo} */ (await getJson('api/info'));
  $('title').textContent = info.title;
  $('title').title = info.title;
  document.title = `mrimtap — ${info.title}`;
  $('filter').title = info.filterHelp;
  const secrets = $('secrets');
  secrets.textContent = info.showSecrets ? 'secrets shown' : 'secrets masked';
  secrets.className = `badge ${info.showSecrets ? 'shown' : ''}`;
  secrets.title = info.showSecrets ? 'started with --show-secrets' : 'passwords and session keys are masked; start with --show-secrets to see them';
  state.status = info.status;
  const hash = new URLSearchParams(location.hash.slice(1));
  const filter = hash.get('filter') ?? '';
  /** @type {HTMLInputElement} */ ($('filter')).value = filter;
  connect(filter);
  const id = hash.get('id');
  if (id !== null && /^\d+$/.test(id)) select(Number(id), { scroll: true });
}

start().catch((e) => {
  $('detail-head').textContent = `cannot start: ${e}`;
});

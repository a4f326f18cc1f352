/**
 * The web view's HTTP server, on 127.0.0.1: the page and its scripts (files next to this one, served
 * by mrimtap itself — nothing from the network), a small JSON API over an EventStore, the sequence
 * diagram as SVG, and a Server-Sent Events stream of what arrives. Every path starts with a random
 * token printed at start (`http://127.0.0.1:PORT/TOKEN/`); a request without it is refused with 403.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatEndpoint, type Endpoint } from '../net/endpoint.js';
import { FILTER_SYNTAX } from '../render/filter.js';
import { sequenceDiagram } from '../render/diagram.js';
import { EventStore } from './store.js';
import { openStream } from './stream.js';
import type { ViewInfo } from './wire.js';

export interface WebViewOptions {
  store: EventStore;
  /** What the page is about: the capture file and its description, or the proxy's address. */
  title: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (the default) picks a free one. */
  port?: number;
}

export interface WebView {
  /** The page's address, token included: the only way in. */
  url: string;
  address: Endpoint;
  close(): Promise<void>;
}

/** The web view could not listen (the system error, with its code, is the `cause`). */
export class WebViewStartError extends Error {
  readonly code?: string;

  constructor(
    readonly target: string,
    cause: NodeJS.ErrnoException,
  ) {
    super(`cannot listen on ${target}: ${cause.message}`, { cause });
    this.code = cause.code;
  }
}

const ASSETS_DIR = new URL('./assets/', import.meta.url);
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};
/** Events drawn around the selected one in the page's diagram: a long session is shown as a window. */
const DIAGRAM_WINDOW = 300;
/** Rows per request at most (a screenful is a few dozen). */
const MAX_ROWS = 2000;

const SECURITY_HEADERS = {
  // Same-origin everything; the diagram is inline SVG with presentation attributes, so no inline styles or scripts.
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

/** The page's files, read once: a request names one of these, never a path on disk. */
function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const dir = fileURLToPath(ASSETS_DIR);
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[extname(name)];
    if (type) assets.set(name, { type, body: readFileSync(new URL(name, ASSETS_DIR)) });
  }
  return assets;
}

function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

const sendJson = (res: http.ServerResponse, value: unknown, status = 200) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
const sendText = (res: http.ServerResponse, status: number, text: string) => send(res, status, 'text/plain; charset=utf-8', text + '\n');

/** `1-5,9` → [1, 2, 3, 4, 5, 9]; undefined when it is not such a list or too long. */
function parseIds(text: string | null): number[] | undefined {
  if (!text) return [];
  const ids: number[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const [from, to] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (to < from || ids.length + to - from + 1 > MAX_ROWS) return undefined;
    for (let id = from; id <= to; id++) ids.push(id);
  }
  return ids;
}

const intParam = (text: string | null) => (text !== null && /^\d+$/.test(text) ? Number(text) : undefined);

export async function startWebView(opts: WebViewOptions): Promise<WebView> {
  const { store } = opts;
  const assets = loadAssets();
  const token = randomBytes(18).toString('base64url');
  const tokenBytes = Buffer.from(token);
  const sockets = new Set<Socket>();
  const streams = new Set<() => void>();

  const hasToken = (segment: string) => {
    const given = Buffer.from(segment);
    return given.length === tokenBytes.length && timingSafeEqual(given, tokenBytes);
  };

  const api = (res: http.ServerResponse, name: string, q: URLSearchParams): void => {
    switch (name) {
      case 'info':
        return sendJson(res, { title: opts.title, status: store.status, showSecrets: !!store.opts.showSecrets, events: store.size, filterHelp: FILTER_SYNTAX } satisfies ViewInfo);
      case 'connections':
        return sendJson(res, store.connections());
      case 'rows': {
        const ids = parseIds(q.get('ids'));
        if (!ids) return sendText(res, 400, `ids: a list like 1-5,9 of at most ${MAX_ROWS}`);
        return sendJson(res, ids.flatMap((id) => store.row(id) ?? []));
      }
      case 'packet': {
        const detail = store.detail(intParam(q.get('id')) ?? -1);
        return detail ? sendJson(res, detail) : sendText(res, 404, 'no such event');
      }
      case 'diagram.svg': {
        const conn = intParam(q.get('conn'));
        const ids = conn !== undefined ? store.idsOf(conn) : [];
        if (!ids.length) return sendText(res, 404, 'no such connection');
        const around = intParam(q.get('around'));
        const at = around !== undefined ? Math.max(0, ids.indexOf(around)) : 0;
        const start = Math.max(0, Math.min(at - DIAGRAM_WINDOW / 2, ids.length - DIAGRAM_WINDOW));
        const shown = ids.slice(start, start + DIAGRAM_WINDOW);
        const entries = shown.map((id) => ({ id, event: store.event(id)! }));
        const svg = sequenceDiagram([{ entries, omittedBefore: start, omittedAfter: ids.length - start - shown.length }], { showSecrets: store.opts.showSecrets });
        return send(res, 200, CONTENT_TYPES['.svg'], svg);
      }
      case 'events': {
        const close = openStream(res, store, q.get('filter') ?? '', SECURITY_HEADERS, (c) => streams.delete(c));
        if (close) streams.add(close);
        return;
      }
      default:
        return sendText(res, 404, 'no such API');
    }
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const [, segment = '', ...rest] = url.pathname.split('/');
    if (!hasToken(segment)) return sendText(res, 403, 'mrimtap web view: this address needs the token printed when the view started');
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'only GET');
    // `/TOKEN` → `/TOKEN/`, so that the page's relative addresses carry the token.
    if (rest.length === 0) {
      res.writeHead(308, { ...SECURITY_HEADERS, Location: `/${token}/` });
      return res.end();
    }
    const path = rest.join('/');
    if (path.startsWith('api/')) return api(res, path.slice(4), url.searchParams);
    const asset = assets.get(path === '' ? 'index.html' : path);
    if (!asset) return sendText(res, 404, 'not found');
    send(res, 200, asset.type, asset.body);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const host = opts.host ?? '127.0.0.1';
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(opts.port ?? 0, host, resolve));
  } catch (e) {
    throw new WebViewStartError(formatEndpoint({ host, port: opts.port ?? 0 }), e as NodeJS.ErrnoException);
  }
  const { port } = server.address() as AddressInfo;
  const address = { host, port };
  return {
    url: `http://${formatEndpoint(address)}/${token}/`,
    address,
    close: () =>
      new Promise<void>((resolve) => {
        for (const close of streams) close();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** The web view's server over real sockets: the token, the page's files, the JSON API, the diagram and the event stream. */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { encodePacket } from '../../src/protocol/codec.js';
import type { TapEvent } from '../../src/tap/events.js';
import { startWebView, type WebView } from '../../src/web/server.js';
import { EventStore } from '../../src/web/store.js';
import type { PacketDetail, PacketRow, StreamReset, StreamUpdate, ViewInfo } from '../../src/web/wire.js';
import { tapSession } from '../helpers/tap-session.js';

function session(conn: number, login: string): TapEvent[] {
  return tapSession(
    [
      ['c2s', encodePacket('HELLO', {}, { proto: '1.21', seq: 1 }), 1],
      ['s2c', encodePacket('HELLO_ACK', { pingPeriod: 30 }, { proto: '1.21', seq: 1 }), 2],
      ['c2s', encodePacket('LOGIN3', { login, password: 'hunter2', features: 0, userAgent: 'client="test"', lang: 'ru', uaDataNames: [], description: '' }, { proto: '1.21', seq: 2 }), 3],
      ['s2c', encodePacket('LOGIN_ACK', {}, { proto: '1.21', seq: 2 }), 10],
      ['c2s', encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'Привет', rtf: '' }, { proto: '1.21', seq: 3 }), 20],
    ],
    { conn },
  );
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(url: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

const json = async <T>(url: string): Promise<T> => {
  const r = await get(url);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as T;
};

/** An SSE stream, read message by message. */
function stream(url: string) {
  const messages: Array<{ event: string; data: unknown }> = [];
  let buffer = '';
  let res: http.IncomingMessage | undefined;
  const req = http.get(url, (r) => {
    res = r;
    r.setEncoding('utf8');
    r.on('data', (c: string) => {
      buffer += c;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) messages.push({ event, data: JSON.parse(data) });
      }
    });
  });
  return {
    messages,
    headers: () => res?.headers,
    async next(n: number): Promise<{ event: string; data: unknown }> {
      const deadline = Date.now() + 5000;
      while (messages.length < n) {
        if (Date.now() > deadline) throw new Error(`no message ${n} in 5 s: ${JSON.stringify(messages)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return messages[n - 1];
    },
    close: () => req.destroy(),
  };
}

/** `[first, count, …]` → ids. */
const expand = (runs: number[]) => runs.flatMap((_, i) => (i % 2 ? [] : Array.from({ length: runs[i + 1] }, (_, k) => runs[i] + k)));

describe('web view server', () => {
  const store = new EventStore({ status: 'complete' });
  let view: WebView;
  let base: string;
  before(async () => {
    for (const ev of [...session(1, 'alice@mail.ru'), ...session(2, 'bob@mail.ru')]) store.add(ev);
    view = await startWebView({ store, title: 'test capture' });
    base = view.url;
  });
  after(() => view.close());

  it('listens on 127.0.0.1 with a random token in the address, and refuses requests without it', async () => {
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+\/[\w-]{24}\/$/);
    const root = `http://127.0.0.1:${view.address.port}`;
    for (const path of ['/', '/index.html', '/api/info', `/${'x'.repeat(24)}/`, `/${'x'.repeat(24)}/api/info`, '/favicon.ico']) {
      const r = await get(root + path);
      assert.equal(r.status, 403, path);
      assert.match(r.body, /needs the token/);
    }
    const bare = await get(base.slice(0, -1));
    assert.equal(bare.status, 308);
    assert.equal(bare.headers.location, new URL(base).pathname);
    const other = await startWebView({ store, title: 'another' });
    try {
      assert.notEqual(new URL(other.url).pathname, new URL(base).pathname, 'each view has its own token');
      assert.equal((await get(`${root}${new URL(other.url).pathname}api/info`)).status, 403);
    } finally {
      await other.close();
    }
  });

  it('serves its own page and scripts, same-origin only, and nothing else from disk', async () => {
    const page = await get(base);
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type']!, /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    assert.doesNotMatch(page.body, /https?:\/\//, 'no address outside the page: it works offline');
    for (const [file, type] of [['app.js', /javascript/], ['list.js', /javascript/], ['style.css', /css/]] as const) {
      const r = await get(base + file);
      assert.equal(r.status, 200, file);
      assert.match(r.headers['content-type']!, type);
      assert.doesNotMatch(r.body, /https?:\/\/(?!www\.w3\.org)/, `${file} loads nothing from the network`);
    }
    // `..` leaves the token's folder (403); other names are not among the page's files (404).
    for (const path of ['../package.json', '%2e%2e/package.json', '..%2fserver.ts', 'server.ts', 'nope.js']) assert.ok([403, 404].includes((await get(base + path)).status), path);
  });

  it('answers info, connections and rows', async () => {
    const info = await json<ViewInfo>(base + 'api/info');
    assert.deepEqual({ ...info, filterHelp: typeof info.filterHelp }, { title: 'test capture', status: 'complete', showSecrets: false, events: store.size, filterHelp: 'string' });
    const conns = await json<Array<{ conn: number; login: string; proto: string; userAgent: string; frames: number; state: string }>>(base + 'api/connections');
    assert.deepEqual(conns.map((c) => [c.conn, c.login, c.proto, c.userAgent, c.frames, c.state]), [
      [1, 'alice@mail.ru', '1.21', 'client="test"', 5, 'closed'],
      [2, 'bob@mail.ru', '1.21', 'client="test"', 5, 'closed'],
    ]);
    const rows = await json<PacketRow[]>(base + 'api/rows?ids=0-2,5');
    assert.deepEqual(rows.map((r) => [r.id, r.type, r.dir ?? '']), [[0, 'CONNECT', ''], [1, 'OPEN', ''], [2, 'HELLO', 'c2s'], [5, 'LOGIN_ACK', 's2c']]);
    const login = rows[3];
    assert.deepEqual(login.replyTo, { type: 'LOGIN3', id: 4, latencyMs: 7 });
    assert.equal((await get(base + 'api/rows?ids=a-b')).status, 400);
    assert.equal((await get(base + 'api/rows?ids=0-100000')).status, 400);
    assert.deepEqual(await json(base + 'api/rows?ids=999'), []);
  });

  it('gives a packet\'s tree, masked hexdump and reply links', async () => {
    const d = await json<PacketDetail>(base + 'api/packet?id=4');
    assert.equal(d.row.type, 'LOGIN3');
    assert.deepEqual(d.replies, [{ id: 5, type: 'LOGIN_ACK', latencyMs: 7 }]);
    const password = d.frame!.fields.find((n) => n.name === 'password')!;
    assert.equal(password.text, '******** (plaintext)');
    const raw = Buffer.from(d.frame!.raw, 'hex');
    assert.equal(raw.subarray(password.span![0] + 4, password.span![1]).toString(), '*******', 'the hexdump masks it too');
    assert.ok(!raw.includes(Buffer.from('hunter2')));
    assert.match(d.text, /C→S LOGIN3 seq=2 v1\.21/);
    assert.equal((await get(base + 'api/packet?id=12345')).status, 404);
    assert.equal((await get(base + 'api/packet')).status, 404);
    const open = await json<PacketDetail>(base + 'api/packet?id=1');
    assert.equal(open.frame, undefined);
    assert.match(open.text, /OPEN 127\.0\.0\.1:50001 ⇄ 127\.0\.0\.1:2041/);

    const secrets = new EventStore({ showSecrets: true });
    for (const ev of session(1, 'alice@mail.ru')) secrets.add(ev);
    const shown = secrets.detail(4)!;
    assert.equal(shown.frame!.fields.find((n) => n.name === 'password')!.text, 'hunter2');
    assert.ok(Buffer.from(shown.frame!.raw, 'hex').includes(Buffer.from('hunter2')));
  });

  it('draws a connection\'s diagram, a window of it around an event', async () => {
    const r = await get(base + 'api/diagram.svg?conn=2&around=12');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'image/svg+xml');
    assert.match(r.body, /^<svg xmlns=/);
    assert.deepEqual([...r.body.matchAll(/data-id="(\d+)"/g)].map((m) => Number(m[1])), store.idsOf(2));
    assert.equal((await get(base + 'api/diagram.svg?conn=9')).status, 404);
  });

  it('streams what matches a filter: first so far, then what arrives; a mistake gets its message', async () => {
    const s = stream(base + 'api/events?filter=' + encodeURIComponent('type == LOGIN3 or (conn == 2 and dir == s2c)'));
    try {
      const reset = (await s.next(1)) as { event: string; data: StreamReset };
      assert.equal(s.headers()!['content-type'], 'text/event-stream; charset=utf-8');
      assert.equal(reset.event, 'reset');
      const types = (ids: number[]) => ids.map((id) => `${store.event(id)!.conn}:${store.row(id)!.type}`);
      assert.deepEqual(types(expand(reset.data.ids)), ['1:LOGIN3', '2:HELLO_ACK', '2:LOGIN3', '2:LOGIN_ACK']);
      assert.equal(reset.data.total, store.size);
      assert.equal(reset.data.connections.length, 2);

      const more = session(3, 'carol@list.ru');
      for (const ev of more) store.add(ev);
      const update = (await s.next(2)) as { event: string; data: StreamUpdate };
      assert.equal(update.event, 'update');
      assert.deepEqual(types(expand(update.data.ids)), ['3:LOGIN3']);
      assert.deepEqual(update.data.rows.map((r) => r.type), ['LOGIN3']);
      assert.deepEqual(update.data.connections.map((c) => c.conn), [3]);
      assert.equal(update.data.total, store.size);
    } finally {
      s.close();
    }
    const bad = stream(base + 'api/events?filter=' + encodeURIComponent('type == LOGN3'));
    try {
      const m = (await bad.next(1)) as { event: string; data: { message: string } };
      assert.equal(m.event, 'filter-error');
      assert.match(m.data.message, /unknown packet type "LOGN3" \(did you mean LOGIN3\?\)/);
    } finally {
      bad.close();
    }
  });

  it('ends open streams when it closes', async () => {
    const own = await startWebView({ store, title: 'closing' });
    const s = stream(own.url + 'api/events');
    await s.next(1);
    await own.close();
    await assert.rejects(get(own.url), /ECONNREFUSED/);
    s.close();
  });
});

/**
 * The real client pidgin-mra through the sniffing proxy to the reference server, recorded. (Its
 * redirector lookup is an HTTP fetch that ignores the account's proxy, so it is given the server;
 * in reverse mode it goes through the redirector, whose answer brings it back.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CaptureWriter } from '../../src/capture/format.js';
import { readCapture } from '../../src/capture/jsonl.js';
import { createWriter } from '../../src/capture/open.js';
import type { TapEvent } from '../../src/tap/events.js';
import { MrimServer, type ServerAddress } from '../../src/server/index.js';
import { MrimProxy } from '../../src/proxy/proxy.js';
import { startProxy, type RecordingProxy } from '../helpers/net.js';
import { isPidginAvailable, pidginUnavailableReason, startPidgin } from '../interop/pidgin.js';
import { captureFileErrors } from '../helpers/json-schema.js';

const skip = (await isPidginAvailable()) ? false : `pidgin-mra is not available: ${await pidginUnavailableReason()}`;
const dir = mkdtempSync(join(tmpdir(), 'mrimtap-proxy-pidgin-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function setUp(name: string): Promise<{ server: MrimServer; address: ServerAddress; proxy: RecordingProxy; capture: CaptureWriter; done: () => Promise<void> }> {
  const server = new MrimServer({ host: '127.0.0.1', port: 0, redirectorPort: 0 });
  const address = await server.listen();
  const capture = createWriter(join(dir, `${name}.jsonl`), { source: 'test' });
  const proxy = await startProxy({ onEvent: (ev) => capture.write(ev) });
  return {
    server,
    address,
    proxy,
    capture,
    done: async () => {
      await proxy.close();
      capture.close();
      await server.close();
    },
  };
}

async function recorded(capture: CaptureWriter): Promise<TapEvent[]> {
  assert.deepEqual(captureFileErrors(capture.path), []);
  const events: TapEvent[] = [];
  for await (const item of readCapture(capture.path)) {
    assert.notEqual(item.kind, 'problem');
    if (item.kind === 'event') events.push(item.event);
  }
  return events;
}

describe('pidgin-mra through the proxy', { skip, timeout: 60_000 }, () => {
  it('logs in to the reference server; the capture holds its LOGIN2 and the session', async () => {
    const s = await setUp('direct');
    const alice = await startPidgin({ host: '127.0.0.1', port: s.address.port, login: 'alice@mail.ru', password: 'alice', socks: { host: '127.0.0.1', port: s.proxy.port } });
    try {
      await alice.waitFor('signed-on', 10_000);
      const list = await alice.waitFor('contact-list', 10_000);
      assert.ok(list.buddies.some((b) => b.name === 'bob@mail.ru'));
      await alice.sendMessage('bob@mail.ru', 'Привет через прокси');
      await alice.logout();
    } finally {
      await alice.close();
    }
    await s.done();
    assert.equal(alice.crashed, false);
    const events = await recorded(s.capture);
    const connect = events.find((e) => e.event.kind === 'connect')!.event;
    assert.ok(connect.kind === 'connect' && connect.reply === 0 && connect.target.port === s.address.port);
    const login = events.find((e) => e.event.kind === 'frame' && e.event.frame.type === 'LOGIN2')!.event;
    assert.ok(login.kind === 'frame');
    assert.equal(login.frame.proto, '1.8');
    assert.equal(login.frame.fields.login, 'alice@mail.ru');
    assert.match(String(login.frame.fields.description), /pidgin-mra/);
    const message = events.find((e) => e.event.kind === 'frame' && e.event.frame.type === 'MESSAGE')!.event;
    assert.ok(message.kind === 'frame' && message.frame.fields.text === 'Привет через прокси');
    const types = events.flatMap((e) => (e.event.kind === 'frame' ? [e.event.frame.type] : []));
    for (const t of ['HELLO', 'HELLO_ACK', 'LOGIN_ACK', 'CONTACT_LIST2', 'MESSAGE_STATUS']) assert.ok(types.includes(t), t);
    assert.ok(!events.some((e) => e.event.kind === 'garbage'));
  });
});

describe('pidgin-mra through a reverse redirector listener', { skip, timeout: 60_000 }, () => {
  it('its HTTP redirector lookup gets the rewritten answer; its session comes back through mrimtap', async () => {
    // On 127.0.0.2, so the answered port is free on 127.0.0.1 for the listener mrimtap opens.
    const server = new MrimServer({ host: '127.0.0.2', port: 0, redirectorPort: 0 });
    const address = await server.listen();
    const capture = createWriter(join(dir, 'reverse.jsonl'), { source: 'test' });
    const proxy = new MrimProxy({ socks: false, reverse: [{ listen: { port: 0 }, upstream: { host: '127.0.0.2', port: address.redirectorPort! }, redirector: true }], onEvent: (ev) => capture.write(ev) });
    await proxy.listen();
    const redirector = proxy.reverseListeners[0]!.address;
    const alice = await startPidgin({ host: 'mrim.mail.ru', port: redirector.port, resolve: { 'mrim.mail.ru': '127.0.0.1' }, login: 'alice@mail.ru', password: 'alice' });
    try {
      await alice.waitFor('signed-on', 10_000);
      await alice.logout();
    } finally {
      await alice.close();
      await proxy.close();
      capture.close();
      await server.close();
    }
    const events = await recorded(capture);
    const redirect = events.find((e) => e.event.kind === 'redirect' && e.event.dir === 's2c')!;
    assert.ok(redirect.event.kind === 'redirect');
    assert.equal(redirect.event.rewritten?.text, `127.0.0.1:${address.port}`);
    const request = events.find((e) => e.event.kind === 'redirect' && e.event.dir === 'c2s')!;
    assert.ok(request.event.kind === 'redirect' && /^GET /.test(request.event.text));
    const open = events.find((e) => e.event.kind === 'open' && e.conn !== redirect.conn)!;
    assert.ok(open.event.kind === 'open' && open.event.follows === redirect.conn);
    const login = events.find((e) => e.event.kind === 'frame' && e.event.frame.type === 'LOGIN2')!;
    assert.equal(login.conn, open.conn);
  });
});

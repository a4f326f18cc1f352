/** Each addon of examples/addons, loaded as `--script` loads it, with the reference client and server through the proxy. */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MrimClient } from '../../src/client/index.js';
import { loadAddons } from '../../src/proxy/addons.js';
import { MrimServer, type ServerAddress } from '../../src/server/index.js';
import { ROOT } from '../helpers/cli.js';
import { closedAfterAll, startProxy, withTimeout, type RecordingProxy } from '../helpers/net.js';

const EXAMPLES = join(ROOT, 'examples', 'addons');
const { keep } = closedAfterAll();
let server: ServerAddress | undefined;

async function through(script: string): Promise<{ proxy: RecordingProxy; login(login: string, password: string, proto?: '1.8' | '1.21' | '1.23'): Promise<MrimClient>; done(): Promise<void> }> {
  if (!server) server = await keep(new MrimServer({ host: '127.0.0.1', port: 0, redirectorPort: 0 })).listen();
  const at = { host: '127.0.0.1', port: server.port };
  const proxy = await startProxy({ addons: await loadAddons([join(EXAMPLES, script)]) });
  const clients: MrimClient[] = [];
  return {
    proxy,
    async login(login, password, proto = '1.21') {
      const c = new MrimClient({ socks: `socks5://127.0.0.1:${proxy.port}`, server: at, login, password, proto, responseTimeoutMs: 3000 });
      clients.push(c);
      await c.connect();
      return c;
    },
    async done() {
      for (const c of clients) await c.logout();
      await proxy.close();
    },
  };
}

const next = <T>(c: MrimClient, event: string) => withTimeout(new Promise<T>((r) => c.once(event as 'message', r as never)), 3000, event);

describe('examples/addons', () => {
  it('every example is tested here', () => {
    const tested = ['rewrite-messages.mjs', 'drop-typing.mjs', 'add-contact.mjs', 'white-pages.mjs', 'inject-malformed.mjs'];
    assert.deepEqual(readdirSync(EXAMPLES).filter((f) => f.endsWith('.mjs')).sort(), tested.sort());
  });

  it('rewrite-messages: "hello" becomes "bonjour", both ways', async () => {
    const s = await through('rewrite-messages.mjs');
    const alice = await s.login('alice@mail.ru', 'alice', '1.8');
    const bob = await s.login('bob@mail.ru', 'bob');
    const toBob = next<{ text: string }>(bob, 'message');
    await alice.sendMessage('bob@mail.ru', 'hello Bob');
    assert.equal((await toBob).text, 'bonjour Bob');
    const toAlice = next<{ text: string }>(alice, 'message');
    await bob.sendMessage('alice@mail.ru', 'Hello again');
    assert.equal((await toAlice).text, 'bonjour again');
    await s.done();
    // Each message is changed where it enters the proxy; the server's copy to the other side needs no change.
    assert.deepEqual(s.proxy.events.flatMap((e) => (e.addon?.action === 'modified' && e.event.kind === 'frame' ? [e.event.frame.type] : [])), ['MESSAGE', 'MESSAGE']);
  });

  it('drop-typing: no typing notification arrives; the close says how many were dropped', async () => {
    const s = await through('drop-typing.mjs');
    const alice = await s.login('alice@mail.ru', 'alice');
    const bob = await s.login('bob@mail.ru', 'bob');
    let typing = 0;
    bob.on('typing', () => typing++);
    await alice.sendTyping('bob@mail.ru');
    const toBob = next<{ text: string }>(bob, 'message');
    await alice.sendMessage('bob@mail.ru', 'typed');
    assert.equal((await toBob).text, 'typed');
    await s.done();
    assert.equal(typing, 0);
    assert.ok(s.proxy.events.some((e) => e.event.kind === 'note' && /drop-typing\.mjs: 1 typing notification\(s\) dropped/.test(e.event.message)));
  });

  it('add-contact: every contact list has robot@mail.ru, and the session goes on', async () => {
    const s = await through('add-contact.mjs');
    const alice = await s.login('alice@mail.ru', 'alice', '1.8');
    const bob = await s.login('bob@mail.ru', 'bob', '1.23');
    for (const c of [alice, bob]) assert.ok(c.contacts.contacts.some((ct) => ct.email === 'robot@mail.ru' && ct.nick === 'Robot'), JSON.stringify(c.contacts.contacts));
    const toBob = next<{ text: string }>(bob, 'message');
    await alice.sendMessage('bob@mail.ru', 'still here');
    assert.equal((await toBob).text, 'still here');
    await s.done();
  });

  it('white-pages: a search for someone in the table is answered by the addon; others by the server', async () => {
    const s = await through('white-pages.mjs');
    const bob = await s.login('bob@mail.ru', 'bob');
    const local = await bob.search({ email: 'dasha@mail.ru' });
    assert.deepEqual(local.rows.map((r) => [r.nickname, r.firstname]), [['Даша', 'Дарья']]);
    const remote = await bob.search({ email: 'carol@list.ru' });
    assert.deepEqual(remote.rows.map((r) => r.nickname), ['Carol']);
    await s.done();
    const requests = s.proxy.events.filter((e) => e.event.kind === 'frame' && e.event.frame.type === 'WP_REQUEST');
    assert.equal(requests.length, 1, 'only the search for carol reached the server');
    assert.ok(s.proxy.events.some((e) => e.addon?.action === 'dropped' && e.addon.by === 'white-pages.mjs'));
  });

  it('inject-malformed: the client gets three malformed frames after login, warns, and keeps working', async () => {
    const s = await through('inject-malformed.mjs');
    const alice = await s.login('alice@mail.ru', 'alice');
    const warnings: string[] = [];
    alice.on('warning', (w: { text: string }) => warnings.push(w.text));
    const bob = await s.login('bob@mail.ru', 'bob');
    const toAlice = next<{ text: string }>(alice, 'message');
    await bob.sendMessage('alice@mail.ru', 'are you alive?');
    assert.equal((await toAlice).text, 'are you alive?');
    await s.done();
    const injected = s.proxy.events.filter((e) => e.addon?.action === 'injected');
    assert.equal(injected.length, 6, 'three per client');
    // Each is read with a warning or a note about what is wrong with it.
    assert.ok(injected.every((e) => e.event.kind === 'frame' && e.event.frame.warnings.length + e.event.frame.notes.length > 0));
  });
});

/**
 * Addons with the real client pidgin-mra through the proxy (to the reference server), and a reference
 * client (bob) beside it: what the addon changes is what pidgin-mra shows, and the session goes on.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MrimClient } from '../../src/client/index.js';
import { loadAddons, type Addon } from '../../src/proxy/addons.js';
import { MrimServer, type ServerAddress } from '../../src/server/index.js';
import { ROOT } from '../helpers/cli.js';
import { startProxy, withTimeout, type RecordingProxy } from '../helpers/net.js';
import { isPidginAvailable, pidginUnavailableReason, startPidgin, type PidginSession } from '../interop/pidgin.js';

const skip = (await isPidginAvailable()) ? false : `pidgin-mra is not available: ${await pidginUnavailableReason()}`;
const example = (name: string) => join(ROOT, 'examples', 'addons', name);

let server: MrimServer | undefined;
let address: ServerAddress;
after(() => server?.close());

/** pidgin-mra as alice through a proxy with `addons`; bob, a reference client, straight to the server. */
async function setUp(addons: Addon[]): Promise<{ alice: PidginSession; bob: MrimClient; proxy: RecordingProxy; done: () => Promise<void> }> {
  if (!server) {
    server = new MrimServer({ host: '127.0.0.1', port: 0, redirectorPort: 0 });
    address = await server.listen();
  }
  const proxy = await startProxy({ addons });
  const alice = await startPidgin({ host: '127.0.0.1', port: address.port, login: 'alice@mail.ru', password: 'alice', socks: { host: '127.0.0.1', port: proxy.port } });
  const bob = new MrimClient({ server: { host: '127.0.0.1', port: address.port }, login: 'bob@mail.ru', password: 'bob', proto: '1.21', responseTimeoutMs: 5000 });
  await alice.waitFor('signed-on', 10_000);
  await bob.connect();
  return {
    alice,
    bob,
    proxy,
    done: async () => {
      await bob.logout();
      await alice.logout().catch(() => {});
      await alice.close();
      await proxy.close();
      assert.equal(alice.crashed, false);
    },
  };
}

const bobGets = (bob: MrimClient) => withTimeout(new Promise<{ text: string }>((r) => bob.once('message', r)), 10_000, 'a message to bob');

describe('addons with pidgin-mra', { skip, timeout: 60_000 }, () => {
  it("the README's five-line addon changes what pidgin-mra shows", async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('#### Addons'));
    const code = /```js\n([\s\S]*?)```/.exec(section)![1];
    assert.ok(code.trim().split('\n').length <= 6, code);
    const dir = mkdtempSync(join(tmpdir(), 'mrimtap-readme-addon-'));
    try {
      writeFileSync(join(dir, 'shout.mjs'), code);
      const s = await setUp(await loadAddons([join(dir, 'shout.mjs')]));
      try {
        const mark = s.alice.mark();
        await s.bob.sendMessage('alice@mail.ru', 'Привет, Алиса!');
        const im = await s.alice.waitFor((e) => e.event === 'im' && e.from === 'bob@mail.ru', 10_000, { since: mark });
        assert.ok(im.event === 'im' && im.text === 'ПРИВЕТ, АЛИСА!', JSON.stringify(im));
      } finally {
        await s.done();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a message rewritten in flight arrives rewritten, both ways, and both clients keep working', async () => {
    const s = await setUp(await loadAddons([example('rewrite-messages.mjs')]));
    try {
      const toBob = bobGets(s.bob);
      await s.alice.sendMessage('bob@mail.ru', 'hello from pidgin');
      assert.equal((await toBob).text, 'bonjour from pidgin');
      const mark = s.alice.mark();
      await s.bob.sendMessage('alice@mail.ru', 'hello from bob');
      const im = await s.alice.waitFor((e) => e.event === 'im' && e.from === 'bob@mail.ru', 10_000, { since: mark });
      assert.ok(im.event === 'im' && im.text === 'bonjour from bob', JSON.stringify(im));
      const again = bobGets(s.bob);
      await s.alice.sendMessage('bob@mail.ru', 'plain text');
      assert.equal((await again).text, 'plain text');
    } finally {
      await s.done();
    }
  });

  it('a dropped typing notification never arrives; the message after it does (without the addon, it arrives)', async () => {
    const plain = await setUp([]);
    try {
      const mark = plain.alice.mark();
      await plain.bob.sendTyping('alice@mail.ru');
      await plain.alice.waitFor('typing', 10_000, { since: mark });
    } finally {
      await plain.done();
    }
    const s = await setUp(await loadAddons([example('drop-typing.mjs')]));
    try {
      const mark = s.alice.mark();
      await s.bob.sendTyping('alice@mail.ru');
      await s.bob.sendMessage('alice@mail.ru', 'after typing');
      await s.alice.waitFor((e) => e.event === 'im' && e.from === 'bob@mail.ru', 10_000, { since: mark });
      assert.ok(!s.alice.events.slice(mark).some((e) => e.event === 'typing'), 'no typing event');
      assert.ok(s.proxy.events.some((e) => e.addon?.action === 'dropped' && e.addon.by === 'drop-typing.mjs'));
    } finally {
      await s.done();
    }
  });

  it("an injected contact shows in pidgin-mra's buddy list", async () => {
    const s = await setUp(await loadAddons([example('add-contact.mjs')]));
    try {
      const list = await s.alice.waitFor((e) => e.event === 'contact-list' && e.buddies.some((b) => b.name === 'robot@mail.ru'), 10_000);
      assert.ok(list.event === 'contact-list' && list.buddies.some((b) => b.name === 'bob@mail.ru'), 'the real contacts are still there');
      const toBob = bobGets(s.bob);
      await s.alice.sendMessage('bob@mail.ru', 'with a robot in my list');
      assert.equal((await toBob).text, 'with a robot in my list');
    } finally {
      await s.done();
    }
  });

  it('a throwing hook leaves the session intact', async () => {
    const s = await setUp([{ name: 'broken', frame: () => { throw new Error('broken on purpose'); } }]);
    try {
      const list = await s.alice.waitFor('contact-list', 10_000);
      assert.ok(list.buddies.some((b) => b.name === 'bob@mail.ru'));
      const toBob = bobGets(s.bob);
      await s.alice.sendMessage('bob@mail.ru', 'unbroken');
      assert.equal((await toBob).text, 'unbroken');
      assert.ok(s.proxy.events.some((e) => e.event.kind === 'note' && /broken on purpose/.test(e.event.message)));
    } finally {
      await s.done();
    }
  });
});

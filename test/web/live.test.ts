/**
 * The web view of a running proxy, in a real browser: `mrimtap proxy --web` with the page open while
 * reference clients log in and talk through the proxy — their frames and connections appear as they
 * happen, through a filter too.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MrimClient } from '../../src/client/index.js';
import { MrimServer, type ServerAddress } from '../../src/server/index.js';
import { ARTIFACTS, chromiumUnavailable, launchBrowser, type Browser } from '../helpers/browser.js';
import { spawnCli, type RunningCli } from '../helpers/cli.js';

const skip = (await chromiumUnavailable()) ?? false;

describe('proxy --web in a browser', { skip, timeout: 60_000 }, () => {
  let browser: Browser;
  let server: MrimServer;
  let address: ServerAddress;
  let proxy: RunningCli;
  let url: string;
  let socks: string;
  before(async () => {
    server = new MrimServer({ host: '127.0.0.1', port: 0, redirectorPort: false });
    address = await server.listen();
    proxy = spawnCli(['proxy', '--port', '0', '--web', '0']);
    const [b, web, listen] = await Promise.all([launchBrowser(), proxy.waitFor(/web view (http:\/\/\S+)/), proxy.waitFor(/SOCKS5 on (127\.0\.0\.1:\d+)/)]);
    [browser, url, socks] = [b, web[1], `socks5://${listen[1]}`];
  });
  after(async () => {
    await browser?.close();
    if (proxy) assert.equal(await proxy.stop('SIGINT'), 0, proxy.stderr());
    await server?.close();
  });

  it('shows frames and connections as the reference clients talk through the proxy', async () => {
    const page = await browser.page();
    await page.goto(url);
    await page.waitForSelector('body[data-ready]');
    assert.equal(await page.textContent('#status'), '● live');
    assert.equal(await page.textContent('#count'), '0 events');
    assert.match((await page.textContent('#title')) ?? '', /^proxy on 127\.0\.0\.1:\d+$/);

    const client = (login: string, password: string) => new MrimClient({ server: { host: '127.0.0.1', port: address.port }, socks, login, password, proto: '1.21', responseTimeoutMs: 10_000 });
    const alice = client('alice@mail.ru', 'alice');
    const bob = client('bob@mail.ru', 'bob');
    try {
      await alice.connect();
      // Her login arrives in the list, and her connection in the connection list, while she is online.
      await page.locator('#list .row:has(.c-type:text-is("LOGIN3"))').waitFor();
      await page.locator('#connections tr[data-conn]:has-text("alice@mail.ru"):has(td.state-open)').waitFor();

      // Through a filter: only what it lets through arrives.
      await page.fill('#filter', 'type == MESSAGE*');
      await page.press('#filter', 'Enter');
      await page.locator('#count:has-text(" of ")').waitFor();
      assert.equal(await page.locator('#list .row:not([hidden])').count(), 0);
      await bob.connect();
      const delivered = new Promise((resolve) => bob.once('message', resolve));
      await alice.sendMessage('bob@mail.ru', 'Привет, Боб!');
      await delivered;
      for (const type of ['MESSAGE', 'MESSAGE_ACK', 'MESSAGE_RECV', 'MESSAGE_STATUS']) await page.locator(`#list .row:has(.c-type:text-is("${type}"))`).waitFor();
      const types = await page.$$eval('#list .row:not([hidden]) .c-type', (cells) => cells.map((c) => c.textContent));
      assert.ok(types.every((t) => t?.startsWith('MESSAGE')), String(types));
      await page.click('#list .row:has(.c-type:text-is("MESSAGE_ACK"))');
      await page.locator('#tree .node:has-text("Привет, Боб!")').waitFor();
      await page.screenshot({ path: join(ARTIFACTS, 'web-view-live.png') });
    } finally {
      await alice.logout().catch(() => {});
      await bob.logout().catch(() => {});
    }
    // Both connections end: the list says so.
    await page.locator('#connections tr[data-conn]:has-text("alice@mail.ru"):has(td.state-closed)').waitFor();
    await page.locator('#connections tr[data-conn]:has-text("bob@mail.ru"):has(td.state-closed)').waitFor();
    assert.deepEqual(page.errors, []);
    await page.close();
  });
});

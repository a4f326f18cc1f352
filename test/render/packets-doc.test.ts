import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { PACKETS } from '../../src/protocol/packets/index.js';
import { withPacketTable } from '../../src/render/packets-doc.js';
import { runCli } from '../helpers/server-cli.js';

it('the README packet list is generated from the packet table and up to date (npm run docs)', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.equal(withPacketTable(readme), readme);
  for (const p of PACKETS) assert.ok(readme.includes(`| ${p.name}`), p.name);
});

it('mrimtap packets shows a layout as a version sees it, and refuses --markdown with a name and non-1.x versions', async () => {
  const layout = await runCli(['packets', 'LOGIN2', '--proto', '1.8']);
  assert.equal(layout.code, 0, layout.stderr);
  assert.match(layout.stdout, /^0x1038 LOGIN2 C→S/);
  assert.match(layout.stdout, /lang +LPS \(absent here\)/);
  const both = await runCli(['packets', 'LOGIN2', '--markdown']);
  assert.equal(both.code, 2);
  assert.equal(both.stderr, 'mrimtap: --markdown prints the whole list: give it without a packet name\n');
  const major = await runCli(['packets', 'LOGIN2', '--proto', '2.1']);
  assert.equal(major.code, 2);
  assert.equal(major.stderr, 'mrimtap: --proto: MRIM versions are 1.7–1.24, not "2.1"\n');
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { PACKETS } from '../src/protocol/packets.js';
import { withPacketTable } from '../src/render/packets-doc.js';

it('the README packet list is generated from the packet table and up to date (npm run docs)', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  assert.equal(withPacketTable(readme), readme);
  for (const p of PACKETS) assert.ok(readme.includes(`| ${p.name}`), p.name);
});

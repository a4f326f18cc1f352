// Regenerates the README's packet list from the packet table.
import { readFileSync, writeFileSync } from 'node:fs';
import { withPacketTable } from '../src/render/packets-doc.js';

const path = new URL('../README.md', import.meta.url);
writeFileSync(path, withPacketTable(readFileSync(path, 'utf8')));

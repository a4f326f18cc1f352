// Regenerates what is generated from the packet table: the README's packet list and wireshark/mrim.lua.
import { readFileSync, writeFileSync } from 'node:fs';
import { toolVersion } from '../src/capture/jsonl.js';
import { wiresharkDissector } from '../src/render/dissector.js';
import { withPacketTable } from '../src/render/packets-doc.js';

const readme = new URL('../README.md', import.meta.url);
writeFileSync(readme, withPacketTable(readFileSync(readme, 'utf8')));
writeFileSync(new URL('../wireshark/mrim.lua', import.meta.url), wiresharkDissector(toolVersion()));

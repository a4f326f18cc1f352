// The shape of the code, checked: imports go only downward through the layers, no subcommand imports
// another, the sans-IO layers touch no sockets or files, and packet codes live only in the table.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PACKETS, type PacketDef } from '../src/protocol/packets/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

/** Lower layers first; a file may import its own folder and any lower layer, nothing else. */
const LAYER: Record<string, number> = {
  protocol: 0,
  net: 0,
  tap: 1,
  capture: 2,
  render: 2,
  socks: 3,
  client: 3,
  server: 3,
  proxy: 4,
  replay: 4,
  web: 4,
  cli: 5,
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const sources = files(src).filter((f) => relative(src, f) !== 'index.ts');
const folderOf = (file: string) => relative(src, file).split('/')[0];
const importsOf = (file: string) =>
  [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)].map((m) => m[1]);

describe('architecture', () => {
  it('every source folder has a layer', () => {
    for (const f of sources) assert.ok(folderOf(f) in LAYER, `${relative(root, f)}: folder without a layer`);
  });

  it('imports go only downward (protocol ← tap ← capture/render ← client/server/socks ← proxy ← cli)', () => {
    const wrong: string[] = [];
    for (const f of sources) {
      const from = folderOf(f);
      for (const spec of importsOf(f).filter((s) => s.startsWith('.'))) {
        const to = folderOf(resolve(dirname(f), spec));
        if (to !== from && !(LAYER[to] < LAYER[from])) wrong.push(`${relative(root, f)} imports ${to}/ (${spec})`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('no subcommand imports another subcommand', () => {
    const cli = join(src, 'cli');
    const main = readFileSync(join(cli, 'main.ts'), 'utf8');
    const commands = new Set([...main.matchAll(/from '\.\/([\w-]+)\.js'/g)].map((m) => m[1]).filter((n) => /register/.test(main.split(`'./${n}.js'`)[0].split('\n').pop() ?? '')));
    assert.ok(commands.size >= 5, `subcommands found in main.ts: ${[...commands]}`);
    const wrong: string[] = [];
    for (const f of files(cli).filter((f) => f !== join(cli, 'main.ts'))) {
      for (const spec of importsOf(f)) {
        const m = /^\.\/([\w-]+)\.js$/.exec(spec);
        if (m && commands.has(m[1])) wrong.push(`${relative(root, f)} imports the ${m[1]} subcommand`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('the sans-IO layers import no sockets, files or timers', () => {
    const io = /^node:(net|tls|fs|fs\/promises|dgram|child_process|http|https)$/;
    const wrong = sources
      .filter((f) => ['protocol', 'tap'].includes(folderOf(f)))
      .flatMap((f) => importsOf(f).filter((s) => io.test(s)).map((s) => `${relative(root, f)} imports ${s}`));
    assert.deepEqual(wrong, []);
  });

  it('packet codes are written only in the packet table', () => {
    const table = join(src, 'protocol', 'packets');
    const codes = new Set((PACKETS as readonly PacketDef[]).map((p) => p.code));
    const hasCode = (line: string) => [...line.matchAll(/\b0x([0-9a-f]{4})\b/gi)].some((m) => codes.has(parseInt(m[1], 16)));
    const wrong = sources
      .filter((f) => !f.startsWith(table))
      .flatMap((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .map((line, i) => [line, i + 1] as const)
          .filter(([line]) => hasCode(line.replace(/\/\/.*$|^\s*\*.*$|\/\*.*?\*\/|'[^']*'/g, '')))
          .map(([line, n]) => `${relative(root, f)}:${n}: ${line.trim()}`),
      );
    assert.deepEqual(wrong, []);
  });

  it('test/ mirrors src/: each folder of tests is named after the source folder it tests', () => {
    const support = new Set(['helpers', 'fixtures', 'interop']);
    const dirs = readdirSync(join(root, 'test'), { withFileTypes: true }).filter((e) => e.isDirectory() && !support.has(e.name));
    assert.deepEqual(dirs.map((d) => d.name).filter((d) => !(d in LAYER)), []);
  });

  it('the example addons import only Node built-ins: each runs as a --script file wherever it is copied', () => {
    const examples = join(root, 'examples', 'addons');
    const wrong = readdirSync(examples)
      .filter((f) => f.endsWith('.mjs'))
      .flatMap((f) => importsOf(join(examples, f)).filter((s) => !s.startsWith('node:')).map((s) => `examples/addons/${f} imports ${s}`));
    assert.deepEqual(wrong, []);
  });

  it('no source file is much over 500 lines', () => {
    const long = sources.map((f) => [relative(root, f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > 550);
    assert.deepEqual(long, []);
  });
});

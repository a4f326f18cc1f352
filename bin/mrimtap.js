#!/usr/bin/env node
// In a clone (sources present, tsx installed) this runs the TypeScript sources, so the command never
// runs a stale build; a packed install has only dist/ and runs that. MRIMTAP_FROM_DIST=1 forces the build.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'cli', 'main.ts');
const compiled = join(root, 'dist', 'cli', 'main.js');

async function loadTsx() {
  try {
    return await import('tsx/esm/api');
  } catch {
    return undefined;
  }
}

const tsx = process.env.MRIMTAP_FROM_DIST !== '1' && existsSync(source) ? await loadTsx() : undefined;
if (tsx) {
  tsx.register();
  await import(pathToFileURL(source).href);
} else if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  process.stderr.write('mrimtap: no build found: run `npm ci` (or `npm run build`) in the mrimtap folder\n');
  process.exitCode = 2;
}

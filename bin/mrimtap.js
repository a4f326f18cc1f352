#!/usr/bin/env node
// Runs the compiled CLI when a build exists, otherwise the TypeScript sources through tsx,
// so the command works from a fresh clone, after `npm run build` and after `npm install -g .`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli', 'main.js');
const useSources = process.env.MRIMTAP_FROM_SOURCE === '1' || !existsSync(compiled);
if (useSources) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
} else {
  await import(pathToFileURL(compiled).href);
}

// Copies the non-TypeScript files the compiled code reads at runtime (the SQLite adapters' .sql files) from src/
// to dist/, keeping their paths, since tsc only emits .js. Run after `tsc -p tsconfig.build.json`.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');
const ASSET = /\.(sql|lua)$/;

function* assets(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* assets(path);
    else if (entry.isFile() && ASSET.test(entry.name)) yield path;
  }
}

let copied = 0;
for (const from of assets(src)) {
  const to = join(dist, relative(src, from));
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  copied++;
}
process.stdout.write(`copy-assets: ${copied} .sql/.lua file(s) copied to dist/\n`);

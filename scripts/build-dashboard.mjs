// Builds the dashboard's web pages (web/) into dist/dashboard/ with Vite's JS API. Run after tsc by `npm run build`;
// `celerity dashboard` serves the result, so the pages need nothing from the network.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';
import { build } from 'vite';

const configFile = fileURLToPath(new URL('../web/vite.config.ts', import.meta.url));
const outDir = fileURLToPath(new URL('../dist/dashboard', import.meta.url));
try {
  // Only the pages' own files go: dist/dashboard/ also holds the server side compiled by tsc. Without this an
  // earlier build's hashed files would stay beside the new ones, served and packed.
  rmSync(join(outDir, 'assets'), { recursive: true, force: true });
  rmSync(join(outDir, 'index.html'), { force: true });
  const out = await build({ configFile, mode: 'production' });
  const outputs = (Array.isArray(out) ? out : [out]).flatMap((o) => ('output' in o ? o.output : []));
  process.stdout.write(`build-dashboard: ${outputs.length} file(s) written to dist/dashboard/\n`);
} catch (error) {
  process.stderr.write(`build-dashboard: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}

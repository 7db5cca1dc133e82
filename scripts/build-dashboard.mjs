// Builds the dashboard's web pages (web/) into dist/dashboard/ with Vite's JS API. Run after tsc by `npm run build`;
// `celerity dashboard` serves the result, so the pages need nothing from the network.
import { rmSync } from 'node:fs';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';
import { build } from 'vite';

const configFile = fileURLToPath(new URL('../web/vite.config.ts', import.meta.url));
const outDir = fileURLToPath(new URL('../dist/dashboard', import.meta.url));
try {
  // Emptied here rather than by Vite, which leaves the files of an earlier build beside the new ones in this layout;
  // stale hashed files would be served and packed.
  rmSync(outDir, { recursive: true, force: true });
  const out = await build({ configFile, mode: 'production' });
  const outputs = (Array.isArray(out) ? out : [out]).flatMap((o) => ('output' in o ? o.output : []));
  process.stdout.write(`build-dashboard: ${outputs.length} file(s) written to dist/dashboard/\n`);
} catch (error) {
  process.stderr.write(`build-dashboard: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}

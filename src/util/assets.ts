/**
 * Files the adapters read at runtime beside their module (one SQL statement or Lua script per atomic operation),
 * cached after the first read. `scripts/copy-assets.mjs` puts them next to the compiled JavaScript, so the same
 * relative paths work from src/ and from dist/.
 */
import { readFileSync } from 'node:fs';

const cache = new Map<string, string>();

/** Reads `relative` (e.g. `lua/reserve.lua`) next to the module whose `import.meta.url` is `base`. */
export function readAsset(base: string, relative: string): string {
  const url = new URL(`./${relative}`, base);
  let text = cache.get(url.href);
  if (text === undefined) {
    text = readFileSync(url, 'utf8');
    cache.set(url.href, text);
  }
  return text;
}

/**
 * Loads the user's app module for `-A`: a `.ts` file directly (through tsx, since Node 20 cannot strip types), a
 * `.js`/`.mjs` file, or a bare path tried with those extensions. The module exports `app` or a default export.
 */
import { pathToFileURL } from 'node:url';
import type { Celerity } from './celerity.js';
import { resolveAppPath } from '../util/app-path.js';
import { AppLoadError, CelerityError } from '../errors/index.js';

export async function loadApp(spec: string): Promise<Celerity> {
  const file = resolveAppPath(spec);
  let mod: Record<string, unknown>;
  try {
    if (/\.[mc]?ts$/.test(file)) {
      const { tsImport } = await import('tsx/esm/api');
      mod = (await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
    } else {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    }
  } catch (err) {
    // Configuration and connection errors raised while the module builds its app are reported as themselves.
    if (err instanceof CelerityError || (err instanceof Error && /^(Configuration|Connection)Error$/.test(err.name))) throw err;
    throw new AppLoadError(`cannot load app module ${file}: ${(err as Error).message}`, { cause: err });
  }
  const candidates = [mod.app, mod.default, (mod.default as Record<string, unknown> | undefined)?.app];
  const app = candidates.find(isApp);
  if (!app) throw new AppLoadError(`${file} does not export a Celerity app (export const app = new Celerity(...), or a default export)`);
  return app;
}

/**
 * Duck-typed on purpose: the module may import `celerity` through another copy of the package (a linked install),
 * whose class is not this one.
 */
function isApp(v: unknown): v is Celerity {
  const o = v as Record<string, unknown> | null;
  return !!o && typeof o === 'object' && typeof o.task === 'function' && typeof o.worker === 'function' && typeof o.sendTask === 'function';
}

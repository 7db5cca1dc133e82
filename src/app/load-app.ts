/**
 * Loads the user's app module for `-A`: a `.ts` file directly (through tsx, since Node 20 cannot strip types), a
 * `.js`/`.mjs` file, or a bare path tried with those extensions. The module exports `app` or a default export.
 *
 * `-A` may name several modules separated by commas (`-A ./app.ts,./more-tasks.ts`): the first exports the app,
 * the others are imported for the tasks they register. Then the modules of the app's `include` setting are
 * imported. All of them share one module graph, so a task module importing the app module gets the same app.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { Celerity } from './celerity.js';
import { resolveAppPath } from '../util/app-path.js';
import { AppLoadError, CelerityError } from '../errors/index.js';
import { expandInclude } from './include.js';

type Importer = (file: string) => Promise<Record<string, unknown>>;

export async function loadApp(spec: string): Promise<Celerity> {
  const [first = '', ...extra] = spec.split(',').map((s) => s.trim()).filter(Boolean);
  const file = resolveAppPath(first);
  const importer = makeImporter();
  const mod = await importModule(importer, file, 'app module');
  const candidates = [mod.app, mod.default, (mod.default as Record<string, unknown> | undefined)?.app];
  const app = candidates.find(isApp);
  if (!app) throw new AppLoadError(`${file} does not export a Celerity app (export const app = new Celerity(...), or a default export)`);
  for (const other of extra) await importModule(importer, resolveAppPath(other), 'task module');
  for (const included of expandInclude(app.conf.include ?? [])) await importModule(importer, included, 'included module');
  return app;
}

/**
 * One importer for the whole load: TypeScript files go through one tsx namespace (so they share module instances
 * with each other), JavaScript files through Node's import.
 */
function makeImporter(): Importer {
  let scoped: ((specifier: string, parent: string) => Promise<unknown>) | undefined;
  const needsTsx = (f: string): boolean => /\.[mc]?ts$/.test(f);
  const tsImport = async (href: string): Promise<unknown> => {
    if (!scoped) {
      const { register } = await import('tsx/esm/api');
      scoped = register({ namespace: `celerity-${randomUUID()}` }).import;
    }
    return scoped(href, import.meta.url);
  };
  return async (file) => {
    const href = pathToFileURL(file).href;
    return (needsTsx(file) ? await tsImport(href) : await import(href)) as Record<string, unknown>;
  };
}

async function importModule(importer: Importer, file: string, what: string): Promise<Record<string, unknown>> {
  try {
    return await importer(file);
  } catch (err) {
    // Configuration and connection errors raised while the module builds its app are reported as themselves.
    if (err instanceof CelerityError || (err instanceof Error && /^(Configuration|Connection)Error$/.test(err.name))) throw err;
    throw new AppLoadError(`cannot load ${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Duck-typed on purpose: the module may import `celerity` through another copy of the package (a linked install),
 * whose class is not this one.
 */
function isApp(v: unknown): v is Celerity {
  const o = v as Record<string, unknown> | null;
  return !!o && typeof o === 'object' && typeof o.task === 'function' && typeof o.worker === 'function' && typeof o.sendTask === 'function';
}

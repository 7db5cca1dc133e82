/**
 * Where an app module given as `-A` is: the path as given, or with the extensions Node and tsx resolve. Used by the
 * CLI to load the app and by the threads/process pools to hand the same file to their children.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { AppLoadError } from '../errors/index.js';

const EXTENSIONS = ['', '.ts', '.mts', '.js', '.mjs', '/index.ts', '/index.js'];

export function resolveAppPath(spec: string, cwd = process.cwd()): string {
  const base = path.resolve(cwd, spec);
  for (const ext of EXTENSIONS) {
    const candidate = base + ext;
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  throw new AppLoadError(`cannot find app module ${JSON.stringify(spec)} (tried ${EXTENSIONS.map((e) => `${spec}${e}`).filter(Boolean).join(', ')})`);
}

/**
 * `-A ./app.ts,./more-tasks.ts`: each module resolved, joined again with commas. The threads and process pools hand
 * this to their children, whose loadApp splits it the same way, so every child imports the same task modules.
 */
export function resolveAppModules(spec: string, cwd = process.cwd()): string {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => resolveAppPath(s, cwd))
    .join(',');
}

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

/**
 * What every verb shares: the app (from -A, or a bare one built from the environment) with the command-line layer
 * of configuration applied on top.
 */
import { Celerity } from '../app/celerity.js';
import type { CelerityOptions } from '../app/config.js';
import { loadApp } from '../app/load-app.js';

export interface CommonFlags {
  app?: string;
  broker?: string;
  backend?: string;
  loglevel?: string;
}

export async function appFrom(flags: CommonFlags, extra: CelerityOptions = {}): Promise<Celerity> {
  const app = flags.app ? await loadApp(flags.app) : new Celerity('celerity');
  app.configure({
    broker: flags.broker,
    backend: flags.backend,
    loglevel: flags.loglevel as CelerityOptions['loglevel'],
    ...extra,
  });
  return app;
}

/** Passwords out of URLs shown in banners and logs: the one mask every part of Celerity uses. */
export { maskUrl } from '../transports/index.js';

export function parseJsonFlag<T>(value: string | undefined, flag: string, check: (v: unknown) => boolean, expected: string): T | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new UsageError(`${flag} must be JSON (${expected}), got ${value}`);
  }
  if (!check(parsed)) throw new UsageError(`${flag} must be ${expected}, got ${value}`);
  return parsed as T;
}

export class UsageError extends Error {}

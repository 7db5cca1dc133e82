/**
 * Which pool runs the worker's tasks. `async` (the default) runs them on the worker's own event loop, right for
 * I/O-bound work; `threads` and `process` run each task in a child that loaded the app module itself, for
 * CPU-bound work that must not stall the worker's loop (heartbeats, acks, visibility extension) and that a hard
 * time limit must be able to kill.
 */
import type { Logger } from '../util/logger.js';
import type { ExecutionPool } from './pools/pool.js';

export type PoolKind = 'async' | 'threads' | 'process';

export interface PoolSettings {
  kind: PoolKind;
  /** The module that exports the app (what `-A` names); required by `threads` and `process`. */
  appModule?: string;
  size: number;
  maxTasksPerChild: number | null;
  maxMemoryPerChild: number | null;
  logger: Logger;
}

/** Checks the settings up front, so a worker fails at construction rather than at start. */
export function checkPoolSettings(settings: Pick<PoolSettings, 'kind' | 'appModule'>): void {
  if (settings.kind !== 'async' && !settings.appModule) {
    throw new TypeError(
      `the ${settings.kind} pool loads the app in each child: give the worker the module that exports it ` +
        `(appModule, or -A on the command line)`,
    );
  }
}

/** The started pool, or null for `async`; rejects when a child cannot load the app. */
export async function openPool(settings: PoolSettings): Promise<ExecutionPool | null> {
  if (settings.kind === 'async') return null;
  checkPoolSettings(settings);
  // Loaded only when asked for: an async worker never pays for the pool modules.
  const { ProcessPool, ThreadPool } = await import('./pools/index.js');
  const options = {
    app: settings.appModule!,
    size: settings.size,
    maxTasksPerChild: settings.maxTasksPerChild,
    maxMemoryPerChild: settings.maxMemoryPerChild,
    logger: settings.logger,
  };
  const pool = settings.kind === 'threads' ? new ThreadPool(options) : new ProcessPool(options);
  try {
    await pool.start();
  } catch (err) {
    await pool.close({ force: true }).catch(() => undefined);
    throw err;
  }
  return pool;
}

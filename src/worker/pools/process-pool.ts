/**
 * The `process` pool: one forked Node process per child, talking over an IPC channel with structured-clone
 * ("advanced") serialization, so Dates, Maps and typed arrays cross as they do between threads. Full isolation:
 * a crash, a leak or a native fault ends only that child, and SIGKILL stops anything.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolveAppModules } from '../../util/app-path.js';
import { ChildPool } from './shared-pool.js';
import type { ChildHandle } from './child-handle.js';
import { childEntry } from './entry.js';
import type { PoolOptions } from './pool.js';

export interface ProcessPoolOptions extends PoolOptions {
  /** Environment of the children; default: this process's. */
  env?: NodeJS.ProcessEnv;
}

/**
 * @example
 * const pool = new ProcessPool({ app: './tasks.ts', size: 2, maxMemoryPerChild: 200_000 });
 * await pool.start();
 * const outcome = await pool.run(jobFromRequest(req, delivery, { hostname, limits }), { updateState });
 */
export class ProcessPool extends ChildPool {
  constructor(options: ProcessPoolOptions) {
    super({ ...options, app: resolveAppModules(options.app) }, (app) => spawnProcess(app, options), (usage) => usage.rss);
  }
}

function spawnProcess(app: string, options: ProcessPoolOptions): ChildHandle {
  const child = fork(fileURLToPath(childEntry()), [app], {
    serialization: 'advanced',
    // Not the parent's flags by default: an inherited --inspect port would clash in every child.
    execArgv: options.execArgv ?? [],
    env: options.env ?? process.env,
  });
  let exited: ((reason: string) => void) | undefined;
  let done = false;
  const exit = (reason: string) => {
    if (done) return;
    done = true;
    exited?.(reason);
  };
  child.once('exit', (code, signal) => exit(signal ? `signal ${signal}` : `exit code ${code}`));
  child.on('error', (err) => {
    // A process that never started has no exit to wait for. Otherwise (a send racing the child's death) the exit
    // that follows is what the pool acts on.
    if (child.pid === undefined) exit(`could not start: ${err.message}`);
    else options.logger?.warn({ pid: child.pid, err: err.message }, 'pool child process error');
  });
  return {
    id: child.pid ?? -1,
    pid: child.pid ?? -1,
    send: (msg) => {
      if (child.connected) child.send(msg);
    },
    kill: () => void child.kill('SIGKILL'),
    onMessage: (fn) => child.on('message', fn as (msg: unknown) => void),
    onExit: (fn) => (exited = fn),
  };
}

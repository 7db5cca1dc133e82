/**
 * The `threads` pool: one worker thread per child. Cheaper to start and to talk to than a process, and a hard
 * time limit still stops synchronous code (terminate() interrupts the isolate). Threads share the process,
 * though: memory limits are per isolate (`resourceLimits`), and native code that crashes takes the worker along.
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { resolveAppModules } from '../../util/app-path.js';
import { ChildPool } from './shared-pool.js';
import type { ChildHandle } from './child-handle.js';
import { childEntry } from './entry.js';
import type { PoolOptions } from './pool.js';

export interface ThreadPoolOptions extends PoolOptions {
  /**
   * V8 limits per thread. With `maxOldGenerationSizeMb` a runaway task ends its own thread with an out-of-memory
   * error (a WorkerLostError for that task) instead of taking the whole worker process down.
   */
  resourceLimits?: ResourceLimits;
}

/**
 * @example
 * const pool = new ThreadPool({ app: './tasks.ts', size: 4, maxTasksPerChild: 1000 });
 * await pool.start();
 * const outcome = await pool.run(jobFromRequest(req, delivery, { hostname, limits }), { updateState });
 */
export class ThreadPool extends ChildPool {
  constructor(options: ThreadPoolOptions) {
    super({ ...options, app: resolveAppModules(options.app) }, (app) => spawnThread(app, options), (usage) => usage.heap);
  }
}

function spawnThread(app: string, options: ThreadPoolOptions): ChildHandle {
  const worker = new Worker(childEntry(), {
    workerData: { app },
    execArgv: options.execArgv ?? [],
    resourceLimits: options.resourceLimits,
  });
  let error: Error | undefined;
  // An uncaught exception (or ERR_WORKER_OUT_OF_MEMORY) arrives here just before 'exit'; keep it for the reason.
  worker.on('error', (err) => (error = err));
  return {
    id: worker.threadId,
    pid: process.pid,
    send: (msg) => worker.postMessage(msg),
    kill: () => void worker.terminate(),
    onMessage: (fn) => worker.on('message', fn),
    onExit: (fn) => worker.once('exit', (code) => fn(error ? `${error.name}: ${error.message}` : `exit code ${code}`)),
  };
}

/** What `app.worker(options)` takes; anything left out comes from the app's settings. */
import type { Logger } from '../util/logger.js';
import type { AutoscaleOptions } from './autoscale.js';
import type { NodeOptions } from './node.js';
import type { PoolKind } from './pool-select.js';

export interface WorkerOptions {
  /** Queues to consume, in order of preference; default: the app's `queues` or its default queue. */
  queues?: string[];
  concurrency?: number;
  prefetchMultiplier?: number;
  hostname?: string;
  /** `async` (default: the app's `pool` setting), `threads` or `process`; see pool-select.ts. */
  pool?: PoolKind;
  /** The module exporting the app, loaded by each child of the threads and process pools (the CLI's `-A`). */
  appModule?: string;
  /** Replace a pool child after this many tasks (threads/process). Default: the app's `maxTasksPerChild`. */
  maxTasksPerChild?: number | null;
  /** Replace a pool child whose memory passes this many KiB after a task. Default: the app's setting. */
  maxMemoryPerChild?: number | null;
  /** Seconds running tasks get to finish on stop() before they are returned to the broker. */
  shutdownTimeout?: number;
  /** Celery's `--autoscale max,min`: the pool grows with the work held and shrinks back (autoscale.ts). */
  autoscale?: AutoscaleOptions;
  /** Remote control and events, on a Redis broker (see node.ts); false: neither. */
  node?: NodeOptions | false;
  logger?: Logger;
}

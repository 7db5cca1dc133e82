/** The threads and process pools for CPU-bound tasks. The async pool is ../executor.ts. */
export { ProcessPool, type ProcessPoolOptions } from './process-pool.js';
export { ThreadPool, type ThreadPoolOptions } from './thread-pool.js';
export {
  WorkerLostError,
  jobFromRequest,
  type ChildInfo,
  type ExecutionPool,
  type Outcome,
  type PoolHooks,
  type PoolJob,
  type PoolOptions,
} from './pool.js';

/** Processes for recovery tests: shared with the chaos harness (chaos/lib/procs.ts). */
export { chaosEnv, exited, freePort, kill9, OwnRedis, root, startWorker, type WorkerOptions, type WorkerProc } from '../../chaos/lib/procs.js';

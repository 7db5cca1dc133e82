/**
 * What the node and its control commands (control.ts, revoke-jobs.ts) see of the worker that owns them and of the node
 * itself, as interfaces: they are built by the worker and the node, and never import either.
 */
import type { EventEmitter } from 'node:events';
import type { WorkerEvents } from './events.js';
import type { RateGate } from './rate-limit.js';
import type { Job } from './job.js';
import type { ExecutionPool } from './pools/pool.js';
import type { PoolKind } from './pool-select.js';
import type { Logger } from '../util/logger.js';
import type { WorkerApp } from './worker-app.js';
import type { RevokedIds } from './revoked-ids.js';
import type { LamportClock } from '../control/clock.js';
import type { TaskEventBridge } from './node-events.js';

/** The worker as remote control reaches it; its events feed the node's task events. */
export interface NodeWorker extends Pick<EventEmitter<WorkerEvents>, 'on' | 'off'> {
  readonly hostname: string;
  /** Consumed in this order; add_consumer / cancel_consumer change it. */
  readonly queues: string[];
  readonly concurrency: number;
  readonly prefetch: number;
  readonly poolKind: PoolKind;
  /** Totals per task name. */
  readonly processed: ReadonlyMap<string, number>;
  readonly rates: RateGate;
  autoscale(max: number | null, min: number | null): Promise<[number, number] | null>;
  restartPool(): Promise<void>;
  stop(): Promise<void>;
}

/** The parts of the worker's private state the node reaches; built by Worker.start(). */
export interface NodeHost {
  readonly worker: NodeWorker;
  readonly app: WorkerApp;
  readonly log: Logger;
  readonly pool: ExecutionPool | null;
  /** The worker's jobs by stage, live (the same collections the worker uses). */
  readonly jobs: {
    readonly waiting: Job[];
    /** Held until their ETA or their rate-limit slot, by delivery tag. */
    readonly held: Map<string, Job>;
    readonly running: ReadonlyMap<string, Job>;
    /** Ran; result and ack being written. */
    readonly finishing: ReadonlyMap<string, Job>;
  };
  /** Stores REVOKED for a job that will not run or was terminated, and acks it unless it was `acked` on start. */
  revoke(job: Job, why: 'revoked' | 'terminated', acked?: boolean): void;
  /** Frees a running job's slot and forgets its run: nothing it does later is waited for at shutdown. */
  release(job: Job): void;
  /** Sets how many tasks run at once (the prefetch window follows); the caller resizes a threads/process pool. */
  resize(concurrency: number): void;
  /** Wakes the fetch loop after a change of queues. */
  wake(): void;
}

/** The node's own state that its control commands read and change. */
export interface NodeState {
  readonly host: NodeHost;
  readonly clock: LamportClock;
  readonly revoked: RevokedIds;
  readonly timeLimits: Map<string, { soft: number | null; hard: number | null }>;
  readonly rateLimits: Map<string, string | number | null>;
  readonly declarations: Map<string, { exchange?: string; routingKey?: string }>;
  readonly terminations: Map<string, string | number>;
  readonly startedAt: number;
  readonly events: TaskEventBridge;
  addRevoked(ids: Iterable<string>): void;
  jobById(id: string): Job | undefined;
  heartbeat(): Promise<void>;
  processed(): number;
}

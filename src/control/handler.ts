/**
 * What a worker implements to answer remote control: one async method per command, taking plain arguments and
 * returning plain data. ControlServer turns Celery's requests into these calls and the results into Celery's
 * replies (texts, shapes, `{"ok": ...}` / `{"error": ...}`), so a handler never deals with the wire.
 *
 * Reply shapes follow celery/worker/control.py (Celery 5.2); field names that cross the wire stay snake_case.
 */
import { CelerityError } from '../errors/index.js';
import type { LamportClock } from './clock.js';
import type { ControlRequest } from '../protocol/control.js';

/** One task as `inspect active|reserved|query_task` lists it (celery/worker/request.py `Request.info`). */
export interface TaskInfo {
  id: string;
  name: string;
  /** The arguments, or with `safe` their Python repr text. */
  args: unknown;
  kwargs: unknown;
  /** The task name again (Celery's `Request.type`). */
  type: string;
  /** The worker's node name. */
  hostname: string;
  /** Epoch seconds the task started, null before. */
  time_start: number | null;
  acknowledged: boolean;
  delivery_info: { exchange: string; routing_key: string; priority: number; redelivered: boolean | null };
  /** The pid of the process running it, null before it starts. */
  worker_pid: number | null;
}

/** An entry of `inspect scheduled`: a task held until its ETA. */
export interface ScheduledTaskInfo {
  /** ISO 8601. */
  eta: string | null;
  priority: number;
  request: TaskInfo;
}

/** `query_task` states. */
export type QueriedTaskState = 'active' | 'reserved' | 'ready';

/** A registered task, with the attributes `inspect registered` may show (`rate_limit`, `exchange`, ...). */
export interface RegisteredTask {
  name: string;
  /** By Celery attribute name; null/undefined ones are left out of the listing. */
  attributes?: Record<string, string | number | boolean | null | undefined>;
}

/** `inspect stats`. Celery's keys are listed; anything else a worker adds passes through. */
export interface WorkerStats {
  /** Tasks processed, by name. */
  total: Record<string, number>;
  pid: number;
  /** Celery sends the clock as a string. */
  clock: string;
  /** Whole seconds since start. */
  uptime: number;
  pool: Record<string, unknown>;
  broker: Record<string, unknown>;
  prefetch_count: number;
  /** getrusage(RUSAGE_SELF) as Celery reports it (see `processRusage`), or `'N/A'`. */
  rusage: Record<string, number> | 'N/A';
  [key: string]: unknown;
}

/** kombu's `Queue.as_dict(recurse=True)`, as `inspect active_queues` lists consumed queues (see `queueInfo`). */
export type QueueInfo = Record<string, unknown> & { name: string };

export interface RevokeCommand {
  /** Deduplicated. */
  taskIds: string[];
  /** Also stop the tasks that are running. */
  terminate: boolean;
  /** A signal name such as `SIGTERM` (Celery's default), or a number as sent. */
  signal: string | number;
}

export interface AddConsumerCommand {
  queue: string;
  exchange: string | null;
  /** `direct` unless given. */
  exchangeType: string;
  routingKey: string | null;
  /** Any further keyword arguments Celery passes on to the queue declaration. */
  options: Record<string, unknown>;
}

/** Passed to every handler method: who is answering, the node's clock and the request as received. */
export interface ControlContext {
  hostname: string;
  clock: LamportClock;
  request: ControlRequest;
}

/**
 * The commands a Celerity worker answers. A method that throws ControlCommandError replies
 * `{"error": message}`; any other error replies `{"error": "<Name>('<message>')"}`, as Celery replies
 * `repr(exc)`. `ping`, `clock`, `hello` (mingle), `terminate` and the `dump_*` aliases are answered by the server.
 */
export interface ControlHandler {
  /** Tasks executing now. `safe`: args/kwargs as their repr text. */
  active(options: { safe: boolean }, ctx: ControlContext): Promise<TaskInfo[]>;
  /** Tasks received and waiting for a slot, not including scheduled or active ones. */
  reserved(ctx: ControlContext): Promise<TaskInfo[]>;
  /** Tasks held until their ETA. */
  scheduled(ctx: ControlContext): Promise<ScheduledTaskInfo[]>;
  /** Ids of revoked tasks this worker remembers. */
  revoked(ctx: ControlContext): Promise<string[]>;
  /** Every task this worker can run (the server sorts, filters `celery.*` and formats). */
  registered(ctx: ControlContext): Promise<RegisteredTask[]>;
  stats(ctx: ControlContext): Promise<WorkerStats>;
  activeQueues(ctx: ControlContext): Promise<QueueInfo[]>;
  /** The tasks among `ids` this worker knows, by id. */
  queryTask(ids: string[], ctx: ControlContext): Promise<Record<string, [QueriedTaskState, TaskInfo]>>;
  /** Remembers the ids as revoked; with `terminate`, stops running ones. Resolves to the ids it terminated. */
  revoke(command: RevokeCommand, ctx: ControlContext): Promise<string[]>;
  /**
   * Sets (or with a falsy value, removes) a task's rate limit; the server has checked the syntax (`10/s`, `5/m`,
   * `1/h`, a number). Throw ControlCommandError('unknown task') for a task it does not have.
   */
  rateLimit(taskName: string, rateLimit: string | number | null, ctx: ControlContext): Promise<void>;
  /** Sets a task's time limits in seconds (null = none). ControlCommandError('unknown task') as above. */
  timeLimit(taskName: string, limits: { soft: number | null; hard: number | null }, ctx: ControlContext): Promise<void>;
  addConsumer(command: AddConsumerCommand, ctx: ControlContext): Promise<void>;
  cancelConsumer(queue: string, ctx: ControlContext): Promise<void>;
  poolGrow(n: number, ctx: ControlContext): Promise<void>;
  poolShrink(n: number, ctx: ControlContext): Promise<void>;
  /** Warm shutdown. Never replied to (Celery raises SystemExit before replying); not awaited by the server. */
  shutdown(message: string, ctx: ControlContext): Promise<void>;

  /** Send a worker-heartbeat event now (what event monitors ask for when they start). */
  heartbeat?(ctx: ControlContext): Promise<void>;
  /** Turn task events on; resolve to false when they already were. */
  enableEvents?(ctx: ControlContext): Promise<boolean>;
  /** Turn task events off; resolve to false when they already were. */
  disableEvents?(ctx: ControlContext): Promise<boolean>;
  /** Settings by Celery name (`inspect conf`): only those that differ from the defaults unless `withDefaults`. */
  conf?(withDefaults: boolean, ctx: ControlContext): Promise<Record<string, unknown>>;
  /** Software, platform and settings as text, like Celery's bug report (`inspect report`). */
  report?(ctx: ControlContext): Promise<string>;
  /** New autoscale bounds (null keeps one); resolves to [max, min] in force, or null when the node does not autoscale. */
  autoscale?(max: number | null, min: number | null, ctx: ControlContext): Promise<[number, number] | null>;
  /**
   * Reloads the task code (`pool_restart`): resolves false when restarts are not enabled (Celery's
   * worker_pool_restarts); otherwise starts the restart and resolves true without waiting for it.
   */
  poolRestart?(ctx: ControlContext): Promise<boolean>;
  /** Samples the resident memory now, as text (`52.3MB`), and keeps the sample for `memdump`. */
  memsample?(ctx: ControlContext): Promise<string>;
  /** The kept samples (at most `samples` of them) and the memory now, as text; clears the samples. */
  memdump?(samples: number, ctx: ControlContext): Promise<string>;
  /** Revoked ids another node shared at its start (Celery's mingle), to add to this node's own. */
  mergeRevoked?(ids: string[], ctx: ControlContext): Promise<void>;
  /** Further commands by Celery name (Celery apps register their own with `@control_command`). */
  commands?: Record<string, (args: Record<string, unknown>, ctx: ControlContext) => Promise<unknown>>;
}

/** A refusal whose message is the reply: `{"error": message}` (Celery's `nok(...)`). */
export class ControlCommandError extends CelerityError {}

/**
 * `Queue.as_dict(recurse=True)` of a plain Celery queue (a durable direct exchange named like the queue, routed
 * by its name), key for key as a Celery 5.2 worker lists it in `inspect active_queues`.
 */
export function queueInfo(name: string, options: { exchange?: string; routingKey?: string } = {}): QueueInfo {
  const exchange = options.exchange ?? name;
  return {
    name,
    exchange: {
      name: exchange,
      type: 'direct',
      arguments: null,
      durable: true,
      passive: false,
      auto_delete: false,
      delivery_mode: null,
      no_declare: false,
    },
    routing_key: options.routingKey ?? name,
    queue_arguments: null,
    binding_arguments: null,
    consumer_arguments: null,
    durable: true,
    exclusive: false,
    auto_delete: false,
    no_ack: false,
    alias: null,
    bindings: [],
    no_declare: null,
    expires: null,
    message_ttl: null,
    max_length: null,
    max_length_bytes: null,
    max_priority: null,
  };
}

/** This process's resource usage in the shape of Celery's `stats().rusage` (seconds, kilobytes, counts). */
export function processRusage(): Record<string, number> {
  const u = process.resourceUsage();
  return {
    utime: u.userCPUTime / 1e6,
    stime: u.systemCPUTime / 1e6,
    maxrss: u.maxRSS,
    ixrss: u.sharedMemorySize,
    idrss: u.unsharedDataSize,
    isrss: u.unsharedStackSize,
    minflt: u.minorPageFault,
    majflt: u.majorPageFault,
    nswap: u.swappedOut,
    inblock: u.fsRead,
    oublock: u.fsWrite,
    msgsnd: u.ipcSent,
    msgrcv: u.ipcReceived,
    nsignals: u.signalsCount,
    nvcsw: u.voluntaryContextSwitches,
    nivcsw: u.involuntaryContextSwitches,
  };
}

/**
 * The worker as a Celery node on its broker's mailbox (Redis: kombu's pidbox and celeryev; the embedded store: its
 * own tables): what lets `celery inspect`, `celery control`, `celerity inspect` and
 * Flower see and steer it. Started by Worker.start() after the pool, before consuming; closed by Worker.stop()
 * after the last task was written, so the final events and replies describe the finished state.
 *
 * Parts, started in this order (Celery's bootsteps order: state, mingle, control, events) and closed in reverse:
 * - the revoked ids, read from the `statedb` file when there is one;
 * - mingle: a `hello` broadcast that collects the revoked ids other nodes (Celery or Celerity) remember;
 * - a ControlServer answering remote control through WorkerControl (control.ts);
 * - an EventDispatcher: worker-online, a heartbeat every 2 s and worker-offline, plus task events while they are
 *   on (node-events.ts). Server, dispatcher and mingle share one Lamport clock.
 *
 * All of it runs on the worker's own event loop. With the threads or process pool that loop stays free while every
 * child is busy with CPU work, so heartbeats, replies and visibility extension keep their pace; with the async pool
 * a task that blocks the loop delays them, as it delays everything else.
 */
import type { Mailbox } from '../broker/mailbox.js';
import { ControlClient } from '../control/client.js';
import { LamportClock } from '../control/clock.js';
import { EventDispatcher } from '../control/event-dispatcher.js';
import { ControlServer } from '../control/server.js';
import { toError } from '../errors/index.js';
import type { TaskRequest } from '../protocol/types.js';
import { WorkerControl } from './control.js';
import type { Job } from './job.js';
import { TaskEventBridge } from './node-events.js';
import { RevokedIds, StateDb } from './revoked-ids.js';
import type { NodeHost, NodeState } from './node-state.js';

export interface NodeOptions {
  /** Send task events (Celery's `-E`); default: the app's `sendTaskEvents`. `enable_events` turns them on later. */
  taskEvents?: boolean;
  /** worker-online, heartbeats and worker-offline (default true; Celery's `--without-heartbeat` is false). */
  heartbeat?: boolean;
  /** Seconds between heartbeats (Celery's 2). */
  heartbeatInterval?: number;
  /** Ask the other nodes for the ids they remember as revoked at start (Celery's mingle; default true). */
  mingle?: boolean;
  /** A file keeping revoked ids across restarts (Celery's `--statedb`); default: the app's `statedb`. */
  statedb?: string | null;
}

export type { NodeHost } from './node-state.js';

export class WorkerNode implements NodeState {
  readonly clock = new LamportClock();
  readonly revoked = new RevokedIds();
  /** Per-task time limits set by the `time_limit` command; they replace the task's own options for later runs. */
  readonly timeLimits = new Map<string, { soft: number | null; hard: number | null }>();
  /** Rates set by `rate_limit`, as given, for `inspect registered`. */
  readonly rateLimits = new Map<string, string | number | null>();
  /** Queues added by `add_consumer` with their exchange and routing key, for `inspect active_queues`. */
  readonly declarations = new Map<string, { exchange?: string; routingKey?: string }>();
  /** Ids being terminated by a revoke, with the signal asked for; the task-revoked event takes them (events on). */
  readonly terminations = new Map<string, string | number>();
  readonly startedAt = Date.now();
  /** Jobs by request while task events are on, for the pid of their task-started event; weak, so nothing to clean. */
  private readonly startedJobs = new WeakMap<TaskRequest, Job>();
  readonly events: TaskEventBridge;
  private readonly mailbox: Mailbox;
  private readonly statedb: StateDb | null;
  private readonly server: ControlServer;
  private readonly dispatcher: EventDispatcher;
  private closing: Promise<void> | undefined;

  /**
   * The node for a worker, started; undefined when the broker has no mailbox (one info line says so) or `options`
   * is false.
   */
  static async open(host: NodeHost, options: NodeOptions | false = {}): Promise<WorkerNode | undefined> {
    if (options === false) return undefined;
    const broker = await host.app.broker();
    if (!broker.mailbox) {
      host.log.info('this broker carries no remote control or events: this worker answers no inspect/control commands and sends no events');
      return undefined;
    }
    const node = new WorkerNode(host, options, broker.mailbox());
    await node.start(options);
    return node;
  }

  private constructor(
    readonly host: NodeHost,
    options: NodeOptions,
    mailbox: Mailbox,
  ) {
    const { app, worker, log } = host;
    this.mailbox = mailbox;
    const file = options.statedb !== undefined ? options.statedb : app.conf.statedb;
    this.statedb = file
      ? new StateDb(file, () => ({ revoked: this.revoked, clock: this.clock.value }), {
          onError: (err) => log.error({ err: err.message, statedb: file }, 'statedb: could not read or write the revoked ids'),
        })
      : null;
    const onError = (err: Error): void => log.warn({ err: err.message }, 'remote control: a request or reply failed');
    this.server = new ControlServer({
      mailbox,
      hostname: worker.hostname,
      handler: new WorkerControl(this),
      clock: this.clock,
      accept: app.conf.acceptContent,
      serializer: app.conf.taskSerializer,
      onError,
    });
    // Always made, heartbeats or not: `enable_events` may turn task events on later.
    this.dispatcher = new EventDispatcher({
      mailbox,
      hostname: worker.hostname,
      clock: this.clock,
      serializer: 'json',
      bufferGroups: ['task'],
      heartbeat:
        options.heartbeat === false
          ? undefined
          : { interval: options.heartbeatInterval ?? 2, state: () => ({ active: host.jobs.running.size, processed: this.processed() }) },
      onError: (err) => log.warn({ err: err.message }, 'events: could not publish'),
    });
    this.events = new TaskEventBridge(worker, this.dispatcher, {
      pidOf: (req) => this.startedJobs.get(req)?.workerPid,
      takeTermination: (id) => {
        const signal = this.terminations.get(id);
        this.terminations.delete(id);
        return signal;
      },
    });
    if (options.taskEvents ?? app.conf.sendTaskEvents) this.events.enable();
  }

  /** Sends a worker-heartbeat now. */
  heartbeat(): Promise<void> {
    return this.dispatcher.sendHeartbeat();
  }

  private async start(options: NodeOptions): Promise<void> {
    if (this.statedb) this.clock.adjust(await this.statedb.load(this.revoked));
    if (options.mingle !== false) await this.mingle();
    try {
      await this.server.start();
      await this.dispatcher.start();
    } catch (err) {
      this.events.disable();
      await Promise.allSettled([this.server.close(), this.dispatcher.close()]);
      await this.mailbox.close().catch(() => undefined);
      throw err;
    }
  }

  /** Remembers ids as revoked (and schedules a statedb write). */
  addRevoked(ids: Iterable<string>): void {
    this.revoked.add(ids);
    this.statedb?.changed();
  }

  /** Whether a message with this id must not run. */
  isRevoked(id: string): boolean {
    return this.revoked.size > 0 && this.revoked.has(id);
  }

  /** Records when (and where) a job started, for `inspect active` and task-started. */
  started(job: Job, pid: number | null): void {
    const j = job as Job;
    if (j.timeStart === undefined) {
      j.timeStart = Date.now() / 1000;
      if (this.events.enabled) this.startedJobs.set(job.req, j);
    }
    if (pid !== null) j.workerPid = pid;
  }

  /** Tasks finished since start, all names together (the heartbeat's `processed`). */
  processed(): number {
    let n = 0;
    for (const count of this.host.worker.processed.values()) n += count;
    return n;
  }

  /** A job the worker holds, by task id: running first, then waiting or held, then finishing. */
  jobById(id: string): Job | undefined {
    const { waiting, held, running, finishing } = this.host.jobs;
    for (const jobs of [running.values(), waiting, held.values(), finishing.values()]) {
      for (const job of jobs) if (job.req.id === id) return job;
    }
    return undefined;
  }

  /** Stops answering and sending, announces the worker offline, writes the statedb. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.events.disable();
      await this.server.close();
      await this.dispatcher.close();
      await this.mailbox.close().catch((err: unknown) => this.host.log.warn({ err: toError(err).message }, 'could not close the mailbox'));
      await this.statedb?.save();
    })();
    return this.closing;
  }

  /**
   * Celery's mingle: ask every node for the revoked ids it remembers (sending ours), merge them, sync the clock.
   * Nobody listening costs nothing (the client stops when every listener answered); a failure only loses that sync.
   */
  private async mingle(): Promise<void> {
    const { app, worker, log } = this.host;
    const client = new ControlClient({ mailbox: this.mailbox, clock: this.clock, accept: app.conf.acceptContent, serializer: app.conf.taskSerializer });
    try {
      const ours: Record<string, number> = {};
      for (const id of this.revoked.ids()) ours[id] = pythonFloat(Number(process.hrtime.bigint()) / 1e9);
      const replies = await client.inspect<{ revoked?: unknown; clock?: unknown } | null>('hello', { from_node: worker.hostname, revoked: ours });
      const nodes = Object.entries(replies).filter(([node, reply]) => node !== worker.hostname && reply && typeof reply === 'object');
      for (const [, reply] of nodes) {
        const theirs = reply!.revoked;
        if (theirs && typeof theirs === 'object') this.revoked.add(Array.isArray(theirs) ? theirs.map(String) : Object.keys(theirs));
        this.clock.adjust(reply!.clock);
      }
      if (nodes.length) {
        log.info({ nodes: nodes.map(([n]) => n) }, `mingle: sync with ${nodes.length} node${nodes.length === 1 ? '' : 's'}`);
        this.statedb?.changed();
      }
    } catch (err) {
      log.warn({ err: toError(err).message }, 'mingle: could not sync with other nodes');
    } finally {
      await client.close();
    }
  }
}

/** A number Python reads as a float (Celery refuses an int timestamp in a revoked set). */
function pythonFloat(t: number): number {
  return Number.isInteger(t) ? t + 1e-6 : t;
}

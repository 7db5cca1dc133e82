/**
 * The pool logic the thread and the process pools share: a set of children, a queue of jobs, one job per child at
 * a time, terminate, recycling and resizing. Everything is driven by messages and exit events, so the parent
 * never blocks; after each event `update()` restores the invariants (size, then dispatch, then waiters).
 *
 * A child that is killed or dies is let go at once and a new one spawned in its place without waiting for the old
 * one's exit: capacity comes back as soon as the new child has loaded the app.
 */
import { Reject, TaskRevokedError } from '../../errors/index.js';
import type { Logger } from '../../util/logger.js';
import type { Outcome } from '../executor.js';
import { decodeError, decodeResult, type FromChild, type Usage } from './messages.js';
import { WorkerLostError, type ChildInfo, type ExecutionPool, type PoolHooks, type PoolJob, type PoolOptions } from './pool.js';
import { PoolChild, elapsed, type Run, type Spawner } from './child-handle.js';

export class ChildPool implements ExecutionPool {
  private target: number;
  /** Children the pool counts: starting, idle, busy or retiring. */
  private readonly slots = new Set<PoolChild>();
  /** Every child not yet exited, let-go ones included: close() waits for all of them. */
  private readonly alive = new Set<PoolChild>();
  private readonly queue: Run[] = [];
  private waiters: { check(): boolean; resolve(): void }[] = [];
  private spawnFailures = 0;
  private respawnTimer: NodeJS.Timeout | undefined;
  private loadError: Error | undefined;
  private closing: Promise<void> | undefined;
  private forced = false;
  private readonly log: Logger | undefined;
  /** Busy children a restart asked to go: retired when their task ends. */
  private readonly stale = new WeakSet<PoolChild>();

  constructor(
    private readonly options: PoolOptions,
    private readonly spawner: Spawner,
    /** The figure maxMemoryPerChild is compared with: rss for processes, the heap for threads. */
    private readonly memoryOf: (usage: Usage) => number,
  ) {
    checkCount(options.size, 'pool size');
    this.target = options.size;
    this.log = options.logger;
  }

  async start(): Promise<void> {
    this.update();
    await this.until(() => this.loadError !== undefined || ![...this.slots].some((s) => s.state === 'starting'));
    if (this.loadError) {
      const err = this.loadError;
      await this.close({ force: true });
      throw err;
    }
  }

  get size(): number {
    return this.target;
  }

  get busy(): number {
    let n = 0;
    for (const s of this.slots) if (s.state === 'busy') n++;
    return n;
  }

  children(): ChildInfo[] {
    return [...this.slots].map((s) => s.info());
  }

  run(job: PoolJob, hooks: PoolHooks): Promise<Outcome> {
    if (this.closing) return Promise.resolve(notStarted());
    return new Promise((resolve) => {
      this.queue.push({ job, hooks, resolve, started: 0 });
      this.update();
    });
  }

  terminate(taskId: string): boolean {
    const revoked = (run: Run): Outcome => ({ kind: 'failure', error: new TaskRevokedError('terminated'), badInput: false, runtime: elapsed(run) });
    const child = [...this.slots].find((s) => s.run?.job.id === taskId);
    if (child) {
      this.drop(child, revoked(child.run!));
      this.update();
      return true;
    }
    const at = this.queue.findIndex((r) => r.job.id === taskId);
    if (at < 0) return false;
    const [run] = this.queue.splice(at, 1);
    run!.resolve(revoked(run!));
    return true;
  }

  grow(n = 1): Promise<void> {
    checkCount(n, 'grow');
    this.target += n;
    this.update();
    return this.until(() => this.stable());
  }

  shrink(n = 1): Promise<void> {
    checkCount(n, 'shrink');
    if (this.target - n < 1) throw new RangeError(`cannot shrink a pool of ${this.target} by ${n}: at least one child must remain`);
    this.target -= n;
    this.update();
    return this.until(() => this.stable());
  }

  restart(): Promise<void> {
    if (this.closing) return Promise.resolve();
    const old = new Set([...this.slots].filter((s) => s.state !== 'retiring'));
    for (const child of old) {
      // A child still loading may have read the module before the change: it is replaced as well.
      if (child.state === 'starting') this.drop(child);
      else if (child.state === 'idle') child.retire(this.options.exitTimeout ?? 10);
      else this.stale.add(child);
    }
    this.update();
    return this.until(() => this.stable() && ![...this.slots].some((s) => old.has(s)));
  }

  close(options: { force?: boolean } = {}): Promise<void> {
    // A second, forced call cuts a graceful close short, as a second Ctrl-C does for Celery.
    if (options.force) this.forced = true;
    this.closing ??= this.shutdown();
    this.changed();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    clearTimeout(this.respawnTimer);
    for (const run of this.queue.splice(0)) run.resolve(notStarted());
    await this.until(() => this.forced || this.busy === 0);
    for (const child of [...this.slots]) {
      if (child.run) this.drop(child, child.lost('the pool was closed'));
      else if (this.forced || child.state === 'starting') this.drop(child);
      else if (child.state !== 'retiring') child.retire(this.options.exitTimeout ?? 10);
    }
    await Promise.all([...this.alive].map((c) => c.exited));
  }

  private update(): void {
    this.maintain();
    this.pump();
    this.changed();
  }

  private maintain(): void {
    if (this.closing) return;
    const live = [...this.slots].filter((s) => s.state !== 'retiring');
    // Shrinking: children still loading go first, then idle ones; a busy one is retired here once it is idle.
    let excess = live.length - this.target;
    for (const state of ['starting', 'idle'] as const) {
      for (const child of live) {
        if (excess <= 0 || child.state !== state) continue;
        if (state === 'starting') this.drop(child);
        else child.retire(this.options.exitTimeout ?? 10);
        excess--;
      }
    }
    for (let n = live.length; n < this.target && !this.respawnTimer; n++) this.spawn();
  }

  private pump(): void {
    for (const child of this.slots) {
      // assign() leaves the child idle when a job cannot be sent (resolved as bad input): it takes the next one.
      while (child.state === 'idle' && this.queue.length) child.assign(this.queue.shift()!, () => this.onHardLimit(child));
    }
  }

  private spawn(): void {
    const child = new PoolChild(this.spawner(this.options.app), this.log);
    this.slots.add(child);
    this.alive.add(child);
    child.handle.onMessage((msg) => this.onMessage(child, msg));
    void child.exited.then((reason) => {
      this.alive.delete(child);
      this.onExit(child, reason);
    });
  }

  private onMessage(child: PoolChild, msg: FromChild): void {
    if (child.gone) return;
    switch (msg.type) {
      case 'ready':
        if (child.state === 'starting') child.state = 'idle';
        this.spawnFailures = 0;
        break;
      case 'load-error':
        child.loadError = decodeError(msg.error);
        return;
      case 'update-state':
        child.forwardState(msg.seq, msg.state, msg.meta);
        return;
      case 'done': {
        if (child.run?.job.id !== msg.id) return;
        child.settle(decodeResult(msg.result, msg.runtime));
        child.tasks++;
        child.state = 'idle';
        child.memory = Math.round(this.memoryOf(msg.usage) / 1024);
        const { maxTasksPerChild: maxTasks, maxMemoryPerChild: maxKiB } = this.options;
        if ((maxTasks && child.tasks >= maxTasks) || (maxKiB && child.memory > maxKiB) || this.stale.has(child)) {
          child.retire(this.options.exitTimeout ?? 10);
        }
        break;
      }
    }
    this.update();
  }

  private onHardLimit(child: PoolChild): void {
    this.slots.delete(child);
    this.update();
  }

  private onExit(child: PoolChild, reason: string): void {
    if (child.gone) return;
    child.gone = true;
    this.slots.delete(child);
    if (child.state === 'starting') {
      this.loadError = child.loadError ?? new WorkerLostError(`a pool child exited while loading the app: ${reason}`);
      this.spawnFailures++;
      // A module that cannot load will not load on the next try either: back off instead of spawning in a loop.
      const delay = Math.min(30_000, 500 * 2 ** Math.min(this.spawnFailures - 1, 6));
      this.log?.error({ err: this.loadError.message, retryInMs: delay }, 'a pool child could not load the app');
      if (!this.closing) {
        this.respawnTimer = setTimeout(() => {
          this.respawnTimer = undefined;
          this.update();
        }, delay);
      }
    } else if (child.run) {
      const { id, task } = child.run.job;
      this.log?.error({ id, task, pid: child.handle.pid, reason }, `a pool child died while running ${task}[${id}]`);
      child.settle(child.lost(reason)!);
    } else if (child.state !== 'retiring') {
      this.log?.warn({ pid: child.handle.pid, reason }, 'an idle pool child exited; replacing it');
    }
    this.update();
  }

  /** Kills a child and forgets it; the caller runs update() (maintain() drops children too, and must not recurse). */
  private drop(child: PoolChild, outcome?: Outcome): void {
    child.kill(outcome);
    this.slots.delete(child);
  }

  private stable(): boolean {
    if (this.closing || this.respawnTimer) return true;
    return this.slots.size === this.target && [...this.slots].every((s) => s.state === 'idle' || s.state === 'busy');
  }

  private until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ check, resolve }));
  }

  private changed(): void {
    if (!this.waiters.length) return;
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }
}

/** A job the pool never started: back to the broker, as the worker does with reserved messages on shutdown. */
function notStarted(): Outcome {
  return { kind: 'reject', signal: new Reject('the pool was closed before the task started', true), runtime: 0 };
}

function checkCount(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what}: expected a positive integer number of children, got ${n}`);
}

/**
 * One child as the parent sees it: its state, the run it holds, the hard time limit armed for that run, and how
 * it ends (retired politely, or killed). The child itself is reached only through a ChildHandle, so nothing here
 * knows whether it is a thread or a process.
 */
import { Reject, TimeLimitExceeded, toError } from '../../errors/index.js';
import { fieldEncodeError } from '../../protocol/encodable.js';
import type { Logger } from '../../util/logger.js';
import type { Outcome } from '../executor.js';
import type { FromChild, ToChild } from './messages.js';
import { WorkerLostError, type ChildInfo, type PoolHooks, type PoolJob } from './pool.js';

export interface ChildHandle {
  readonly id: number;
  readonly pid: number;
  send(msg: ToChild): void;
  /** Stops it now, whatever it is doing: terminate() for a thread, SIGKILL for a process. */
  kill(): void;
  onMessage(fn: (msg: FromChild) => void): void;
  /** Called once, with a reason for logs and WorkerLostError ("exit code 1", "signal SIGKILL", an error). */
  onExit(fn: (reason: string) => void): void;
}

/** Starts one child that will load `app` (an absolute path). */
export type Spawner = (app: string) => ChildHandle;

export interface Run {
  job: PoolJob;
  hooks: PoolHooks;
  resolve(outcome: Outcome): void;
  /** performance.now() when a child took it; 0 while it waits. */
  started: number;
  hardTimer?: NodeJS.Timeout;
}

export class PoolChild {
  state: ChildInfo['state'] = 'starting';
  tasks = 0;
  memory: number | null = null;
  run: Run | undefined;
  /** The pool has let go of it (killed, or exited): its messages and its exit no longer count. */
  gone = false;
  /** What the child reported before it exited while loading the app. */
  loadError: Error | undefined;
  /** Resolves with the exit reason. */
  readonly exited: Promise<string>;
  private killTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly handle: ChildHandle,
    private readonly log: Logger | undefined,
  ) {
    this.exited = new Promise((resolve) =>
      handle.onExit((reason) => {
        clearTimeout(this.killTimer);
        resolve(reason);
      }),
    );
  }

  info(): ChildInfo {
    return { id: this.handle.id, pid: this.handle.pid, state: this.state, tasks: this.tasks, memory: this.memory };
  }

  /**
   * Hands the run to the child and arms its hard time limit; `onHardLimit` is told after the child is killed.
   * False when the job could not be sent (arguments that cannot be cloned); the run is then resolved as a failure.
   */
  assign(run: Run, onHardLimit: () => void): boolean {
    try {
      this.handle.send({ type: 'run', job: run.job });
    } catch (err) {
      // Arguments a store could not hold either (nested past its depth limit) fail as they would on the async
      // pool, with EncodeError; anything else the child cannot be given is bad input.
      const unstorable = fieldEncodeError(run.job.args, 'args') ?? fieldEncodeError(run.job.kwargs, 'kwargs');
      run.resolve({ kind: 'failure', error: unstorable ?? toError(err), badInput: !unstorable, runtime: 0 });
      return false;
    }
    this.state = 'busy';
    this.run = run;
    run.started = performance.now();
    const hard = run.job.limits.hard;
    if (hard) {
      // Killing is the only way to stop synchronous code; it also frees the slot for a replacement child.
      run.hardTimer = setTimeout(() => {
        const { id, task } = run.job;
        this.log?.error({ id, task, pid: this.handle.pid }, `Hard time limit (${hard}s) exceeded for ${task}[${id}]`);
        const error = new TimeLimitExceeded(`hard time limit (${hard}s) exceeded`);
        this.kill({ kind: 'timeout', error, runtime: elapsed(run) });
        onHardLimit();
      }, hard * 1000);
    }
    try {
      run.hooks.started?.({ pid: this.handle.pid, id: this.handle.id });
    } catch (err) {
      this.log?.error({ id: run.job.id, err: toError(err).message }, 'the started hook threw');
    }
    return true;
  }

  /** Resolves the current run (if any) and frees the child for the next one. */
  settle(outcome: Outcome): void {
    const run = this.run;
    if (!run) return;
    this.run = undefined;
    clearTimeout(run.hardTimer);
    run.resolve(outcome);
  }

  /** `this.updateState()` in the child: forwarded to the run's hook, and the child told how it went. */
  forwardState(seq: number, state: string, meta: unknown): void {
    const run = this.run;
    const write = run ? Promise.resolve().then(() => run.hooks.updateState(state, meta)) : Promise.reject(new Error('no task is running'));
    void write
      .then(
        () => null,
        (err: unknown) => toError(err).message,
      )
      .then((error) => {
        if (!this.gone) this.handle.send({ type: 'state-ack', seq, error });
      });
  }

  /** Asks the child to exit once idle; one that does not (its own timers keep it busy) is killed after `timeout` s. */
  retire(timeout: number): void {
    this.state = 'retiring';
    this.handle.send({ type: 'exit' });
    this.killTimer = setTimeout(() => this.handle.kill(), timeout * 1000);
  }

  /** Kills it now; the current run resolves with `outcome`. The pool stops listening to it. */
  kill(outcome?: Outcome): void {
    if (outcome) this.settle(outcome);
    this.gone = true;
    this.handle.kill();
  }

  /** The run of a child that died: a failure, or back to the queue when the job asks for reject_on_worker_lost. */
  lost(reason: string): Outcome | undefined {
    const run = this.run;
    if (!run) return undefined;
    const error = new WorkerLostError(`Worker exited prematurely: ${reason}. Job: ${run.job.task}[${run.job.id}]`);
    if (!run.job.rejectOnWorkerLost) return { kind: 'failure', error, badInput: false, runtime: elapsed(run) };
    const signal = new Reject(error.message, true);
    signal.cause = error;
    return { kind: 'reject', signal, runtime: elapsed(run) };
  }
}

export function elapsed(run: Run): number {
  return run.started ? (performance.now() - run.started) / 1000 : 0;
}

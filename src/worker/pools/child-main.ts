/**
 * The program each pool child runs, in a worker thread or a forked process: load the user's app once, then run
 * one job at a time and report how it ended. It builds `this` as the async executor does; `updateState` waits for
 * the parent's acknowledgement, and the soft time limit is a timer here because only the child can abort its own
 * signal. The hard limit is the parent's: a child busy in synchronous code cannot be trusted to stop itself.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerApp } from '../worker-app.js';
import type { AnyTask, RetryOptions, TaskContext } from '../../app/task.js';
import { loadApp } from '../../app/load-app.js';
import { NotRegistered, Retry, SoftTimeLimitExceeded } from '../../errors/index.js';
import { findUnencodable } from '../../protocol/encodable.js';
import type { TaskState } from '../../protocol/types.js';
import { bindArguments } from '../arguments.js';
import { encodeError, type FromChild, type ToChild, type Usage, type WireResult } from './messages.js';
import type { PoolJob } from './pool.js';

interface Port {
  send(msg: FromChild): void;
  listen(fn: (msg: ToChild) => void): void;
  exit(): never;
  usage(): Usage;
}

function threadPort(port: NonNullable<typeof parentPort>): Port {
  return {
    send: (msg) => port.postMessage(msg),
    listen: (fn) => port.on('message', fn),
    exit: () => process.exit(0),
    // Threads share the process's RSS; only the isolate's own heap says what this child holds.
    usage: () => {
      const h = getHeapStatistics();
      return { rss: process.memoryUsage.rss(), heap: h.used_heap_size + h.external_memory };
    },
  };
}

function processPort(): Port {
  if (!process.send) throw new Error('the pool child must be started with an IPC channel');
  // An orphan must not outlive its worker: the channel closes when the parent dies, however it dies.
  process.on('disconnect', () => process.exit(0));
  return {
    send: (msg) => process.send!(msg),
    listen: (fn) => process.on('message', fn as (m: unknown) => void),
    exit: () => process.exit(0),
    usage: () => {
      const m = process.memoryUsage();
      return { rss: m.rss, heap: m.heapUsed + m.external };
    },
  };
}

const port = parentPort ? threadPort(parentPort) : processPort();
const appPath = parentPort ? (workerData as { app: string }).app : process.argv[2]!;
let seq = 0;
const acks = new Map<number, { resolve(): void; reject(e: Error): void }>();

let app: WorkerApp;
try {
  app = await loadApp(appPath);
} catch (err) {
  port.send({ type: 'load-error', error: encodeError(err) });
  port.exit();
}

port.listen((msg) => {
  switch (msg.type) {
    case 'run':
      void run(msg.job);
      return;
    case 'state-ack': {
      const ack = acks.get(msg.seq);
      acks.delete(msg.seq);
      if (msg.error === null) ack?.resolve();
      else ack?.reject(new Error(msg.error));
      return;
    }
    case 'exit':
      port.exit();
  }
});
port.send({ type: 'ready', pid: process.pid });

async function run(job: PoolJob): Promise<void> {
  const started = performance.now();
  const result = await execute(job);
  const runtime = (performance.now() - started) / 1000;
  try {
    port.send({ type: 'done', id: job.id, result, runtime, usage: port.usage() });
  } catch (err) {
    // The value passed the result check but still could not be cloned (a Proxy, say): reported like any value
    // that cannot be stored, not a crash.
    const unencodable = { type: `value that cannot be sent to the worker (${(err as Error).message})`, path: 'result' };
    port.send({ type: 'done', id: job.id, result: { kind: 'success', value: null, unencodable }, runtime, usage: port.usage() });
  }
}

async function execute(job: PoolJob): Promise<WireResult> {
  const task = app.lookupTask(job.task);
  if (!task) return { kind: 'failure', error: encodeError(NotRegistered.forTask(job.task)), badInput: true };
  let args: unknown[];
  try {
    args = bindArguments(task, job.args, job.kwargs);
  } catch (err) {
    return { kind: 'failure', error: encodeError(err), badInput: true };
  }
  const controller = new AbortController();
  const { soft } = job.limits;
  const timer = soft
    ? setTimeout(() => controller.abort(new SoftTimeLimitExceeded(`soft time limit (${soft}s) exceeded`)), soft * 1000)
    : undefined;
  try {
    const value: unknown = await task.fn.apply(createContext(job, task, controller), args);
    // Checked here, with the check the worker applies, rather than after cloning: a function or a Symbol cannot
    // cross at all, and a Map or NaN would cross only to be refused. What was found goes instead of the value.
    const unencodable = findUnencodable(value, 'result');
    return unencodable ? { kind: 'success', value: null, unencodable } : { kind: 'success', value };
  } catch (err) {
    return classify(err);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * By name as well as by class: a task module may import `celerity` through another copy of the package (a linked
 * install, or dist/ while this child runs from src/), whose signal classes are not ours.
 */
function classify(err: unknown): WireResult {
  const e = err as { name?: unknown } & Record<string, unknown>;
  if (e && typeof e === 'object' && typeof e.name === 'string') {
    if (e.name === 'Retry' && typeof e.countdown === 'number') {
      return {
        kind: 'retry',
        countdown: e.countdown,
        eta: e.eta instanceof Date ? e.eta : undefined,
        maxRetries: e.maxRetries as number | null | undefined,
        exc: e.exc === undefined ? undefined : encodeError(e.exc),
      };
    }
    if (e.name === 'Reject' && typeof e.reason === 'string') return { kind: 'reject', reason: e.reason, requeue: e.requeue === true };
    if (e.name === 'Ignore') return { kind: 'ignore' };
  }
  return { kind: 'failure', error: encodeError(err), badInput: false };
}

function createContext(job: PoolJob, task: AnyTask, controller: AbortController): TaskContext {
  return {
    id: job.id,
    name: job.task,
    retries: job.retries,
    args: job.args,
    kwargs: job.kwargs,
    rootId: job.rootId,
    parentId: job.parentId,
    group: job.group,
    eta: job.eta,
    expires: job.expires,
    hostname: job.hostname,
    delivery: job.delivery,
    signal: controller.signal,
    updateState: (state: TaskState, meta?: unknown) =>
      new Promise<void>((resolve, reject) => {
        const n = ++seq;
        acks.set(n, { resolve, reject });
        try {
          port.send({ type: 'update-state', seq: n, state, meta: meta ?? null });
        } catch (err) {
          // Meta that cannot be cloned fails this call only, as a store that cannot encode it would.
          acks.delete(n);
          reject(err as Error);
        }
      }),
    retry(options: RetryOptions = {}): never {
      const countdown = options.countdown ?? task.options.defaultRetryDelay ?? job.defaultRetryDelay ?? app.conf.defaultRetryDelay;
      throw new Retry(countdown, options.exc, options.eta, options.maxRetries);
    },
  };
}

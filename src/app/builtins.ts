/**
 * Celery's built-in tasks that canvas sends by name: `celery.map`, `celery.starmap` (call one task once per item,
 * in order, in this worker) and `celery.chunks` (send a group of starmaps). Kept out of the app's registry, as
 * Celery keeps them out of `inspect registered`, and looked up after it.
 */
import { NotRegistered } from '../errors/index.js';
import type { SignatureDict } from '../protocol/types.js';
import type { Canvas } from '../canvas/engine.js';
import { Task, type AnyTask, type TaskContext, type TaskSender } from './task.js';

export interface BuiltinHost extends TaskSender {
  readonly tasks: ReadonlyMap<string, AnyTask>;
  readonly canvas: Canvas;
}

function innerTask(host: BuiltinHost, sig: SignatureDict, what: string): AnyTask {
  const name = sig && typeof sig === 'object' ? sig.task : undefined;
  if (typeof name !== 'string') throw new TypeError(`${what}: kwargs.task must be a signature`);
  const task = host.tasks.get(name);
  if (!task) throw NotRegistered.forTask(name);
  return task;
}

function list(it: unknown, what: string): unknown[] {
  if (!Array.isArray(it)) throw new TypeError(`${what}: kwargs.it must be a list`);
  return it;
}

export function createBuiltins(host: BuiltinHost): Map<string, AnyTask> {
  const map = new Task(
    'celery.map',
    async function (this: TaskContext, sig: SignatureDict, it: unknown[]) {
      const task = innerTask(host, sig, 'celery.map');
      const out: unknown[] = [];
      for (const item of list(it, 'celery.map')) out.push(await task.fn.call(this, item));
      return out;
    },
    { params: ['task', 'it'] },
    host,
  );
  const starmap = new Task(
    'celery.starmap',
    async function (this: TaskContext, sig: SignatureDict, it: unknown[]) {
      const task = innerTask(host, sig, 'celery.starmap');
      const out: unknown[] = [];
      for (const item of list(it, 'celery.starmap')) {
        if (!Array.isArray(item)) throw new TypeError('celery.starmap: every item must be an argument list');
        out.push(await task.fn.call(this, ...item));
      }
      return out;
    },
    { params: ['task', 'it'] },
    host,
  );
  const chunks = new Task(
    'celery.chunks',
    async function (this: TaskContext, sig: SignatureDict, it: unknown[], n: number) {
      const dict = { task: 'celery.chunks', args: [], kwargs: { task: sig, it: list(it, 'celery.chunks'), n }, options: {}, subtask_type: 'chunks', immutable: true };
      const result = await host.canvas.apply(dict, [], {}, {});
      return result.asTuple();
    },
    { params: ['task', 'it', 'n'] },
    host,
  );
  return new Map<string, AnyTask>([map, starmap, chunks].map((t) => [t.name, t]));
}

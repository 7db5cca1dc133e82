/**
 * `task.map`, `task.starmap` and `task.chunks`: many calls of one task in few messages. A map is one message to
 * Celery's built-in `celery.map` / `celery.starmap` task, which calls the task once per item, in order, inside one
 * worker; chunks is a group of starmaps of `n` items each.
 */
import type { GroupResult } from '../result/results.js';
import { taskDict } from './dicts.js';
import type { CanvasHost } from './host.js';
import { Signature } from './signature.js';

export type MapTaskName = 'celery.map' | 'celery.starmap';

export function mapSignature<R>(kind: MapTaskName, taskName: string, items: readonly unknown[], host: CanvasHost): Signature<[], R[]> {
  if (!Array.isArray(items)) throw new TypeError(`${taskName}.${kind === 'celery.map' ? 'map' : 'starmap'}: items must be a list`);
  if (kind === 'celery.starmap' && !items.every(Array.isArray)) {
    throw new TypeError(`${taskName}.starmap: every item must be an argument list`);
  }
  const dict = {
    task: kind,
    args: [],
    kwargs: { task: taskDict(taskName, [], {}, false), it: [...items] },
    options: {},
    subtask_type: null,
    immutable: true,
  };
  return new Signature(dict, host);
}

export function chunksSignature<R>(
  taskName: string,
  items: readonly unknown[][],
  n: number,
  host: CanvasHost,
): Signature<[], R[][], GroupResult<R[][]>> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${taskName}.chunks: n must be a positive integer, got ${n}`);
  if (!Array.isArray(items) || !items.every(Array.isArray)) throw new TypeError(`${taskName}.chunks: items must be a list of argument lists`);
  const dict = {
    task: 'celery.chunks',
    args: [],
    kwargs: { task: taskDict(taskName, [], {}, false), it: items.map((i) => [...i]), n },
    options: {},
    subtask_type: 'chunks',
    immutable: true,
  };
  return new Signature(dict, host);
}

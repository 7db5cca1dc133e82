/**
 * What a worker announces, typed: `worker.on('task-succeeded', ({ id, result }) => ...)`. Each event is emitted
 * once its fact holds (a result stored, a message dead-lettered), so a listener can act on it at once.
 */
import type { TaskRequest } from '../protocol/types.js';

export interface WorkerEvents {
  'task-received': [TaskRequest];
  'task-started': [TaskRequest];
  'task-succeeded': [{ id: string; name: string; result: unknown; runtime: number }];
  'task-failed': [{ id: string | null; name: string | null; error: Error; runtime: number }];
  'task-retried': [{ id: string; name: string; countdown: number; error: Error | undefined }];
  'task-revoked': [{ id: string; name: string; expired: boolean }];
  'task-rejected': [{ id: string | null; reason: string; requeue: boolean }];
  ready: [];
  /** The number of task slots changed (--autoscale, pool_grow / pool_shrink); the pool has its new size. */
  resized: [number];
  stopped: [];
  error: [Error];
}

/** A short JSON rendering of a result for log lines. */
export function preview(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? 'None';
  } catch {
    s = String(v);
  }
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
}

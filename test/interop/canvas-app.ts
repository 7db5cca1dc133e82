/**
 * TypeScript side of the canvas interop tests (canvas.test.ts): the ts.* tasks a Celerity worker runs next to a real
 * Python Celery worker, and the routes that send py.* to the Python worker's queue, so canvas steps, chord bodies and
 * errbacks this worker sends reach Python and the reverse. cap.<kind>.* go to `<capture>.<kind>`, which no worker
 * consumes, so the test can read what a producer published.
 */
import type { Redis } from 'ioredis';
import { Celerity } from '../../src/index.js';

export interface CanvasAppOptions {
  /** Broker and result backend. */
  url: string;
  queues: { ts: string; py: string; capture: string };
  /** Where the recording tasks write (a Redis client on the same database, and a key prefix). */
  ledger: Redis;
  prefix: string;
}

export function createCanvasApp(o: CanvasAppOptions) {
  const app = new Celerity(
    'canvas-interop',
    {
      broker: o.url,
      backend: o.url,
      defaultQueue: o.queues.ts,
      taskRoutes: {
        'ts.*': o.queues.ts,
        'py.*': o.queues.py,
        'cap.chain.*': `${o.queues.capture}.chain`,
        'cap.group.*': `${o.queues.capture}.group`,
        'cap.chord.*': `${o.queues.capture}.chord`,
      },
      loglevel: 'silent',
    },
    // Settings in code only: CELERITY_* variables of the environment running the tests must not reroute anything.
    {},
  );
  const tasks = {
    add: app.task('ts.add', (x: number, y: number) => x + y, { params: ['x', 'y'] }),
    mul: app.task('ts.mul', (x: number, y: number) => x * y, { params: ['x', 'y'] }),
    tsum: app.task('ts.tsum', (xs: number[]) => xs.reduce((s, x) => s + x, 0)),
    fail: app.task('ts.fail', (message: string) => {
      throw new TypeError(message);
    }),
    /** A chord body that counts its runs, so a body sent twice shows. */
    count: app.task('ts.count', async (xs: number[], tag: string) => {
      await o.ledger.incr(`${o.prefix}:body:${tag}`);
      return xs.reduce((s, x) => s + x, 0);
    }),
    /** Returns x once the test pushes to `key`: how a test makes this member the last of its chord to finish. */
    gate: app.task('ts.gate', async (x: number, key: string) => {
      const conn = o.ledger.duplicate();
      try {
        await conn.blpop(key, 30);
      } finally {
        conn.disconnect();
      }
      return x;
    }),
    /** Records the failed task's id and the group the errback was sent in (Celery sends errbacks as a group). */
    errback: app.task('ts.errback', async function (taskId: string) {
      await o.ledger.rpush(`${o.prefix}:errback:ts`, JSON.stringify({ failed: taskId, group: this.group }));
      return taskId;
    }),
  };
  return { app, tasks };
}

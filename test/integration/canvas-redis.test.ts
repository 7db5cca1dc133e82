/** The canvas suite on Redis (broker and Celery's native chord join in the result backend). */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Celerity, TaskRevokedError, chain, group, type AsyncResult } from '../../src/index.js';
import { deferred, nextEvent } from '../helpers.js';
import { pingRedis, requireService } from '../services.js';
import { canvasSuite } from './canvas-suite.js';

const URL = 'redis://127.0.0.1:6379/12';
const service = await requireService('Redis at 127.0.0.1:6379', () => pingRedis(URL));

if (!service.ok) {
  describe('canvas on Redis', () => {
    it.skip(service.reason, () => undefined);
  });
} else {
  canvasSuite('Redis', async () => {
    const redis = new Redis(URL);
    await redis.flushdb();
    redis.disconnect();
    const app = new Celerity('canvas', { broker: URL, backend: URL, loglevel: 'silent', logFormat: 'json' }, {});
    return { app, cleanup: () => app.close() };
  });
}

describe.skipIf(!service.ok)('revoking a canvas on Redis', () => {
  it('revoking a chain revokes the steps not yet run; revoking a group terminates its running members', async () => {
    const redis = new Redis(URL);
    await redis.flushdb();
    redis.disconnect();
    const app = new Celerity('canvas-revoke', { broker: URL, backend: URL, loglevel: 'silent', logFormat: 'json' }, {});
    let gate = deferred();
    const started: string[] = [];
    let firstStarted = deferred();
    const hold = app.task('rv.hold', async function (n: number) {
      started.push(this.id);
      firstStarted.resolve();
      await Promise.race([gate.promise, new Promise((resolve) => this.signal.addEventListener('abort', resolve))]);
      return n;
    });
    const inc = app.task('rv.inc', (n: number) => n + 1);
    const worker = app.worker({ concurrency: 4 });
    await worker.start();
    try {
      const r = await chain(hold.s(1), inc.s(), inc.s()).applyAsync();
      const first = (r.parent as AsyncResult).parent as AsyncResult;
      await firstStarted.promise;
      // wait: the worker has acknowledged the revoke before the first step is let go.
      await r.revoke({ wait: true });
      const revokedSeen = nextEvent(worker, 'task-revoked', (e) => e.id === (r.parent as AsyncResult).id);
      gate.resolve();
      await revokedSeen;
      expect(await first.get({ timeout: 5000 })).toBe(1);
      expect(await (r.parent as AsyncResult).state).toBe('REVOKED');
      expect(await r.state).toBe('PENDING');

      gate = deferred();
      const bothStarted = deferred();
      firstStarted = { promise: bothStarted.promise, resolve: () => started.length === 3 && bothStarted.resolve() };
      const g = await group(hold.s(10), hold.s(20)).applyAsync();
      await bothStarted.promise;
      await g.revoke({ terminate: true, wait: true });
      await expect(g.get({ timeout: 5000 })).rejects.toBeInstanceOf(TaskRevokedError);
      expect(await Promise.all(g.results.map((m) => (m as AsyncResult).state))).toEqual(['REVOKED', 'REVOKED']);
    } finally {
      await worker.stop({ timeout: 0 });
      await app.close();
    }
  });
});

/** The canvas suite on Redis (broker and Celery's native chord join in the result backend). */
import { Redis } from 'ioredis';
import { describe, it } from 'vitest';
import { Celerity } from '../../src/index.js';
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

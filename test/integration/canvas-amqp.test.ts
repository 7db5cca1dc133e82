/** The canvas suite with RabbitMQ as the broker (a vhost of its own) and results in Redis. */
import { Redis } from 'ioredis';
import { afterAll, describe, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { freshVhost, pingRabbit, pingRedis, requireService } from '../services.js';
import { canvasSuite } from './canvas-suite.js';

const REDIS = 'redis://127.0.0.1:6379/2';
const services = await requireService('RabbitMQ and Redis', async () => {
  await pingRabbit();
  await pingRedis(REDIS);
});
const space = services.ok ? await freshVhost('canvas') : null;

afterAll(async () => {
  await space?.remove();
});

if (!services.ok || !space) {
  describe('canvas on RabbitMQ', () => {
    it.skip(services.reason, () => undefined);
  });
} else {
  canvasSuite('RabbitMQ broker, Redis results', async () => {
    const redis = new Redis(REDIS);
    await redis.flushdb();
    redis.disconnect();
    const app = new Celerity('canvas', { broker: space.url, backend: REDIS, loglevel: 'silent', logFormat: 'json' }, {});
    return { app, cleanup: () => app.close() };
  });
}

/**
 * Results on Redis read across languages with real Python Celery 5.2: Python's own RedisBackend writes and we
 * read (and wake on its PUBLISH); we write and Python's AsyncResult reads `state`, `info` and `get()`.
 * Python cannot use a key prefix here (Celery 5.2's result backend has none), so the tests use fresh task ids
 * and delete exactly their keys.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend } from '../../src/backend/redis/index.js';
import { buildResultMeta } from '../../src/protocol/result-meta.js';
import {
  deserializeError,
  formatTraceback,
  RemoteTaskError,
  serializeError,
  TaskRevokedError,
} from '../../src/errors/index.js';
import { requireService } from '../services.js';

const PY = '/usr/bin/python3';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const fixtures = fileURLToPath(new URL('../fixtures/celery-results/', import.meta.url));
const run = promisify(execFile);

const service = await requireService('Python Celery 5.2 with Redis', async () => {
  const probe = spawnSync(PY, ['-c', 'import celery, redis; assert celery.VERSION[:2] >= (5, 2)'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`${PY} cannot import celery 5.2+ and redis (apt-get install python3-celery python3-redis)`);
  const redisProbe = new RedisBackend({ url: REDIS_URL, resultExpires: 60, connectTimeoutMs: 2000 });
  try {
    await redisProbe.connect();
  } finally {
    await redisProbe.close();
  }
});

async function python(script: string, ...args: string[]): Promise<unknown> {
  const { stdout } = await run(PY, [path.join(fixtures, script), REDIS_URL, ...args], {
    cwd: fixtures,
    env: { ...process.env, PYTHONPATH: fixtures },
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe.skipIf(!service.ok)(`Redis results shared with Python Celery 5.2${service.ok ? '' : ` (skipped: ${service.reason})`}`, () => {
  let backend: RedisBackend;
  let raw: Redis;
  const used: string[] = [];
  const fresh = () => {
    const id = randomUUID();
    used.push(id);
    return id;
  };

  beforeAll(async () => {
    backend = new RedisBackend({ url: REDIS_URL, resultExpires: 86_400 });
    await backend.connect();
    raw = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    if (used.length) await raw.del(...used.map((id) => `celery-task-meta-${id}`));
    await raw.quit();
    await backend.close();
  });

  it('reads what Python stores: SUCCESS, FAILURE (KeyError and a custom exception), PROGRESS, REVOKED', async () => {
    const ids = { success: fresh(), keyerror: fresh(), custom: fresh(), progress: fresh(), revoked: fresh() };
    // Waiters first, so the ready states also arrive through Python's PUBLISH, not only through the first GET.
    const waits = [ids.success, ids.keyerror, ids.custom, ids.revoked].map((id) => backend.waitFor(id, { timeoutMs: 20_000 }));
    await python('write_results.py', JSON.stringify(ids));

    const [success, keyError, custom, revoked] = await Promise.all(waits);
    expect(success).toMatchObject({
      status: 'SUCCESS',
      result: { faces: 3, label: 'café', boxes: [[1, 2], [3, 4]] },
      task_id: ids.success,
    });
    expect(success!.date_done).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);

    expect(keyError!.status).toBe('FAILURE');
    const ke = deserializeError(keyError!.result, keyError!.traceback);
    expect(ke).toBeInstanceOf(RemoteTaskError);
    expect(ke).toMatchObject({ name: 'KeyError', message: 'oops', excModule: 'builtins' });
    expect(ke.stack).toContain("{}['oops']");

    const ce = deserializeError(custom!.result, custom!.traceback);
    expect(ce).toMatchObject({ name: 'MediaError', message: 'bad frame 7', excModule: 'fixture_errors' });

    expect(revoked!.status).toBe('REVOKED');
    const re = deserializeError(revoked!.result, revoked!.traceback);
    expect(re).toBeInstanceOf(TaskRevokedError);
    expect(re.message).toBe('revoked by test');

    expect(await backend.get(ids.progress)).toMatchObject({ status: 'PROGRESS', result: { current: 3, total: 10 } });
    expect((await backend.mget([ids.progress, fresh()])).map((m) => m?.status ?? null)).toEqual(['PROGRESS', null]);
  });

  it("Python's AsyncResult reads what we store: value, rebuilt exceptions with our message, PROGRESS info", async () => {
    const ids = {
      success: fresh(),
      keyerror: fresh(),
      custom: fresh(),
      ours: fresh(),
      revoked: fresh(),
      progress: fresh(),
      pending: fresh(),
    };
    const failure = (taskId: string, err: Error) =>
      buildResultMeta({ taskId, status: 'FAILURE', result: serializeError(err), traceback: formatTraceback(err) });
    const keyError = Object.assign(new Error('no such key: frame'), { name: 'KeyError' });
    class QuotaExceeded extends Error {
      override name = 'QuotaExceeded';
    }
    await backend.setMany([
      { taskId: ids.success, meta: buildResultMeta({ taskId: ids.success, status: 'SUCCESS', result: { sum: 5, tags: ['ü'] } }) },
      { taskId: ids.keyerror, meta: failure(ids.keyerror, keyError) },
      { taskId: ids.custom, meta: failure(ids.custom, new RemoteTaskError('MediaError', 'fixture_errors', 'frame 9 unreadable', null)) },
      { taskId: ids.ours, meta: failure(ids.ours, new QuotaExceeded('quota of 10 used')) },
      {
        taskId: ids.revoked,
        meta: buildResultMeta({ taskId: ids.revoked, status: 'REVOKED', result: serializeError(new TaskRevokedError('expired')) }),
      },
      { taskId: ids.progress, meta: buildResultMeta({ taskId: ids.progress, status: 'PROGRESS', result: { current: 4, total: 8 } }) },
    ]);

    const report = (await python('read_results.py', JSON.stringify(Object.values(ids)))) as Record<string, any>;
    expect(report[ids.success]).toEqual({ state: 'SUCCESS', info: { sum: 5, tags: ['ü'] }, value: { sum: 5, tags: ['ü'] } });
    expect(report[ids.keyerror].raised).toEqual({
      type: 'KeyError',
      module: 'builtins',
      message: 'no such key: frame',
      is_media_error: false,
    });
    // Python finds the class by module and name, so `except MediaError` catches our failure.
    expect(report[ids.custom].raised).toMatchObject({ type: 'MediaError', module: 'fixture_errors', is_media_error: true });
    expect(report[ids.custom].raised.message).toBe('frame 9 unreadable');
    // A TypeScript-only class has no Python module; Celery makes a class of the same name.
    expect(report[ids.ours]).toMatchObject({ state: 'FAILURE', raised: { type: 'QuotaExceeded', message: 'quota of 10 used' } });
    expect(report[ids.revoked]).toMatchObject({
      state: 'REVOKED',
      raised: { type: 'TaskRevokedError', module: 'celery.exceptions', message: 'expired' },
    });
    expect(report[ids.progress]).toEqual({ state: 'PROGRESS', info: { current: 4, total: 8 } });
    expect(report[ids.pending]).toEqual({ state: 'PENDING', info: null });
  });

  it("wakes Python's AsyncResult.get through our PUBLISH, PROGRESS updates included", async () => {
    const id = fresh();
    const key = `celery-task-meta-${id}`;
    const waiting = python('wait_result.py', id);
    // Write only once Python's result consumer has subscribed, so the value can only reach it by the publish.
    const deadline = Date.now() + 20_000;
    while (((await raw.pubsub('NUMSUB', key)) as [string, number])[1] < 1) {
      if (Date.now() > deadline) throw new Error('Python never subscribed to the result channel');
      await new Promise((r) => setTimeout(r, 20));
    }
    await backend.set(id, buildResultMeta({ taskId: id, status: 'PROGRESS', result: { current: 1, total: 2 } }));
    await backend.set(id, buildResultMeta({ taskId: id, status: 'SUCCESS', result: [1, 'two'] }));
    expect(await waiting).toEqual({ value: [1, 'two'], updates: ['PROGRESS', 'SUCCESS'] });
  });
});

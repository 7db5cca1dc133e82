/**
 * The behaviour every result backend must show, run against each one by a small runner file.
 *
 * The factory returns a connected backend (default expiry one day) and `advanceTime` when it runs on a fake clock.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ResultBackend } from '../../src/backend/port.js';
import type { ResultMeta } from '../../src/protocol/types.js';
import { TimeoutError } from '../../src/errors/index.js';
import { chordConformance } from './backend-chord-suite.js';

export interface BackendHarness {
  backend: ResultBackend;
  cleanup(): Promise<void>;
  advanceTime?: (ms: number) => void;
  /** The store deletes expired entries by itself (Redis), so `cleanup()` finds nothing left and returns 0. */
  expiresItself?: boolean;
}

export function meta(taskId: string, status: string, result: unknown = null, extra: Partial<ResultMeta> = {}) {
  const ready = status === 'SUCCESS' || status === 'FAILURE' || status === 'REVOKED';
  return {
    status,
    result,
    traceback: null,
    children: [],
    date_done: ready ? '2024-05-01T12:00:00.000000' : null,
    ...extra,
    task_id: taskId,
  } satisfies ResultMeta as ResultMeta;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function backendConformance(name: string, factory: () => Promise<BackendHarness>): void {
  describe(`result backend conformance: ${name}`, () => {
    let h: BackendHarness;
    let backend: ResultBackend;
    const id = () => randomUUID();
    const pass = async (ms: number) => (h.advanceTime ? h.advanceTime(ms) : sleep(ms));

    beforeEach(async () => {
      h = await factory();
      backend = h.backend;
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('stores and reads back result meta; unknown ids are null', async () => {
      const t = id();
      const m = meta(t, 'SUCCESS', { faces: 3, tags: ['a', 'b'] }, { children: [[['c1', null], null]] });
      await backend.set(t, m);
      expect(await backend.get(t)).toEqual(m);
      expect(Object.keys((await backend.get(t))!)).toEqual(Object.keys(m));
      expect(await backend.get(id())).toBeNull();
    });

    it('keeps the extended fields (name, args, kwargs, worker, retries, queue, group and parent)', async () => {
      const t = id();
      const extended = {
        group_id: 'g1',
        parent_id: 'p1',
        name: 'media.faces.detect',
        args: ['/tmp/x.jpg', 2],
        kwargs: { fast: true },
        worker: 'celery@host',
        retries: 1,
        queue: 'face_detection',
      };
      await backend.set(t, meta(t, 'FAILURE', { exc_type: 'ValueError', exc_message: ['bad'] }, extended));
      expect(await backend.get(t)).toMatchObject({ status: 'FAILURE', ...extended, task_id: t });
    });

    it('mget keeps the order of the ids asked for, with null for missing ones', async () => {
      const [a, b, missing] = [id(), id(), id()];
      await backend.set(a, meta(a, 'SUCCESS', 1));
      await backend.set(b, meta(b, 'STARTED'));
      const got = await backend.mget([b, missing, a]);
      expect(got.map((m) => m?.status ?? null)).toEqual(['STARTED', null, 'SUCCESS']);
      expect(await backend.mget([])).toEqual([]);
    });

    it('delete forgets a result', async () => {
      const t = id();
      await backend.set(t, meta(t, 'SUCCESS', 1));
      await backend.delete(t);
      expect(await backend.get(t)).toBeNull();
      await backend.delete(t);
    });

    it('never overwrites a stored SUCCESS', async () => {
      const t = id();
      await backend.set(t, meta(t, 'STARTED'));
      await backend.set(t, meta(t, 'SUCCESS', 42));
      await backend.set(t, meta(t, 'FAILURE', { exc_type: 'Late' }));
      await backend.set(t, meta(t, 'STARTED'));
      await backend.setMany([{ taskId: t, meta: meta(t, 'RETRY') }]);
      expect(await backend.get(t)).toMatchObject({ status: 'SUCCESS', result: 42 });
      // Two copies of one task finishing in the same batch: the later write does not replace the earlier SUCCESS.
      const u = id();
      await backend.setMany([
        { taskId: u, meta: meta(u, 'SUCCESS', 'first') },
        { taskId: u, meta: meta(u, 'FAILURE', { exc_type: 'Late' }) },
      ]);
      expect(await backend.get(u)).toMatchObject({ status: 'SUCCESS', result: 'first' });
    });

    it('replaces a custom state (PROGRESS) and then ends on SUCCESS', async () => {
      const t = id();
      await backend.set(t, meta(t, 'PROGRESS', { current: 1, total: 10 }));
      expect(await backend.get(t)).toMatchObject({ status: 'PROGRESS', result: { current: 1, total: 10 } });
      await backend.set(t, meta(t, 'PROGRESS', { current: 9, total: 10 }));
      expect((await backend.get(t))?.result).toEqual({ current: 9, total: 10 });
      await backend.set(t, meta(t, 'SUCCESS', 'done'));
      expect(await backend.get(t)).toMatchObject({ status: 'SUCCESS', result: 'done' });
    });

    it('setMany writes every entry', async () => {
      const ts = [id(), id(), id()];
      await backend.setMany(ts.map((t, i) => ({ taskId: t, meta: meta(t, 'SUCCESS', i) })));
      expect((await backend.mget(ts)).map((m) => m?.result)).toEqual([0, 1, 2]);
    });

    it('setMany of hundreds keeps the stored SUCCESS among them and writes the rest', async () => {
      // Large enough to span several of a backend's internal chunks (the Redis script reads 200 keys at a time).
      const ts = Array.from({ length: 450 }, () => id());
      await backend.set(ts[321]!, meta(ts[321]!, 'SUCCESS', 'first'));
      await backend.setMany(ts.map((t, i) => ({ taskId: t, meta: meta(t, i === 321 ? 'FAILURE' : 'SUCCESS', i) })));
      const got = await backend.mget(ts);
      expect(got.map((m) => m?.result)).toEqual(ts.map((_, i) => (i === 321 ? 'first' : i)));
    });

    it('incr is atomic and returns each new value once', async () => {
      const key = `chord-${id()}`;
      expect(await backend.incr(key)).toBe(1);
      expect(await backend.incr(key, 4)).toBe(5);
      const values = await Promise.all(Array.from({ length: 50 }, () => backend.incr(key)));
      expect(new Set(values).size).toBe(50);
      expect(Math.max(...values)).toBe(55);
      expect(await backend.incr(key, 0)).toBe(55);
    });

    it('waitFor resolves at once for a ready result', async () => {
      const t = id();
      await backend.set(t, meta(t, 'FAILURE', { exc_type: 'ValueError' }));
      expect(await backend.waitFor(t, { timeoutMs: 1000 })).toMatchObject({ status: 'FAILURE' });
    });

    it('waitFor wakes on SUCCESS, not on PROGRESS', async () => {
      const t = id();
      let settled = false;
      const start = Date.now();
      const pending = backend.waitFor(t, { timeoutMs: 10_000 }).finally(() => (settled = true));
      await sleep(20);
      await backend.set(t, meta(t, 'PROGRESS', { current: 5 }));
      await sleep(50);
      expect(settled).toBe(false);
      await backend.set(t, meta(t, 'SUCCESS', 'ok'));
      expect(await pending).toMatchObject({ status: 'SUCCESS', result: 'ok', task_id: t });
      expect(Date.now() - start).toBeLessThan(1000);
    });

    it('waitFor serves many waiters on different tasks', async () => {
      const ts = Array.from({ length: 20 }, () => id());
      const pending = Promise.all(ts.map((t) => backend.waitFor(t, { timeoutMs: 5000 })));
      await sleep(10);
      await backend.setMany(ts.map((t, i) => ({ taskId: t, meta: meta(t, 'SUCCESS', i) })));
      expect((await pending).map((m) => m.result)).toEqual(ts.map((_, i) => i));
    });

    it('waitFor rejects with TimeoutError when the result does not come', async () => {
      const t = id();
      const start = Date.now();
      const err = await backend.waitFor(t, { timeoutMs: 100 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TimeoutError);
      expect(Date.now() - start).toBeGreaterThanOrEqual(90);
    });

    it('waitFor rejects when its signal aborts', async () => {
      const ac = new AbortController();
      const pending = backend.waitFor(id(), { signal: ac.signal });
      await sleep(10);
      ac.abort();
      await expect(pending).rejects.toThrow();
    });

    it('expires results after their ttl and cleanup deletes them', async () => {
      const [short, forever, byDefault] = [id(), id(), id()];
      await backend.set(short, meta(short, 'SUCCESS', 1), { ttlMs: 50 });
      await backend.set(forever, meta(forever, 'SUCCESS', 2), { ttlMs: 0 });
      await backend.set(byDefault, meta(byDefault, 'SUCCESS', 3));
      await backend.incr(`c-${short}`, 1, { ttlMs: 50 });
      expect(await backend.get(short)).not.toBeNull();
      await pass(120);
      expect(await backend.get(short)).toBeNull();
      expect(await backend.mget([short, forever])).toEqual([null, expect.objectContaining({ result: 2 })]);
      expect(await backend.get(byDefault)).not.toBeNull();
      // An expired counter starts again from zero; an expired SUCCESS no longer blocks a new write.
      expect(await backend.incr(`c-${short}`, 1, { ttlMs: 50 })).toBe(1);
      await backend.set(short, meta(short, 'STARTED'), { ttlMs: 50 });
      expect(await backend.get(short)).toMatchObject({ status: 'STARTED' });
      await pass(120);
      if (h.expiresItself) expect(await backend.cleanup()).toBe(0);
      else expect(await backend.cleanup()).toBeGreaterThanOrEqual(2);
      expect(await backend.get(forever)).not.toBeNull();
    });

    chordConformance(() => backend, pass);
  });
}

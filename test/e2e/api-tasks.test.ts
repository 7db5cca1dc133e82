/**
 * The tasks routes of the REST API against a real worker, on the SQLite default and on Redis: send and read back,
 * failures with their traceback, filters and pages over the history, revoke (held ETA task, running task), retry
 * with the original arguments (one and in bulk), and the canvas tree. What the API shows comes from the worker's
 * task events through the Monitor into the history store, merged with the result store.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { chain, group, type Celerity, type Task, type TaskContext } from '../../src/index.js';
import { startApiHarness, type ApiHarness, type ApiHarnessOptions } from '../api-harness.js';
import { deferred } from '../helpers.js';
import { pingRedis, requireService } from '../services.js';

const REDIS = 'redis://127.0.0.1:6379/3';
const redis = await requireService('Redis', () => pingRedis(REDIS));

interface Fixture {
  /** `api.mark` calls, by tag. */
  marks: string[];
  /** Resolved when `api.block` starts. */
  blocked: ReturnType<typeof deferred>;
  /** Keys `api.flaky` has failed for (it fails the first time for each key). */
  failedOnce: Set<string>;
  add?: Task<(x: number, y: number) => number>;
}

/** An error type of the test's own: its name is what the API reports (built-in JS errors map to Python's names). */
class NeedleError extends Error {
  override name = 'NeedleError';
}

function tasks(f: Fixture) {
  return (app: Celerity) => {
    f.add = app.task('api.add', (x: number, y: number) => x + y);
    app.task('api.boom', (message: string) => {
      throw new NeedleError(message);
    });
    app.task('api.mark', (tag: string) => void f.marks.push(tag));
    app.task('api.flaky', (key: string, options: { n: number }) => {
      if (!f.failedOnce.has(key)) {
        f.failedOnce.add(key);
        throw new Error(`first try of ${key} fails`);
      }
      return { key, n: options.n };
    }, { params: ['key', 'options'] });
    app.task('api.progress', async function (this: TaskContext) {
      await this.updateState('PROGRESS', { current: 1, total: 2 });
      f.blocked.resolve(undefined);
      return new Promise((_, reject) => this.signal.addEventListener('abort', () => reject(new Error('stopped'))));
    });
    app.task('api.block', function (this: TaskContext) {
      f.blocked.resolve(undefined);
      return new Promise((_, reject) => this.signal.addEventListener('abort', () => reject(new Error('stopped'))));
    });
  };
}

let h: ApiHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const backends: [string, boolean, () => Partial<ApiHarnessOptions>][] = [
  ['SQLite', true, () => ({})],
  // Other test files share this Redis: a queue of its own keeps this file's tasks apart.
  ['Redis', redis.ok, () => ({ broker: REDIS, backend: REDIS, settings: { defaultQueue: `api-${randomUUID().slice(0, 8)}` } })],
];

const FINAL = ['task-succeeded', 'task-failed', 'task-revoked'];

/**
 * Every task event the monitor receives from the harness's start, so a test can wait for the events of tasks it
 * sent (they may arrive before the send call returns).
 */
function eventLog(harness: ApiHarness): { seen(ids: readonly string[], types?: readonly string[]): Promise<void> } {
  const byId = new Map<string, Set<string>>();
  const waiters = new Set<() => boolean>();
  harness.monitor.onEvent((event) => {
    const id = (event as { uuid?: string }).uuid;
    if (!id) return;
    if (!byId.has(id)) byId.set(id, new Set());
    byId.get(id)!.add(event.type);
    for (const w of waiters) if (w()) waiters.delete(w);
  });
  return {
    seen: (ids, types = FINAL) =>
      new Promise((resolve) => {
        const check = () => {
          const done = ids.every((id) => types.some((t) => byId.get(id)?.has(t)));
          if (done) resolve();
          return done;
        };
        if (!check()) waiters.add(check);
      }),
  };
}

async function start(extra: () => Partial<ApiHarnessOptions>): Promise<{ harness: ApiHarness; f: Fixture; events: ReturnType<typeof eventLog> }> {
  const f: Fixture = { marks: [], blocked: deferred(), failedOnce: new Set() };
  h = await startApiHarness({ worker: { concurrency: 8 }, tasks: tasks(f), ...extra() });
  return { harness: h, f, events: eventLog(h) };
}

async function send(harness: ApiHarness, body: unknown): Promise<string> {
  const res = await harness.call('POST', '/api/v1/tasks', body);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

describe.each(backends)('tasks API on %s', (_label, available, extra) => {
  it.skipIf(!available)('sends a task by name and reads its result, history and timeline', async () => {
    const { harness, events } = await start(extra);
    const res = await harness.call('POST', '/api/v1/tasks', { name: 'api.add', args: [2, 3] });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.any(String), state: 'PENDING', url: `/api/v1/tasks/${res.body.id}` });
    expect(await harness.app.asyncResult(res.body.id).get({ timeout: 10_000 })).toBe(5);
    await events.seen([res.body.id]);
    await harness.monitor.flush();

    const task = await harness.call('GET', res.body.url);
    expect(task.status).toBe(200);
    expect(task.body).toMatchObject({ id: res.body.id, known: true, name: 'api.add', state: 'SUCCESS', result: 5, error: null, args: '(2, 3)', argsJson: '[2,3]' });
    expect(task.body.queue).toBe(harness.app.conf.defaultQueue);
    expect(task.body.worker).toBe(harness.worker!.hostname);
    const types = task.body.timeline.map((e: { type: string }) => e.type);
    expect(types[0]).toBe('api-sent');
    expect(types).toContain('task-succeeded');
  });

  it.skipIf(!available)('shows a failure with its type, message and traceback', async () => {
    const { harness } = await start(extra);
    const id = await send(harness, { name: 'api.boom', args: ['out of range'] });
    await expect(harness.app.asyncResult(id).get({ timeout: 10_000 })).rejects.toThrow(/out of range/);
    const task = await harness.call('GET', `/api/v1/tasks/${id}`);
    expect(task.body.state).toBe('FAILURE');
    expect(task.body.error).toMatchObject({ type: 'NeedleError', message: 'out of range' });
    expect(task.body.error.traceback).toMatch(/out of range/);
  });

  it.skipIf(!available)('lists with filters and pages through 120 tasks with the cursor', async () => {
    const { harness, events } = await start(extra);
    const adds = await Promise.all(Array.from({ length: 100 }, (_, i) => send(harness, { name: 'api.add', args: [i, 1] })));
    const booms = await Promise.all(Array.from({ length: 20 }, (_, i) => send(harness, { name: 'api.boom', args: [`needle-${i}`] })));
    await events.seen([...adds, ...booms]);
    await harness.monitor.flush();
    const queue = harness.app.conf.defaultQueue;

    const ids: string[] = [];
    let url = `/api/v1/tasks?queue=${queue}&limit=50`;
    for (let page = 0; ; page++) {
      const res = await harness.call('GET', url);
      expect(res.status).toBe(200);
      ids.push(...res.body.tasks.map((t: { id: string }) => t.id));
      if (!res.body.next) break;
      expect(page).toBeLessThan(3);
      url = `/api/v1/tasks?queue=${queue}&limit=50&cursor=${encodeURIComponent(res.body.next)}`;
    }
    expect(ids).toHaveLength(120);
    expect(new Set(ids)).toEqual(new Set([...adds, ...booms]));

    const failed = await harness.call('GET', `/api/v1/tasks?queue=${queue}&state=FAILURE,REVOKED&limit=1000`);
    expect(new Set(failed.body.tasks.map((t: { id: string }) => t.id))).toEqual(new Set(booms));
    const byName = await harness.call('GET', `/api/v1/tasks?queue=${queue}&name=api.a*&limit=1000`);
    expect(byName.body.tasks).toHaveLength(100);
    const byText = await harness.call('GET', `/api/v1/tasks?queue=${queue}&q=NEEDLE-7`);
    expect(byText.body.tasks.map((t: { id: string }) => t.id)).toEqual([booms[7]]);
    const byWorker = await harness.call('GET', `/api/v1/tasks?worker=${encodeURIComponent(harness.worker!.hostname)}&limit=1000`);
    expect(byWorker.body.tasks).toHaveLength(120);
    const recent = await harness.call('GET', `/api/v1/tasks?queue=${queue}&since=1h&limit=1`);
    expect(recent.body.tasks).toHaveLength(1);
    const future = await harness.call('GET', `/api/v1/tasks?queue=${queue}&since=${Math.ceil(Date.now() / 1000) + 3600}`);
    expect(future.body).toEqual({ tasks: [], next: null });
    const old = await harness.call('GET', `/api/v1/tasks?queue=${queue}&until=2020-01-01T00:00:00Z`);
    expect(old.body.tasks).toEqual([]);
  });

  it.skipIf(!available)('revokes a task held for its ETA: it never runs', async () => {
    const { harness, f } = await start(extra);
    const id = await send(harness, { name: 'api.mark', args: ['late'], options: { countdown: 1 } });
    const res = await harness.call('DELETE', `/api/v1/tasks/${id}`);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id, revoked: true, terminate: false });
    const meta = await (await harness.app.backend()).waitFor(id, { timeoutMs: 15_000 });
    expect(meta.status).toBe('REVOKED');
    // A task sent after the revoked one's ETA runs: the worker had the chance to run the revoked one and did not.
    const after = await send(harness, { name: 'api.mark', args: ['after'] });
    await harness.app.asyncResult(after).get({ timeout: 10_000 });
    expect(f.marks).toEqual(['after']);
    await harness.monitor.flush();
    const task = await harness.call('GET', `/api/v1/tasks/${id}`);
    expect(task.body.state).toBe('REVOKED');
    expect(task.body.timeline.find((e: { type: string }) => e.type === 'api-revoke')?.fields).toEqual({ terminate: false, signal: 'SIGTERM' });
  });

  it.skipIf(!available)('terminates a running task', async () => {
    const { harness, f } = await start(extra);
    const id = await send(harness, { name: 'api.block' });
    await f.blocked.promise;
    const res = await harness.call('DELETE', `/api/v1/tasks/${id}?terminate=true&signal=SIGKILL`);
    expect(res.body).toEqual({ id, revoked: true, terminate: true });
    const meta = await (await harness.app.backend()).waitFor(id, { timeoutMs: 15_000 });
    expect(meta.status).toBe('REVOKED');
    expect((await harness.call('GET', `/api/v1/tasks/${id}`)).body.state).toBe('REVOKED');
  });

  it.skipIf(!available)('shows the progress a running task reported', async () => {
    const { harness, f } = await start(extra);
    const id = await send(harness, { name: 'api.progress' });
    await f.blocked.promise;
    const task = await harness.call('GET', `/api/v1/tasks/${id}`);
    expect(task.body).toMatchObject({ state: 'PROGRESS', progress: { current: 1, total: 2 }, result: null, error: null });
    await harness.call('DELETE', `/api/v1/tasks/${id}?terminate=true`);
    expect((await (await harness.app.backend()).waitFor(id, { timeoutMs: 15_000 })).status).toBe('REVOKED');
  });

  it.skipIf(!available)('revokes every unfinished task matching a filter', async () => {
    const { harness, f, events } = await start(extra);
    const done = await send(harness, { name: 'api.mark', args: ['now'] });
    await events.seen([done]);
    const held = await Promise.all(['x', 'y'].map((tag) => send(harness, { name: 'api.mark', args: [tag], options: { countdown: 1 } })));
    await harness.monitor.flush();
    const res = await harness.call('POST', '/api/v1/tasks/revoke', { filter: { name: 'api.mark', queue: harness.app.conf.defaultQueue } });
    expect(res.status).toBe(200);
    expect(res.body.matched).toBe(3);
    expect(new Set(res.body.revoked)).toEqual(new Set(held));
    expect(res.body.skipped).toEqual([{ id: done, reason: 'already finished (SUCCESS)' }]);
    const backend = await harness.app.backend();
    for (const id of held) expect((await backend.waitFor(id, { timeoutMs: 15_000 })).status).toBe('REVOKED');
    expect(f.marks).toEqual(['now']);
  });

  it.skipIf(!available)('sends a task this process has no code for, routed by taskRoutes', async () => {
    const queue = `remote-${randomUUID().slice(0, 8)}`;
    const base = extra();
    const { harness } = await start(() => ({ ...base, settings: { ...base.settings, taskRoutes: { 'remote.*': { queue } } } }));
    const id = await send(harness, { name: 'remote.resize', args: ['a.png', 100], kwargs: { crop: true }, options: { priority: 3 } });
    const broker = await harness.app.broker();
    expect(await broker.size(queue)).toBe(1);
    await harness.monitor.flush();
    const task = await harness.call('GET', `/api/v1/tasks/${id}`);
    expect(task.body).toMatchObject({ known: true, state: 'PENDING', name: 'remote.resize', queue, args: "('a.png', 100)", kwargs: "{'crop': True}", kwargsJson: '{"crop":true}' });
    await broker.purge(queue);
  });

  it.skipIf(!available)('retries a failed task with its original arguments as a new task', async () => {
    const { harness } = await start(extra);
    const id = await send(harness, { name: 'api.flaky', args: ['k1'], kwargs: { options: { n: 7 } } });
    await expect(harness.app.asyncResult(id).get({ timeout: 10_000 })).rejects.toThrow(/first try/);

    const res = await harness.call('POST', `/api/v1/tasks/${id}/retry`);
    expect(res.status).toBe(202);
    expect(res.body.retryOf).toBe(id);
    expect(res.body.id).not.toBe(id);
    expect(await harness.app.asyncResult(res.body.id).get({ timeout: 10_000 })).toEqual({ key: 'k1', n: 7 });
    await harness.monitor.flush();
    const original = await harness.call('GET', `/api/v1/tasks/${id}`);
    expect(original.body.timeline.find((e: { type: string }) => e.type === 'api-retry')?.fields).toEqual({ newId: res.body.id });
    const retried = await harness.call('GET', `/api/v1/tasks/${res.body.id}`);
    expect(retried.body).toMatchObject({ name: 'api.flaky', state: 'SUCCESS', argsJson: '["k1"]', kwargsJson: '{"options":{"n":7}}' });
    expect(retried.body.timeline[0]).toMatchObject({ type: 'api-sent', fields: { retryOf: id } });

    // A task that has not finished cannot be retried.
    const pending = await send(harness, { name: 'api.add', args: [1, 1], options: { countdown: 60 } });
    const refused = await harness.call('POST', `/api/v1/tasks/${pending}/retry`);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/PENDING/);
    await harness.call('DELETE', `/api/v1/tasks/${pending}`);
  });

  it.skipIf(!available)("retries with the arguments the worker received, not a producer's custom argsrepr that reads as a literal", async () => {
    const { harness } = await start(extra);
    const id = await send(harness, { name: 'api.flaky', args: ['secret-key'], kwargs: { options: { n: 2 } } });
    await expect(harness.app.asyncResult(id).get({ timeout: 10_000 })).rejects.toThrow(/first try/);
    await harness.monitor.flush();
    // What a Python producer hiding its arguments (apply_async(argsrepr='(***)')) leaves in the history.
    await harness.history.apply([{ id, timestamp: Date.now(), fields: { args: "('***',)", argsJson: '["***"]', kwargs: '{}', kwargsJson: '{}' } }]);
    const res = await harness.call('POST', `/api/v1/tasks/${id}/retry`);
    expect(res.status).toBe(202);
    expect(await harness.app.asyncResult(res.body.id).get({ timeout: 10_000 })).toEqual({ key: 'secret-key', n: 2 });
  });

  it.skipIf(!available)('retries every failed task matching a filter', async () => {
    const { harness, events } = await start(extra);
    const keys = ['a', 'b', 'c'];
    const ids = await Promise.all(keys.map((k) => send(harness, { name: 'api.flaky', args: [k], kwargs: { options: { n: 1 } } })));
    const ok = await send(harness, { name: 'api.add', args: [1, 2] });
    await events.seen([...ids, ok]);
    await harness.monitor.flush();
    const filter = { queue: harness.app.conf.defaultQueue, state: 'FAILURE' };

    const refused = await harness.call('POST', '/api/v1/tasks/retry', { filter: {} });
    expect(refused.status).toBe(400);
    expect(refused.body.field).toBe('/body/filter');

    const res = await harness.call('POST', '/api/v1/tasks/retry', { filter });
    expect(res.status).toBe(200);
    expect(res.body.matched).toBe(3);
    expect(res.body.skipped).toEqual([]);
    const results = await Promise.all(res.body.retried.map((id: string) => harness.app.asyncResult(id).get({ timeout: 10_000 })));
    expect(results.map((r) => (r as { key: string }).key).sort()).toEqual(keys);
  });

  it.skipIf(!available)('shows the tree of a chain and the members of a group', async () => {
    const { harness, f, events } = await start(extra);
    const add = f.add!;
    const c = await chain(add.s(1, 1), add.s(10), add.s(100)).applyAsync();
    expect(await c.get({ timeout: 10_000 })).toBe(112);
    const first = (c.parent!.parent as { id: string }).id;
    const second = (c.parent as { id: string }).id;
    const g = await group(add.s(1, 2), add.s(3, 4)).applyAsync();
    expect(await g.get({ timeout: 10_000 })).toEqual([3, 7]);
    // Task events carry no group id: a saved group (Celery's GroupResult.save) is how its members stay known.
    await g.save();
    const members = g.results.map((r) => r.id);
    // The steps' parent links come from their task-received events.
    await events.seen([first, second, c.id], ['task-received']);
    await harness.monitor.flush();

    const tree = await harness.call('GET', `/api/v1/tasks/${first}/tree`);
    expect(tree.status).toBe(200);
    expect(tree.body.task).toMatchObject({ id: first, name: 'api.add', state: 'SUCCESS', depth: 0 });
    expect(tree.body.parent).toBeNull();
    expect(tree.body.children.map((n: { id: string; depth: number }) => [n.id, n.depth])).toEqual([
      [second, 1],
      [c.id, 2],
    ]);
    const shallow = await harness.call('GET', `/api/v1/tasks/${first}/tree?depth=1`);
    expect(shallow.body.children.map((n: { id: string }) => n.id)).toEqual([second]);
    const middle = await harness.call('GET', `/api/v1/tasks/${second}/tree`);
    expect(middle.body.parent).toMatchObject({ id: first, state: 'SUCCESS' });

    const member = await harness.call('GET', `/api/v1/tasks/${members[0]}/tree`);
    expect(member.body.group.id).toBe(g.id);
    expect(member.body.group.members.map((n: { id: string }) => n.id).sort()).toEqual([...members].sort());
  });
});

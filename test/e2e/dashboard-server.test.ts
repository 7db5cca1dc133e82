/**
 * The dashboard's server against a real worker on the embedded SQLite store: the live stream (hello, task changes
 * with PROGRESS, workers, stats, its end when the server closes), the chart series, the schedules routes on an app
 * with a beatSchedule, the pages from a built folder, and the requests it passes on to the REST API.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiInstance } from '../../src/api/context.js';
import { registerDashboard } from '../../src/dashboard/index.js';
import type { TaskContext } from '../../src/index.js';
import { startApiHarness, type ApiHarness } from '../api-harness.js';
import { deferred } from '../helpers.js';
import { openStream, type SseEvent, type SseStream } from './dashboard-server-sse.js';

const INDEX = '<!doctype html><title>Celerity</title><h1>Dashboard</h1>';
const SCRIPT = 'console.log("dashboard")';

let h: ApiHarness;
let front: ApiInstance;
let base: string;
const gates = new Map<string, { promise: Promise<void>; resolve(): void }>();
const gate = (key: string) => {
  if (!gates.has(key)) gates.set(key, deferred<void>());
  return gates.get(key)!;
};

beforeAll(async () => {
  h = await startApiHarness({
    worker: true,
    extend: (api, ctx, dir) => {
      const assets = path.join(dir, 'pages');
      mkdirSync(path.join(assets, 'assets'), { recursive: true });
      writeFileSync(path.join(assets, 'index.html'), INDEX);
      writeFileSync(path.join(assets, 'assets', 'main-abc123.js'), SCRIPT);
      registerDashboard(api, ctx, { assets });
    },
    settings: { beatSchedule: { tick: { task: 'dash.add', schedule: { every: 3600 }, args: [1, 2] } } },
    tasks: (app) => {
      app.task('dash.add', async (a: number, b: number) => a + b);
      app.task('dash.steps', async function (this: TaskContext, total: number) {
        for (let current = 1; current <= total; current++) {
          await this.updateState('PROGRESS', { current, total });
          await gate(`${this.id}:${current}`).promise;
        }
        return `done ${total}`;
      });
    },
  });
  front = h.api;
  await front.listen({ host: '127.0.0.1', port: 0 });
  const address = front.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  await h?.close();
});

/** A response's JSON body, untyped as the tests read it. */
const jsonOf = (res: Response): Promise<any> => res.json();

const tasksWith = (id: string, match: (t: any) => boolean) => (e: SseEvent) => e.event === 'tasks' && e.data.some((t: any) => t.id === id && match(t));
const taskIn = (e: SseEvent, id: string) => e.data.find((t: any) => t.id === id);

describe('GET /api/v1/stream', () => {
  let stream: SseStream;
  beforeAll(async () => {
    stream = await openStream(`${base}/api/v1/stream`);
  });
  afterAll(() => stream?.close());

  it('answers text/event-stream and says hello first', async () => {
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(stream.headers.get('cache-control')).toMatch(/no-cache/);
    const hello = await stream.next(() => true, 'the first event');
    expect(hello.event).toBe('hello');
    expect(hello.data).toEqual({ user: 'local', readOnly: false, serverTime: expect.any(Number) });
  });

  it('sends the workers it knows, as GET /api/v1/workers lists them', async () => {
    const name = h.worker!.hostname;
    const e = await stream.next((x) => x.event === 'workers' && x.data.some((w: any) => w.name === name && w.online), `workers naming ${name}`);
    const listed = (await h.call('GET', '/api/v1/workers')).body.workers.find((w: any) => w.name === name);
    expect(Object.keys(e.data.find((w: any) => w.name === name)).sort()).toEqual(Object.keys(listed).sort());
  });

  it('sends a task’s changes as it runs, ending in SUCCESS with its name, worker and runtime', async () => {
    const r = await h.app.sendTask('dash.add', [2, 3]);
    expect(await r.get({ timeout: 10_000 })).toBe(5);
    const e = await stream.next(tasksWith(r.id, (t) => t.state === 'SUCCESS'), `SUCCESS of ${r.id}`);
    const task = taskIn(e, r.id);
    expect(task).toMatchObject({ id: r.id, name: 'dash.add', state: 'SUCCESS', worker: h.worker!.hostname });
    expect(task.runtime).toBeGreaterThanOrEqual(0);
    expect(task.createdAt).toBeLessThanOrEqual(task.updatedAt);
    for (const x of stream.events.filter((x) => x.event === 'tasks')) {
      expect(x.data.length).toBeLessThanOrEqual(500);
      expect(new Set(x.data.map((t: any) => t.id)).size, 'one state per id in a batch').toBe(x.data.length);
    }
  });

  it('sends PROGRESS with its meta at each step, then the result state', async () => {
    const r = await h.app.sendTask('dash.steps', [2]);
    const first = await stream.next(tasksWith(r.id, (t) => t.state === 'PROGRESS' && t.progress?.current === 1), 'PROGRESS 1 of 2');
    expect(taskIn(first, r.id)).toMatchObject({ name: 'dash.steps', progress: { current: 1, total: 2 } });
    gate(`${r.id}:1`).resolve();
    await stream.next(tasksWith(r.id, (t) => t.state === 'PROGRESS' && t.progress?.current === 2), 'PROGRESS 2 of 2');
    gate(`${r.id}:2`).resolve();
    const done = await stream.next(tasksWith(r.id, (t) => t.state === 'SUCCESS'), `SUCCESS of ${r.id}`);
    expect(taskIn(done, r.id).progress).toBeUndefined();
    expect(await r.get({ timeout: 10_000 })).toBe('done 2');
  });

  it('sends the latest chart point', async () => {
    const e = await stream.next((x) => x.event === 'stats', 'a stats event');
    expect(e.data).toMatchObject({ t: expect.any(Number), succeeded: expect.any(Number), failed: expect.any(Number), received: expect.any(Number) });
  });
});

describe('GET /api/v1/stats', () => {
  it('gives 900 one-second points for 15m, counting the tasks that ran', async () => {
    const r = await h.app.sendTask('dash.add', [1, 1]);
    await r.get({ timeout: 10_000 });
    // The stream and the charts follow the same events: once the stream has shown SUCCESS, the charts have counted it.
    const s = await openStream(`${base}/api/v1/stream`);
    try {
      const x = await h.app.sendTask('dash.add', [0, 0]);
      await x.get({ timeout: 10_000 });
      await s.next(tasksWith(x.id, (t) => t.state === 'SUCCESS'), `SUCCESS of ${x.id}`);
    } finally {
      s.close();
    }
    const res = await fetch(`${base}/api/v1/stats?window=15m`);
    expect(res.status).toBe(200);
    const body = await jsonOf(res);
    expect(body.step).toBe(1);
    expect(body.points).toHaveLength(900);
    const total = (k: string) => body.points.reduce((n: number, p: any) => n + p[k], 0);
    expect(total('succeeded')).toBeGreaterThanOrEqual(2);
    expect(total('received')).toBeGreaterThanOrEqual(total('succeeded'));
    expect(body.points.some((p: any) => p.runtimeP50 !== null)).toBe(true);
  });

  it('gives per-minute points for 1h and 24h', async () => {
    for (const [window, count] of [['1h', 60], ['24h', 1440]] as const) {
      const body = await jsonOf(await fetch(`${base}/api/v1/stats?window=${window}`));
      expect(body.step).toBe(60);
      expect(body.points).toHaveLength(count);
    }
  });

  it('refuses an unknown window as problem+json naming the field', async () => {
    const res = await fetch(`${base}/api/v1/stats?window=2d`);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await jsonOf(res)).field).toBe('/query/window');
  });
});

describe('schedules', () => {
  const post = (url: string) => fetch(`${base}${url}`, { method: 'POST' });
  beforeAll(async () => {
    await h.app.schedules.syncConfig();
  });

  it('lists the beatSchedule entries with their state', async () => {
    const body = await jsonOf(await fetch(`${base}/api/v1/schedules`));
    expect(body.available).toBe(true);
    expect(body.schedules).toEqual([
      {
        name: 'tick',
        task: 'dash.add',
        schedule: 'every 3600 s',
        paused: false,
        nextRunAt: expect.any(Number),
        lastRunAt: null,
        totalRuns: 0,
        lastTaskId: null,
        source: 'config',
        error: null,
      },
    ]);
  });

  it('pauses and resumes a schedule', async () => {
    const paused = await post('/api/v1/schedules/tick/pause');
    expect(paused.status).toBe(200);
    expect(await jsonOf(paused)).toMatchObject({ name: 'tick', paused: true, nextRunAt: null });
    expect((await h.app.schedules.get('tick'))!.paused).toBe(true);
    const resumed = await jsonOf(await post('/api/v1/schedules/tick/resume'));
    expect(resumed).toMatchObject({ paused: false, nextRunAt: expect.any(Number) });
    expect((await h.app.schedules.get('tick'))!.paused).toBe(false);
  });

  it('runs a schedule now: the worker runs its task with its arguments, and the run is counted', async () => {
    const res = await post('/api/v1/schedules/tick/run');
    expect(res.status).toBe(200);
    const { taskId } = await jsonOf(res);
    expect(await h.app.asyncResult(taskId).get({ timeout: 10_000 })).toBe(3);
    const listed = (await jsonOf(await fetch(`${base}/api/v1/schedules`))).schedules[0];
    expect(listed).toMatchObject({ totalRuns: 1, lastTaskId: taskId, lastRunAt: expect.any(Number) });
  });

  it('answers 404 for a schedule that does not exist', async () => {
    for (const action of ['pause', 'resume', 'run']) {
      const res = await post(`/api/v1/schedules/nope/${action}`);
      expect(res.status).toBe(404);
      expect((await jsonOf(res)).detail).toBe('no schedule named "nope"');
    }
  });
});

describe('pages', () => {
  it('serves index.html for every client-side route, revalidated on each load', async () => {
    for (const route of ['/', '/tasks', '/tasks/abc-123', '/workers', '/workers/celery@host', '/queues', '/dead-letters', '/schedules', '/login']) {
      const res = await fetch(`${base}${route}`);
      expect(res.status, route).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toBe(INDEX);
    }
  });

  it('serves hashed assets with a year of caching, and a missing one as a 404 problem', async () => {
    const res = await fetch(`${base}/assets/main-abc123.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await res.text()).toBe(SCRIPT);
    for (const missing of ['/assets/nope.js', '/assets/..%2f..%2fcelerity.db', '/assets/%2e%2e/index.html']) {
      const r = await fetch(`${base}${missing}`);
      expect(r.status, missing).toBe(404);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
  });

  it('passes every other request on to the REST API, and documents both in one OpenAPI document', async () => {
    const tasks = await fetch(`${base}/api/v1/tasks?limit=1`);
    expect(tasks.status).toBe(200);
    const sent = await fetch(`${base}/api/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'dash.add', args: [4, 5] }) });
    expect(sent.status).toBe(202);
    expect(await h.app.asyncResult((await jsonOf(sent)).id).get({ timeout: 10_000 })).toBe(9);
    expect((await fetch(`${base}/api/v1/nothing-here`)).status).toBe(404);
    const doc = await jsonOf(await fetch(`${base}/api/v1/openapi.json`));
    for (const p of ['/api/v1/tasks', '/api/v1/stream', '/api/v1/stats', '/api/v1/schedules', '/api/v1/schedules/{name}/pause']) expect(Object.keys(doc.paths)).toContain(p);
  });
});

describe('closing', () => {
  it('ends every open stream when the server closes', async () => {
    const s = await openStream(`${base}/api/v1/stream`);
    await s.next((e) => e.event === 'hello', 'hello');
    await front.close();
    await s.ended;
    expect(s.events[0]!.event).toBe('hello');
  });
});

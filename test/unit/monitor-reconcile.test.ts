import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backend/memory/index.js';
import { MemoryHistoryStore } from '../../src/history/memory.js';
import type { HistoryStore, TaskUpdate } from '../../src/history/port.js';
import { Reconciler, updateFromMeta } from '../../src/monitor/reconcile.js';
import { buildResultMeta } from '../../src/protocol/result-meta.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

async function setup(options: { history?: HistoryStore } = {}) {
  let now = T0;
  const history = options.history ?? new MemoryHistoryStore();
  await history.connect();
  const backend = new MemoryBackend({ now: () => now });
  await backend.connect();
  const made: TaskUpdate[] = [];
  const reads: string[][] = [];
  const observed = { mget: (ids: readonly string[]) => (reads.push([...ids]), backend.mget(ids)) };
  const rec = new Reconciler({ history, backend: observed, sink: (u) => made.push(u), now: () => now });
  /** One round, then the updates it made applied to the history (as the recorder would). */
  const round = async () => {
    const from = made.length;
    const n = await rec.round();
    await history.apply(made.slice(from));
    return n;
  };
  const sent = (id: string, at = now) => history.apply([{ id, timestamp: at, state: 'PENDING', fields: { name: 'proj.t' } }]);
  return { history, backend, rec, made, reads, round, sent, advance: (ms: number) => (now += ms) };
}

describe('Reconciler', () => {
  it('finishes a task that sent no events from its stored result, with the extended fields and group id', async () => {
    const s = await setup();
    await s.sent('t1');
    await s.backend.set('t1', buildResultMeta({
      taskId: 't1', status: 'SUCCESS', result: { total: 5 }, groupId: 'g1', now: new Date(T0 + 500),
      extended: { name: 'proj.t', args: [2, 3], kwargs: { z: null }, worker: 'celery@w1', retries: 0, queue: 'celery' },
    }));
    s.advance(1_500);
    expect(await s.round()).toBe(1);
    const t = (await s.history.get('t1'))!;
    expect(t).toMatchObject({
      state: 'SUCCESS', result: '{"total":5}', groupId: 'g1', worker: 'celery@w1', queue: 'celery', retries: 0,
      argsJson: '[2,3]', kwargsJson: '{"z":null}', args: '(2, 3)', kwargs: "{'z': None}", finishedAt: T0 + 500,
    });
    expect((await s.history.timeline('t1')).map((e) => e.type)).toEqual(['result-SUCCESS']);
    // Finished: not read again.
    s.advance(10_000);
    expect(await s.round()).toBe(0);
    expect(s.reads).toHaveLength(1);
  });

  it('reads a task that finished by an event once, for the group id and exact arguments no event carries', async () => {
    const s = await setup();
    await s.history.apply([{ id: 'g-member', timestamp: T0, state: 'SUCCESS', fields: { name: 'proj.t', result: '5' }, timeline: { type: 'task-succeeded', timestamp: T0, hostname: 'w1', fields: null } }]);
    await s.history.apply([{ id: 'plain', timestamp: T0, state: 'SUCCESS', fields: { name: 'proj.t' } }]);
    await s.backend.set('g-member', buildResultMeta({ taskId: 'g-member', status: 'SUCCESS', result: 5, groupId: 'g1', now: new Date(T0 + 10), extended: { name: 'proj.t', args: [2, 3], kwargs: {}, worker: 'w1', retries: 0, queue: 'celery' } }));
    await s.backend.set('plain', buildResultMeta({ taskId: 'plain', status: 'SUCCESS', result: 1 }));
    s.rec.finished('g-member');
    s.rec.finished('plain');
    s.rec.finished('unknown');
    s.advance(1_500);
    expect(await s.round()).toBe(1);
    expect(s.reads[0]).toEqual(['g-member', 'plain', 'unknown']);
    expect(await s.history.get('g-member')).toMatchObject({ state: 'SUCCESS', groupId: 'g1', argsJson: '[2,3]', kwargsJson: '{}' });
    // Its end is already in the timeline from the event; the read adds no entry.
    expect((await s.history.timeline('g-member')).map((e) => e.type)).toEqual(['task-succeeded']);
    // Read once only.
    s.advance(1_500);
    await s.round();
    expect(s.reads.flat().filter((id) => id === 'g-member')).toHaveLength(1);
  });

  it('shows PROGRESS with its meta, every change of it, while the task runs', async () => {
    const s = await setup();
    await s.sent('t1');
    await s.backend.set('t1', buildResultMeta({ taskId: 't1', status: 'PROGRESS', result: { current: 1, total: 3 } }));
    s.advance(1_500);
    await s.round();
    expect(await s.history.get('t1')).toMatchObject({ state: 'PROGRESS', meta: '{"current":1,"total":3}' });
    // An unchanged meta makes no update; a running task is read every round all the same.
    s.advance(1_500);
    expect(await s.round()).toBe(0);
    await s.backend.set('t1', buildResultMeta({ taskId: 't1', status: 'PROGRESS', result: { current: 2, total: 3 } }));
    s.advance(1_000);
    expect(await s.round()).toBe(1);
    expect(await s.history.get('t1')).toMatchObject({ state: 'PROGRESS', meta: '{"current":2,"total":3}' });
    const timeline = await s.history.timeline('t1');
    expect(timeline.map((e) => [e.type, e.fields])).toEqual([
      ['result-PROGRESS', '{"meta":{"current":1,"total":3}}'],
      ['result-PROGRESS', '{"meta":{"current":2,"total":3}}'],
    ]);
  });

  it('a failure gives the exception as Python writes it, and the traceback', async () => {
    const s = await setup();
    await s.sent('t1');
    await s.backend.set('t1', buildResultMeta({
      taskId: 't1', status: 'FAILURE', result: { exc_type: 'ValueError', exc_message: ['nope'], exc_module: 'builtins' },
      traceback: 'Traceback (most recent call last):\nValueError: nope\n',
    }));
    s.advance(1_500);
    await s.round();
    expect(await s.history.get('t1')).toMatchObject({
      state: 'FAILURE', exception: "ValueError('nope')", traceback: 'Traceback (most recent call last):\nValueError: nope\n',
    });
  });

  it('leaves tasks without a result alone for a while, then longer, and reads them again after an event', async () => {
    const s = await setup();
    await s.sent('t1');
    s.advance(1_500);
    await s.round();
    expect(s.reads).toEqual([['t1']]);
    s.advance(1_000);
    await s.round();
    expect(s.reads).toHaveLength(1);
    s.advance(1_000);
    await s.round();
    expect(s.reads).toHaveLength(2);
    // Now 4 s of rest.
    s.advance(2_000);
    await s.round();
    expect(s.reads).toHaveLength(2);
    s.rec.touched('t1');
    await s.round();
    expect(s.reads).toHaveLength(3);
  });

  it('a resting backlog does not hide newer tasks', async () => {
    const history = new MemoryHistoryStore();
    await history.connect();
    let now = T0;
    const backend = new MemoryBackend({ now: () => now });
    const reads: string[][] = [];
    const rec = new Reconciler({ history, backend: { mget: (ids) => (reads.push([...ids]), backend.mget(ids)) }, sink: () => undefined, now: () => now, batchSize: 3 });
    await history.apply(['a', 'b', 'c', 'd', 'e'].map((id, i) => ({ id, timestamp: T0 + i, state: 'PENDING' })));
    now += 1_500;
    await rec.round();
    now += 100;
    await rec.round();
    expect(reads).toEqual([['a', 'b', 'c'], ['d', 'e']]);
  });

  it('logs and rethrows when the result store fails, and goes on next round', async () => {
    const history = new MemoryHistoryStore();
    await history.connect();
    await history.apply([{ id: 't1', timestamp: T0, state: 'PENDING' }]);
    let fail = true;
    const warnings: object[] = [];
    const backend = new MemoryBackend();
    const rec = new Reconciler({
      history,
      backend: { mget: (ids) => (fail ? Promise.reject(new Error('redis down')) : backend.mget(ids)) },
      sink: () => undefined,
      now: () => T0 + 5_000,
      logger: { info: () => undefined, warn: (o) => warnings.push(o), error: () => undefined },
    });
    await expect(rec.round()).rejects.toThrow('redis down');
    expect(warnings).toEqual([{ err: 'redis down' }]);
    fail = false;
    await expect(rec.round()).resolves.toBe(0);
  });
});

describe('updateFromMeta', () => {
  it('STARTED gives the worker from the meta, REVOKED its exception, and PENDING no state', () => {
    expect(updateFromMeta('t', buildResultMeta({ taskId: 't', status: 'STARTED', result: { pid: 1, hostname: 'celery@w' } }), T0)).toMatchObject({
      state: 'STARTED', fields: { worker: 'celery@w' }, timestamp: T0,
    });
    expect(updateFromMeta('t', buildResultMeta({ taskId: 't', status: 'REVOKED', result: { exc_type: 'TaskRevokedError', exc_message: ['revoked'], exc_module: 'celery.exceptions' } }), T0).fields).toMatchObject({
      exception: "TaskRevokedError('revoked')",
    });
    expect(updateFromMeta('t', buildResultMeta({ taskId: 't', status: 'PENDING', result: null }), T0).state).toBeUndefined();
  });
});

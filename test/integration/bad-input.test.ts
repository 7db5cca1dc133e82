/**
 * Bad input never kills the worker or loses a message: each case is logged, marked FAILURE where an id is known,
 * and kept in the dead-letter store, and the worker goes on to run the next good task.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Celerity} from '../../src/index.js';
import { NotRegistered, type Worker } from '../../src/index.js';
import { nextEvent, sqliteApp, tempDir } from '../helpers.js';

let tmp: ReturnType<typeof tempDir>;
let app: Celerity;
let worker: Worker;

beforeEach(async () => {
  tmp = tempDir();
  app = sqliteApp(tmp.dir, { concurrency: 2 });
  app.task('t.add', (x: number, y: number) => x + y);
  worker = app.worker();
  await worker.start();
});

afterEach(async () => {
  await worker.stop({ timeout: 0 });
  await app.close();
  tmp.cleanup();
});

async function stillWorks(): Promise<void> {
  expect(await (await app.sendTask<number>('t.add', [20, 22])).get({ timeout: 5000 })).toBe(42);
}

async function publishRaw(headers: Record<string, unknown>, body: string, contentType = 'application/json'): Promise<void> {
  const broker = await app.broker();
  await broker.publish([
    { queue: 'celery', priority: 0, message: { headers, properties: {}, body: Buffer.from(body), contentType, contentEncoding: 'utf-8' } },
  ]);
}

describe('bad input', () => {
  it('an unknown task name: FAILURE NotRegistered, dead-lettered, worker carries on', async () => {
    const rejected = nextEvent(worker, 'task-rejected');
    const r = await app.sendTask('no.such.task', [1]);
    expect((await rejected)[0]).toMatchObject({ id: r.id, requeue: false });
    const err = await r.get({ timeout: 5000 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(NotRegistered);
    const letters = await (await app.broker()).listDeadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ queue: 'celery', taskId: r.id, taskName: 'no.such.task' });
    expect(letters[0]!.reason).toContain('not registered');
    await stillWorks();
  });

  it('a wrong argument count: FAILURE TypeError, dead-lettered', async () => {
    const r = await app.sendTask('t.add', [1]);
    const err = await r.get({ timeout: 5000 }).catch((e: Error) => e);
    expect((err as Error).name).toBe('TypeError');
    expect((err as Error).message).toBe('t.add() missing 1 required positional argument');
    const letters = await (await app.broker()).listDeadLetters();
    expect(letters.map((l) => l.taskId)).toEqual([r.id]);
    await stillWorks();
  });

  it('an undecodable body: dead-lettered with the raw bytes, FAILURE under its id', async () => {
    const rejected = nextEvent(worker, 'task-rejected');
    await publishRaw({ lang: 'py', task: 't.add', id: 'bad-json-1' }, '{not json');
    const [ev] = await rejected;
    expect(ev.reason).toMatch(/malformed message/);
    const letters = await (await app.broker()).listDeadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]!.raw).toContain('bad-json-1');
    expect(await app.asyncResult('bad-json-1').state).toBe('FAILURE');
    await stillWorks();
  });

  it('a disallowed content type and a body of the wrong shape are dead-lettered too', async () => {
    const first = nextEvent(worker, 'task-rejected', (e) => e.reason.includes('pickle') || e.reason.includes('content'));
    await publishRaw({ lang: 'py', task: 't.add', id: 'pickled-1' }, '\x80\x04K\x01.', 'application/x-python-serialize');
    await first;
    const second = nextEvent(worker, 'task-rejected', (e) => e.id === 'shape-1');
    await publishRaw({ lang: 'py', task: 't.add', id: 'shape-1' }, '{"args": "not a list"}');
    await second;
    const letters = await (await app.broker()).listDeadLetters();
    expect(letters.map((l) => l.taskId).sort()).toEqual(['pickled-1', 'shape-1']);
    await stillWorks();
  });

  it('dead letters can be requeued and then run', async () => {
    const r = await app.sendTask<number>('t.later', [5]);
    await nextEvent(worker, 'task-rejected', (e) => e.id === r.id);
    app.task('t.later', (n: number) => n + 1);
    const broker = await app.broker();
    const [letter] = await broker.listDeadLetters();
    expect(await broker.requeueDeadLetters([letter!.id])).toBe(1);
    expect(await broker.listDeadLetters()).toHaveLength(0);
    const done = nextEvent(worker, 'task-succeeded', (e) => e.id === r.id);
    await done;
    // The earlier FAILURE is replaced by the successful run's result.
    expect(await r.get({ timeout: 5000 })).toBe(6);
  });
});

/**
 * CeleryExporter fed with events as Celery 5.2 sends them (the key order of celery/events/event.py, Python's reprs)
 * and as Celerity's worker builds them (createEvent), read back from the exposition text.
 */
import { describe, expect, it } from 'vitest';
import { CELERY_EXPORTER_BUCKETS, CeleryExporter, exceptionClass, hostOfNode, type QueueStat } from '../../src/metrics/exporter.js';
import { createEvent } from '../../src/protocol/events.js';
import { parseExposition } from './metrics-parse.js';

const T0 = 1_733_400_000;

/** Celery 5.2's events, key for key (a Python worker `celery@w1` on host w1, a producer `gen4242@web-1`). */
const python = {
  sent: (uuid: string, name: string, queue: string, ts = T0) => ({
    hostname: 'gen4242@web-1', utcoffset: 0, pid: 4242, clock: 1, uuid, root_id: uuid, parent_id: null, name,
    args: '(2, 2)', kwargs: '{}', retries: 0, eta: null, expires: null, queue, exchange: '', routing_key: queue,
    timestamp: ts, type: 'task-sent', local_received: ts,
  }),
  received: (uuid: string, name: string, ts = T0 + 0.1, hostname = 'celery@w1') => ({
    hostname, utcoffset: 0, pid: 100, clock: 2, uuid, name, args: '(2, 2)', kwargs: '{}', root_id: uuid,
    parent_id: null, retries: 0, eta: null, expires: null, timestamp: ts, type: 'task-received', local_received: ts,
  }),
  started: (uuid: string, ts = T0 + 0.2, hostname = 'celery@w1') => ({
    hostname, utcoffset: 0, pid: 101, clock: 3, uuid, timestamp: ts, type: 'task-started', local_received: ts,
  }),
  succeeded: (uuid: string, runtime: number, ts = T0 + 0.5) => ({
    hostname: 'celery@w1', utcoffset: 0, pid: 101, clock: 4, uuid, result: '4', runtime, timestamp: ts,
    type: 'task-succeeded', local_received: ts,
  }),
  failed: (uuid: string, exception: string) => ({
    hostname: 'celery@w1', utcoffset: 0, pid: 101, clock: 5, uuid, exception,
    traceback: 'Traceback (most recent call last):\n  File "tasks.py", line 9, in div\nZeroDivisionError: division by zero\n',
    timestamp: T0 + 1, type: 'task-failed', local_received: T0 + 1,
  }),
  heartbeat: (hostname: string, active: number, type = 'worker-heartbeat', freq = 2.0) => ({
    hostname, utcoffset: 0, pid: 100, clock: 9, freq, sw_ident: 'py-celery', sw_ver: '5.2.7', sw_sys: 'Linux',
    active, processed: 10, loadavg: [0.1, 0.2, 0.3], timestamp: T0, type, local_received: T0,
  }),
};

async function scrape(exporter: CeleryExporter) {
  return parseExposition(await exporter.metrics());
}

describe('CeleryExporter task events', () => {
  it('counts a task through its life with celery-exporter names, types and labels', async () => {
    const exporter = new CeleryExporter();
    exporter.observe(python.sent('t1', 'tasks.add', 'emails'));
    exporter.observe(python.received('t1', 'tasks.add'));
    exporter.observe(python.started('t1'));
    exporter.observe(python.succeeded('t1', 0.3));
    const m = await scrape(exporter);

    const onWorker = { name: 'tasks.add', hostname: 'w1', queue_name: 'emails' };
    expect(m.value('celery_task_sent_total', { name: 'tasks.add', hostname: 'web-1', queue_name: 'emails' })).toBe(1);
    expect(m.value('celery_task_received_total', onWorker)).toBe(1);
    expect(m.value('celery_task_started_total', onWorker)).toBe(1);
    expect(m.value('celery_task_succeeded_total', onWorker)).toBe(1);
    // The other states' series exist from the task's first worker event on, at 0 (celery-exporter's inc(0)).
    expect(m.value('celery_task_failed_total', { ...onWorker, exception: '' })).toBe(0);
    expect(m.value('celery_task_retried_total', onWorker)).toBe(0);
    expect(m.value('celery_task_revoked_total', onWorker)).toBe(0);
    expect(m.value('celery_task_rejected_total', onWorker)).toBe(0);
    // task-sent adds no zeros: producers on many hosts would multiply the series.
    expect(m.find('celery_task_received_total', { hostname: 'web-1' })).toEqual([]);

    for (const state of ['sent', 'received', 'started', 'succeeded', 'failed', 'retried', 'revoked', 'rejected']) {
      expect(m.types.get(`celery_task_${state}_total`)).toBe('counter');
    }
    expect(m.types.get('celery_task_runtime')).toBe('histogram');
    expect(m.types.get('celery_worker_up')).toBe('gauge');
    expect(m.types.get('celery_worker_tasks_active')).toBe('gauge');

    const buckets = m.find('celery_task_runtime_bucket', onWorker).map((s) => s.labels.le);
    expect(buckets).toEqual([...CELERY_EXPORTER_BUCKETS.map(String), '+Inf']);
    expect(m.value('celery_task_runtime_bucket', { ...onWorker, le: '0.25' })).toBe(0);
    expect(m.value('celery_task_runtime_bucket', { ...onWorker, le: '0.5' })).toBe(1);
    expect(m.value('celery_task_runtime_sum', onWorker)).toBeCloseTo(0.3);
    expect(m.value('celery_task_runtime_count', onWorker)).toBe(1);
    // Received at +0.1 s, started at +0.2 s on the worker's clock.
    expect(m.value('celery_task_queue_wait_time_sum', onWorker)).toBeCloseTo(0.1);
    expect(m.value('celery_task_queue_wait_time_count', onWorker)).toBe(1);
  });

  it('labels failures with the exception class from the repr, and tasks without a task-sent with the default queue', async () => {
    const exporter = new CeleryExporter({ defaultQueue: 'default' });
    exporter.observe(python.received('t1', 'tasks.div'));
    exporter.observe(python.failed('t1', "ZeroDivisionError('division by zero')"));
    exporter.observe(python.received('t2', 'tasks.div'));
    exporter.observe(python.failed('t2', 'something odd'));
    const m = await scrape(exporter);
    const labels = { name: 'tasks.div', hostname: 'w1', queue_name: 'default' };
    expect(m.value('celery_task_failed_total', { ...labels, exception: 'ZeroDivisionError' })).toBe(1);
    expect(m.value('celery_task_failed_total', { ...labels, exception: 'UnknownException' })).toBe(1);
    expect(m.value('celery_task_failed_total', { ...labels, exception: '' })).toBe(0);
    expect(m.value('celery_task_received_total', labels)).toBe(2);
  });

  it("reads Celerity's own events (createEvent) the same way", async () => {
    const exporter = new CeleryExporter();
    const id = { hostname: 'celerity@box', pid: 1, clock: 1 };
    exporter.observe(createEvent('task-received', { uuid: 'c1', name: 'app.work', args: '()', kwargs: '{}', root_id: 'c1', parent_id: null, retries: 0, eta: null, expires: null }, { ...id, timestamp: T0 }));
    exporter.observe(createEvent('task-started', { uuid: 'c1', pid: 1 }, { ...id, timestamp: T0 + 2 }));
    exporter.observe(createEvent('task-retried', { uuid: 'c1', exception: "Retry('again')", traceback: '' }, id));
    exporter.observe(createEvent('task-revoked', { uuid: 'c1', terminated: false, signum: null, expired: true }, id));
    exporter.observe(createEvent('task-rejected', { uuid: 'c1', requeue: false }, id));
    const m = await scrape(exporter);
    const labels = { name: 'app.work', hostname: 'box', queue_name: 'celery' };
    expect(m.value('celery_task_retried_total', labels)).toBe(1);
    expect(m.value('celery_task_revoked_total', labels)).toBe(1);
    expect(m.value('celery_task_rejected_total', labels)).toBe(1);
    expect(m.value('celery_task_queue_wait_time_sum', labels)).toBe(2);
  });

  it('ignores events it cannot read instead of throwing', async () => {
    const exporter = new CeleryExporter();
    for (const bad of [{}, { type: 42 }, { type: 'task-started' }, { type: 'task-started', uuid: 7 }, { type: 'task-bogus', uuid: 'x' }, { type: 'worker-heartbeat' }]) {
      expect(() => exporter.observe(bad)).not.toThrow();
    }
    exporter.observe({ ...python.succeeded('t9', Number.NaN), hostname: 12 });
    const m = await scrape(exporter);
    expect(m.value('celery_task_succeeded_total', { name: 'unknown', hostname: 'unknown', queue_name: 'celery' })).toBe(1);
    expect(m.find('celery_task_runtime_count')).toEqual([]);
  });

  it('caps distinct label values: names past the cap are counted as other, known ones keep their series', async () => {
    const exporter = new CeleryExporter({ maxLabelValues: 3 });
    for (let i = 0; i < 10; i++) exporter.observe(python.received(`t${i}`, `tasks.n${i}`));
    exporter.observe(python.received('again', 'tasks.n0'));
    const m = await scrape(exporter);
    const received = m.find('celery_task_received_total');
    expect(received.map((s) => s.labels.name).sort()).toEqual(['other', 'tasks.n0', 'tasks.n1', 'tasks.n2']);
    expect(m.value('celery_task_received_total', { name: 'other' })).toBe(7);
    expect(m.value('celery_task_received_total', { name: 'tasks.n0' })).toBe(2);
  });

  it('remembers a bounded number of tasks: the least recently seen lose their name', async () => {
    const exporter = new CeleryExporter({ maxTrackedTasks: 2 });
    exporter.observe(python.received('a', 'tasks.a'));
    exporter.observe(python.received('b', 'tasks.b'));
    exporter.observe(python.started('a'));
    // 'a' was used after 'b': 'c' pushes 'b' out.
    exporter.observe(python.received('c', 'tasks.c'));
    exporter.observe(python.started('a'));
    exporter.observe(python.started('b'));
    const m = await scrape(exporter);
    expect(m.value('celery_task_started_total', { name: 'unknown' })).toBe(1);
    expect(m.value('celery_task_started_total', { name: 'tasks.a' })).toBe(2);
  });

  it('maps node names to hosts and Python reprs to exception classes as celery-exporter', () => {
    expect(hostOfNode('celery@w1')).toBe('w1');
    expect(hostOfNode('a@b@c')).toBe('b@c');
    expect(hostOfNode('plain')).toBe('plain');
    expect(exceptionClass("KeyError('x')")).toBe('KeyError');
    expect(exceptionClass('MyError()')).toBe('MyError');
    expect(exceptionClass(null)).toBe('UnknownException');
  });
});

describe('CeleryExporter workers', () => {
  it('counts a worker up until 2 x freq after its last heartbeat, down at worker-offline, and forgets it after the purge time', async () => {
    let now = 1_000_000;
    const exporter = new CeleryExporter({ now: () => now, purgeWorkerAfterMs: 60_000 });
    exporter.observe(python.heartbeat('celery@w1', 3, 'worker-online'));
    exporter.observe(python.heartbeat('celery@w1', 3));
    let m = await scrape(exporter);
    expect(m.value('celery_worker_up', { hostname: 'w1' })).toBe(1);
    expect(m.value('celery_worker_tasks_active', { hostname: 'w1' })).toBe(3);

    now += 4000;
    m = await scrape(exporter);
    expect(m.value('celery_worker_up', { hostname: 'w1' })).toBe(1);
    now += 1;
    m = await scrape(exporter);
    expect(m.value('celery_worker_up', { hostname: 'w1' })).toBe(0);
    expect(m.value('celery_worker_tasks_active', { hostname: 'w1' })).toBe(0);

    exporter.observe(python.heartbeat('celery@w1', 1, 'worker-heartbeat', 5));
    now += 9000;
    m = await scrape(exporter);
    expect(m.value('celery_worker_up', { hostname: 'w1' })).toBe(1);
    exporter.observe(python.heartbeat('celery@w1', 1, 'worker-offline'));
    m = await scrape(exporter);
    expect(m.value('celery_worker_up', { hostname: 'w1' })).toBe(0);

    now += 60_001;
    m = await scrape(exporter);
    expect(m.find('celery_worker_up')).toEqual([]);
  });

  it('sums the nodes of one host: up while any is, active over the live ones', async () => {
    let now = 0;
    const exporter = new CeleryExporter({ now: () => now });
    exporter.observe(python.heartbeat('a@h', 2));
    now = 3000;
    exporter.observe(python.heartbeat('b@h', 5));
    let m = await scrape(exporter);
    expect(m.value('celery_worker_up', { hostname: 'h' })).toBe(1);
    expect(m.value('celery_worker_tasks_active', { hostname: 'h' })).toBe(7);
    now = 5000;
    m = await scrape(exporter);
    expect(m.value('celery_worker_tasks_active', { hostname: 'h' })).toBe(5);
  });
});

describe('CeleryExporter queues', () => {
  it('reads the queues on scrape, at most once per cache period and never twice at once', async () => {
    let now = 0;
    let reads = 0;
    let release!: () => void;
    const source = async (): Promise<QueueStat[]> => {
      reads += 1;
      await new Promise<void>((r) => (release = r));
      return [
        { queue: 'celery', length: 12, consumers: 2, workers: 2, processes: 8 },
        { queue: 'idle', length: 0, consumers: null, workers: null, processes: null },
      ];
    };
    const exporter = new CeleryExporter({ queueSource: source, queueCacheMs: 5000, now: () => now });
    const scrapes = [exporter.metrics(), exporter.metrics(), exporter.metrics()];
    await new Promise((r) => setImmediate(r));
    release();
    const texts = await Promise.all(scrapes);
    expect(reads).toBe(1);
    const m = parseExposition(texts[0]!);
    expect(m.value('celery_queue_length', { queue_name: 'celery' })).toBe(12);
    expect(m.value('celery_queue_length', { queue_name: 'idle' })).toBe(0);
    expect(m.value('celery_active_consumer_count', { queue_name: 'celery' })).toBe(2);
    expect(m.value('celery_active_worker_count', { queue_name: 'celery' })).toBe(2);
    expect(m.value('celery_active_process_count', { queue_name: 'celery' })).toBe(8);
    expect(m.find('celery_active_consumer_count', { queue_name: 'idle' })).toEqual([]);
    expect(m.types.get('celery_queue_length')).toBe('gauge');

    now = 4999;
    await exporter.metrics();
    expect(reads).toBe(1);
    now = 5001;
    const next = exporter.metrics();
    await new Promise((r) => setImmediate(r));
    release();
    await next;
    expect(reads).toBe(2);
  });

  it('a failed read leaves the queue series out, reports the error, and is not retried within the cache period', async () => {
    let now = 0;
    let reads = 0;
    const errors: string[] = [];
    const exporter = new CeleryExporter({
      now: () => now,
      queueSource: async () => {
        reads += 1;
        throw new Error('broker unreachable');
      },
      onError: (e) => errors.push(e.message),
    });
    exporter.observe(python.received('t1', 'tasks.add'));
    const m = parseExposition(await exporter.metrics());
    expect(m.find('celery_queue_length')).toEqual([]);
    expect(m.value('celery_task_received_total', { name: 'tasks.add' })).toBe(1);
    await exporter.metrics();
    expect(reads).toBe(1);
    expect(errors).toEqual(['broker unreachable']);
    now = 6000;
    await exporter.metrics();
    expect(reads).toBe(2);
  });
});

/**
 * The API's /metrics, /healthz and /readyz on a real app, Monitor and worker sending task events (SQLite by
 * default): celery-exporter's series from the events the monitor receives, the queues read on scrape, this
 * process's metrics; readiness failing with a problem naming the check when the backend is unreachable; /metrics
 * behind the API's credentials while /healthz and /readyz stay open; the monitor subscription ended on close.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { generateToken, hashToken, NO_CREDENTIALS, parseCredentials } from '../../src/api/auth.js';
import { buildApi } from '../../src/api/server.js';
import type { MonitorView } from '../../src/monitor/types.js';
import type { ReceivedEvent } from '../../src/control/index.js';
import { startApiHarness, type ApiHarness } from '../api-harness.js';
import { freePort } from '../helpers.js';
import { parseExposition } from '../unit/metrics-parse.js';

const harnesses: ApiHarness[] = [];

afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

async function harness(opts: Parameters<typeof startApiHarness>[0] = {}): Promise<ApiHarness> {
  const h = await startApiHarness(opts);
  harnesses.push(h);
  return h;
}

/** Resolves once the monitor has passed on `count` events that match. */
function monitorSees(h: ApiHarness, match: (e: ReceivedEvent) => boolean, count = 1): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = count;
    const timer = setTimeout(() => {
      off();
      reject(new Error(`the monitor saw ${count - left} of ${count} events within 20 s`));
    }, 20_000);
    const off = h.monitor.onEvent((e) => {
      if (!match(e) || --left > 0) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

describe('GET /metrics', () => {
  it("shows celery-exporter's series from the worker's events, the queues, and this process", async () => {
    const h = await harness({
      worker: { concurrency: 2 },
      tasks: (app) => {
        app.task('h.add', (x: number, y: number) => x + y);
        app.task('h.fail', () => {
          throw new Error('nope');
        });
      },
    });
    const host = h.worker!.hostname.split('@')[1]!;
    const heartbeat = monitorSees(h, (e) => e.type === 'worker-heartbeat' && e.hostname === h.worker!.hostname);
    const outcomes = monitorSees(h, (e) => e.type === 'task-succeeded' || e.type === 'task-failed', 3);
    const results = await Promise.all([h.app.sendTask('h.add', [1, 1]), h.app.sendTask('h.add', [2, 2]), h.app.sendTask('h.fail', [])]);
    await Promise.allSettled(results.map((r) => r.get({ timeout: 15_000 })));
    await outcomes;
    await heartbeat;

    const res = await h.api.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    const m = parseExposition(res.body);
    const add = { name: 'h.add', hostname: host, queue_name: 'celery' };
    expect(m.value('celery_task_received_total', add)).toBe(2);
    expect(m.value('celery_task_succeeded_total', add)).toBe(2);
    expect(m.value('celery_task_runtime_count', add)).toBe(2);
    expect(m.value('celery_task_failed_total', { name: 'h.fail', hostname: host, exception: 'Exception' })).toBe(1);
    expect(m.value('celery_worker_up', { hostname: host })).toBe(1);
    expect(m.value('celery_queue_length', { queue_name: 'celery' })).toBe(0);
    expect(m.value('celery_active_consumer_count', { queue_name: 'celery' })).toBe(1);
    expect(m.value('celery_active_worker_count', { queue_name: 'celery' })).toBe(1);
    expect(m.value('celery_active_process_count', { queue_name: 'celery' })).toBe(1);
    expect(m.find('celerity_monitor_process_cpu_user_seconds_total')).toHaveLength(1);
  }, 60_000);

  it('follows the API credentials (a bearer token), while /healthz and /readyz stay open', async () => {
    const token = generateToken();
    const credentials = parseCredentials({ apiUsers: [], apiTokens: [`${hashToken(token)}:ro`] });
    const h = await harness({ credentials, loopback: false });
    expect((await h.api.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    const authed = await h.api.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${token}` } });
    expect(authed.statusCode).toBe(200);
    expect(parseExposition(authed.body).types.get('celery_task_sent_total')).toBe('counter');
    expect(await h.call('GET', '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect((await h.call('GET', '/readyz')).status).toBe(200);
  });

  it('stops following the monitor when the API closes', async () => {
    const h = await harness();
    let listening = 0;
    const monitor = h.monitor;
    const view: MonitorView = {
      get history() {
        return monitor.history;
      },
      workers: () => monitor.workers(),
      worker: (name) => monitor.worker(name),
      record: (update) => monitor.record(update),
      onRecord: (listener) => monitor.onRecord(listener),
      flush: () => monitor.flush(),
      onEvent: (listener) => {
        const off = monitor.onEvent(listener);
        listening += 1;
        return () => {
          listening -= 1;
          off();
        };
      },
    };
    const api = await buildApi({ app: h.app, monitor: view, control: () => Promise.reject(new Error('no control in this test')) }, { credentials: NO_CREDENTIALS, loopback: true });
    expect(listening).toBe(1);
    await api.close();
    expect(listening).toBe(0);
  });
});

describe('GET /healthz and /readyz', () => {
  it('answers ok, and ready with the time each check took', async () => {
    const h = await harness();
    expect(await h.call('GET', '/healthz')).toEqual(expect.objectContaining({ status: 200, body: { status: 'ok' } }));
    const ready = await h.call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', checks: { broker: { ok: true }, backend: { ok: true } } });
    expect(typeof ready.body.checks.broker.ms).toBe('number');
  });

  it('is not ready, as a 503 problem naming the backend, when the result backend is unreachable', async () => {
    const h = await harness();
    // The monitor needs a reachable backend to start: the API is built over an app of its own whose backend is not.
    const closed = `redis://127.0.0.1:${await freePort()}/0`;
    const app = new Celerity('api-health', { broker: h.app.conf.broker, backend: closed, loglevel: 'silent', redisSocketConnectTimeout: 1 }, {});
    const api = await buildApi({ app, monitor: h.monitor, control: () => Promise.reject(new Error('no control in this test')) }, { credentials: NO_CREDENTIALS, loopback: true });
    try {
      const res = await api.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toContain('application/problem+json');
      const body = res.json();
      expect(body).toMatchObject({ status: 503, title: 'Service Unavailable' });
      expect(body.detail).toMatch(/^not ready: backend: /);
      expect(body.detail).not.toContain('broker:');
      expect((await api.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await api.close();
      await app.close();
    }
  }, 20_000);
});

/**
 * A mixed fleet in the dashboard: a real Python Celery 5.2 worker (-E) and a Celerity worker on one Redis appear side
 * by side on the workers page, told apart by their software, and a task sent to the Python worker through the API
 * shows in the live tasks table with the Python node's name and its end state, in real Chromium.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDashboard } from '../../src/dashboard/index.js';
import { Celerity, type Worker } from '../../src/index.js';
import { startApiHarness, type ApiHarness } from '../api-harness.js';
import { deleteRedisKeys } from '../e2e/api-ops-fixtures.js';
import { startControlProjWorker, stopProcesses } from '../interop/processes.js';
import { pythonCeleryOnRedis, requireService } from '../services.js';
import { chromiumCheck, launchBrowser, screenshot, VIEWPORT } from './harness.js';

const REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const python = await requireService('Python Celery 5 on Redis', () => pythonCeleryOnRedis(REDIS));
const ready = chromiumCheck.ok && python.ok;
const reason = chromiumCheck.ok ? python.reason : chromiumCheck.reason;

describe.skipIf(!ready)(`dashboard with Python and TypeScript workers${ready ? '' : ` (skipped: ${reason})`}`, () => {
  const run = randomUUID().slice(0, 8);
  const prefix = `celerity-test-${run}:`;
  const broker = `${REDIS}?global_keyprefix=${prefix}`;
  const pyQueue = `mixed-py-${run}`;
  const tsQueue = `mixed-ts-${run}`;
  const pyNode = `py-${run}@fleet`;
  const tsNode = `ts-${run}@fleet`;
  const procs: ChildProcess[] = [];
  let h: ApiHarness;
  let base: string;
  let tsApp: Celerity;
  let tsWorker: Worker;
  let browser: Browser;

  beforeAll(async () => {
    h = await startApiHarness({ broker, extend: (api, ctx) => void registerDashboard(api, ctx) });
    await h.api.listen({ host: '127.0.0.1', port: 0 });
    const address = h.api.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    tsApp = new Celerity('mixed', { broker, backend: h.app.conf.backend, loglevel: 'silent', sendTaskEvents: true }, {});
    tsApp.task('fleet.add', (x: number, y: number) => x + y);
    tsWorker = tsApp.worker({ concurrency: 1, hostname: tsNode, queues: [tsQueue], node: { heartbeatInterval: 0.5 } });
    await tsWorker.start();
    await startControlProjWorker(procs, { redis: REDIS, prefix, queue: pyQueue, node: pyNode, events: true });
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stopProcesses(procs);
    await tsWorker?.stop();
    await tsApp?.close();
    await h?.close();
    await deleteRedisKeys(REDIS, prefix);
  });

  it('lists both workers with their software, and shows the Python worker running a task sent from the page side', { timeout: 40_000 }, async () => {
    const context = await browser.newContext({ viewport: VIEWPORT, baseURL: base });
    try {
      const page = await context.newPage();
      await page.goto('/workers');
      await page.getByRole('heading', { level: 1, name: /^workers$/i }).waitFor();
      const py = page.locator(`[data-worker="${pyNode}"]`);
      const ts = page.locator(`[data-worker="${tsNode}"]`);
      await py.waitFor();
      await ts.waitFor();
      await expect.poll(() => py.textContent(), { timeout: 15_000 }).toContain('py-celery');
      await expect.poll(() => ts.textContent(), { timeout: 15_000 }).toContain('celerity');
      expect(await py.getAttribute('data-online')).toBe('true');
      expect(await ts.getAttribute('data-online')).toBe('true');
      await screenshot(page, 'workers-mixed');

      await page.goto('/tasks');
      await page.getByRole('heading', { level: 1, name: /^tasks$/i }).waitFor();
      const sent = await fetch(`${base}/api/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'control.add', args: [20, 22], options: { queue: pyQueue } }),
      });
      expect(sent.status).toBe(202);
      const { id } = (await sent.json()) as { id: string };
      const row = page.locator(`[data-task-id="${id}"]`);
      await row.waitFor({ timeout: 15_000 });
      await expect.poll(() => row.textContent(), { timeout: 15_000 }).toContain('SUCCESS');
      expect(await row.textContent()).toContain(pyNode);
    } finally {
      await context.close();
    }
  });
});

/**
 * The dashboard's tasks page under a stream of events (run on demand: `npm run build`, then
 * `npx tsx bench/dashboard-load.ts`): `celerity dashboard` on Redis in its own process, a second process publishing
 * worker task events at BENCH_EVENTS_PER_SEC (1,000 by default), and Debian's Chromium on /tasks for
 * BENCH_SECONDS (20). Prints the page's frame rate, its long tasks (main-thread work over 50 ms, which a user feels
 * as a freeze), how many table rows are in the DOM while thousands are loaded, the rows the page holds, and the
 * time from a filter typed in the search box to the table showing its result.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lineOf, startEventProducer } from './children.js';
import { chromium } from 'playwright-core';

const env = process.env;
const RATE = Number(env.BENCH_EVENTS_PER_SEC ?? 1000);
const SECONDS = Number(env.BENCH_SECONDS ?? 20);
const REDIS = env.BENCH_REDIS ?? 'redis://127.0.0.1:6379/9';
const benchDir = fileURLToPath(new URL('.', import.meta.url));
const root = path.dirname(benchDir);
const dir = mkdtempSync(path.join(os.tmpdir(), 'celerity-bench-dash-'));

const childEnv = {
  ...Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('CELERITY_'))),
  CELERITY_BROKER_URL: REDIS,
  CELERITY_RESULT_BACKEND: REDIS,
  CELERITY_HISTORY_URL: `sqlite://${path.join(dir, 'history.db')}`,
  CELERITY_LOGLEVEL: 'warn',
};
const server = spawn(process.execPath, [path.join(root, 'dist/cli/main.js'), 'dashboard', '--host', '127.0.0.1', '--port', '0'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
const base = (await lineOf(server, /(http:\/\/127\.0\.0\.1:\d+)/, 'celerity dashboard'))[1]!;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
await page.goto(`${base}/tasks`);
await page.getByRole('heading', { level: 1, name: /^tasks$/i }).waitFor();
// Frames and long tasks, counted by the page itself (a string: this file is type-checked without the DOM library).
await page.evaluate(`
  window.frames_ = 0;
  window.long_ = [];
  const tick = () => { window.frames_++; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  new PerformanceObserver((list) => list.getEntries().forEach((e) => window.long_.push(e.duration))).observe({ type: 'longtask' });
`);

const events = await startEventProducer(childEnv, REDIS, RATE);
const t0 = Date.now();
await new Promise((r) => setTimeout(r, SECONDS * 1000));
const measured = (await page.evaluate('({ frames: window.frames_, long: window.long_.slice() })')) as { frames: number; long: number[] };
const secs = (Date.now() - t0) / 1000;
const domRows = await page.locator('[data-task-id]').count();
const table = page.getByRole('table', { name: 'Tasks' });
const loaded = await table.getAttribute('aria-rowcount');
// How long a user waits for the table to answer a search while the stream goes on.
const search = page.getByRole('searchbox').first();
await search.fill('bench-no-such-task');
const s0 = Date.now();
await search.press('Enter');
// Only the header row is left once the filtered answer is shown.
await page.locator('[role="table"][aria-label="Tasks"][aria-rowcount="1"]').waitFor({ timeout: 10_000 });
const searchMs = Date.now() - s0;
const sent = await events.stop();
await browser.close();
server.kill('SIGTERM');
rmSync(dir, { recursive: true, force: true });

const long = measured.long.sort((a, b) => a - b);
process.stdout.write(
  [
    '',
    `Dashboard /tasks in Chromium while ${RATE} events/s flow, ${secs.toFixed(0)} s (2 cores shared by server, producer and browser)`,
    `frames: ${measured.frames} (${(measured.frames / secs).toFixed(1)}/s)`,
    `long tasks (> 50 ms): ${long.length}, total ${Math.round(long.reduce((a, b) => a + b, 0))} ms, longest ${Math.round(long.at(-1) ?? 0)} ms`,
    `table rows in the DOM: ${domRows}; rows the table holds (aria-rowcount): ${loaded ?? 'n/a'}`,
    `search typed -> table answered: ${searchMs} ms`,
    sent,
    '',
  ].join('\n'),
);
process.exit(0);

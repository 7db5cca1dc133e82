/**
 * `npm start`: two workers on the embedded store (./celerity.db, no server needed), one for media detection and
 * one for the crawl -> validate pipeline; this process feeds them work, shows progress as it happens and prints
 * the results at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { AsyncResult } from 'celerity';
import { app as crawler, cleanup, pipeline } from './crawl/tasks.js';
import { app as media, detectFaces, detectObjects } from './media/tasks.js';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

/** A small site on loopback for the crawler: two good pages, one without a title, one missing. */
async function startSite(): Promise<{ url: string; close(): void }> {
  const pages: Record<string, string> = {
    '/': '<html><head><title>Home</title></head><body>Welcome to the demo site. '.padEnd(200, '.') + '</body></html>',
    '/about': '<html><head><title>About</title></head><body>About this site, at some length. '.padEnd(200, '.') + '</body></html>',
    '/untitled': '<html><body>This page forgot its title element entirely. '.padEnd(200, '.') + '</body></html>',
  };
  const server = createServer((req, res) => {
    const body = pages[req.url ?? ''];
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/html' }).end(body ?? 'not found');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

function startWorker(module: string, queues: string, extra: string[] = []): ChildProcess {
  return spawn(process.execPath, [cli, 'worker', '-A', module, '-Q', queues, '-c', '4', '--loglevel', 'warn', ...extra], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

interface Tracked {
  label: string;
  result: AsyncResult<unknown>;
  line: string;
}

function describe(state: string, info: unknown): string {
  if (state === 'PROGRESS' && info && typeof info === 'object') {
    const { current, total } = info as { current: number; total: number };
    const width = 20;
    const filled = Math.round((current / total) * width);
    return `PROGRESS [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${current}/${total}`;
  }
  return state;
}

async function main(): Promise<void> {
  const started = new Date();
  const site = await startSite();
  const brokerForPurge = await media.broker();
  for (const q of ['face_detection', 'object_detection', 'crawl', 'validation', 'maintenance']) await brokerForPurge.purge(q);

  const workers = [
    startWorker('examples/media/tasks.ts', 'face_detection,object_detection'),
    // -B: this worker also runs a beat, which sends the app's periodic tasks (beatSchedule) when they are due.
    startWorker('examples/crawl/tasks.ts', 'crawl,validation,maintenance', ['-B']),
  ];

  const tracked: Tracked[] = [];
  const track = (label: string, result: AsyncResult<unknown>) => tracked.push({ label, result, line: '' });
  for (const f of ['beach.jpg', 'party.jpg', 'office.png', 'family.jpg']) track(`faces   ${f}`, await detectFaces.delay(`/photos/${f}`));
  for (const f of ['street.mp4', 'park.jpg']) track(`objects ${f}`, await detectObjects.delay(`/photos/${f}`));
  for (const p of ['/', '/about', '/untitled', '/missing']) track(`crawl|validate ${p}`, await pipeline(`${site.url}${p}`).applyAsync());
  track('cleanup (priority 1)', await cleanup.delay(30));
  console.log(`\nqueued ${tracked.length} tasks on ${media.conf.broker}; watching them run:\n`);

  const ready = new Set<Tracked>();
  while (ready.size < tracked.length) {
    for (const t of tracked) {
      if (ready.has(t)) continue;
      const meta = await t.result.meta();
      const state = meta?.status ?? 'PENDING';
      const line = describe(state, meta?.result);
      if (line !== t.line) {
        t.line = line;
        console.log(`  ${t.label.padEnd(26)} ${line}`);
      }
      if (['SUCCESS', 'FAILURE', 'REVOKED'].includes(state)) ready.add(t);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  // The periodic task: its first run, sent by the beat in the crawl worker.
  let periodic = await crawler.schedules.get('frequent-cleanup');
  while (!periodic?.lastTaskId || !periodic.lastRunAt || periodic.lastRunAt < started) {
    await new Promise((r) => setTimeout(r, 100));
    periodic = await crawler.schedules.get('frequent-cleanup');
  }
  const [next] = await crawler.schedules.next('nightly-cleanup', 1);
  console.log(`\nperiodic: frequent-cleanup (every 2 s) last ran ${periodic.lastRunAt?.toISOString()}; nightly-cleanup next at ${next?.toISOString()}`);
  console.log(`  ${'frequent-cleanup'.padEnd(26)} ${JSON.stringify(await crawler.asyncResult(periodic.lastTaskId).get({ timeout: 10_000 }))}`);

  console.log('\nresults:\n');
  for (const t of tracked) {
    const value = await t.result.get({ propagate: false, timeout: 10_000 });
    const shown: unknown = value instanceof Error ? `${value.name}: ${value.message}` : value;
    console.log(`  ${t.label.padEnd(26)} ${JSON.stringify(shown)}`);
  }

  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => (w.exitCode === null ? once(w, 'exit') : undefined)));
  site.close();
  await Promise.all([media.close(), crawler.close()]);
  console.log('\ndone. Results stay queryable: sqlite3 celerity.db "select task_id, name, status from celery_results"');
}

await main();

/**
 * Memory of a monitor writing a large task history (run on demand: `npx tsx bench/history-rss.ts`): feeds
 * BENCH_HISTORY_TASKS (default 1,000,000) tasks' events (task-received, task-started, task-succeeded: three per
 * task) through a real Monitor's event path (`handleEvent`, what its receiver calls) into a SQLite history file,
 * and prints RSS and heap every 100,000 tasks and at the end, with the write rate and the updates dropped.
 *
 * Events are fed as fast as the recorder keeps up: when its buffer passes BENCH_HISTORY_HIGH_WATER (default
 * 20,000 updates) the feeder waits for a flush, so the figures show the monitor's own memory at its bounded
 * buffer rather than a pile of events waiting in this script. The monitor runs on an embedded SQLite broker of
 * its own (nothing else sends events there); the reconciler and retention run as in production.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ReceivedEvent } from '../src/control/event-receiver.js';
import { SqliteHistoryStore } from '../src/history/sqlite.js';
import { Monitor } from '../src/monitor/monitor.js';
import { Celerity } from '../src/index.js';

const TASKS = Number(process.env.BENCH_HISTORY_TASKS ?? 1_000_000);
const REPORT_EVERY = 100_000;
const HIGH_WATER = Number(process.env.BENCH_HISTORY_HIGH_WATER ?? 20_000);
const CHUNK = 1_000;

const dir = mkdtempSync(path.join(os.tmpdir(), 'celerity-history-bench-'));
const brokerUrl = `sqlite://${path.join(dir, 'broker.db')}`;
const historyPath = path.join(dir, 'history.db');

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function memoryLine(label: string, started: number, monitor: Monitor): string {
  const m = process.memoryUsage();
  const secs = (performance.now() - started) / 1000;
  return [
    label.padEnd(16),
    `rss ${mb(m.rss).padStart(9)}`,
    `heapUsed ${mb(m.heapUsed).padStart(9)}`,
    `heapTotal ${mb(m.heapTotal).padStart(9)}`,
    `external ${mb(m.external).padStart(8)}`,
    `pending ${String(monitor.recorder.pending).padStart(6)}`,
    `dropped ${monitor.dropped}`,
    `${secs.toFixed(1)} s`,
  ].join('  ');
}

const HOST = 'celery@bench';
const T0 = Date.now() / 1000 - TASKS / 1000;

function event(type: string, id: string, at: number, fields: Record<string, unknown>): ReceivedEvent {
  return { hostname: HOST, utcoffset: 0, pid: 4242, clock: 1, ...fields, uuid: id, timestamp: at, type, local_received: at } as ReceivedEvent;
}

async function main(): Promise<void> {
  const app = new Celerity('history-bench', { broker: brokerUrl, backend: brokerUrl, loglevel: 'warn', logFormat: 'json' }, {});
  const history = new SqliteHistoryStore({ path: historyPath });
  const monitor = await Monitor.start(app, { history, enableEvents: false, retention: { maxTasks: TASKS * 2 } });
  const started = performance.now();
  console.log(`feeding ${TASKS.toLocaleString('en')} tasks (${(TASKS * 3).toLocaleString('en')} events) into ${historyPath}`);
  console.log(memoryLine('start', started, monitor));
  for (let i = 0; i < TASKS; i += CHUNK) {
    const end = Math.min(TASKS, i + CHUNK);
    for (let n = i; n < end; n++) {
      const id = `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
      const at = T0 + n / 1000;
      monitor.handleEvent(event('task-received', id, at, {
        name: 'bench.resize', args: `('img-${n}.png', 400)`, kwargs: "{'quality': 0.8}", root_id: id, parent_id: null, retries: 0, eta: null, expires: null,
      }));
      monitor.handleEvent(event('task-started', id, at + 0.0001, {}));
      monitor.handleEvent(event('task-succeeded', id, at + 0.0005, { result: `'img-${n}-400.png'`, runtime: 0.0004 }));
    }
    if (monitor.recorder.pending > HIGH_WATER) await monitor.flush();
    else await new Promise((r) => setImmediate(r));
    if (end % REPORT_EVERY === 0) console.log(memoryLine(`${end.toLocaleString('en')} tasks`, started, monitor));
  }
  await monitor.flush();
  const secs = (performance.now() - started) / 1000;
  console.log(memoryLine('end (flushed)', started, monitor));
  const count = await history.count({});
  console.log(
    `history: ${count.toLocaleString('en')} tasks, file ${mb(statSync(historyPath).size)}; ` +
      `${Math.round((TASKS * 3) / secs).toLocaleString('en')} events/s written; dropped ${monitor.dropped}`,
  );
  await monitor.close();
  await history.close();
  await app.close();
  if (global.gc) {
    global.gc();
    console.log(memoryLine('closed, after gc', started, monitor));
  }
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => rmSync(dir, { recursive: true, force: true }));

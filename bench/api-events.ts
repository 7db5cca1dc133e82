/**
 * The event stream of the API load benchmark, run as its own process so it never shares an event loop with the
 * server or the load generator: a worker's task events (received, started, succeeded: three per task) published on
 * Redis at BENCH_EVENTS_PER_SEC, in 10 ms ticks, until SIGTERM; prints how many it sent when it stops.
 */
import { randomUUID } from 'node:crypto';
import { EventDispatcher } from '../src/control/event-dispatcher.js';

const url = process.env.BENCH_REDIS ?? 'redis://127.0.0.1:6379/9';
const rate = Number(process.env.BENCH_EVENTS_PER_SEC ?? 1000);
let sent = 0;
const dispatcher = new EventDispatcher({ url, hostname: 'celerity@bench-events', bufferGroups: ['task'], heartbeat: { interval: 2, state: () => ({ active: 0, processed: sent / 3 }) } });
await dispatcher.start();


const started = performance.now();
const names = ['reports.generate', 'media.thumbnail', 'crawl.fetch', 'validation.check'];
let stopping = false;

async function tick(): Promise<void> {
  // Catch up to the rate from the start, so a slow tick is made good by the next rather than lost.
  const due = Math.floor(((performance.now() - started) / 1000) * rate);
  const sends: Promise<void>[] = [];
  while (sent + 3 <= due) {
    const uuid = randomUUID();
    const name = names[sent % names.length]!;
    sends.push(dispatcher.send('task-received', { uuid, name, args: "('c-42', 3)", kwargs: '{}', root_id: uuid, parent_id: null, retries: 0, eta: null, expires: null }));
    sends.push(dispatcher.send('task-started', { uuid }));
    sends.push(dispatcher.send('task-succeeded', { uuid, result: "{'ok': True}", runtime: 0.012 }));
    sent += 3;
  }
  await Promise.all(sends);
}

const timer = setInterval(() => void tick(), 10);
process.stdout.write('events: started\n');
process.once('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  void dispatcher.close().then(() => {
    const secs = (performance.now() - started) / 1000;
    process.stdout.write(`events: sent ${sent} in ${secs.toFixed(1)} s (${Math.round(sent / secs)}/s)\n`);
    process.exit(0);
  });
});

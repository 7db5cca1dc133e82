/**
 * `sendSentEvent` (Celery's task_send_sent_event): each send is announced with a task-sent event in Celery's
 * shape, on the embedded store's mailbox and on Redis, and nothing is announced with it off.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { EventReceiver, type ReceivedEvent } from '../../src/control/index.js';
import { tempDir } from '../helpers.js';
import { pingRedis, requireService } from '../services.js';

const REDIS = 'redis://127.0.0.1:6379/6';
const redis = await requireService('Redis', () => pingRedis(REDIS));
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function setUp(url: string) {
  const received: ReceivedEvent[] = [];
  const waiters: { id: string; resolve: (e: ReceivedEvent) => void }[] = [];
  const receiver = new EventReceiver({ url, routingKey: 'task.#', wakeup: false });
  receiver.on((e) => {
    if (e.type !== 'task-sent') return;
    received.push(e);
    for (const w of waiters.filter((w) => w.id === e.uuid)) w.resolve(e);
  });
  await receiver.start();
  closers.push(() => receiver.close());
  const app = (sendSentEvent: boolean) => {
    const a = new Celerity('sent', { broker: url, backend: url, loglevel: 'silent', sendSentEvent, taskRoutes: { 'sent.routed': 'crawl' } }, {});
    closers.push(() => a.close());
    return a;
  };
  const sentEvent = (id: string) =>
    new Promise<ReceivedEvent>((resolve) => {
      const seen = received.find((e) => e.uuid === id);
      if (seen) resolve(seen);
      else waiters.push({ id, resolve });
    });
  return { app, received, sentEvent };
}

const cases = [
  { label: 'SQLite', ok: true, reason: '', url: () => { const t = tempDir(); closers.push(() => t.cleanup()); return `sqlite://${path.join(t.dir, 'c.db')}`; } },
  { label: 'Redis', ok: redis.ok, reason: redis.reason, url: () => REDIS },
];

describe.each(cases)('task-sent events on $label', ({ ok, reason, url }) => {
  it.skipIf(!ok)(`announces each send with the task's queue and arguments${ok ? '' : ` (${reason})`}`, async () => {
    const { app, received, sentEvent } = await setUp(url());
    const quiet = await app(false).sendTask('sent.routed', [1]);
    const loud = app(true);
    const r = await loud.sendTask('sent.routed', ['https://example.org', 2], { kwargs: { depth: 3 }, countdown: 60, expires: 3600 });
    const event = await sentEvent(r.id);
    expect(event).toMatchObject({
      type: 'task-sent',
      uuid: r.id,
      root_id: r.id,
      parent_id: null,
      name: 'sent.routed',
      args: "('https://example.org', 2)",
      kwargs: "{'depth': 3}",
      retries: 0,
      queue: 'crawl',
      routing_key: 'crawl',
    });
    expect(event.hostname).toMatch(/^gen\d+@/);
    expect(Date.parse(event.eta as string)).toBeGreaterThan(Date.now() + 50_000);
    expect(event.expires).toEqual(expect.any(String));
    // Canvas sends go through the same announcement.
    const c = await loud.signature('sent.other', [5]).applyAsync();
    expect((await sentEvent(c.id)).name).toBe('sent.other');
    // The task sent with the setting off was sent first and never announced.
    expect(received.some((e) => e.uuid === quiet.id)).toBe(false);
  });
});

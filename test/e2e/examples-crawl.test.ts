/**
 * examples/crawl as its README runs it: one `celerity worker -B` on one SQLite file consuming the crawl, validation
 * and maintenance queues. crawl | validate chains against a site on loopback give a verdict per page with the
 * crawl's page as the chain's parent; the beat in the worker sends the frequent cleanup, whose result is stored,
 * and the nightly one is due at 2 AM.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Celerity, chain } from '../../src/index.js';
import { app } from '../../examples/crawl/tasks.js';
import { until } from '../helpers.js';
import { useSqliteCli } from './sqlite-cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tasks = path.join(root, 'examples/crawl/tasks.ts');
const fresh = useSqliteCli(tasks);

const pages: Record<string, string> = {
  '/': `<html><head><title>Home</title></head><body>${'Welcome. '.repeat(20)}</body></html>`,
  '/untitled': `<html><body>${'No title here. '.repeat(20)}</body></html>`,
};
let site: Server;
let base: string;
beforeAll(async () => {
  site = createServer((req, res) => {
    const body = pages[req.url ?? ''];
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/html' }).end(body ?? 'not found');
  });
  site.listen(0, '127.0.0.1');
  await once(site, 'listening');
  base = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => site.close(() => r())));

describe('examples/crawl', () => {
  it('routes crawl 9 / validation 5 / maintenance 1', () => {
    expect(app.conf.taskRoutes).toEqual({
      'crawl.*': { queue: 'crawl', priority: 9 },
      'validation.*': { queue: 'validation', priority: 5 },
      'maintenance.*': { queue: 'maintenance', priority: 1 },
    });
  });

  it('runs crawl | validate chains and the beat schedule in one worker -B', { timeout: 60_000 }, async () => {
    const s = fresh();
    const started = new Date();
    await s.worker('crawl', ['-Q', 'crawl,validation,maintenance', '-B', '-c', '4']);
    const client = new Celerity('producer', { broker: s.url, backend: s.url, loglevel: 'silent', taskRoutes: app.conf.taskRoutes }, {});
    try {
      const verdicts = await Promise.all(
        ['/', '/untitled', '/missing'].map((p) => chain(client.signature('crawl.fetch', [`${base}${p}`]), client.signature('validation.check', [])).applyAsync()),
      );
      expect(await verdicts[0]!.get({ timeout: 20_000 })).toEqual({ url: `${base}/`, valid: true, problems: [] });
      expect(await verdicts[1]!.get({ timeout: 20_000 })).toEqual({ url: `${base}/untitled`, valid: false, problems: ['missing <title>'] });
      expect(await verdicts[2]!.get({ timeout: 20_000 })).toEqual({ url: `${base}/missing`, valid: false, problems: ['status 404', 'missing <title>', 'suspiciously small'] });
      expect(await verdicts[0]!.parent!.get({ timeout: 20_000 })).toEqual({ url: `${base}/`, status: 200, bytes: pages['/']!.length, title: 'Home' });

      // The beat inside the worker: the every-2-s entry is sent and run on the maintenance queue.
      await until(async () => {
        const entry = await client.schedules.get('frequent-cleanup');
        return Boolean(entry?.lastTaskId && entry.lastRunAt && entry.lastRunAt >= started);
      }, 20_000);
      const entry = (await client.schedules.get('frequent-cleanup'))!;
      expect(await client.asyncResult(entry.lastTaskId!).get({ timeout: 20_000 })).toEqual({ removed: 0, olderThanDays: 1 });

      const next = s.cel(['schedule', 'next', 'nightly-cleanup', '-n', '2']);
      expect(next.code).toBe(0);
      const times = next.stdout.trim().split('\n');
      expect(times).toHaveLength(2);
      for (const t of times) expect(new Date(t).getUTCHours()).toBe(2);
    } finally {
      await client.close();
    }
  });
});

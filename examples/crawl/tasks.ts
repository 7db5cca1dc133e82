/**
 * A crawl -> validate pipeline with priority queues: crawling at priority 9, validation at 5, maintenance at 1.
 * On the embedded store a higher number is served first. `pipeline(url)` is the chain `crawl | validate`: the
 * worker that fetched the page sends the validation with the page as its argument.
 */
import { Celerity, chain, crontab } from 'celerity';

export const app = new Celerity('crawler', {
  taskRoutes: {
    'crawl.*': { queue: 'crawl', priority: 9 },
    'validation.*': { queue: 'validation', priority: 5 },
    'maintenance.*': { queue: 'maintenance', priority: 1 },
  },
  // Periodic tasks, sent by a beat (`celerity beat`, or `celerity worker -B` as the demo runs it): the nightly
  // cleanup at 2 AM, and a frequent one so the demo shows one firing.
  beatSchedule: {
    'nightly-cleanup': { task: 'maintenance.cleanup', schedule: crontab({ hour: 2, minute: 0 }), args: [30] },
    'frequent-cleanup': { task: 'maintenance.cleanup', schedule: { every: 2 }, args: [1] },
  },
});

class TransientFetchError extends Error {
  override name = 'TransientFetchError';
}

export const validate = app.task(
  'validation.check',
  async (page: { url: string; status: number; bytes: number; title: string | null }) => {
    const problems: string[] = [];
    if (page.status !== 200) problems.push(`status ${page.status}`);
    if (!page.title) problems.push('missing <title>');
    if (page.bytes < 64) problems.push('suspiciously small');
    return { url: page.url, valid: problems.length === 0, problems };
  },
  { params: ['page'] },
);

export const crawl = app.task(
  'crawl.fetch',
  async function (url: string) {
    let res: Response;
    try {
      res = await fetch(url, { signal: this.signal });
    } catch (err) {
      throw new TransientFetchError(`fetch ${url} failed: ${(err as Error).message}`);
    }
    const html = await res.text();
    const title = /<title>([^<]*)<\/title>/i.exec(html)?.[1] ?? null;
    return { url, status: res.status, bytes: html.length, title };
  },
  { params: ['url'], autoretryFor: [TransientFetchError], maxRetries: 5, retryBackoff: 2, retryBackoffMax: 60 },
);

/** crawl | validate: resolves to the validation verdict; its `parent` is the crawl's result. */
export const pipeline = (url: string) => chain(crawl.s(url), validate.s());

export const cleanup = app.task('maintenance.cleanup', async (olderThanDays: number) => {
  return { removed: 0, olderThanDays };
});

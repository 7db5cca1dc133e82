/**
 * The tasks behind the HTTP service in ./server.ts: a report that takes a while and says how far it got
 * (PROGRESS with current/total), and a thumbnail job that retries with backoff when its source is not ready yet.
 * Run the worker with `npx celerity worker -A examples/http/tasks.ts`.
 */
import { Celerity } from 'celerity';

export const app = new Celerity('http-example', {
  taskRoutes: { 'reports.*': { queue: 'reports' } },
  // The queue the service's tasks go to when no route names one; the worker below consumes both.
  queues: ['celery', 'reports'],
});

export const generateReport = app.task(
  'reports.generate',
  async function (customerId: string, months: number = 3) {
    for (let current = 1; current <= months; current++) {
      if (this.signal.aborted) throw this.signal.reason;
      await new Promise((r) => setTimeout(r, 100));
      await this.updateState('PROGRESS', { current, total: months });
    }
    return { customerId, months, total: months * 1250.5 };
  },
  { params: ['customerId', 'months'] },
);

class NotReadyError extends Error {
  override name = 'NotReadyError';
}

export const thumbnail = app.task(
  'media.thumbnail',
  async function (url: string) {
    if (!/^https?:\/\//.test(url)) throw new TypeError(`not an http(s) URL: ${url}`);
    // A source that is still uploading: try again later rather than fail.
    if (url.endsWith('.partial')) throw new NotReadyError(`${url} is still uploading`);
    return { url, thumbnail: `${url}.thumb.jpg` };
  },
  { params: ['url'], autoretryFor: [NotReadyError], maxRetries: 5, retryBackoff: true },
);

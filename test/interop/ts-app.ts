/** TypeScript side of the interop tests: tasks a Python producer calls by name. */
import { Redis } from 'ioredis';
import { Celerity } from 'celerity';

export const app = new Celerity('interop', {
  broker: process.env.INTEROP_BROKER,
  backend: process.env.INTEROP_BACKEND,
  defaultQueue: process.env.INTEROP_QUEUE ?? 'celery',
  loglevel: 'warn',
});

class ValidationError extends Error {
  override name = 'ValidationError';
}

export const add = app.task('ts.add', (x: number, y: number) => x + y, { params: ['x', 'y'] });

export const echo = app.task(
  'ts.echo',
  function (...args: unknown[]) {
    return { args, kwargs: this.kwargs };
  },
  { varKwargs: true },
);

export const fail = app.task('ts.fail', (message: string) => {
  throw new ValidationError(message);
});

export const retryOnce = app.task('ts.retry_once', function (x: number) {
  if (this.retries < 1) this.retry({ countdown: 0.1 });
  return { x, retries: this.retries };
});

const ledger = process.env.INTEROP_LEDGER ? new Redis(process.env.INTEROP_BROKER ?? 'redis://127.0.0.1:6379/0') : undefined;

export const record = app.task('mixed.record', async function (n: number) {
  await ledger?.rpush(process.env.INTEROP_LEDGER!, this.id);
  return { n, by: 'ts' };
});

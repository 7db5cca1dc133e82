/** TypeScript side of the node interop tests: a worker that `celery inspect` and `celery control` talk to. */
import { Celerity } from 'celerity';

export const app = new Celerity('node-interop', { defaultQueue: process.env.NODE_QUEUE ?? 'celery' });

export const add = app.task('node.add', (x: number, y: number) => x + y, { params: ['x', 'y'] });

/** Runs long enough for `inspect active` to see it, unless terminated. */
export const sleep = app.task('node.sleep', async function (ms: number) {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    this.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(this.signal.reason as Error);
    });
  });
  return ms;
});

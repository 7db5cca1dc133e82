/**
 * Shared by the workers, queues and dead-letters API tests: Redis key cleanup for a test's own key prefix, and
 * waiting for the monitor to see a worker.
 */
import type { MonitorView } from '../../src/monitor/types.js';

/** Deletes the keys under `prefix` at `url`, and only those. */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const r = new Redis(url, { lazyConnect: true });
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await r.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/** Resolves once the monitor lists `hostname` (after its first worker event), rejects after 10 s. */
export function seenBy(monitor: MonitorView, hostname: string): Promise<void> {
  if (monitor.worker(hostname)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`the monitor did not see ${hostname} within 10 s`));
    }, 10_000);
    const stop = monitor.onEvent(() => {
      if (!monitor.worker(hostname)) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}

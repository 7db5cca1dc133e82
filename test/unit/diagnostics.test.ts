/** What a worker reports about itself: Celery's conf table names, masked URLs, humanbytes, memdump text. */
import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/app/config.js';
import { bugReport, confTable, humanBytes, MemorySamples } from '../../src/worker/diagnostics.js';

describe('worker diagnostics', () => {
  const conf = compileConfig({ code: { broker: 'redis://:s3cret@cache:6379/2', concurrency: 3, visibilityTimeout: 60 }, env: {} });

  it('lists changed settings by Celery name, nested where Celery nests them, without passwords', () => {
    const table = confTable(conf, false);
    expect(table).toMatchObject({
      broker_url: 'redis://:***@cache:6379/2',
      worker_concurrency: 3,
      broker_transport_options: { visibility_timeout: 60 },
    });
    expect(table).not.toHaveProperty('task_default_queue');
    expect(JSON.stringify(table)).not.toContain('s3cret');
    expect(confTable(conf, true)).toMatchObject({ task_default_queue: 'celery', eta_park_threshold: expect.any(Number) });
  });

  it("writes sizes as Celery's humanbytes and dumps samples as memdump does", () => {
    expect(humanBytes(512)).toBe('512b');
    expect(humanBytes(1536)).toBe('1.5KB');
    expect(humanBytes(54_892_134)).toBe('52.349MB');
    expect(humanBytes(3 * 2 ** 30)).toBe('3GB');
    const mem = new MemorySamples();
    const first = mem.sample();
    expect(first).toMatch(/^\d+(\.\d+)?MB$/);
    const dump = mem.dump();
    expect(dump).toContain(`- rss (sample):\n-    > ${first},\n- rss (end): `);
    expect(mem.dump()).not.toContain('rss (sample)');
    expect(bugReport(conf, 'proj')).toContain('settings -> transport:redis results:sqlite');
  });
});

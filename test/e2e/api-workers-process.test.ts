/**
 * The workers API with a `celerity worker` process on the embedded SQLite store, as deployed: the API sees the
 * process by its heartbeats (its own pid), shows its registered tasks, resizes its pool with `-P threads` (the
 * children follow), and a shutdown through the API ends the process.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startApiHarness } from '../api-harness.js';
import { seenBy } from './api-ops-fixtures.js';
import { useSqliteCli } from './sqlite-cli.js';
import { exited } from './worker-process.js';

const fixture = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'test/fixtures/app.ts');
const store = useSqliteCli(fixture);

describe('workers API with a celerity worker process', () => {
  it('lists, describes, grows and shuts down the process', async () => {
    const s = store();
    const { proc, node } = await s.worker('api', ['-P', 'threads', '-c', '2']);
    const h = await startApiHarness({ broker: s.url });
    try {
      await seenBy(h.monitor, node);
      const listed = (await h.api.inject({ method: 'GET', url: '/api/v1/workers' })).json().workers;
      expect(listed).toEqual([expect.objectContaining({ name: node, online: true, pid: proc.pid, swIdent: 'celerity' })]);

      const url = `/api/v1/workers/${encodeURIComponent(node)}`;
      const detail = (await h.api.inject({ method: 'GET', url: `${url}?timeout=5` })).json();
      expect(detail.registered).toEqual(['fixtures.add', 'fixtures.fail', 'fixtures.sleep']);
      expect(detail).toMatchObject({ concurrency: 2, pool: { implementation: 'celerity:threads' }, queues: ['celery'] });
      expect(detail.pool.processes).toHaveLength(2);

      const grow = await h.api.inject({ method: 'POST', url: `${url}/pool/grow?timeout=5`, payload: { n: 1 } });
      expect(grow.json()).toEqual({ worker: node, ok: 'pool will grow' });
      expect((await h.api.inject({ method: 'GET', url: `${url}?timeout=5` })).json().concurrency).toBe(3);

      const shutdown = await h.api.inject({ method: 'POST', url: `${url}/shutdown?timeout=5` });
      expect(shutdown.statusCode).toBe(202);
      expect(await exited(proc)).toBe(0);
    } finally {
      await h.close();
    }
  });
});

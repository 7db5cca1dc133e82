/**
 * `celerity status`, `celerity queues` and `celerity forget` on the embedded SQLite store, with no server at all:
 * `celerity worker` processes and the CLI share one file.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useSqliteCli } from './sqlite-cli.js';

const fixture = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'test/fixtures/app.ts');
const store = useSqliteCli(fixture);

describe('celerity status / queues / forget on the embedded SQLite store', () => {
  it('status lists every worker online; with none it exits 69', async () => {
    const s = store();
    expect(s.cel(['status', '-t', '0.3'])).toMatchObject({ code: 69, stderr: 'celerity: error: No nodes replied within time constraint\n' });
    const [a, b] = await Promise.all([s.worker('a'), s.worker('b', ['-Q', 'other'])]);
    const status = s.cel(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`->  ${a.node}: OK\n`);
    expect(status.stdout).toContain(`->  ${b.node}: OK\n`);
    expect(status.stdout).not.toContain('pong');
    expect(status.stdout.endsWith('\n2 nodes online.\n')).toBe(true);
  });

  it('queues shows the waiting messages of a queue and the workers consuming it', async () => {
    const s = store();
    const app = s.client();
    for (let i = 0; i < 3; i++) await app.sendTask('fixtures.add', [i, i], { queue: 'waiting' });
    await s.worker('q', ['-Q', 'busy']);
    const table = s.cel(['queues', '-Q', 'waiting,busy']);
    expect(table.code).toBe(0);
    const rows = table.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
    expect(rows).toEqual([
      ['queue', 'messages', 'consumers'],
      ['waiting', '3', '0'],
      ['busy', '0', '1'],
    ]);
    const json = JSON.parse(s.cel(['queues', '-Q', 'waiting,busy', '--json']).stdout) as unknown;
    expect(json).toEqual([
      { queue: 'waiting', messages: 3, consumers: 0 },
      { queue: 'busy', messages: 0, consumers: 1 },
    ]);
    // By default: the default queue (and any configured or routed one).
    expect(s.cel(['queues', '--json', '-t', '0.3']).stdout).toContain('"queue":"celery"');
  });

  it('forget deletes a stored result: the task reads PENDING again', async () => {
    const s = store();
    await s.worker('f');
    const r = await s.client().sendTask('fixtures.add', [2, 3]);
    expect(await r.get({ timeout: 20_000 })).toBe(5);
    expect(s.cel(['result', r.id])).toMatchObject({ code: 0, stdout: '5\n' });
    expect(s.cel(['forget', r.id])).toMatchObject({ code: 0, stdout: `${r.id}: forgotten\n` });
    expect(s.cel(['result', r.id])).toMatchObject({ code: 3, stdout: 'PENDING\n' });
  });
});

/**
 * `celerity inspect`, `celerity control` and `celerity events` on the embedded SQLite store, with no server at all:
 * `celerity worker` processes and the CLI share one file, as a new user's first setup does.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ReceivedEvent } from '../../src/index.js';
import { useSqliteCli } from './sqlite-cli.js';
import { exited, watchCli } from './worker-process.js';

const fixture = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'test/fixtures/app.ts');
const store = useSqliteCli(fixture);

describe('celerity inspect / control / events on the embedded SQLite store', () => {
  it('inspect and control reach every worker on the file; shutdown ends one', async () => {
    const s = store();
    // b consumes another queue: the long task below runs on a, so b's warm shutdown has nothing to wait for.
    const [a, b] = await Promise.all([s.worker('a', ['-c', '2']), s.worker('b', ['-c', '1', '-Q', 'other'])]);
    const ping = s.cel(['inspect', 'ping']);
    expect(ping.code).toBe(0);
    expect(ping.stdout).toContain(`->  ${a.node}: OK\n        pong\n`);
    expect(ping.stdout).toContain(`->  ${b.node}: OK\n        pong\n`);
    expect(ping.stdout).toContain('2 nodes online.');
    expect(s.cel(['inspect', 'registered', '-d', a.node]).stdout).toBe(`->  ${a.node}: OK\n    * fixtures.add\n    * fixtures.fail\n    * fixtures.sleep\n\n1 node online.\n`);
    const stats = JSON.parse(s.cel(['inspect', 'stats', '--json']).stdout) as Record<string, { pool: { 'max-concurrency': number }; broker: unknown }>;
    expect(stats[a.node]!.pool['max-concurrency']).toBe(2);
    expect(stats[a.node]!.broker).toMatchObject({ transport: 'sqlite' });
    expect(stats[b.node]!.pool['max-concurrency']).toBe(1);
    expect(s.cel(['control', 'rate_limit', 'fixtures.add', '10/s', '-d', b.node]).stdout).toBe(`->  ${b.node}: OK\n        new rate limit set successfully\n`);
    expect(s.cel(['inspect', 'registered', '-d', b.node]).stdout).toContain('fixtures.add [rate_limit=10/s]');

    const sleeper = await s.client().sendTask('fixtures.sleep', [60_000, 'long']);
    await new Promise<void>((resolve) => {
      const check = () => (a.lines.some((l) => l.includes(sleeper.id) && l.includes('received')) ? resolve() : setTimeout(check, 20));
      check();
    });
    const active = JSON.parse(s.cel(['inspect', 'active', '--json']).stdout) as Record<string, { id: string }[]>;
    expect(active[a.node]!.map((t) => t.id)).toEqual([sleeper.id]);
    expect(active[b.node]).toEqual([]);

    expect(s.cel(['control', 'shutdown', '-d', b.node])).toMatchObject({ code: 0, stdout: `->  ${b.node}: OK\n        shutdown requested\n` });
    expect(await exited(b.proc)).toBe(0);
    const after = s.cel(['inspect', 'ping', '-t', '0.5']);
    expect(after.stdout).toContain(a.node);
    expect(after.stdout).not.toContain(b.node);
  });

  it('every other inspect method and control verb answers on the file', async () => {
    const s = store();
    const { node } = await s.worker('verbs', ['-c', '2']);
    const json = (args: string[]) => (JSON.parse(s.cel([...args, '--json', '-d', node]).stdout) as Record<string, unknown>)[node];
    expect(s.cel(['control', 'revoke', 'gone-1']).stdout).toContain('revoked in the broker');
    // Stored revocations reach the node's revoked set (inspect revoked, mingle, statedb) within its next read.
    await new Promise<void>((resolve) => {
      const check = () => ((json(['inspect', 'revoked']) as string[]).includes('gone-1') ? resolve() : setTimeout(check, 50));
      check();
    });
    expect(json(['inspect', 'query_task', 'nope'])).toEqual({});
    expect(json(['inspect', 'reserved'])).toEqual([]);
    expect(json(['inspect', 'scheduled'])).toEqual([]);
    expect(json(['inspect', 'clock'])).toMatchObject({ clock: expect.any(Number) });
    expect(s.cel(['control', 'time_limit', 'fixtures.add', '5', '10', '-d', node]).stdout).toContain('time limits set successfully');
    expect(s.cel(['control', 'add_consumer', 'extra', '-d', node]).stdout).toContain('add consumer extra');
    expect((json(['inspect', 'active_queues']) as { name: string }[]).map((q) => q.name)).toEqual(['celery', 'extra']);
    expect(s.cel(['control', 'cancel_consumer', 'extra', '-d', node]).stdout).toContain('no longer consuming from extra');
    expect(s.cel(['control', 'pool_grow', '2', '-d', node]).stdout).toContain('pool will grow');
    expect(s.cel(['control', 'pool_shrink', '1', '-d', node]).stdout).toContain('pool will shrink');
    expect(json(['inspect', 'stats'])).toMatchObject({ pool: { 'max-concurrency': 3 } });
    expect(s.cel(['control', 'enable_events', '-d', node]).stdout).toContain('task events enabled');
    expect(s.cel(['control', 'disable_events', '-d', node]).stdout).toContain('task events disabled');
    expect(s.cel(['control', 'autoscale', '4', '2', '-d', node]).stdout).toContain("ValueError('Autoscale not enabled')");
    expect(s.cel(['control', 'pool_restart', '-d', node]).stdout).toContain("ValueError('Pool restarts not enabled')");
    expect(json(['inspect', 'conf'])).toMatchObject({ broker_url: expect.stringMatching(/^sqlite:\/\//) });
    expect(s.cel(['inspect', 'report', '-d', node]).stdout).toContain('settings -> transport:sqlite results:sqlite');
    expect(json(['inspect', 'memsample'])).toMatch(/^\d+(\.\d+)?MB$/);
    expect(json(['inspect', 'memdump'])).toContain('- rss (sample):');
  });

  it('events: worker and task events from a worker on the file; no node: exit 69', async () => {
    const s = store();
    expect(s.cel(['inspect', 'ping', '-t', '0.3'])).toMatchObject({ code: 69, stderr: 'celerity: error: No nodes replied within time constraint\n' });
    const { node } = await s.worker('events', ['-E']);
    const view = watchCli(['events', '--json'], s.env, s.track);
    // The view asks the workers for a heartbeat once it listens.
    await view.next((l) => l.includes('"worker-heartbeat"') && l.includes(node));
    const r = await s.client().sendTask('fixtures.add', [2, 3]);
    expect(await r.get({ timeout: 20_000 })).toBe(5);
    const succeeded = JSON.parse(await view.next((l) => l.includes('"task-succeeded"') && l.includes(r.id))) as ReceivedEvent;
    expect(succeeded).toMatchObject({ type: 'task-succeeded', hostname: node, uuid: r.id, result: '5' });
    view.proc.kill('SIGINT');
    expect(await exited(view.proc)).toBe(0);
  });
});

/**
 * The built `celerity tasks list` (dist/cli/main.js)
 * over a SQLite task history filled through the store: filters, the table and JSON, the messages for a history that
 * was never fed or is empty, and flag errors that name the flag.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSince } from '../../src/cli/tasks.js';
import { openHistoryStore } from '../../src/history/open.js';
import type { TaskRecord } from '../../src/history/port.js';
import { tempDir } from '../helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = path.join(root, 'dist', 'cli');
const tmp = tempDir('celerity-cli-tasks-');
const dbFile = path.join(tmp.dir, 'celerity.db');
const db = `sqlite://${dbFile}`;
const entry = path.join(root, 'dist/cli/main.js');
afterAll(() => tmp.cleanup());


interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function celerity(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [entry, ...args], { cwd: tmp.dir, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const now = Date.now();
const MIN = 60_000;
const tasks = [
  { id: 'a-recent-failure', name: 'media.encode', state: 'FAILURE', worker: 'celery@w1', queue: 'media', at: now - 10 * MIN, runtime: 1.5 },
  { id: 'b-old-failure', name: 'media.encode', state: 'FAILURE', worker: 'celery@w2', queue: 'media', at: now - 120 * MIN, runtime: 0.25 },
  { id: 'c-success', name: 'mail.send', state: 'SUCCESS', worker: 'celery@w1', queue: 'celery', at: now - 5 * MIN, runtime: 0.01 },
  { id: 'd-started', name: 'media.thumbnail', state: 'STARTED', worker: 'celery@w2', queue: 'media', at: now - 2 * MIN, runtime: null },
  { id: 'e-failure', name: 'mail.send', state: 'FAILURE', worker: 'celery@w2', queue: 'celery', at: now - 20 * MIN, runtime: 3 },
];

/** Table rows (without the header) as [id, name, state, worker] cells. */
function rows(stdout: string): string[][] {
  return stdout.trim().split('\n').slice(1).map((l) => l.split(/\s{2,}/).slice(0, 4));
}

describe('celerity tasks list', () => {
  it('built: dist/cli/tasks.js exists (npm run build)', () => {
    expect(existsSync(path.join(dist, 'tasks.js'))).toBe(true);
  });

  it('says the history was never fed, without creating the file', async () => {
    const run = await celerity('tasks', 'list', '--backend', db);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(`No task history at ${db}: monitors fill it while they run (celerity api, celerity dashboard); workers alone do not.\n`);
    expect(existsSync(dbFile)).toBe(false);
    expect((await celerity('tasks', 'list', '--backend', db, '--json')).stdout).toBe('[]\n');
  });

  describe('over a filled history', () => {
    beforeAll(async () => {
      const history = await openHistoryStore(db);
      try {
        expect((await celerity('tasks', 'list', '--backend', db)).stderr).toMatch(/^The task history at .* is empty: monitors fill it/);
        await history.apply(
          tasks.map((t) => ({
            id: t.id,
            timestamp: t.at,
            state: t.state,
            fields: { name: t.name, worker: t.worker, queue: t.queue, runtime: t.runtime, receivedAt: t.at },
          })),
        );
      } finally {
        await history.close();
      }
    });

    it('--state FAILURE --since 1h: the failures first seen in the last hour, newest first, as a table', async () => {
      const run = await celerity('tasks', 'list', '--state', 'FAILURE', '--since', '1h', '--backend', db);
      expect(run.code).toBe(0);
      const lines = run.stdout.trim().split('\n');
      expect(lines[0]!.split(/\s+/)).toEqual(['id', 'name', 'state', 'worker', 'received', 'runtime']);
      expect(rows(run.stdout)).toEqual([
        ['a-recent-failure', 'media.encode', 'FAILURE', 'celery@w1'],
        ['e-failure', 'mail.send', 'FAILURE', 'celery@w2'],
      ]);
      expect(lines[1]).toContain(new Date(tasks[0]!.at).toISOString().slice(0, 19).replace('T', ' '));
      expect(lines[1]).toMatch(/1\.500s$/);
    });

    it('filters by name prefix, worker and queue; states are case-insensitive', async () => {
      const byName = await celerity('tasks', 'list', '--name', 'media.*', '--backend', db);
      expect(rows(byName.stdout).map((r) => r[0])).toEqual(['d-started', 'a-recent-failure', 'b-old-failure']);
      const byWorker = await celerity('tasks', 'list', '--worker', 'celery@w2', '--state', 'failure,started', '--backend', db);
      expect(rows(byWorker.stdout).map((r) => r[0])).toEqual(['d-started', 'e-failure', 'b-old-failure']);
      const byQueue = await celerity('tasks', 'list', '-Q', 'celery', '--backend', db);
      expect(rows(byQueue.stdout).map((r) => r[0])).toEqual(['c-success', 'e-failure']);
    });

    it('--since takes an ISO time', async () => {
      const run = await celerity('tasks', 'list', '--since', new Date(now - 7 * MIN).toISOString(), '--backend', db);
      expect(rows(run.stdout).map((r) => r[0])).toEqual(['d-started', 'c-success']);
    });

    it('--json prints the records; --limit cuts the list and says how many match', async () => {
      const json = await celerity('tasks', 'list', '--state', 'FAILURE', '--json', '--backend', db);
      const records = JSON.parse(json.stdout) as TaskRecord[];
      expect(records.map((r) => [r.id, r.name, r.state, r.worker, r.queue, r.runtime])).toEqual([
        ['a-recent-failure', 'media.encode', 'FAILURE', 'celery@w1', 'media', 1.5],
        ['e-failure', 'mail.send', 'FAILURE', 'celery@w2', 'celery', 3],
        ['b-old-failure', 'media.encode', 'FAILURE', 'celery@w2', 'media', 0.25],
      ]);
      const limited = await celerity('tasks', 'list', '--state', 'FAILURE', '--limit', '1', '--backend', db);
      expect(rows(limited.stdout).map((r) => r[0])).toEqual(['a-recent-failure']);
      expect(limited.stderr).toBe('(1 of 3 matching tasks; --limit shows more)\n');
    });

    it('says when nothing matches', async () => {
      const run = await celerity('tasks', 'list', '--state', 'REVOKED', '--backend', db);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe('No tasks match (5 in the history).\n');
    });

    it('--history names the store directly', async () => {
      const run = await celerity('tasks', 'list', '--history', db, '--state', 'SUCCESS', '--json');
      expect((JSON.parse(run.stdout) as TaskRecord[]).map((r) => r.id)).toEqual(['c-success']);
    });
  });

  it('bad values name the flag; exit 2', async () => {
    const since = await celerity('tasks', 'list', '--since', 'yesterday', '--backend', db);
    expect(since.code).toBe(2);
    expect(since.stderr).toContain('--since must be a duration such as 30m, 1h or 2d, or an ISO time');
    expect(since.stderr).toContain('"yesterday"');
    const limit = await celerity('tasks', 'list', '--limit', '0', '--backend', db);
    expect(limit.code).toBe(2);
    expect(limit.stderr).toContain('--limit must be a positive integer, got "0"');
    const state = await celerity('tasks', 'list', '--state', ',', '--backend', db);
    expect(state.code).toBe(2);
    expect(state.stderr).toContain('--state must name at least one state');
  });
});

describe('parseSince', () => {
  const at = Date.parse('2026-06-01T12:00:00Z');
  it('reads durations back from now and ISO times as given', () => {
    expect(parseSince('30m', at)).toBe(at - 30 * 60_000);
    expect(parseSince('1h', at)).toBe(at - 3_600_000);
    expect(parseSince('2d', at)).toBe(at - 2 * 86_400_000);
    expect(parseSince('2026-05-31T09:00Z', at)).toBe(Date.parse('2026-05-31T09:00Z'));
    expect(parseSince('2026-05-31', at)).toBe(Date.parse('2026-05-31'));
  });
  it('rejects anything else', () => {
    for (const bad of ['', '1', 'h', '-1h', '1 hour', '2026-13-45', 'now']) expect(() => parseSince(bad, at)).toThrow(/--since must be/);
  });
});

/**
 * Beat through the CLI on the embedded SQLite store: `celerity schedule` verbs, then a `celerity beat` process and
 * two `celerity worker -B` processes on one file. The beat process leads; after kill -9 a worker's beat takes over
 * within the lease time, schedules added or paused at run time are seen, and every slot runs exactly once.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createBackend } from '../../src/transports/index.js';
import { useSqliteCli } from './sqlite-cli.js';
import { exited, watchCli } from './worker-process.js';

const fixture = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'test/fixtures/beat-app.ts');
const session = useSqliteCli(fixture, (dir) => ({ CELERITY_BEAT_LEASE_TIMEOUT: '2', BEAT_LEDGER: path.join(dir, 'ledger.txt') }));

function store() {
  const s = session();
  const ledger = path.join(s.dir, 'ledger.txt');
  const runs = () =>
    existsSync(ledger)
      ? readFileSync(ledger, 'utf8').trim().split('\n').filter(Boolean).map((l) => ({ schedule: l.split(' ')[0]!, id: l.split(' ')[1]! }))
      : [];
  const fires = async (name: string) => {
    const backend = await createBackend(s.url, { resultExpires: 0 });
    await backend.connect();
    try {
      return await backend.schedules!().fires(name, 10_000);
    } finally {
      await backend.close();
    }
  };
  return { ...s, runs, fires };
}

/** Resolves once `check` holds, looking every 50 ms; rejects after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('celerity schedule and beat on the embedded store', () => {
  it('schedule add/list/next/pause/resume/run/delete, with clear errors', () => {
    const s = store();
    const add = s.cel(['schedule', 'add', 'report', '-A', fixture, '--task', 'beat.record', '--cron', '0 2 * * *', '--tz', 'Europe/Berlin', '--args', '["report"]']);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/^report\tbeat\.record\t.*0 2 \* \* \*.*Europe\/Berlin.*\tactive\truns=0\t/);
    const next = s.cel(['schedule', 'next', 'report', '-A', fixture, '-n', '3']).stdout.trim().split('\n');
    expect(next).toHaveLength(3);
    // 02:00 in Berlin is 01:00Z in winter and 00:00Z in summer; consecutive days.
    for (const t of next) expect(t).toMatch(/T0[01]:00:00\.000Z$/);
    expect(Date.parse(next[1]!) - Date.parse(next[0]!)).toBeGreaterThanOrEqual(23 * 3600_000);
    expect(s.cel(['schedule', 'pause', 'report', '-A', fixture])).toMatchObject({ code: 0, stdout: 'report: paused\n' });
    expect(s.cel(['schedule', 'list', '-A', fixture]).stdout).toMatch(/^report\t.*\tpaused\t/m);
    expect(s.cel(['schedule', 'resume', 'report', '-A', fixture])).toMatchObject({ code: 0, stdout: 'report: resumed\n' });
    const run = s.cel(['schedule', 'run', 'report', '-A', fixture]);
    expect(run.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
    expect(s.cel(['schedule', 'list', '-A', fixture, '--json']).stdout).toContain('"totalRuns":1');
    expect(s.cel(['schedule', 'add', 'report', '-A', fixture, '--task', 'x', '--every', '5'])).toMatchObject({ code: 2 });
    const bad = s.cel(['schedule', 'add', 'bad', '-A', fixture, '--task', 'x', '--cron', '61 * * * *']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/minute|61/);
    expect(s.cel(['schedule', 'pause', 'nope', '-A', fixture])).toMatchObject({ code: 2, stderr: 'celerity: error: no schedule named "nope"\n' });
    expect(s.cel(['schedule', 'delete', 'report', '-A', fixture])).toMatchObject({ code: 0, stdout: 'report: deleted\n' });
    expect(s.cel(['schedule', 'delete', 'report', '-A', fixture]).code).toBe(2);
  });

  it('one beat process and two workers with -B: fail-over after kill -9, run-time changes seen, each slot run once', { timeout: 90_000 }, async () => {
    const s = store();
    const beat = watchCli(['beat', '-A', fixture, '--loglevel', 'info'], { ...s.env, CELERITY_LOG_FORMAT: 'json' }, s.track);
    await beat.next((l) => l.includes('beat: leading'));
    const workers = await Promise.all(['w1', 'w2'].map((n) => s.worker(n, ['-B', '-Q', 'celery,maintenance'])));
    await until(() => s.runs().filter((r) => r.schedule === 'tick').length >= 3);
    // Only the beat process leads: the workers' beats stand by.
    expect(workers.every((w) => !w.lines.some((l) => l.includes('beat: leading')))).toBe(true);

    beat.proc.kill('SIGKILL');
    await exited(beat.proc);
    const killedAt = Date.now();
    await until(() => workers.some((w) => w.lines.some((l) => l.includes('beat: leading'))));
    const tookOver = Date.now() - killedAt;

    // A schedule added and one paused at run time are seen by the running beat without a restart. (That it reads
    // the store at least every second is a unit test's: beat.test.ts.)
    expect(s.cel(['schedule', 'add', 'late', '-A', fixture, '--task', 'beat.record', '--every', '1', '--args', '["late"]']).code).toBe(0);
    await until(() => s.runs().some((r) => r.schedule === 'late'));
    expect(s.cel(['schedule', 'pause', 'tick', '-A', fixture]).code).toBe(0);
    // Three ticks of the beat after the pause was written (each fires 'late'), then three more: tick fired nothing
    // in between.
    const lateFires = async () => (await s.fires('late')).length;
    const seen = await lateFires();
    await until(async () => (await lateFires()) >= seen + 3);
    const ticksAtPause = (await s.fires('tick')).length;
    await until(async () => (await lateFires()) >= seen + 6);
    const ticks = await s.fires('tick');
    expect(ticks.length).toBe(ticksAtPause);

    // Every sent task has run before the workers stop (warm shutdown would hand reserved ones back).
    await until(() => {
      const ids = new Set(s.runs().map((r) => r.id));
      return ticks.every((f) => ids.has(f.taskId));
    });
    for (const w of workers) w.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => exited(w.proc)));
    // Every slot from the first to the last, none twice, each sent task run exactly once.
    const slots = ticks.map((f) => f.slot).sort((a, b) => a - b);
    for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBe(1000);
    const ran = new Map<string, number>();
    for (const r of s.runs()) ran.set(r.id, (ran.get(r.id) ?? 0) + 1);
    for (const f of [...ticks, ...(await s.fires('late'))]) if (f.sent) expect(ran.get(f.taskId) ?? 0).toBeLessThanOrEqual(1);
    expect([...ran.values()].filter((n) => n > 1)).toEqual([]);
    expect(ticks.every((f) => f.sent)).toBe(true);
    expect(ticks.filter((f) => ran.has(f.taskId)).length).toBe(ticks.length);
    console.log(`beat e2e: ${ticks.length} tick slots, take-over ${tookOver} ms after kill -9 (lease 2 s)`);
  });
});

/**
 * examples/video on one SQLite file with `-P process`: the task's production limits (25/30 min), acks late and
 * prefetch 1 as configured; the same options shortened to 1/2 s per call show the soft limit caught (partial
 * segments deleted, SoftTimeLimitExceeded stored) and the hard limit enforced on a child stuck in CPU work (killed,
 * TimeLimitExceeded stored, its folder left as it was), and the worker going on with the next video.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { app, transcode, type TranscodeResult } from '../../examples/video/tasks.js';
import { useSqliteCli } from './sqlite-cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tasks = path.join(root, 'examples/video/tasks.ts');
const fresh = useSqliteCli(tasks);
const limits = { softTimeLimit: 1, timeLimit: 2 };

describe('examples/video', () => {
  it('is configured for long runs: 25/30 min limits, acks late, prefetch 1', () => {
    expect(transcode.options).toMatchObject({ softTimeLimit: 25 * 60, timeLimit: 30 * 60, acksLate: true });
    expect(app.conf.prefetchMultiplier).toBe(1);
  });

  it('cleans up on the soft limit, is killed at the hard limit, and goes on', { timeout: 60_000 }, async () => {
    const s = fresh();
    await s.worker('video', ['-Q', 'video', '-P', 'process', '-c', '2']);
    const client = new Celerity('producer', { broker: s.url, backend: s.url, loglevel: 'silent', taskRoutes: app.conf.taskRoutes }, {});
    const out = s.dir;
    try {
      const short = await client.sendTask<TranscodeResult>('video.transcode', ['/videos/short.mp4', out, 3, 50], limits);
      const long = await client.sendTask('video.transcode', ['/videos/long.mp4', out, 200, 50], limits);
      const done = await short.get({ timeout: 20_000 });
      expect(done).toEqual({ source: '/videos/short.mp4', output: path.join(out, `${short.id}.mp4`), segments: 3 });
      expect(statSync(done.output).size).toBe(3 * 32);
      expect(existsSync(path.join(out, short.id))).toBe(false);

      const soft = (await long.get({ timeout: 20_000 }).catch((e: Error) => e)) as Error;
      expect(soft.name).toBe('SoftTimeLimitExceeded');
      expect(soft.message).toBe('soft time limit (1s) exceeded');
      expect(existsSync(path.join(out, long.id))).toBe(false);
      expect(existsSync(path.join(out, `${long.id}.mp4`))).toBe(false);

      // One segment of 60 s of CPU: the soft limit cannot be seen inside it, so the hard limit kills the child.
      const stuck = await client.sendTask('video.transcode', ['/videos/stuck.mp4', out, 1, 60_000], limits);
      const hard = (await stuck.get({ timeout: 20_000 }).catch((e: Error) => e)) as Error;
      expect(hard.name).toBe('TimeLimitExceeded');
      expect(hard.message).toBe('hard time limit (2s) exceeded');
      expect(existsSync(path.join(out, stuck.id))).toBe(true);

      const next = await client.sendTask<TranscodeResult>('video.transcode', ['/videos/next.mp4', out, 2, 10], limits);
      expect(await next.get({ timeout: 20_000 })).toMatchObject({ source: '/videos/next.mp4', segments: 2 });

      const bad = await client.sendTask('video.transcode', ['/videos/x.mp4', 'relative/dir']);
      const badErr = (await bad.get({ timeout: 20_000 }).catch((e: Error) => e)) as Error;
      expect(badErr.name).toBe('TypeError');
      expect(badErr.message).toBe('out_dir must be an absolute path, got "relative/dir"');
    } finally {
      await client.close();
    }
  });
});

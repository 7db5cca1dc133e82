/**
 * examples/media-detection called from Python Celery 5.2 on Redis: the Celerity worker takes the `frame_skip`
 * kwarg as a Python caller passes it, and the Python client reads the custom PROCESSING state with its meta, then
 * the result.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frameCount } from '../../examples/media-detection/tasks.js';
import { PYTHON, pythonCeleryOnRedis, requireService } from '../services.js';
import { runToEnd, startUntilReady } from './processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pyDir = path.join(root, 'test/interop/py');
// A database of its own: the example's queue names are fixed, so they are emptied before the run.
const BROKER = 'redis://127.0.0.1:6379/8';
const BACKEND = 'redis://127.0.0.1:6379/9';
const ready = await requireService('Python Celery 5 on Redis', () => pythonCeleryOnRedis(BROKER));

const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
const env: NodeJS.ProcessEnv = { ...base, CELERITY_BROKER_URL: BROKER, CELERITY_RESULT_BACKEND: BACKEND, PYTHONDONTWRITEBYTECODE: '1' };
const procs: ChildProcess[] = [];

beforeAll(async () => {
  if (!ready.ok) return;
  const redis = new Redis(BROKER);
  await redis.del('face_detection', 'object_detection');
  redis.disconnect();
  const worker = [path.join(root, 'dist/cli/main.js'), 'worker', '-A', path.join(root, 'examples/media-detection/tasks.ts'), '-Q', 'face_detection', '-c', '2', '--log-format', 'json'];
  await startUntilReady(procs, process.execPath, worker, { env, cwd: root, readyLine: /ready\./ });
}, 60_000);

afterAll(async () => {
  for (const p of procs) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    p.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
  }
});

describe.skipIf(!ready.ok)(`examples/media-detection from Python${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  it('takes frame_skip as a kwarg and shows PROCESSING meta to the Python client', { timeout: 40_000 }, async () => {
    const out = await runToEnd(procs, PYTHON, [path.join(pyDir, 'examples_media_client.py'), '/media/lobby.mp4', '6'], { env, cwd: pyDir });
    expect(out.code, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout.trim().split('\n').at(-1)!);
    const total = frameCount('/media/lobby.mp4');
    expect(report.result).toMatchObject({ path: '/media/lobby.mp4', frame_skip: 6, total_frames: total, frames_processed: Math.ceil(total / 6), queue: 'face_detection' });
    expect(report.processing.length).toBeGreaterThan(0);
    for (const m of report.processing) {
      expect(m).toMatchObject({ path: '/media/lobby.mp4', total_frames: total });
      expect(m.current_frame % 6).toBe(0);
    }
  });
});

/**
 * The built `celerity result` (dist/cli/main.js)
 * against a real worker on a SQLite file (and on Redis): --follow prints one line per progress step when stderr is not a
 * terminal, redraws a bar in place on a terminal, and ends with the result and exit code of --wait.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { progressBar, progressLine } from '../../src/cli/result.js';
import { Celerity, type TaskContext, type Worker } from '../../src/index.js';
import { deferred, sqliteApp, tempDir } from '../helpers.js';
import { pingRedis, requireService } from '../services.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dist = path.join(root, 'dist', 'cli');
const tmp = tempDir('celerity-cli-result-');
const db = `sqlite://${path.join(tmp.dir, 'celerity.db')}`;
const entry = path.join(root, 'dist/cli/main.js');
const ESC = String.fromCharCode(27);
const REDIS = 'redis://127.0.0.1:6379/0';
const redis = await requireService('Redis at 127.0.0.1:6379', () => pingRedis(REDIS));


let app: Celerity;
let worker: Worker;
const gates = new Map<string, { promise: Promise<void>; resolve(): void }>();
const gate = (key: string) => {
  if (!gates.has(key)) gates.set(key, deferred<void>());
  return gates.get(key)!;
};

/** `follow.steps` reports `{current, total}` and waits until the command under test has printed that step. */
async function startWorker(made: Celerity): Promise<Worker> {
  made.task('follow.steps', async function (this: TaskContext, total: number, fail = false) {
    for (let current = 1; current <= total; current++) {
      await this.updateState('PROGRESS', { current, total });
      await gate(`${this.id}:${current}`).promise;
    }
    if (fail) throw new RangeError(`failed after ${total}`);
    return { steps: total };
  });
  const w = made.worker();
  await w.start();
  return w;
}

beforeAll(async () => {
  app = sqliteApp(tmp.dir);
  worker = await startWorker(app);
});
afterAll(async () => {
  await worker?.stop();
  await app?.close();
  tmp.cleanup();
});

interface Run {
  code: number | null;
  stdout: string;
  stderrLines: string[];
}

/** Runs `result <id> --follow`, releasing each step of the task once its line has been printed. */
function follow(id: string, extra: string[] = [], backend = db): Promise<Run> {
  const child = spawn(process.execPath, [entry, 'result', id, '--follow', '--backend', backend, ...extra], { cwd: tmp.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderrLines: string[] = [];
  let stdout = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderrLines.push(line);
    const step = /^PROGRESS \[[#.]+\] (\d+)\/\d+ \d+%$/.exec(line);
    if (step) gate(`${id}:${step[1]}`).resolve();
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderrLines })));
}

describe('celerity result --follow', () => {
  it('built: dist/cli/result.js exists (npm run build)', () => {
    expect(existsSync(path.join(dist, 'result.js'))).toBe(true);
  });

  it('prints one line per PROGRESS step when not a terminal, then the result; exit 0', async () => {
    const r = await app.sendTask('follow.steps', [3]);
    const run = await follow(r.id);
    const steps = run.stderrLines.filter((l) => l.startsWith('PROGRESS'));
    expect(steps).toEqual(['PROGRESS [#######.............] 1/3 33%', 'PROGRESS [#############.......] 2/3 66%', 'PROGRESS [####################] 3/3 100%']);
    // Only states before the first step come before it.
    expect(run.stderrLines.slice(0, run.stderrLines.indexOf(steps[0]!)).every((l) => l === 'PENDING' || l === 'STARTED')).toBe(true);
    expect(run.stdout).toBe('{"steps":3}\n');
    expect(run.code).toBe(0);
  }, 30_000);

  it('--json prints the whole record on stdout and the steps on stderr', async () => {
    const r = await app.sendTask('follow.steps', [2]);
    const run = await follow(r.id, ['--json']);
    expect(run.stderrLines.filter((l) => l.startsWith('PROGRESS'))).toHaveLength(2);
    expect(JSON.parse(run.stdout)).toMatchObject({ task_id: r.id, status: 'SUCCESS', result: { steps: 2 } });
    expect(run.code).toBe(0);
  }, 30_000);

  it('a task that fails after its steps ends with FAILURE and exit 1', async () => {
    const r = await app.sendTask('follow.steps', [2, true]);
    const run = await follow(r.id);
    expect(run.stderrLines.filter((l) => l.startsWith('PROGRESS'))).toHaveLength(2);
    expect(run.stdout).toMatch(/^FAILURE: \w+: failed after 2\n$/);
    expect(run.code).toBe(1);
  }, 30_000);

  it('--timeout ends a follow of a task that never finishes with exit 75', async () => {
    const run = await follow(randomUUID(), ['--timeout', '0.5']);
    expect(run.stderrLines).toContain('PENDING');
    expect(run.stderrLines.at(-1)).toMatch(/^celerity: error: task \S+ not ready after 500 ms$/);
    expect(run.code).toBe(75);
  }, 30_000);

  it('a bad --timeout names the flag; exit 2', () => {
    const run = spawnSync(process.execPath, [entry, 'result', randomUUID(), '--follow', '--timeout', 'soon', '--backend', db], { encoding: 'utf8' });
    expect(run.stderr).toContain('--timeout must be a non-negative number of seconds, got soon');
    expect(run.status).toBe(2);
  });

  it.skipIf(!hasScript())('on a terminal redraws the bar in place and ends the line before the result', async () => {
    const r = await app.sendTask('follow.steps', [2]);
    const cmd = [process.execPath, entry, 'result', r.id, '--follow', '--backend', db].map((a) => `'${a}'`).join(' ');
    // Asynchronously: the worker runs in this process, so blocking it would stall the task the command waits for.
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { cwd: tmp.dir, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      for (const m of out.matchAll(/PROGRESS \[[#.]+\] (\d+)\/2 /g)) gate(`${r.id}:${m[1]}`).resolve();
    });
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const run = { status, stdout: out };
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('{"steps":2}');
    // Every drawing starts with a carriage return and an erase-line, so the bar stays on one line.
    expect(run.stdout).toMatch(new RegExp(`\r${ESC}\\[K(PENDING|STARTED|PROGRESS)`));
    expect(run.stdout).not.toMatch(/\n(PENDING|STARTED|PROGRESS)/);
    expect(run.stdout).toMatch(new RegExp(`\r${ESC}\\[KPROGRESS \\[#+\\] 2/2 100%\r?\n\\{"steps":2\\}`));
  }, 30_000);
});

describe.skipIf(!redis.ok)(`celerity result --follow on Redis${redis.ok ? '' : ` (skipped: ${redis.reason})`}`, () => {
  let redisApp: Celerity;
  let redisWorker: Worker;
  beforeAll(async () => {
    redisApp = new Celerity('follow', { broker: REDIS, backend: REDIS, defaultQueue: `follow-${randomUUID()}`, loglevel: 'silent', logFormat: 'json' });
    redisWorker = await startWorker(redisApp);
  });
  afterAll(async () => {
    await redisWorker?.stop();
    await redisApp?.close();
  });

  it('prints one line per PROGRESS step, then the result; exit 0', async () => {
    const r = await redisApp.sendTask('follow.steps', [3]);
    const run = await follow(r.id, [], REDIS);
    expect(run.stderrLines.filter((l) => l.startsWith('PROGRESS'))).toEqual([
      'PROGRESS [#######.............] 1/3 33%',
      'PROGRESS [#############.......] 2/3 66%',
      'PROGRESS [####################] 3/3 100%',
    ]);
    expect(run.stdout).toBe('{"steps":3}\n');
    expect(run.code).toBe(0);
  }, 30_000);
});

describe('progress text', () => {
  it('draws {current, total} as a bar with the count and percentage', () => {
    expect(progressBar({ current: 3, total: 10 }, 10)).toBe('[###.......] 3/10 30%');
    expect(progressBar({ current: 12, total: 10 }, 10)).toBe('[##########] 12/10 100%');
    expect(progressLine({ state: 'PROGRESS', meta: { current: 0, total: 4 } })).toBe('PROGRESS [....................] 0/4 0%');
  });

  it('falls back to the state and its meta as JSON when there is no usable pair', () => {
    expect(progressBar({ current: 1 })).toBeNull();
    expect(progressBar({ current: 1, total: 0 })).toBeNull();
    expect(progressLine({ state: 'PROGRESS', meta: { stage: 'upload' } })).toBe('PROGRESS {"stage":"upload"}');
    expect(progressLine({ state: 'STARTED', meta: null })).toBe('STARTED');
  });
});

function hasScript(): boolean {
  return spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
}

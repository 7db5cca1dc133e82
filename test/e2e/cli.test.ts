/**
 * The `celerity` command end to end, as a user runs it: separate processes on one SQLite file.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnWorker } from './worker-process.js';
import { tempDir } from '../helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = path.join(root, 'dist/cli/main.js');
const fixture = path.join(root, 'test/fixtures/app.ts');

let tmp: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;
const workers: ChildProcess[] = [];

beforeEach(() => {
  tmp = tempDir();
  const url = `sqlite://${path.join(tmp.dir, 'cli.db')}`;
  env = { ...cleanEnv(), CELERITY_BROKER_URL: url, CELERITY_RESULT_BACKEND: url };
});

afterEach(async () => {
  for (const w of workers.splice(0)) {
    if (w.exitCode === null && w.signalCode === null) {
      w.kill('SIGKILL');
      await new Promise((r) => w.once('exit', r));
    }
  }
  tmp.cleanup();
});

function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
}

function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

/** Resolves once a line the worker logged (before or after the call) satisfies `match`. */
function waitForLine(lines: string[], match: (line: string) => boolean): Promise<void> {
  return new Promise<void>((resolve) => {
    const check = () => (lines.some(match) ? resolve() : setTimeout(check, 20));
    check();
  });
}

/** Starts a worker and resolves once it logs that it is ready. */
function startWorker(extraArgs: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ proc: ChildProcess; lines: string[] }> {
  return spawnWorker(['-A', fixture, '--log-format', 'json', ...extraArgs], { ...env, ...extraEnv }, (proc) => workers.push(proc));
}

function exited(proc: ChildProcess): Promise<number | null> {
  return proc.exitCode !== null ? Promise.resolve(proc.exitCode) : new Promise((r) => proc.once('exit', (code) => r(code)));
}

describe('celerity CLI', () => {
  it('prints its version and help for every verb', () => {
    expect(run(['--version']).stdout).toMatch(/^\d+\.\d+\.\d+/);
    for (const verb of ['worker', 'call', 'result', 'purge', 'dead-letters', 'dead-letters list', 'dead-letters requeue']) {
      const r = run([...verb.split(' '), '--help']);
      expect(r.code, verb).toBe(0);
      expect(r.stdout, verb).toMatch(/Usage: celerity/);
    }
    expect(run(['frobnicate']).code).toBe(2);
  });

  it('worker + call + result: a task round trip with usable exit codes', async () => {
    const { proc } = await startWorker(['-c', '2']);
    const id = run(['call', 'fixtures.add', '--args', '[2, 3]']).stdout;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const ok = run(['result', id, '--wait', '--timeout', '20']);
    expect(ok).toMatchObject({ code: 0, stdout: '5' });
    const failId = run(['call', 'fixtures.fail', '--args', '["nope"]']).stdout;
    const failed = run(['result', failId, '--wait', '--timeout', '20']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('FAILURE: ValueError: nope');
    expect(run(['result', '00000000-0000-0000-0000-000000000000'])).toMatchObject({ code: 3, stdout: 'PENDING' });
    expect(run(['result', '00000000-0000-0000-0000-000000000000', '--wait', '--timeout', '0.2']).code).toBe(75);
    proc.kill('SIGTERM');
    expect(await exited(proc)).toBe(0);
  });

  it('control revoke works on the embedded store: the worker discards the revoked task', async () => {
    const revokedId = run(['call', 'fixtures.add', '--args', '[1, 1]']).stdout;
    expect(run(['control', 'revoke', revokedId])).toMatchObject({ code: 0, stdout: `revoked in the broker, for every worker: ${revokedId}` });
    const keptId = run(['call', 'fixtures.add', '--args', '[2, 2]']).stdout;
    const { proc } = await startWorker(['-c', '1']);
    expect(run(['result', keptId, '--wait', '--timeout', '20'])).toMatchObject({ code: 0, stdout: '4' });
    const revoked = run(['result', revokedId, '--wait', '--timeout', '20']);
    expect(revoked.code).toBe(1);
    expect(revoked.stdout).toMatch(/^REVOKED/);
    proc.kill('SIGTERM');
    expect(await exited(proc)).toBe(0);
  });

  it('lists and requeues dead letters; purges queues', async () => {
    const id = run(['call', 'no.such.task']).stdout;
    const { proc } = await startWorker();
    expect(run(['result', id, '--wait', '--timeout', '20']).code).toBe(1);
    const listed = run(['dead-letters', 'list']);
    expect(listed.stdout).toContain(`no.such.task[${id}]`);
    expect(listed.stdout).toContain('not registered');
    proc.kill('SIGTERM');
    await exited(proc);
    expect(run(['dead-letters', 'requeue', '--all']).stdout).toBe('Requeued 1 message.');
    run(['call', 'fixtures.add', '--args', '[1, 1]']);
    expect(run(['purge', '-Q', 'celery'])).toMatchObject({ code: 2 });
    expect(run(['purge', '-Q', 'celery', '-f']).stdout).toBe('Purged 2 messages from 1 queue.');
  });

  it('fails with one clear line on bad configuration or an unreachable broker', () => {
    const bad = run(['worker', '-A', fixture], { CELERITY_CONCURRENCY: 'lots' });
    expect(bad.code).toBe(78);
    expect(bad.stderr).toBe('celerity: error: invalid setting CELERITY_CONCURRENCY="lots": expected a positive integer');
    const typo = run(['call', 'x'], { CELERITY_BROKER_URL: 'sqlit://./x.db' });
    expect(typo.code).toBe(78);
    expect(typo.stderr.split('\n')).toHaveLength(1);
    const missing = run(['call', 'x'], { CELERITY_BROKER_URL: 'sqlite:///nonexistent-dir/sub/x.db' });
    expect(missing.code).toBe(69);
    expect(missing.stderr.split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain('/nonexistent-dir/sub/x.db');
    const noApp = run(['worker', '-A', './no/such/module']);
    expect(noApp.code).toBe(2);
    expect(noApp.stderr).toMatch(/cannot find app module/);
  });

  it('SIGTERM lets a running task finish (warm shutdown)', async () => {
    const { proc, lines } = await startWorker();
    const id = run(['call', 'fixtures.sleep', '--args', '[600, "finished"]']).stdout;
    await new Promise<void>((resolve) => {
      const check = () => (lines.some((l) => l.includes(id) && l.includes('received')) ? resolve() : setTimeout(check, 20));
      check();
    });
    proc.kill('SIGTERM');
    expect(await exited(proc)).toBe(0);
    expect(run(['result', id])).toMatchObject({ code: 0, stdout: '"finished"' });
  });

  it('SIGTERM past --shutdown-timeout returns the running task to the queue (soft), and it runs on the next worker', async () => {
    const { proc, lines } = await startWorker(['--shutdown-timeout', '0.3']);
    const id = run(['call', 'fixtures.sleep', '--args', '[60000, "later"]']).stdout;
    await waitForLine(lines, (l) => l.includes(id) && l.includes('received'));
    proc.kill('SIGTERM');
    expect(await exited(proc)).toBe(0);
    // Not finished, not lost: back in the queue, and not marked as anything.
    expect(run(['result', id])).toMatchObject({ code: 3 });
    const next = await startWorker();
    await waitForLine(next.lines, (l) => l.includes(id) && l.includes('received'));
  });

  it('SIGQUIT returns a running task at once (cold shutdown)', async () => {
    const { proc, lines } = await startWorker();
    const id = run(['call', 'fixtures.sleep', '--args', '[60000, "later"]']).stdout;
    await waitForLine(lines, (l) => l.includes(id) && l.includes('received'));
    const start = Date.now();
    proc.kill('SIGQUIT');
    expect(await exited(proc)).toBe(0);
    // The default shutdown timeout is 30 s; a cold shutdown does not wait for it.
    expect(Date.now() - start).toBeLessThan(20_000);
    expect(run(['result', id])).toMatchObject({ code: 3 });
    const next = await startWorker();
    await waitForLine(next.lines, (l) => l.includes(id) && l.includes('received'));
  });

  it('a SIGKILLed worker\'s task comes back after the visibility timeout and runs on another worker', async () => {
    const fast = { CELERITY_VISIBILITY_TIMEOUT: '1' };
    const first = await startWorker([], fast);
    const id = run(['call', 'fixtures.sleep', '--args', '[1500, "survived"]']).stdout;
    await new Promise<void>((resolve) => {
      const check = () => (first.lines.some((l) => l.includes(id) && l.includes('received')) ? resolve() : setTimeout(check, 20));
      check();
    });
    first.proc.kill('SIGKILL');
    await exited(first.proc);
    await startWorker([], fast);
    expect(run(['result', id, '--wait', '--timeout', '20'])).toMatchObject({ code: 0, stdout: '"survived"' });
  });
});

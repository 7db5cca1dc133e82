/** Child processes of the interop tests: workers started until they say they are ready, and event capture. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PYTHON } from '../services.js';

const PY_DIR = path.join(fileURLToPath(new URL('.', import.meta.url)), 'py');

/**
 * Starts `cmd` and resolves once a line of its output matches `readyLine`; rejects with its last lines if it exits
 * first. The process is added to `owned` at once, so the caller's cleanup stops it whatever happens.
 */
export function startUntilReady(
  owned: ChildProcess[],
  cmd: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd: string; readyLine: RegExp },
): Promise<ChildProcess> {
  const proc = spawn(cmd, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  owned.push(proc);
  const seen: string[] = [];
  return new Promise((resolve, reject) => {
    for (const stream of [proc.stdout!, proc.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        seen.push(line);
        if (options.readyLine.test(line)) resolve(proc);
      });
    }
    proc.once('exit', (code) => reject(new Error(`${cmd} exited with ${code} before it was ready:\n${seen.slice(-20).join('\n')}`)));
  });
}

/**
 * Runs test/interop/py/events_capture.py (Celery's own event receiver and state keeper) and reports when it is
 * demonstrably subscribed: its first received event, which it announces on stdout. Celery's wake-up broadcast
 * comes earlier than its subscription, so a test that sends on the broadcast can lose events on a loaded machine.
 */
export interface EventCapture {
  /** Resolves when the receiver has received its first event (it then gets everything sent after). */
  listening: Promise<void>;
  /** The process's exit code and whole output; the last stdout line is the JSON summary. */
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  proc: ChildProcess;
}

export function captureEvents(python: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): EventCapture {
  const proc = spawn(python, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  let heard: () => void = () => undefined;
  const listening = new Promise<void>((resolve, reject) => {
    heard = resolve;
    proc.once('exit', (code) => reject(new Error(`events_capture.py exited (${code}) before receiving an event:\n${stderr}`)));
  });
  // Rejections of `listening` after it resolved are ignored; one before it is the caller's to see.
  listening.catch(() => undefined);
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    stdout += `${line}\n`;
    if (line === '{"listening": true}') heard();
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    proc.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { listening, done, proc };
}

/** Runs `cmd` to its end (added to `owned` meanwhile), with what it printed. */
export function runToEnd(
  owned: ChildProcess[],
  cmd: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(cmd, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    owned.push(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (d) => (stdout += d));
    proc.stderr!.on('data', (d) => (stderr += d));
    proc.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Things seen so far (events), and a wait for the first one a test looks for, seen already or still to come. */
export class Seen<T> {
  readonly all: T[] = [];
  private readonly waiters = new Set<() => void>();

  add(item: T): void {
    this.all.push(item);
    for (const check of [...this.waiters]) check();
  }

  first(match: (item: T) => boolean): Promise<T> {
    return new Promise((resolve) => {
      const check = (): void => {
        const found = this.all.find(match);
        if (found === undefined) return;
        this.waiters.delete(check);
        resolve(found);
      };
      this.waiters.add(check);
      check();
    });
  }
}

/**
 * A Celery 5 worker of test/interop/py/control_proj.py (tasks control.add, control.sleep) on a Redis broker under a
 * kombu key prefix of the test's own, started until ready; added to `owned`.
 */
export function startControlProjWorker(
  owned: ChildProcess[],
  options: { redis: string; prefix: string; queue: string; node: string; concurrency?: number; events?: boolean },
): Promise<ChildProcess> {
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_'))),
    CONTROL_BROKER: options.redis,
    CONTROL_QUEUE: options.queue,
    CONTROL_KEYPREFIX: options.prefix,
    PYTHONPATH: PY_DIR,
  };
  const args = ['-m', 'celery', '-A', 'control_proj', 'worker', ...(options.events ? ['-E'] : []), '-Q', options.queue, '-c', String(options.concurrency ?? 1)];
  args.push('-n', options.node, '-l', 'info', '--without-gossip', '--without-mingle');
  return startUntilReady(owned, PYTHON, args, { env, cwd: PY_DIR, readyLine: /ready\./ });
}

/** SIGTERM to each process still running; resolves once all have exited. */
export async function stopProcesses(procs: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    procs.map(async (proc) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }),
  );
}

/** Child processes of the interop tests: workers started until they say they are ready, and event capture. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

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

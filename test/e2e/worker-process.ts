/**
 * `celerity worker` as a child process for the end-to-end tests: started from the built CLI (dist/), its stdout
 * lines collected, resolved once it logs that it is ready; rejected with its stderr if it exits first. Also any
 * long-running CLI command (`celerity events`) with its output lines awaitable.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const cli = path.join(fileURLToPath(new URL('../..', import.meta.url)), 'dist/cli/main.js');

export async function spawnWorker(args: string[], env: NodeJS.ProcessEnv, track: (proc: ChildProcess) => void): Promise<{ proc: ChildProcess; lines: string[] }> {
  const proc = spawn(process.execPath, [cli, 'worker', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(proc);
  const lines: string[] = [];
  const err: string[] = [];
  proc.stderr!.on('data', (d) => err.push(String(d)));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      lines.push(line);
      if (line.includes('ready.')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${err.join('')}`)));
  });
  return { proc, lines };
}

export interface WatchedCli {
  proc: ChildProcess;
  lines: string[];
  /** The first output line (already printed or still to come) that `match` accepts; rejects after `ms`. */
  next(match: (line: string) => boolean, ms?: number): Promise<string>;
}

/** A long-running CLI process whose stdout lines are collected. */
export function watchCli(args: string[], env: NodeJS.ProcessEnv, track: (proc: ChildProcess) => void): WatchedCli {
  const proc = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(proc);
  const lines: string[] = [];
  const waiters = new Set<{ match: (l: string) => boolean; resolve: (l: string) => void }>();
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters) {
      if (!w.match(line)) continue;
      waiters.delete(w);
      w.resolve(line);
    }
  });
  const next = (match: (l: string) => boolean, ms = 20_000) =>
    new Promise<string>((resolve, reject) => {
      const found = lines.find(match);
      if (found) return resolve(found);
      const timer = setTimeout(() => reject(new Error(`no matching line within ${ms} ms; got:\n${lines.join('\n')}`)), ms);
      waiters.add({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  return { proc, lines, next };
}

export function exited(proc: ChildProcess): Promise<number | null> {
  return proc.exitCode !== null ? Promise.resolve(proc.exitCode) : new Promise((r) => proc.once('exit', (code) => r(code)));
}

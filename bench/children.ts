/**
 * What the API and dashboard benchmarks share: waiting for a child process's line, and the event producer
 * (bench/api-events.ts) started in a process of its own and stopped with the count it sent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const benchDir = fileURLToPath(new URL('.', import.meta.url));

/** The first stdout line of `proc` that `match` accepts; rejects with its stderr if it exits first. */
export function lineOf(proc: ChildProcess, match: RegExp, what: string): Promise<RegExpExecArray> {
  const err: string[] = [];
  proc.stderr?.on('data', (d) => err.push(String(d)));
  return new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = match.exec(line);
      if (m) resolve(m);
    });
    proc.once('exit', (code) => reject(new Error(`${what} exited with ${code}: ${err.join('')}`)));
  });
}

export interface EventProducer {
  /** Stops it; resolves to its `events: sent N in S s (R/s)` line. */
  stop(): Promise<string>;
}

/** Worker task events published on `redis` at `rate` per second, from now until stopped. */
export async function startEventProducer(env: NodeJS.ProcessEnv, redis: string, rate: number): Promise<EventProducer> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(benchDir, 'api-events.ts')], {
    env: { ...env, BENCH_REDIS: redis, BENCH_EVENTS_PER_SEC: String(rate) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await lineOf(proc, /events: started/, 'event producer');
  const sent = lineOf(proc, /events: sent \d+ in [\d.]+ s.*/, 'event producer');
  return {
    async stop() {
      proc.kill('SIGTERM');
      return (await sent.catch(() => null))?.[0] ?? '';
    },
  };
}

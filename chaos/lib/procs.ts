/**
 * Processes for recovery tests and the chaos harness: real `celerity worker`s and throwaway redis-servers on free
 * loopback ports (with an append-only file, so their data survives a restart).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort } from '../../test/fixtures/redis/servers.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));

export { freePort };

/**
 * The environment of a chaos worker process: this process's, minus any CELERITY_* setting, plus the store, a short
 * visibility timeout (a killed worker's tasks come back within a run), the queue and the ledger to write to.
 */
export function chaosEnv(o: { broker: string; backend: string; queue: string; ledgerUrl: string; ledgerKey: string }): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
  return {
    ...base,
    CELERITY_BROKER_URL: o.broker,
    CELERITY_RESULT_BACKEND: o.backend,
    CELERITY_VISIBILITY_TIMEOUT: '1',
    CELERITY_DEFAULT_QUEUE: o.queue,
    LEDGER_URL: o.ledgerUrl,
    LEDGER: o.ledgerKey,
  };
}

export function exited(p: ChildProcess): Promise<number | null> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve(p.exitCode) : new Promise((r) => p.once('exit', (c) => r(c)));
}

export interface WorkerProc {
  proc: ChildProcess;
  lines: string[];
  /** Resolves once a logged line satisfies `match` (lines already logged count); rejects after `ms`. */
  logged(match: (line: string) => boolean, ms?: number): Promise<void>;
}

export interface WorkerOptions {
  /** The -A module; the Redis recovery tests' fixture app by default. */
  appModule?: string;
  args?: string[];
}

/** A Celerity worker process (the built CLI); resolves once it logs that it is ready. */
export async function startWorker(env: NodeJS.ProcessEnv, name: string, args: string[] = [], options: WorkerOptions = {}): Promise<WorkerProc> {
  const appModule = options.appModule ?? path.join(root, 'test/fixtures/redis-app.ts');
  const proc = spawn(
    process.execPath,
    [path.join(root, 'dist/cli/main.js'), 'worker', '-A', appModule, '-n', `${name}@chaos`, '--log-format', 'json', '--loglevel', 'info', ...args],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: string[] = [];
  const waiters = new Set<{ match: (line: string) => boolean; done: () => void }>();
  const err: string[] = [];
  proc.stderr!.on('data', (d) => err.push(String(d)));
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters) if (w.match(line)) w.done();
  });
  const logged = (match: (line: string) => boolean, ms = 20_000) =>
    new Promise<void>((resolve, reject) => {
      if (lines.some(match)) return resolve();
      const w = {
        match,
        done: () => {
          clearTimeout(timer);
          waiters.delete(w);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`worker ${name} did not log the expected line within ${ms} ms`));
      }, ms);
      waiters.add(w);
    });
  await Promise.race([
    logged((l) => l.includes('ready.'), 30_000),
    new Promise((_, reject) => proc.once('exit', (code) => reject(new Error(`worker ${name} exited with ${code}: ${err.join('').slice(-2000)}`)))),
  ]);
  return { proc, lines, logged };
}

/** SIGKILL, and wait until the process is gone. */
export async function kill9(p: ChildProcess): Promise<void> {
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await exited(p);
}

/** A redis-server of our own, with an append-only file so its data survives a restart. */
export class OwnRedis {
  proc: ChildProcess | undefined;
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], {
      stdio: 'ignore',
    });
    // A server takes a few milliseconds to listen: probe with fresh clients, bounded, until one answers PING.
    for (let attempt = 0; ; attempt++) {
      const probe = new Redis({ port: this.port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch (err) {
        if (attempt > 200) throw err;
        await new Promise((r) => setTimeout(r, 20));
      } finally {
        probe.disconnect();
      }
    }
  }

  /** SIGTERM: Redis flushes its append-only file and exits. */
  async stop(): Promise<void> {
    if (!this.proc) return;
    this.proc.kill('SIGTERM');
    await exited(this.proc);
    this.proc = undefined;
  }

  /** SIGSTOP: the server keeps its connections open but answers nothing until `thaw`. */
  freeze(): void {
    this.proc?.kill('SIGSTOP');
  }

  thaw(): void {
    this.proc?.kill('SIGCONT');
  }
}

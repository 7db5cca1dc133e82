/**
 * Worker processes for the examples' one-command runs: `celerity worker` from this checkout's build, started with
 * the caller's environment (so CELERITY_BROKER_URL and friends reach it), resolved once it logs that it is ready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface Running {
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `command args` and resolves once a line of its output matches `ready`; rejects if it exits first. */
export function startProcess(command: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = process.env, cwd?: string): Promise<Running> {
  const proc = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  // However this script ends (an error included), its workers end with it rather than linger.
  const orphan = () => proc.kill('SIGTERM');
  process.once('exit', orphan);
  proc.once('exit', () => process.off('exit', orphan));
  const seen: string[] = [];
  return new Promise((resolve, reject) => {
    const stop = async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      await once(proc, 'exit');
    };
    for (const stream of [proc.stdout!, proc.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        if (process.env.EXAMPLE_VERBOSE) console.error(line);
        seen.push(line);
        if (seen.length > 50) seen.shift();
        if (ready.test(line)) resolve({ proc, stop });
      });
    }
    proc.once('exit', (code) => reject(new Error(`${command} exited with ${code} before it was ready:\n${seen.join('\n')}`)));
  });
}

/** `celerity worker -A <module> ...args`, quiet unless EXAMPLE_VERBOSE is set. */
export function startWorker(module: string, args: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<Running> {
  return startProcess(process.execPath, [CLI, 'worker', '-A', module, '--loglevel', 'info', ...args], /ready\./, env);
}

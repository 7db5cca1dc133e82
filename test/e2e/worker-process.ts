/**
 * `celerity worker` as a child process for the end-to-end tests: started from the built CLI (dist/), its stdout
 * lines collected, resolved once it logs that it is ready; rejected with its stderr if it exits first.
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

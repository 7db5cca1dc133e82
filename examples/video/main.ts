/**
 * `npx tsx examples/video/main.ts`: a process-pool worker; one video that finishes, one that runs into its soft
 * limit (shortened to 1 s for the run) and cleans up, and one stuck in a single long segment that the hard limit
 * (2 s) kills. Output goes to a temporary folder, listed at the end.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startWorker } from '../shared/workers.js';
import { app, transcode } from './tasks.js';

const tasks = fileURLToPath(new URL('./tasks.ts', import.meta.url));
const out = await mkdtemp(path.join(os.tmpdir(), 'celerity-video-'));
const worker = await startWorker(tasks, ['-Q', 'video', '-P', 'process', '-c', '2']);
const limits = { softTimeLimit: 1, timeLimit: 2 };

const runs = {
  'short.mp4 (4 segments)': await transcode.applyAsync(['/videos/short.mp4', out, 4, 100], limits),
  'long.mp4 (40 segments, soft limit)': await transcode.applyAsync(['/videos/long.mp4', out, 40, 100], limits),
};
for (const [label, r] of Object.entries(runs)) {
  const v = await r.get({ timeout: 30_000, propagate: false });
  console.log(`${label.padEnd(40)} ${v instanceof Error ? `${v.name}: ${v.message}` : `-> ${path.basename(v.output)}`}`);
}
const stuck = await transcode.applyAsync(['/videos/stuck.mp4', out, 1, 60_000], limits);
const v = await stuck.get({ timeout: 30_000, propagate: false });
console.log(`${'stuck.mp4 (one 60 s segment, hard limit)'.padEnd(40)} ${v instanceof Error ? `${v.name}: ${v.message}` : 'finished?'}`);

console.log(`\n${out}:`);
for (const entry of await readdir(out, { recursive: true })) console.log(`  ${entry}`);
console.log('(the soft-limited run left nothing behind; the killed one could not clean up its folder)');
await worker.stop();
await app.close();
await rm(out, { recursive: true, force: true });

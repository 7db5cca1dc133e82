/**
 * `npx tsx examples/media-detection/main.ts`: one worker per detection queue on the embedded store, images and
 * videos sent to both, PROCESSING shown while videos are scanned, and every result printed at the end.
 */
import { fileURLToPath } from 'node:url';
import type { AsyncResult } from 'celerity';
import { startWorker } from '../shared/workers.js';
import { app, detectFacesImage, detectFacesVideo, detectObjectsImage, detectObjectsVideo, type ProcessingMeta } from './tasks.js';

const tasks = fileURLToPath(new URL('./tasks.ts', import.meta.url));

const workers = await Promise.all([
  startWorker(tasks, ['-Q', 'face_detection', '-c', '2', '-n', 'faces@%h']),
  startWorker(tasks, ['-Q', 'object_detection', '-c', '2', '-n', 'objects@%h']),
]);

const sent: [string, AsyncResult<unknown>][] = [
  ['faces   beach.jpg', await detectFacesImage.delay('/media/beach.jpg')],
  ['objects street.jpg', await detectObjectsImage.delay('/media/street.jpg')],
  ['faces   lobby.mp4 (frame_skip 4)', await detectFacesVideo.applyAsync(['/media/lobby.mp4'], { kwargs: { frame_skip: 4 } })],
  ['objects parking.mp4 (frame_skip 8)', await detectObjectsVideo.applyAsync(['/media/parking.mp4'], { kwargs: { frame_skip: 8 } })],
];

// Progress as a client would show it: the PROCESSING meta of each video, whenever it changes.
const last = new Map<string, string>();
for (const end = Date.now() + 60_000; ; ) {
  if (Date.now() > end) throw new Error('the videos did not finish within 60 s; run with EXAMPLE_VERBOSE=1 to see the workers');
  let pending = 0;
  for (const [label, r] of sent) {
    const meta = await r.meta();
    const state = meta?.status ?? 'PENDING';
    if (!['SUCCESS', 'FAILURE'].includes(state)) pending++;
    if (state !== 'PROCESSING') continue;
    const m = meta!.result as ProcessingMeta;
    const line = `frame ${m.current_frame}/${m.total_frames}, ${m.frames_processed} scanned, ${m.detections} found`;
    if (last.get(label) !== line) console.log(`  ${label.padEnd(36)} PROCESSING ${line}`);
    last.set(label, line);
  }
  if (!pending) break;
  await new Promise((r) => setTimeout(r, 50));
}

console.log('\nresults:');
for (const [label, r] of sent) {
  const v = (await r.get({ timeout: 10_000 })) as { detections: { label: string }[]; queue: string; frames_processed?: number };
  const counts = new Map<string, number>();
  for (const d of v.detections) counts.set(d.label, (counts.get(d.label) ?? 0) + 1);
  const found = [...counts].map(([l, n]) => `${n} ${l}`).join(', ') || 'nothing';
  console.log(`  ${label.padEnd(36)} queue ${v.queue}, ${v.frames_processed ?? 1} frame(s) scanned, found ${found}`);
}

await Promise.all(workers.map((w) => w.stop()));
await app.close();

/**
 * examples/media-detection: one worker per detection queue on one SQLite file. Images and videos reach the queue of
 * their kind, videos honour the `frame_skip` kwarg and show the custom PROCESSING state with its meta while frames
 * are scanned, and a bad `frame_skip` fails with a clear error.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Celerity } from '../../src/index.js';
import { app, frameCount } from '../../examples/media-detection/tasks.js';
import { useSqliteCli } from './sqlite-cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tasks = path.join(root, 'examples/media-detection/tasks.ts');
const fresh = useSqliteCli(tasks);

describe('examples/media-detection', () => {
  it('routes by kind, scans every frame_skip-th frame and reports PROCESSING meta', { timeout: 60_000 }, async () => {
    const s = fresh();
    const [faces, objects] = await Promise.all([
      s.worker('faces', ['-Q', 'face_detection', '-c', '2']),
      s.worker('objects', ['-Q', 'object_detection', '-c', '2']),
    ]);
    // A producer that knows only the example's routes, as a service sending by name would.
    const client = new Celerity('producer', { broker: s.url, backend: s.url, loglevel: 'silent', taskRoutes: app.conf.taskRoutes }, {});
    onTestFinished(() => client.close());

    const image = await client.sendTask<any>('detection.objects.image', ['/media/street.jpg']);
    const video = await client.sendTask<any>('detection.faces.video', ['/media/lobby.mp4'], { kwargs: { frame_skip: 4 } });

    // Every state a client polling the result sees, until the video is done.
    const states: { status: string; result: any }[] = [];
    for (const end = Date.now() + 20_000; Date.now() < end; ) {
      const meta = await video.meta();
      if (meta) states.push({ status: meta.status, result: meta.result });
      if (meta?.status === 'SUCCESS' || meta?.status === 'FAILURE') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const total = frameCount('/media/lobby.mp4');
    const processing = states.filter((m) => m.status === 'PROCESSING').map((m) => m.result);
    expect(processing.length).toBeGreaterThan(0);
    for (const m of processing) {
      expect(m).toMatchObject({ path: '/media/lobby.mp4', total_frames: total });
      expect(m.current_frame % 4).toBe(0);
      expect(m.frames_processed).toBe(m.current_frame / 4 + 1);
    }

    const done = await video.get({ timeout: 20_000 });
    expect(done).toMatchObject({ path: '/media/lobby.mp4', frame_skip: 4, total_frames: total, frames_processed: Math.ceil(total / 4), queue: 'face_detection' });
    for (const d of done.detections) expect(d).toMatchObject({ label: 'face', frame: expect.any(Number) });
    expect(done.detections.every((d: any) => d.frame % 4 === 0)).toBe(true);

    expect(await image.get({ timeout: 20_000 })).toMatchObject({ path: '/media/street.jpg', queue: 'object_detection' });
    const other = await client.sendTask<any>('detection.objects.video', ['/media/parking.mp4'], { kwargs: { frame_skip: 8 } });
    expect(await other.get({ timeout: 20_000 })).toMatchObject({ frame_skip: 8, frames_processed: Math.ceil(frameCount('/media/parking.mp4') / 8), queue: 'object_detection' });

    // Each kind ran on the worker that consumes its queue only.
    expect(faces.lines.some((l) => l.includes(video.id))).toBe(true);
    expect(faces.lines.some((l) => l.includes(image.id))).toBe(false);
    expect(objects.lines.some((l) => l.includes(image.id))).toBe(true);

    const bad = await client.sendTask('detection.faces.video', ['/media/lobby.mp4'], { kwargs: { frame_skip: 0 } });
    const err = (await bad.get({ timeout: 20_000 }).catch((e: Error) => e)) as Error;
    expect(err.name).toBe('TypeError');
    expect(err.message).toBe('frame_skip must be a positive integer, got 0');
  });
});

/**
 * Media detection: faces and objects go to their own queues so each can get workers sized for it
 * (`celerity worker -A examples/media/tasks.ts -Q face_detection -c 2`). Detection is simulated with CPU-light
 * waits; the shape (progress, retries with backoff, time limits, acks late) is what a real model call needs.
 */
import { Celerity } from 'celerity';

export const app = new Celerity('media', {
  taskRoutes: {
    'media.faces.*': { queue: 'face_detection' },
    'media.objects.*': { queue: 'object_detection' },
  },
});

/** A stand-in for a model run: reports progress frame by frame, stops early when aborted. */
async function scan(ctx: { updateState(s: string, m: unknown): Promise<void>; signal: AbortSignal }, frames: number) {
  for (let current = 1; current <= frames; current++) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    await new Promise((r) => setTimeout(r, 40));
    await ctx.updateState('PROGRESS', { current, total: frames });
  }
}

export const detectFaces = app.task(
  'media.faces.detect',
  async function (path: string) {
    await scan(this, 10);
    const faces = [...path].reduce((n, c) => n + c.charCodeAt(0), 0) % 5;
    return { path, faces };
  },
  { params: ['path'], maxRetries: 3, retryBackoff: true, softTimeLimit: 25 * 60, timeLimit: 30 * 60, acksLate: true },
);

export const detectObjects = app.task(
  'media.objects.detect',
  async function (path: string, labels: string[] = ['person', 'car', 'dog']) {
    await scan(this, 6);
    return { path, objects: labels.filter((_, i) => (path.length + i) % 2 === 0) };
  },
  { params: ['path', 'labels'], maxRetries: 3, retryBackoff: true },
);

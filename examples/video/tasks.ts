/**
 * Video transcoding: long, CPU-bound runs in child processes (`-P process`), one message reserved at a time per
 * slot (`prefetchMultiplier: 1`, so a long video never holds back others a free worker could take) and acked only
 * when done (`acksLate`, so a crashed worker's video is redelivered). Limits as production sets them: a soft limit
 * at 25 minutes that the task catches to delete its partial output, and a hard limit at 30 that kills a child
 * which is stuck and cannot react. Callers may pass other limits per call (`softTimeLimit`, `timeLimit`).
 *
 * Encoding is simulated: each segment is CPU work of `segment_ms` milliseconds written to a file under
 * `out_dir/<task id>/`; the segments are joined into `out_dir/<task id>.mp4` at the end.
 */
import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Celerity, SoftTimeLimitExceeded } from 'celerity';

export const app = new Celerity('video', {
  taskRoutes: { 'video.*': { queue: 'video' } },
  queues: ['video'],
  prefetchMultiplier: 1,
});

/** One segment's encoding: synchronous CPU work, as a codec call is; nothing else runs in this child meanwhile. */
function encodeSegment(source: string, index: number, ms: number): Buffer {
  const end = Date.now() + ms;
  let digest = createHash('sha256').update(`${source}#${index}`).digest();
  while (Date.now() < end) digest = createHash('sha256').update(digest).digest();
  return digest;
}

export interface TranscodeResult {
  source: string;
  output: string;
  segments: number;
}

export const transcode = app.task(
  'video.transcode',
  async function (source: string, out_dir: string, segments: number = 8, segment_ms: number = 250): Promise<TranscodeResult> {
    if (typeof out_dir !== 'string' || !path.isAbsolute(out_dir)) throw new TypeError(`out_dir must be an absolute path, got ${JSON.stringify(out_dir)}`);
    if (!Number.isInteger(segments) || segments < 1) throw new TypeError(`segments must be a positive integer, got ${JSON.stringify(segments)}`);
    if (typeof segment_ms !== 'number' || !(segment_ms >= 0)) throw new TypeError(`segment_ms must be a number of milliseconds, got ${JSON.stringify(segment_ms)}`);
    const work = path.join(out_dir, this.id);
    await mkdir(work, { recursive: true });
    try {
      for (let i = 0; i < segments; i++) {
        // The soft limit arrives as an abort, seen between segments: a turn of the event loop lets its timer fire.
        await new Promise((r) => setImmediate(r));
        if (this.signal.aborted) throw this.signal.reason;
        await writeFile(path.join(work, `segment-${String(i).padStart(4, '0')}.ts`), encodeSegment(source, i, segment_ms));
      }
      const parts = await Promise.all(Array.from({ length: segments }, (_, i) => readFile(path.join(work, `segment-${String(i).padStart(4, '0')}.ts`))));
      const output = path.join(out_dir, `${this.id}.mp4`);
      await writeFile(output, Buffer.concat(parts));
      await rm(work, { recursive: true, force: true });
      return { source, output, segments };
    } catch (err) {
      // Out of time: no half-written segments left behind, then fail so the result says why. Other errors keep
      // the segments for a look at what went wrong.
      if (err instanceof SoftTimeLimitExceeded) await rm(work, { recursive: true, force: true });
      throw err;
    }
  },
  { params: ['source', 'out_dir', 'segments', 'segment_ms'], acksLate: true, softTimeLimit: 25 * 60, timeLimit: 30 * 60 },
);

/**
 * Face and object detection on images and videos, each kind on its own queue (`face_detection`,
 * `object_detection`) so each gets workers sized for it. Videos are scanned every `frame_skip`-th frame, the
 * kwarg Python callers pass (`detect_faces_video.apply_async(args=[path], kwargs={'frame_skip': 5})`), and report
 * a custom PROCESSING state with the frame reached and what was found so far. The model is simulated: detections
 * are derived from the file name so runs are repeatable, and each frame takes a few milliseconds.
 */
import { Celerity, type TaskContext } from 'celerity';

export const app = new Celerity('media-detection', {
  taskRoutes: {
    'detection.faces.*': { queue: 'face_detection' },
    'detection.objects.*': { queue: 'object_detection' },
  },
  queues: ['face_detection', 'object_detection'],
});

export interface Detection {
  frame: number;
  label: string;
  confidence: number;
}

/** What PROCESSING carries while a video is scanned. */
export interface ProcessingMeta {
  path: string;
  current_frame: number;
  total_frames: number;
  frames_processed: number;
  detections: number;
}

const FACE_LABELS = ['face'];
const OBJECT_LABELS = ['person', 'car', 'dog', 'bicycle'];

function hash(text: string): number {
  let h = 2166136261;
  for (const c of text) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return h;
}

/** The stand-in model: a repeatable verdict for one frame of one file. */
function inferFrame(path: string, frame: number, labels: readonly string[]): Detection[] {
  const h = hash(`${path}#${frame}`);
  const count = h % 3;
  return Array.from({ length: count }, (_, i) => ({
    frame,
    label: labels[(h >>> (i * 4)) % labels.length]!,
    confidence: Math.round((0.5 + ((h >>> (i * 7)) % 50) / 100) * 100) / 100,
  }));
}

/** A video's frame count, as a probe of its container would give it. */
export function frameCount(path: string): number {
  return 40 + (hash(path) % 40);
}

function checkFrameSkip(frameSkip: unknown): number {
  if (typeof frameSkip !== 'number' || !Number.isInteger(frameSkip) || frameSkip < 1) {
    throw new TypeError(`frame_skip must be a positive integer, got ${JSON.stringify(frameSkip)}`);
  }
  return frameSkip;
}

async function scanVideo(ctx: TaskContext, path: string, frameSkip: number, labels: readonly string[]) {
  const total = frameCount(path);
  const detections: Detection[] = [];
  let processed = 0;
  for (let frame = 0; frame < total; frame += frameSkip) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    await new Promise((r) => setTimeout(r, 15));
    detections.push(...inferFrame(path, frame, labels));
    processed++;
    const meta: ProcessingMeta = { path, current_frame: frame, total_frames: total, frames_processed: processed, detections: detections.length };
    await ctx.updateState('PROCESSING', meta);
  }
  return { path, frame_skip: frameSkip, total_frames: total, frames_processed: processed, detections, queue: ctx.delivery.queue };
}

async function scanImage(ctx: TaskContext, path: string, labels: readonly string[]) {
  await new Promise((r) => setTimeout(r, 15));
  return { path, detections: inferFrame(path, 0, labels), queue: ctx.delivery.queue };
}

export const detectFacesImage = app.task(
  'detection.faces.image',
  async function (path: string) {
    return scanImage(this, path, FACE_LABELS);
  },
  { params: ['path'], acksLate: true },
);

export const detectFacesVideo = app.task(
  'detection.faces.video',
  async function (path: string, frame_skip: number = 5) {
    return scanVideo(this, path, checkFrameSkip(frame_skip), FACE_LABELS);
  },
  { params: ['path', 'frame_skip'], acksLate: true, softTimeLimit: 25 * 60, timeLimit: 30 * 60 },
);

export const detectObjectsImage = app.task(
  'detection.objects.image',
  async function (path: string) {
    return scanImage(this, path, OBJECT_LABELS);
  },
  { params: ['path'], acksLate: true },
);

export const detectObjectsVideo = app.task(
  'detection.objects.video',
  async function (path: string, frame_skip: number = 10) {
    return scanVideo(this, path, checkFrameSkip(frame_skip), OBJECT_LABELS);
  },
  { params: ['path', 'frame_skip'], acksLate: true, softTimeLimit: 25 * 60, timeLimit: 30 * 60 },
);

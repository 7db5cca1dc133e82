/**
 * The newest slot of a schedule in a range, for catching up after an outage: slots are found forwards only, so
 * the search looks back over growing windows from the end of the range and never enumerates a year of minutes.
 */
import type { ScheduleSpec } from '../schedule/spec.js';
import { slotsBetween, type SlotOptions } from '../schedule/next.js';

const WINDOWS_MS = [3_600_000, 86_400_000, 7 * 86_400_000, 400 * 86_400_000];
const CHUNK = 1000;

/** The newest slot in (after, upTo], or null when there is none. */
export function newestSlotUpTo(spec: ScheduleSpec, after: number, upTo: number, options: SlotOptions): number | null {
  if (upTo <= after) return null;
  for (const w of [...WINDOWS_MS, Infinity]) {
    const from = Math.max(after, upTo - w);
    const found = lastOf(spec, from, upTo, options);
    if (found !== null) return found;
    if (from === after) return null;
  }
  return null;
}

function lastOf(spec: ScheduleSpec, from: number, upTo: number, options: SlotOptions): number | null {
  let last: number | null = null;
  let cursor = from;
  for (;;) {
    const chunk = slotsBetween(spec, cursor, upTo, options, CHUNK);
    if (!chunk.length) return last;
    last = chunk[chunk.length - 1]!;
    if (chunk.length < CHUNK) return last;
    cursor = last;
  }
}

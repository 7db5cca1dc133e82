/**
 * Schedule entries as the app accepts them: Celery's `beat_schedule` shape with calling options under either
 * spelling (`softTimeLimit` or Celery's `soft_time_limit`), stored under Celery's names so that an entry reads the
 * same whichever language wrote it.
 */
import { celeryOptions, type SignatureOptions } from '../canvas/options.js';
import { toScheduleEntry, type ScheduleEntry } from '../schedule/entry.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Our camelCase option names, found by asking the canvas's translation table. */
function celeryNameOf(key: string): string | undefined {
  try {
    return Object.keys(celeryOptions({ [key]: true } as SignatureOptions))[0];
  } catch {
    return undefined;
  }
}

/** toScheduleEntry, with calling options renamed to Celery's names. */
export function normalizeEntry(input: unknown, where: string): ScheduleEntry {
  if (isObject(input) && isObject(input.options)) {
    const options: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(input.options)) {
      if (value === undefined) continue;
      options[celeryNameOf(key) ?? key] = value instanceof Date ? value.toISOString() : value;
    }
    input = { ...input, options };
  }
  return toScheduleEntry(input, where);
}

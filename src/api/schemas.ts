/**
 * Zod shapes shared by the route modules: they validate requests and describe the OpenAPI document. Times in
 * responses are epoch milliseconds, as the history store keeps them.
 */
import { z } from 'zod';

/**
 * A task id as Celery accepts one: any text, but not empty, not longer than 255 characters (the width of the
 * result tables' id column) and without control characters (they would corrupt logs and store keys).
 */
export const taskIdSchema = z
  .string()
  .min(1, 'a task id cannot be empty')
  .max(255, 'a task id is at most 255 characters')
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'a task id cannot contain control characters')
  .describe('task id (usually a UUID)');

export const taskIdParams = z.object({ id: taskIdSchema });

/** One task as the history keeps it (src/history/port.ts TaskRecord). */
export const taskRecordSchema = z.object({
  id: z.string(),
  name: z.string().nullable(),
  state: z.string().describe('PENDING, RECEIVED, STARTED, PROGRESS or another custom state, RETRY, SUCCESS, FAILURE, REVOKED, REJECTED'),
  queue: z.string().nullable(),
  worker: z.string().nullable().describe('the node that received or ran it'),
  args: z.string().nullable().describe('Python repr text of the positional arguments'),
  kwargs: z.string().nullable().describe('Python repr text of the keyword arguments'),
  argsJson: z.string().nullable().describe('the positional arguments as JSON text, when known exactly'),
  kwargsJson: z.string().nullable().describe('the keyword arguments as JSON text, when known exactly'),
  result: z.string().nullable().describe('repr text (from an event) or JSON text (from the result store) of the return value'),
  exception: z.string().nullable(),
  traceback: z.string().nullable(),
  meta: z.string().nullable().describe('custom-state meta (PROGRESS) as JSON text'),
  retries: z.number().nullable(),
  runtime: z.number().nullable().describe('seconds the task ran'),
  parentId: z.string().nullable(),
  rootId: z.string().nullable(),
  groupId: z.string().nullable(),
  eta: z.string().nullable(),
  expires: z.string().nullable(),
  createdAt: z.number().describe('first seen, epoch ms'),
  sentAt: z.number().nullable(),
  receivedAt: z.number().nullable(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  updatedAt: z.number(),
});

export const timelineEntrySchema = z.object({
  type: z.string().describe('task-received, task-started, ..., result-<STATE>, api-sent, api-revoke, api-retry'),
  timestamp: z.number().describe('epoch ms'),
  hostname: z.string().nullable(),
  fields: z.unknown().describe("the event's own fields"),
});

export const taskErrorSchema = z.object({
  type: z.string().nullable().describe('the exception type (ValueError)'),
  message: z.string().describe("Python's str(exc)"),
  traceback: z.string().nullable(),
});

/** GET /api/v1/tasks/{id}: the history record merged with the result store's meta. */
export const taskDetailSchema = taskRecordSchema.omit({ result: true }).extend({
  known: z.boolean().describe('false: neither the history nor the result store knows the id (Celery reports PENDING for unknown ids)'),
  result: z.unknown().describe('the return value (JSON from the result store) or its repr text (from an event); null when none'),
  error: taskErrorSchema.nullable(),
  progress: z.unknown().describe('the meta of a custom state such as PROGRESS ({current, total}); null otherwise'),
  timeline: z.array(timelineEntrySchema),
});

/** Epoch ms from ISO 8601 text, epoch seconds, or (with `relative`) an age such as `30m`, `1h`, `2d` ago. */
export function parseInstant(text: string, relative: boolean, now = Date.now()): number | null {
  const t = text.trim();
  if (t === '') return null;
  const age = /^(\d+(?:\.\d+)?)(s|m|h|d|w)$/.exec(t);
  if (age) {
    if (!relative) return null;
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[age[2] as 's' | 'm' | 'h' | 'd' | 'w'];
    return now - Number(age[1]) * unit;
  }
  if (/^\d+(?:\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  // Only ISO 8601 shapes: Date.parse also takes free text such as "tomorrow 5pm" in some engines.
  const date = /^(\d{4})-(\d{2})-(\d{2})([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.exec(t);
  if (!date) return null;
  // Date.parse rolls 2026-02-30 over to March; a day that does not exist is a mistake to report.
  const [y, m, d] = [Number(date[1]), Number(date[2]), Number(date[3])];
  const day = new Date(Date.UTC(y, m - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d) return null;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

const instant = (relative: boolean) =>
  z
    .union([z.string(), z.number()])
    .transform((v, ctx) => {
      const ms = typeof v === 'number' ? (Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : null) : parseInstant(v, relative);
      if (ms === null) {
        ctx.addIssue({
          code: 'custom',
          message: relative ? 'expected ISO 8601 text, epoch seconds, or an age such as 30m, 1h, 2d' : 'expected ISO 8601 text or epoch seconds',
        });
        return z.NEVER;
      }
      return ms;
    });

/** `a,b`, or the parameter repeated (`state=a&state=b`). */
const csv = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((part) => part.split(',')).map((s) => s.trim()).filter(Boolean))
  .describe('comma-separated list');

/** Which tasks: the list query's filter fields, also the `filter` of bulk calls. */
export const taskFilterShape = {
  state: csv.optional().describe('any of these states, comma separated (SUCCESS,FAILURE)'),
  name: z.string().min(1).optional().describe('exact task name, or a prefix ending with *'),
  worker: z.string().min(1).optional(),
  queue: z.string().min(1).optional(),
  since: instant(true).optional().describe('first seen at or after: ISO 8601, epoch seconds, or an age (30m, 1h, 2d) ago'),
  until: instant(false).optional().describe('first seen before: ISO 8601 or epoch seconds'),
  q: z.string().min(1).max(200).optional().describe('case-insensitive text in the id, name, arguments, result or exception'),
};

export const taskListQuery = z.strictObject({
  ...taskFilterShape,
  limit: z.coerce.number().int().min(1).max(1000).default(50).describe('tasks per page, 1 to 1000'),
  cursor: z.string().min(1).max(1000).optional().describe('the `next` of the previous page'),
});

export const taskPageSchema = z.object({
  tasks: z.array(taskRecordSchema),
  next: z.string().nullable().describe('cursor of the next page; null on the last'),
});

export type TaskFilter = { [K in keyof typeof taskFilterShape]?: z.output<(typeof taskFilterShape)[K]> };

/** The problem+json body every error response carries (RFC 9457). */
export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number(),
  detail: z.string(),
  instance: z.string().optional(),
  field: z.string().optional().describe('the request field that was wrong, as a JSON pointer (/query/limit)'),
  errors: z.array(z.object({ field: z.string(), detail: z.string() })).optional(),
});

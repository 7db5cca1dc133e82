/**
 * The dashboard's JSON routes: the chart series (`GET /api/v1/stats`) and the periodic tasks of the app's schedule
 * store (`GET /api/v1/schedules`, `POST /api/v1/schedules/{name}/pause|resume|run`). Access is by method as for
 * every route: GET reads, POST needs a read-write caller.
 */
import { z } from 'zod';
import type { ApiContext, ApiInstance } from '../api/context.js';
import { Problem } from '../api/problem.js';
import { problemSchema } from '../api/schemas.js';
import { nextFireTimes, type ScheduleInfo } from '../app/schedules.js';
import type { ScheduleStore } from '../backend/schedules.js';
import { ConfigurationError } from '../errors/index.js';
import { describeSpec } from '../schedule/spec.js';
import type { StatsCollector } from './stats.js';

const TAGS = ['dashboard'];

const statsPointSchema = z.object({
  t: z.number().describe('start of the period, epoch ms'),
  succeeded: z.number(),
  failed: z.number(),
  retried: z.number(),
  received: z.number(),
  started: z.number(),
  runtimeP50: z.number().nullable().describe('seconds'),
  runtimeP95: z.number().nullable().describe('seconds'),
  waitP50: z.number().nullable().describe('seconds from received to started'),
});

export const statsSchema = z.object({ step: z.number().describe('seconds per point'), points: z.array(statsPointSchema) });

const scheduleSchema = z.object({
  name: z.string(),
  task: z.string().nullable().describe('null when the stored definition cannot be read (see error)'),
  schedule: z.string().nullable().describe('the schedule as text, such as `every 30 s` or a crontab'),
  paused: z.boolean(),
  nextRunAt: z.number().nullable().describe('epoch ms; null when paused or when no slot is left'),
  lastRunAt: z.number().nullable().describe('epoch ms'),
  totalRuns: z.number(),
  lastTaskId: z.string().nullable(),
  source: z.enum(['config', 'runtime']).describe('`config`: from the beatSchedule setting; `runtime`: added through app.schedules'),
  error: z.string().nullable().describe('why the stored definition cannot be read'),
});

type ScheduleBody = z.infer<typeof scheduleSchema>;

const nameParams = z.object({
  name: z
    .string()
    .min(1)
    .max(255)
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters')
    .describe('the schedule name'),
});

export interface DashboardRouteOptions {
  stats: StatsCollector;
  now?: () => number;
}

export function registerDashboardRoutes(api: ApiInstance, ctx: ApiContext, options: DashboardRouteOptions): void {
  const now = options.now ?? Date.now;

  api.get('/api/v1/stats', {
    schema: {
      tags: TAGS,
      summary: 'Task counts, runtimes and queue waits over time: per second for 15m, per minute for 1h and 24h',
      querystring: z.strictObject({ window: z.enum(['15m', '1h', '24h']).default('15m').describe('how far back') }),
      response: { 200: statsSchema, 400: problemSchema },
    },
  }, async (req) => options.stats.series(req.query.window));

  api.get('/api/v1/schedules', {
    schema: {
      tags: TAGS,
      summary: 'The periodic tasks in the schedule store, with their state; available is false when the app keeps no schedules',
      response: { 200: z.object({ available: z.boolean(), schedules: z.array(scheduleSchema) }), 503: problemSchema },
    },
  }, async () => {
    const store = await scheduleStoreOf(ctx);
    if (!store) return { available: false, schedules: [] };
    const list = await reading(() => ctx.app.schedules.list());
    return { available: true, schedules: list.map((s) => toBody(s, ctx.app.conf.timezone, now())) };
  });

  const change = (action: 'pause' | 'resume', summary: string) =>
    api.post(`/api/v1/schedules/:name/${action}`, {
      schema: { tags: TAGS, summary, params: nameParams, response: { 200: scheduleSchema, 400: problemSchema, 404: problemSchema, 503: problemSchema } },
    }, async (req) => {
      const { name } = req.params;
      await existing(ctx, name);
      await reading(() => (action === 'pause' ? ctx.app.schedules.pause(name) : ctx.app.schedules.resume(name)));
      const after = await existing(ctx, name);
      return toBody(after, ctx.app.conf.timezone, now());
    });
  change('pause', 'Stops a schedule from firing until resumed (running beats see it within a second); slots that pass meanwhile are skipped');
  change('resume', 'Lets a paused schedule fire again from its next slot');

  api.post('/api/v1/schedules/:name/run', {
    schema: {
      tags: TAGS,
      summary: 'Sends the schedule’s task now, outside its slots (counted in its runs)',
      params: nameParams,
      response: { 200: z.object({ name: z.string(), taskId: z.string() }), 400: problemSchema, 404: problemSchema, 422: problemSchema, 503: problemSchema },
    },
  }, async (req) => {
    const { name } = req.params;
    const info = await existing(ctx, name);
    if (!info.entry) throw new Problem(422, `schedule ${JSON.stringify(name)} cannot be run: ${info.invalid ?? 'its definition cannot be read'}`);
    const result = await reading(() => ctx.app.schedules.runNow(name));
    return { name, taskId: result.id };
  });
}

/** The app's schedule store, or null when its settings give it none (a result backend that keeps no schedules). */
async function scheduleStoreOf(ctx: ApiContext): Promise<ScheduleStore | null> {
  try {
    return await ctx.app.scheduleStore();
  } catch (err) {
    if (err instanceof ConfigurationError) return null;
    throw new Problem(503, `the schedule store cannot be reached: ${(err as Error).message}`);
  }
}

async function existing(ctx: ApiContext, name: string): Promise<ScheduleInfo> {
  if (!(await scheduleStoreOf(ctx))) {
    throw new Problem(404, 'this app keeps no schedules: its result backend has no schedule store (set beatStore to sqlite://, redis:// or postgresql://)');
  }
  const info = await reading(() => ctx.app.schedules.get(name));
  if (!info) throw new Problem(404, `no schedule named ${JSON.stringify(name)}`, { field: '/params/name' });
  return info;
}

/** A store failure is the store's (503), not a bug of the server (500). */
async function reading<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Problem) throw err;
    throw new Problem(503, `the schedule store failed: ${(err as Error).message}`);
  }
}

function toBody(s: ScheduleInfo, timezone: string, now: number): ScheduleBody {
  let nextRunAt: number | null = null;
  if (s.entry && !s.paused) {
    const due = s.nextDueAt?.getTime();
    nextRunAt = due !== undefined && due >= now - 1000 ? due : (nextFireTimes(s.entry, timezone, now, 1)[0] ?? null);
  }
  return {
    name: s.name,
    task: s.entry?.task ?? null,
    schedule: s.entry ? describeSpec(s.entry.schedule) : null,
    paused: s.paused,
    nextRunAt,
    lastRunAt: s.lastRunAt?.getTime() ?? null,
    totalRuns: s.totalRuns,
    lastTaskId: s.lastTaskId,
    source: s.source,
    error: s.entry ? null : (s.invalid ?? 'the stored definition cannot be read'),
  };
}

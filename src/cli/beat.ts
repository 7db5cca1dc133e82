/**
 * `celerity beat` (the scheduler as a process of its own) and `celerity schedule list|add|pause|resume|delete|
 * run|next` (schedules changed at run time; running beats see a change within a second).
 */
import type { Command } from 'commander';
import type { Celerity } from '../app/celerity.js';
import { nextFireTimes, type ScheduleInfo } from '../app/schedules.js';
import { Beat } from '../beat/beat.js';
import type { ScheduleEntryInput } from '../schedule/entry.js';
import { describeSpec } from '../schedule/spec.js';
import { appFrom, maskUrl, parseJsonFlag, UsageError, type CommonFlags } from './context.js';
import { Exit, fail } from './exit.js';
import { VERSION } from './version.js';

/** Starts a beat beside a worker (`worker -B`) or alone; stop it before closing the app. */
export async function startBeat(app: Celerity): Promise<Beat> {
  const beat = new Beat(app);
  await beat.start();
  return beat;
}

export function registerBeat(program: Command, common: (cmd: Command) => Command): void {
  common(program.command('beat').description('send periodic tasks when they are due (any number of beats may run: one leads)'))
    .action(async (o: CommonFlags) => {
      const app = await appFrom(o);
      const beat = new Beat(app);
      const names = Object.keys(app.conf.beatSchedule);
      process.stderr.write(
        [
          `celerity ${VERSION} beat (Node ${process.version})`,
          `.> broker:    ${maskUrl(app.conf.broker)}`,
          `.> store:     ${maskUrl(app.conf.beatStore ?? app.conf.backend)}`,
          `.> timezone:  ${app.conf.timezone}`,
          `.> lease:     ${app.conf.beatLeaseTimeout}s (${beat.id})`,
          `.> schedules: ${names.length ? names.join(', ') : '(none in beatSchedule)'}`,
          '',
        ].join('\n'),
      );
      await beat.start();
      let stopping = false;
      const stop = () => {
        if (stopping) process.exit(Exit.OK);
        stopping = true;
        void beat.stop().then(() => app.close()).then(() => process.exit(Exit.OK), fail);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });

  const schedule = program.command('schedule').description('list and change periodic tasks without restarting beats');

  common(schedule.command('list').description('every schedule with its state and next fire time'))
    .option('--json', 'one JSON object per line')
    .action(async (o: CommonFlags & { json?: boolean }) => {
      const app = await appFrom(o, { loglevel: 'warn' });
      const all = await app.schedules.list();
      await app.close();
      for (const s of all) {
        if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
        else process.stdout.write(`${row(s, app.conf.timezone)}\n`);
      }
      if (!o.json && !all.length) process.stderr.write('no schedules\n');
    });

  common(schedule.command('add <name>').description('add a schedule (fails if the name exists)'))
    .requiredOption('-t, --task <name>', 'task to send')
    .option('--cron <expr>', "cron expression, e.g. '0 2 * * *' (day fields combine with AND, as in Celery)")
    .option('--every <seconds>', 'interval in seconds')
    .option('--at <iso>', 'one-off at this time (ISO 8601)')
    .option('-a, --args <json>', 'positional arguments as a JSON array')
    .option('-k, --kwargs <json>', 'keyword arguments as a JSON object')
    .option('-Q, --queue <name>', 'queue to send to')
    .option('--options <json>', "other calling options as a JSON object (Celery's names: priority, expires, ...)")
    .option('--tz <zone>', 'IANA time zone of a cron schedule (default: the timezone setting)')
    .option('--start <iso>', 'no run before this time')
    .option('--end <iso>', 'no run after this time')
    .option('--max-runs <n>', 'stop after this many runs')
    .option('--misfire <policy>', 'once (default), skip or all')
    .option('--misfire-grace <seconds>', 'how late a slot may still run (skip/all)')
    .option('--overlap <policy>', 'allow (default) or skip while the previous run is unfinished')
    .option('--paused', 'add it paused')
    .action(async (name: string, o: CommonFlags & AddFlags) => {
      const kinds = [o.cron, o.every, o.at].filter((v) => v !== undefined).length;
      if (kinds !== 1) throw new UsageError('give exactly one of --cron, --every or --at');
      const entry: ScheduleEntryInput = {
        task: o.task,
        schedule: o.cron !== undefined ? { cron: o.cron } : o.every !== undefined ? { every: number(o.every, '--every') } : { at: o.at },
        args: parseJsonFlag<unknown[]>(o.args, '--args', Array.isArray, 'a JSON array') ?? [],
        kwargs: parseJsonFlag<Record<string, unknown>>(o.kwargs, '--kwargs', isObject, 'a JSON object') ?? {},
        options: { ...parseJsonFlag<Record<string, unknown>>(o.options, '--options', isObject, 'a JSON object'), ...(o.queue ? { queue: o.queue } : {}) },
        ...(o.tz !== undefined ? { timezone: o.tz } : {}),
        startAt: o.start ?? null,
        endAt: o.end ?? null,
        maxRuns: o.maxRuns !== undefined ? number(o.maxRuns, '--max-runs') : null,
        ...(o.misfire !== undefined ? { misfire: o.misfire as ScheduleEntryInput['misfire'] } : {}),
        ...(o.misfireGrace !== undefined ? { misfireGrace: number(o.misfireGrace, '--misfire-grace') } : {}),
        ...(o.overlap !== undefined ? { overlap: o.overlap as ScheduleEntryInput['overlap'] } : {}),
      };
      const app = await appFrom(o, { loglevel: 'warn' });
      try {
        await app.schedules.add(name, entry).catch(usage);
        if (o.paused) await app.schedules.pause(name);
        const s = (await app.schedules.get(name))!;
        process.stdout.write(`${row(s, app.conf.timezone)}\n`);
      } finally {
        await app.close();
      }
    });

  for (const [verb, what] of [
    ['pause', 'stop firing until resumed (slots meanwhile are skipped)'],
    ['resume', 'fire again from the next slot'],
  ] as const) {
    common(schedule.command(`${verb} <name>`).description(what)).action(async (name: string, o: CommonFlags) => {
      const app = await appFrom(o, { loglevel: 'warn' });
      try {
        await app.schedules[verb](name).catch(usage);
        process.stdout.write(`${name}: ${verb === 'pause' ? 'paused' : 'resumed'}\n`);
      } finally {
        await app.close();
      }
    });
  }

  common(schedule.command('delete <name>').description('delete a schedule (a beatSchedule entry returns when a beat starts)'))
    .action(async (name: string, o: CommonFlags) => {
      const app = await appFrom(o, { loglevel: 'warn' });
      const deleted = await app.schedules.delete(name).finally(() => app.close());
      if (!deleted) throw new UsageError(`no schedule named ${JSON.stringify(name)}`);
      process.stdout.write(`${name}: deleted\n`);
    });

  common(schedule.command('run <name>').description("send the schedule's task now and print its id"))
    .action(async (name: string, o: CommonFlags) => {
      const app = await appFrom(o, { loglevel: 'warn' });
      try {
        const r = await app.schedules.runNow(name).catch(usage);
        process.stdout.write(`${r.id}\n`);
      } finally {
        await app.close();
      }
    });

  common(schedule.command('next <name>').description('the next fire times of a schedule'))
    .option('-n, --count <n>', 'how many', (v) => number(v, '--count'), 5)
    .action(async (name: string, o: CommonFlags & { count: number }) => {
      const app = await appFrom(o, { loglevel: 'warn' });
      try {
        const times = await app.schedules.next(name, o.count).catch(usage);
        for (const t of times) process.stdout.write(`${t.toISOString()}\n`);
        if (!times.length) process.stderr.write(`${name}: no fire time left\n`);
      } finally {
        await app.close();
      }
    });
}

interface AddFlags {
  task: string;
  cron?: string;
  every?: string;
  at?: string;
  args?: string;
  kwargs?: string;
  queue?: string;
  options?: string;
  tz?: string;
  start?: string;
  end?: string;
  maxRuns?: string;
  misfire?: string;
  misfireGrace?: string;
  overlap?: string;
  paused?: boolean;
}

/** A mistake in what was asked for (unknown name, bad schedule) is a usage error, not a failure of the system. */
function usage(err: unknown): never {
  if (err instanceof Error && (err.name === 'CelerityError' || err instanceof TypeError)) throw new UsageError(err.message);
  throw err;
}

function number(v: string, flag: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be a non-negative number, got ${v}`);
  return n;
}

function isObject(v: unknown): boolean {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function row(s: ScheduleInfo, timezone: string): string {
  const when = s.entry ? describeSpec(s.entry.schedule) : `INVALID: ${s.invalid}`;
  const next = s.entry && !s.paused ? (nextFireTimes(s.entry, timezone, Date.now(), 1)[0] ?? null) : null;
  return [
    s.name,
    s.entry?.task ?? '?',
    when,
    s.paused ? 'paused' : 'active',
    `runs=${s.totalRuns}`,
    `last=${s.lastRunAt?.toISOString() ?? '-'}`,
    `next=${next === null ? '-' : new Date(next).toISOString()}`,
  ].join('\t');
}

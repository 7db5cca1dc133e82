/**
 * `celerity dead-letters list|requeue|delete|purge`: the messages a worker could not process (unknown task,
 * undecodable body, rejected), kept by the broker until someone requeues or deletes them.
 */
import type { Command } from 'commander';
import { appFrom, UsageError, type CommonFlags } from './context.js';
import { confirm } from './confirm.js';
import { Exit } from './exit.js';

export function registerDeadLetters(program: Command, common: (cmd: Command) => Command): void {
  const dead = program
    .command('dead-letters')
    .description('list, requeue or delete messages that could not be processed');

  common(dead.command('list').description('list dead letters, newest first'))
    .option('-Q, --queue <name>', 'only this queue')
    .option('--limit <n>', 'at most this many (the newest)', positiveInt('--limit'), 50)
    .option('--json', 'one JSON object per line, with the raw message')
    .action(async (o: CommonFlags & { queue?: string; limit: number; json?: boolean }) => {
      const app = await appFrom(o, { loglevel: 'warn' });
      const letters = await (await app.broker()).listDeadLetters({ queue: o.queue, limit: o.limit });
      await app.close();
      for (const l of letters) {
        if (o.json) process.stdout.write(`${JSON.stringify(l)}\n`);
        else process.stdout.write(`${l.id}\t${l.failedAt.toISOString()}\t${l.queue}\t${l.taskName ?? '?'}[${l.taskId ?? '?'}]\t${l.reason}\n`);
      }
      if (!o.json && !letters.length) process.stderr.write('no dead letters\n');
    });

  common(dead.command('requeue [ids...]').description('put dead letters back on their queues'))
    .option('--all', 'every dead letter (of --queue, if given)')
    .option('-Q, --queue <name>', 'with --all: only this queue')
    .action(async (ids: string[], o: CommonFlags & { all?: boolean; queue?: string }) => {
      if (!ids.length && !o.all) throw new UsageError('name the dead-letter ids to requeue, or pass --all');
      if (ids.length && o.all) throw new UsageError('name dead-letter ids or pass --all, not both');
      if (o.queue && !o.all) throw new UsageError('-Q/--queue goes with --all; named ids are requeued wherever they are');
      const app = await appFrom(o, { loglevel: 'warn' });
      const broker = await app.broker();
      const chosen = o.all ? (await broker.listDeadLetters({ queue: o.queue, limit: Number.MAX_SAFE_INTEGER })).map((l) => l.id) : unique(ids);
      const moved = await broker.requeueDeadLetters(chosen);
      await app.close();
      process.stdout.write(`Requeued ${plural(moved, 'message')}.\n`);
      if (moved < chosen.length) {
        process.stderr.write(`${chosen.length - moved} of the ${chosen.length} dead letters were not found or could not be read; they were left as they are\n`);
        process.exitCode = Exit.FAILURE;
      }
    });

  common(dead.command('delete <ids...>').description('delete dead letters by id (see `dead-letters list`)'))
    .action(async (ids: string[], o: CommonFlags) => {
      const wanted = unique(ids);
      const app = await appFrom(o, { loglevel: 'warn' });
      const deleted = await (await app.broker()).deleteDeadLetters(wanted);
      await app.close();
      process.stdout.write(`Deleted ${plural(deleted, 'dead letter')}.\n`);
      if (deleted < wanted.length) {
        process.stderr.write(`${wanted.length - deleted} of the ${wanted.length} ids named were not found\n`);
        process.exitCode = Exit.FAILURE;
      }
    });

  common(dead.command('purge').description('delete every dead letter (of one queue with -Q)'))
    .option('-Q, --queue <name>', 'only the dead letters of this queue')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('-f, --force', 'the same as --yes (as `celerity purge` spells it)')
    .action(async (o: CommonFlags & { queue?: string; yes?: boolean; force?: boolean }) => {
      const which = o.queue === undefined ? 'every dead letter' : `every dead letter of queue ${o.queue}`;
      // The app first: a bad setting is reported before anyone is asked anything.
      const app = await appFrom(o, { loglevel: 'warn' });
      if (!o.yes && !o.force && !(await confirm(`Delete ${which}?`, `delete ${which}`, '--yes'))) return;
      const deleted = await (await app.broker()).purgeDeadLetters({ queue: o.queue });
      await app.close();
      process.stdout.write(`Deleted ${plural(deleted, 'dead letter')}.\n`);
    });
}

function positiveInt(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got ${v}`);
    return n;
  };
}

function unique(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * `celerity status`, `celerity forget` and `celerity queues`: which workers are online (as `celery status`), forget
 * stored results, and how deep each queue is with how many workers consume it.
 */
import type { Command } from 'commander';
import type { Celerity } from '../app/celerity.js';
import type { ControlClient } from '../control/client.js';
import { appFrom, UsageError, type CommonFlags } from './context.js';
import { Exit } from './exit.js';
import { openControlClient } from '../app/control-client.js';

interface ControlFlags extends CommonFlags {
  destination?: string[];
  timeout: number;
  json?: boolean;
}

export function registerStatus(program: Command, common: (cmd: Command) => Command): void {
  common(program.command('status').description('list the workers online, as `celery status` does (exit 69 when none answer)'))
    .option('-d, --destination <names>', 'only these nodes (comma separated node names)', names)
    .option('-t, --timeout <seconds>', 'how long to wait for each reply', seconds('--timeout'), 1)
    .option('-j, --json', 'print the replies as one JSON object')
    .action(async (o: ControlFlags) => {
      const replies = await withClient(o, (client) =>
        client.ping({
          destination: o.destination ?? null,
          timeout: o.timeout * 1000,
          onReply: o.json ? undefined : (reply) => {
            for (const node of Object.keys(reply)) process.stdout.write(`->  ${node}: OK\n`);
          },
        }),
      );
      const n = Object.keys(replies).length;
      if (!n) {
        process.stderr.write('celerity: error: No nodes replied within time constraint\n');
        process.exitCode = Exit.UNAVAILABLE;
        return;
      }
      if (o.json) process.stdout.write(`${JSON.stringify(replies)}\n`);
      else process.stdout.write(`\n${n} ${n === 1 ? 'node' : 'nodes'} online.\n`);
    });

  common(program.command('forget <ids...>').description('delete the stored results of these tasks'))
    .action(async (ids: string[], o: CommonFlags) => {
      const app = await appFrom(o, { loglevel: 'warn' });
      try {
        const backend = await app.backend();
        for (const id of new Set(ids)) {
          await backend.delete(id);
          process.stdout.write(`${id}: forgotten\n`);
        }
      } finally {
        await app.close();
      }
    });

  common(program.command('queues').description('messages waiting in each queue and the workers consuming it'))
    .option('-Q, --queues <names>', 'comma-separated queues (default: the default queue, the configured queues and every routed queue)', names)
    .option('-t, --timeout <seconds>', 'how long to wait for the workers to say what they consume', seconds('--timeout'), 1)
    .option('-j, --json', 'print one JSON array of {queue, messages, consumers}')
    .action(async (o: ControlFlags & { queues?: string[] }) => {
      const app = await appFrom(o, { loglevel: 'warn' });
      let rows: { queue: string; messages: number; consumers: number | null }[];
      try {
        const queues = o.queues ?? [...new Set([app.conf.defaultQueue, ...(app.conf.queues ?? []), ...app.router.queues()])];
        const broker = await app.broker();
        const depths = await Promise.all(queues.map((q) => broker.size(q)));
        const consumers = await consumersByQueue(app, o.timeout);
        rows = queues.map((queue, i) => ({ queue, messages: depths[i]!, consumers: consumers ? (consumers.get(queue) ?? 0) : null }));
      } finally {
        await app.close();
      }
      if (o.json) {
        process.stdout.write(`${JSON.stringify(rows)}\n`);
        return;
      }
      const table = [['queue', 'messages', 'consumers'], ...rows.map((r) => [r.queue, String(r.messages), r.consumers === null ? '?' : String(r.consumers)])];
      const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
      for (const row of table) {
        process.stdout.write(`${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')}\n`);
      }
    });
}

/**
 * How many nodes consume each queue, from their `active_queues` replies; null when the broker carries no remote
 * control (the depths are still shown).
 */
async function consumersByQueue(app: Celerity, timeout: number): Promise<Map<string, number> | null> {
  if (!(await app.broker()).mailbox) return null;
  const replies = await onClient(app, (client) => client.inspect<{ name?: string }[]>('active_queues', {}, { timeout: timeout * 1000 }));
  const counts = new Map<string, number>();
  for (const queues of Object.values(replies)) {
    if (!Array.isArray(queues)) continue;
    for (const name of new Set(queues.map((q) => q?.name).filter((q): q is string => typeof q === 'string'))) {
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
  }
  return counts;
}

/** The app and a connected ControlClient on its broker's mailbox for the length of `use`. */
async function withClient<T>(flags: CommonFlags, use: (client: ControlClient) => Promise<T>): Promise<T> {
  const app = await appFrom(flags, { loglevel: flags.loglevel ? undefined : 'warn' });
  try {
    return await onClient(app, use);
  } finally {
    await app.close();
  }
}

/** A ControlClient on the app's broker mailbox (exit 78 when the broker carries no remote control), closed after `use`. */
async function onClient<T>(app: Celerity, use: (client: ControlClient) => Promise<T>): Promise<T> {
  const client = await openControlClient(app);
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

function names(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

function seconds(flag: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be a non-negative number of seconds, got ${v}`);
    return n;
  };
}

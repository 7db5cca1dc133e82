/**
 * `celerity inspect <method>` and `celerity control <command>`: Celery's remote control from the command line, for
 * Celerity and Python Celery workers alike (any node listening on the broker's pidbox). Output follows
 * `celery inspect`: one `->  <node>: OK` block per reply as it arrives, then `N nodes online.`; `--json` prints the
 * replies as one JSON object instead. Exit 0 when at least one node replied, 69 (EX_UNAVAILABLE) when none did.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { Celerity } from '../app/celerity.js';
import { openControlClient } from '../app/control-client.js';
import type { ControlClient } from '../control/client.js';
import { appFrom, UsageError, type CommonFlags } from './context.js';
import { Exit } from './exit.js';

interface RemoteFlags extends CommonFlags {
  destination?: string[];
  timeout: number;
  json?: boolean;
}

interface InspectSpec {
  method: string;
  usage?: string;
  description: string;
  args?: (positional: string[]) => Record<string, unknown>;
}

const INSPECT: InspectSpec[] = [
  { method: 'ping', description: 'ask workers to answer, to see which are alive' },
  { method: 'active', description: 'tasks running now' },
  { method: 'reserved', description: 'tasks received and waiting to run' },
  { method: 'scheduled', description: 'tasks held until their ETA' },
  { method: 'revoked', description: 'ids of the tasks the workers remember as revoked' },
  {
    method: 'registered',
    usage: 'registered [attributes...]',
    description: 'tasks the workers can run, with attributes (default: rate_limit and the routing ones)',
    args: (attrs) => (attrs.length ? { taskinfoitems: attrs } : {}),
  },
  { method: 'stats', description: 'worker statistics: totals, pool, broker, prefetch, resource usage' },
  { method: 'active_queues', description: 'queues the workers consume from' },
  {
    method: 'query_task',
    usage: 'query_task <ids...>',
    description: 'where the workers hold these task ids: active, reserved or ready',
    args: (ids) => ({ ids }),
  },
  { method: 'clock', description: "the workers' Lamport clocks" },
  {
    method: 'conf',
    usage: 'conf [with_defaults]',
    description: "the workers' settings by Celery name (only those changed from the defaults unless 'true' is given)",
    args: ([withDefaults]) => ({ with_defaults: withDefaults ?? false }),
  },
  { method: 'report', description: 'software, platform and settings, as for a bug report' },
  { method: 'memsample', description: "sample the workers' resident memory now" },
  {
    method: 'memdump',
    usage: 'memdump [samples]',
    description: 'the memory samples taken since the last dump, and the memory now',
    args: ([samples]) => (samples === undefined ? {} : { samples: count(samples) }),
  },
];

interface ControlSpec {
  method: string;
  usage: string;
  description: string;
  options?: Option[];
  args: (positional: string[], flags: Record<string, unknown>) => Record<string, unknown>;
}

const CONTROL: ControlSpec[] = [
  {
    method: 'revoke',
    usage: 'revoke <ids...>',
    description: 'revoke tasks: they will not run; with --terminate, stop them if running',
    options: [
      new Option('--terminate', 'also stop the tasks that are running'),
      new Option('--signal <name>', 'signal for --terminate (Celery workers use it; Celerity children are killed)').default('SIGTERM'),
    ],
    args: (ids, f) => ({ task_id: ids, terminate: !!f.terminate, signal: f.signal }),
  },
  {
    method: 'rate_limit',
    usage: 'rate_limit <task> <rate>',
    description: "set a task's rate limit on the workers ('10/s', '100/m', '1000/h'; 0 removes it)",
    args: ([task, rate]) => ({ task_name: task, rate_limit: rate }),
  },
  {
    method: 'time_limit',
    usage: 'time_limit <task> <soft> [hard]',
    description: "set a task's soft and hard time limits in seconds, for its later runs",
    args: ([task, soft, hard]) => ({ task_name: task, soft: seconds(soft!, 'soft'), hard: hard === undefined ? null : seconds(hard, 'hard') }),
  },
  {
    method: 'add_consumer',
    usage: 'add_consumer <queue> [exchange] [exchange_type] [routing_key]',
    description: 'start consuming from a queue',
    args: ([queue, exchange, exchangeType, routingKey]) => ({
      queue,
      exchange: exchange ?? null,
      exchange_type: exchangeType ?? null,
      routing_key: routingKey ?? null,
    }),
  },
  {
    method: 'cancel_consumer',
    usage: 'cancel_consumer <queue>',
    description: 'stop consuming from a queue',
    args: ([queue]) => ({ queue }),
  },
  {
    method: 'pool_grow',
    usage: 'pool_grow [n]',
    description: 'run n more tasks at once (default 1)',
    args: ([n]) => ({ n: count(n) }),
  },
  {
    method: 'pool_shrink',
    usage: 'pool_shrink [n]',
    description: 'run n fewer tasks at once (default 1)',
    args: ([n]) => ({ n: count(n) }),
  },
  {
    method: 'autoscale',
    usage: 'autoscale <max> [min]',
    description: 'new --autoscale bounds; the pool is resized to them at once',
    args: ([max, min]) => ({ max: count(max), min: min === undefined ? null : count(min) }),
  },
  {
    method: 'pool_restart',
    usage: 'pool_restart',
    description: 'replace the pool children so they load the app module again (needs poolRestarts, -P threads|process)',
    args: () => ({ reload: true }),
  },
  { method: 'enable_events', usage: 'enable_events', description: 'turn task events on', args: () => ({}) },
  { method: 'disable_events', usage: 'disable_events', description: 'turn task events off', args: () => ({}) },
];

/** Adds `inspect` and `control` to the program; `common` adds -A/--broker/... as for every verb. */
export function registerRemoteControl(program: Command, common: (cmd: Command) => Command): void {
  const inspect = program
    .command('inspect')
    .description("ask workers (Celerity or Celery) what they are doing, as `celery inspect` does");
  for (const spec of INSPECT) {
    const cmd = remoteOptions(common(inspect.command(spec.usage ?? spec.method).description(spec.description)));
    if (spec.method.includes('_')) cmd.alias(spec.method.replace(/_/g, '-'));
    cmd.action(async (...received: unknown[]) => {
      const { positional, flags } = split<RemoteFlags>(received);
      process.exitCode = await remote(flags, spec.method, spec.args?.(positional) ?? {}, { summary: true });
    });
  }

  const control = program
    .command('control')
    .description('tell workers (Celerity or Celery) to change what they do, as `celery control` does; Redis brokers (revoke: any)');
  for (const spec of CONTROL) {
    const cmd = remoteOptions(common(control.command(spec.usage).description(spec.description)));
    for (const option of spec.options ?? []) cmd.addOption(option);
    if (spec.method.includes('_')) cmd.alias(spec.method.replace(/_/g, '-'));
    cmd.action(async (...received: unknown[]) => {
      const { positional, flags } = split<RemoteFlags & Record<string, unknown>>(received);
      if (spec.method === 'revoke' && (await revokeInStore(flags, positional))) return;
      process.exitCode = await remote(flags, spec.method, spec.args(positional, flags), { summary: false });
    });
  }
  remoteOptions(common(control.command('shutdown').description('warm shutdown: workers finish running tasks, then exit'))).action(
    async (flags: RemoteFlags) => {
      process.exitCode = await shutdown(flags);
    },
  );
}

function remoteOptions(cmd: Command): Command {
  return cmd
    .option('-d, --destination <names>', 'only these nodes (comma separated node names)', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .option('-t, --timeout <seconds>', 'how long to wait for each reply', (v: string) => seconds(v), 1)
    .option('-j, --json', 'print the replies as one JSON object');
}

/** Commander passes the positional arguments (a variadic one as an array), then the options, then the command. */
function split<F>(received: unknown[]): { positional: string[]; flags: F } {
  const args = received.slice(0, -2);
  const positional = args.flatMap((a) => (a === undefined ? [] : Array.isArray(a) ? a.map(String) : [String(a)]));
  return { positional, flags: received[received.length - 2] as F };
}

/** Sends one command, prints the replies; resolves to the exit code. */
async function remote(flags: RemoteFlags, method: string, args: Record<string, unknown>, options: { summary: boolean }): Promise<number> {
  const { client, app } = await connect(flags);
  try {
    const replies = await client.inspect(method, args, {
      destination: flags.destination ?? null,
      timeout: flags.timeout * 1000,
      onReply: flags.json ? undefined : (reply) => process.stdout.write(formatReply(reply)),
    });
    return report(replies, flags, options.summary);
  } finally {
    await client.close();
    await app.close();
  }
}

/**
 * `control revoke` on a broker that stores revocations (the embedded store): the ids are stored in the broker,
 * where every worker reads them, including workers started later. Resolves false for any other broker, which takes
 * the remote-control path.
 */
async function revokeInStore(flags: RemoteFlags & Record<string, unknown>, ids: string[]): Promise<boolean> {
  const app = await appFrom(flags, { loglevel: flags.loglevel ? undefined : 'warn' });
  try {
    if (!(await app.broker()).revoke) return false;
    await app.revokeTasks(ids, { terminate: !!flags.terminate, signal: String(flags.signal ?? 'SIGTERM') });
    process.stdout.write(`revoked in the broker, for every worker: ${ids.join(', ')}\n`);
    process.exitCode = 0;
    return true;
  } finally {
    await app.close();
  }
}

/**
 * `shutdown` is never answered (a Celery worker exits before it could reply), so the nodes are pinged first to
 * report which ones were told.
 */
async function shutdown(flags: RemoteFlags): Promise<number> {
  const { client, app } = await connect(flags);
  try {
    const destination = flags.destination ?? null;
    const alive = await client.ping({ destination, timeout: flags.timeout * 1000 });
    if (Object.keys(alive).length) await client.broadcast('shutdown', { destination, arguments: {} });
    const told = Object.fromEntries(Object.keys(alive).map((node) => [node, { ok: 'shutdown requested' }]));
    if (!flags.json) for (const [node, value] of Object.entries(told)) process.stdout.write(formatReply({ [node]: value }));
    return report(told, flags, false);
  } finally {
    await client.close();
    await app.close();
  }
}

async function connect(flags: RemoteFlags): Promise<{ client: ControlClient; app: Celerity }> {
  const app = await appFrom(flags, { loglevel: flags.loglevel ? undefined : 'warn' });
  try {
    return { client: await openControlClient(app), app };
  } catch (err) {
    await app.close();
    throw err;
  }
}

function report(replies: Record<string, unknown>, flags: RemoteFlags, summary: boolean): number {
  const n = Object.keys(replies).length;
  if (flags.json && n) process.stdout.write(`${JSON.stringify(replies)}\n`);
  if (!n) {
    process.stderr.write('celerity: error: No nodes replied within time constraint\n');
    return Exit.UNAVAILABLE;
  }
  if (summary && !flags.json) process.stdout.write(`\n${n} ${n === 1 ? 'node' : 'nodes'} online.\n`);
  return Exit.OK;
}

/** One reply as `celery inspect` prints it: `->  node: OK` (or ERROR) and the reply, indented. */
export function formatReply(reply: Record<string, unknown>): string {
  let out = '';
  for (const [node, value] of Object.entries(reply)) {
    const [status, body] = pretty(value);
    out += `->  ${node}: ${status}\n${body ? `${indent(body, 4)}\n` : ''}`;
  }
  return out;
}

/** Celery's `pretty`: `{ok}` / `{error}` unwrapped, a list as `* item` lines, other objects as sorted JSON. */
function pretty(value: unknown): ['OK' | 'ERROR', string] {
  if (Array.isArray(value)) {
    return ['OK', value.length ? value.map((item) => `* ${typeof item === 'string' ? item : JSON.stringify(item)}`).join('\n') : '- empty -'];
  }
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if ('ok' in v) return ['OK', indent(pretty(v.ok)[1], 4)];
    if ('error' in v) return ['ERROR', indent(pretty(v.error)[1], 4)];
    return ['OK', JSON.stringify(sortKeys(v), null, 4)];
  }
  if (typeof value === 'string') return ['OK', value];
  return ['OK', JSON.stringify(value) ?? 'null'];
}

function indent(text: string, n: number): string {
  const pad = ' '.repeat(n);
  return text
    .split('\n')
    .map((line) => (line ? pad + line : line))
    .join('\n');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}

function seconds(v: string, flag = '--timeout'): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be a non-negative number of seconds, got ${v}`);
  return n;
}

function count(v: string | undefined): number {
  if (v === undefined) return 1;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`n must be a positive integer, got ${v}`);
  return n;
}

#!/usr/bin/env node
/**
 * The `celerity` command. Every verb takes -A/--app (a module exporting `app`), --broker and --backend; settings
 * also come from CELERITY_* variables. Exit codes are in ./exit.ts and the README.
 */
import { Command, CommanderError, Option } from 'commander';
import { maskPassword } from '../util/mask.js';
import { confirm } from './confirm.js';
import { appFrom, parseJsonFlag, UsageError, type CommonFlags } from './context.js';
import { registerApi } from './api.js';
import { registerApiCredentials } from './api-credentials.js';
import { registerBeat } from './beat.js';
import { registerDeadLetters } from './dead-letters.js';
import { registerEvents } from './events-view.js';
import { Exit, fail } from './exit.js';
import { registerRemoteControl } from './inspect.js';
import { registerResult } from './result.js';
import { registerStatus } from './status.js';
import { registerTasks } from './tasks.js';
import { VERSION } from './version.js';
import { parseAutoscale } from '../worker/autoscale.js';
import { runWorker } from './worker.js';

// `celerity inspect ... | head` closes the pipe early: stop quietly, as other command-line tools do.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(Exit.OK);
  throw err;
});

const program = new Command('celerity')
  .description('Distributed task queue for TypeScript, wire-compatible with Celery 5')
  .version(VERSION, '-V, --version')
  .showHelpAfterError()
  // Commander repeats a mistyped option as given: `--brokr=redis://:secret@host` must not print the secret.
  .configureOutput({ outputError: (text, write) => write(maskPassword(text)) })
  .exitOverride();

function common(cmd: Command): Command {
  return cmd
    .option('-A, --app <module>', 'module that exports the app (a .ts or .js path)')
    .option('-b, --broker <url>', 'broker URL (overrides CELERITY_BROKER_URL)')
    .option('--backend <url>', 'result backend URL (overrides CELERITY_RESULT_BACKEND)')
    .addOption(new Option('-l, --loglevel <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']));
}

const int = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a non-negative integer, got ${v}`);
  return n;
};
const num = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be a non-negative number, got ${v}`);
  return n;
};
const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);

common(program.command('worker').description('start a worker'))
  .option('-Q, --queues <names>', 'comma-separated queues to consume, in order of preference', list)
  .option('-c, --concurrency <n>', 'tasks run at once', int('--concurrency'))
  .option('-n, --hostname <name>', 'node name (default celerity@<host>)')
  .addOption(new Option('-P, --pool <pool>', 'execution pool: async (event loop), threads or process (need -A)').choices(['async', 'threads', 'process']))
  .option('--max-tasks-per-child <n>', 'threads/process: replace a child after this many tasks', int('--max-tasks-per-child'))
  .option('--max-memory-per-child <kib>', 'threads/process: replace a child whose memory passes this many KiB', int('--max-memory-per-child'))
  .option('--prefetch-multiplier <n>', 'messages reserved per concurrency slot', int('--prefetch-multiplier'))
  .option('--shutdown-timeout <seconds>', 'how long running tasks may finish on SIGTERM', num('--shutdown-timeout'))
  .option('--log-format <format>', 'pretty or json')
  .option('-E, --task-events', 'send task events for monitors (celerity events, Flower)')
  .option('-S, --statedb <file>', 'keep revoked task ids in this file across restarts')
  .option('--without-heartbeat', 'send no worker-online/heartbeat/offline events')
  .option('--without-mingle', 'do not ask other nodes for their revoked ids at start')
  .option('--autoscale <max,min>', 'grow the pool up to max with the work held, shrink back to min when idle', autoscaleFlag)
  .option('-B, --beat', 'also run a beat in this process (any number of workers may: one beat leads)')
  .option('--metrics-port <port>', 'serve Prometheus /metrics, /healthz and /readyz on this port (metricsPort)', int('--metrics-port'))
  .action(async (o: CommonFlags & WorkerFlags) => {
    if (o.pool && o.pool !== 'async' && !o.app) throw new UsageError(`-P ${o.pool} needs -A: each child loads the app module`);
    const app = await appFrom(o, {
      pool: o.pool,
      maxTasksPerChild: o.maxTasksPerChild || undefined,
      maxMemoryPerChild: o.maxMemoryPerChild || undefined,
      concurrency: o.concurrency,
      hostname: o.hostname,
      queues: o.queues,
      prefetchMultiplier: o.prefetchMultiplier,
      shutdownTimeout: o.shutdownTimeout,
      logFormat: o.logFormat,
      sendTaskEvents: o.taskEvents,
      statedb: o.statedb,
      metricsPort: o.metricsPort,
    });
    await Promise.all([app.broker(), app.backend()]);
    await runWorker(app, {
      queues: o.queues,
      appModule: o.app,
      autoscale: o.autoscale,
      beat: o.beat,
      node: { heartbeat: !o.withoutHeartbeat, mingle: !o.withoutMingle },
    });
  });

interface WorkerFlags {
  queues?: string[];
  concurrency?: number;
  hostname?: string;
  pool?: 'async' | 'threads' | 'process';
  maxTasksPerChild?: number;
  maxMemoryPerChild?: number;
  prefetchMultiplier?: number;
  shutdownTimeout?: number;
  logFormat?: 'pretty' | 'json';
  taskEvents?: boolean;
  statedb?: string;
  withoutHeartbeat?: boolean;
  withoutMingle?: boolean;
  autoscale?: { max: number; min: number };
  beat?: boolean;
  metricsPort?: number;
}

function autoscaleFlag(v: string): { max: number; min: number } {
  try {
    return parseAutoscale(v);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

common(program.command('call <task>').description('send a task by name and print its id'))
  .option('-a, --args <json>', 'positional arguments as a JSON array', '[]')
  .option('-k, --kwargs <json>', 'keyword arguments as a JSON object')
  .option('-Q, --queue <name>', 'queue (default: the route for this task name)')
  .option('--countdown <seconds>', 'run no earlier than this many seconds from now', num('--countdown'))
  .option('--eta <iso>', 'run no earlier than this time (ISO 8601)')
  .option('--expires <seconds>', 'revoke if not started within this many seconds', num('--expires'))
  .option('--priority <0-9>', 'message priority', int('--priority'))
  .action(async (name: string, o: CommonFlags & { args: string; kwargs?: string; queue?: string; countdown?: number; eta?: string; expires?: number; priority?: number }) => {
    const args = parseJsonFlag<unknown[]>(o.args, '--args', Array.isArray, 'a JSON array') ?? [];
    const kwargs = parseJsonFlag<Record<string, unknown>>(o.kwargs, '--kwargs', isObject, 'a JSON object');
    const app = await appFrom(o, { loglevel: 'warn' });
    const r = await app.sendTask(name, args, { kwargs, queue: o.queue, countdown: o.countdown, eta: o.eta, expires: o.expires, priority: o.priority });
    process.stdout.write(`${r.id}\n`);
    await app.close();
  });

registerResult(program, common);

common(program.command('purge').description('remove all waiting messages from queues'))
  .option('-Q, --queues <names>', 'comma-separated queues (default: the default queue and every routed queue)', list)
  .option('-f, --force', 'do not ask for confirmation')
  .action(async (o: CommonFlags & { queues?: string[]; force?: boolean }) => {
    const app = await appFrom(o, { loglevel: 'warn' });
    const queues = o.queues ?? [...new Set([...(app.conf.queues ?? []), ...app.router.queues()])];
    if (!o.force && !(await confirm(`Remove every waiting message from ${queues.join(', ')}?`, `purge ${queues.join(', ')}`, '--force'))) return;
    const broker = await app.broker();
    let total = 0;
    for (const q of queues) total += await broker.purge(q);
    await app.close();
    process.stdout.write(`Purged ${total} message${total === 1 ? '' : 's'} from ${queues.length} queue${queues.length === 1 ? '' : 's'}.\n`);
  });

registerDeadLetters(program, common);
registerBeat(program, common);
registerRemoteControl(program, common);
registerStatus(program, common);
registerTasks(program, common);
registerEvents(program, common);
registerApiCredentials(registerApi(program, common));

function isObject(v: unknown): boolean {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; anything else commander rejects is a usage error.
    process.exit(err.exitCode === 0 ? Exit.OK : Exit.USAGE);
  }
  if (err instanceof UsageError) {
    process.stderr.write(`celerity: error: ${maskPassword(err.message)}\n`);
    process.exit(Exit.USAGE);
  }
  fail(err);
}

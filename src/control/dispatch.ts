/**
 * Celery's remote-control commands (celery/worker/control.py, Celery 5.2) mapped onto a ControlHandler: argument
 * names and defaults, aliases, and the exact reply texts and shapes, so `celery inspect`, `celery control` and
 * Flower read a Celerity worker as they read a Celery one. No I/O here; ControlServer does the Redis side.
 */
import os from 'node:os';
import { pyRepr } from '../protocol/repr.js';
import { ControlCommandError } from './handler.js';
import type { ControlContext, ControlHandler } from './handler.js';

/** What to send back: `reply` is the value for `{nodename: value}`; `none` for commands Celery never answers. */
export type DispatchResult = { kind: 'reply'; value: unknown } | { kind: 'none' };

type Command = (args: Args, handler: ControlHandler, ctx: ControlContext) => Promise<DispatchResult>;
type Args = Record<string, unknown>;

const ok = (text: string): DispatchResult => reply({ ok: text });
const nok = (text: string): DispatchResult => reply({ error: text });
const reply = (value: unknown): DispatchResult => ({ kind: 'reply', value });

/** Celery's default `taskinfoitems` for `registered`. */
const DEFAULT_TASK_INFO_ITEMS = ['exchange', 'routing_key', 'rate_limit'];

const COMMANDS: Record<string, Command> = {
  ping: async () => ok('pong'),
  clock: async (_args, _h, ctx) => reply({ clock: ctx.clock.value }),
  hello: async (args, handler, ctx) => {
    const from = required(args, 'hello', 'from_node');
    // A node starting up (mingle) gets the revoked ids and the clock of every other node; not its own.
    if (from === ctx.hostname) return reply(null);
    const theirs = args.revoked;
    if (theirs && typeof theirs === 'object' && handler.mergeRevoked) {
      await handler.mergeRevoked(Array.isArray(theirs) ? theirs.map(String) : Object.keys(theirs), ctx);
    }
    // Python keeps these as time.monotonic() floats and refuses anything but a float; Node's hrtime reads the
    // same clock on Linux. An integral value would arrive as a Python int, so it is nudged off the integer.
    const revoked: Record<string, number> = {};
    for (const id of await handler.revoked(ctx)) {
      const t = Number(process.hrtime.bigint()) / 1e9;
      revoked[id] = Number.isInteger(t) ? t + 1e-6 : t;
    }
    return reply({ revoked, clock: ctx.clock.forward() });
  },
  active: async (args, handler, ctx) => reply(await handler.active({ safe: truthy(args.safe) }, ctx)),
  reserved: async (_args, handler, ctx) => reply(await handler.reserved(ctx)),
  scheduled: async (_args, handler, ctx) => reply(await handler.scheduled(ctx)),
  revoked: async (_args, handler, ctx) => reply(await handler.revoked(ctx)),
  registered: async (args, handler, ctx) => {
    const asked = maybeList(args.taskinfoitems).map(String);
    const items = asked.length > 0 ? asked : DEFAULT_TASK_INFO_ITEMS;
    const builtins = truthy(args.builtins);
    const tasks = (await handler.registered(ctx))
      .filter((t) => builtins || !t.name.startsWith('celery.'))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return reply(tasks.map((t) => describeTask(t.name, t.attributes ?? {}, items)));
  },
  stats: async (_args, handler, ctx) => reply(await handler.stats(ctx)),
  active_queues: async (_args, handler, ctx) => reply(await handler.activeQueues(ctx)),
  query_task: async (args, handler, ctx) => {
    const ids = maybeList(required(args, 'query_task', 'ids')).map(String);
    return reply(await handler.queryTask(ids, ctx));
  },
  revoke: async (args, handler, ctx) => revoke(args, truthy(args.terminate), handler, ctx),
  terminate: async (args, handler, ctx) => {
    required(args, 'terminate', 'signal');
    required(args, 'terminate', 'task_id');
    return revoke(args, true, handler, ctx);
  },
  rate_limit: async (args, handler, ctx) => {
    const taskName = String(required(args, 'rate_limit', 'task_name'));
    const value = required(args, 'rate_limit', 'rate_limit');
    const invalid = checkRate(value);
    if (invalid) return nok(`Invalid rate limit string: ${invalid}`);
    const limit = typeof value === 'number' || typeof value === 'string' ? value : null;
    await handler.rateLimit(taskName, truthy(limit) ? limit : null, ctx);
    return ok(truthy(limit) ? 'new rate limit set successfully' : 'rate limit disabled successfully');
  },
  time_limit: async (args, handler, ctx) => {
    const taskName = typeof args.task_name === 'string' ? args.task_name : '';
    await handler.timeLimit(taskName, { soft: seconds(args.soft), hard: seconds(args.hard) }, ctx);
    return ok('time limits set successfully');
  },
  add_consumer: async (args, handler, ctx) => {
    const { queue: _queue, exchange, exchange_type: exchangeType, routing_key: routingKey, ...options } = args;
    const name = String(required(args, 'add_consumer', 'queue'));
    await handler.addConsumer(
      {
        queue: name,
        exchange: typeof exchange === 'string' ? exchange : null,
        exchangeType: typeof exchangeType === 'string' && exchangeType ? exchangeType : 'direct',
        routingKey: typeof routingKey === 'string' ? routingKey : null,
        options,
      },
      ctx,
    );
    return ok(`add consumer ${name}`);
  },
  cancel_consumer: async (args, handler, ctx) => {
    const queue = String(required(args, 'cancel_consumer', 'queue'));
    await handler.cancelConsumer(queue, ctx);
    return ok(`no longer consuming from ${queue}`);
  },
  pool_grow: async (args, handler, ctx) => {
    await handler.poolGrow(count(args.n), ctx);
    return ok('pool will grow');
  },
  pool_shrink: async (args, handler, ctx) => {
    await handler.poolShrink(count(args.n), ctx);
    return ok('pool will shrink');
  },
  shutdown: async () => ({ kind: 'none' }),
  conf: async (args, handler, ctx) => {
    if (!handler.conf) throw noSuchCommand('conf');
    return reply(await handler.conf(strtobool(args.with_defaults), ctx));
  },
  report: async (_args, handler, ctx) => {
    if (!handler.report) throw noSuchCommand('report');
    return ok(await handler.report(ctx));
  },
  autoscale: async (args, handler, ctx) => {
    const bounds = handler.autoscale ? await handler.autoscale(optionalCount(args.max), optionalCount(args.min), ctx) : null;
    if (!bounds) throw new PyError('ValueError', 'Autoscale not enabled');
    return ok(`autoscale now max=${bounds[0]} min=${bounds[1]}`);
  },
  pool_restart: async (_args, handler, ctx) => {
    // `modules` and `reload` name Python modules to reimport; a restart here reloads the whole app module.
    if (!handler.poolRestart || !(await handler.poolRestart(ctx))) throw new PyError('ValueError', 'Pool restarts not enabled');
    return ok('reload started');
  },
  memsample: async (_args, handler, ctx) => {
    if (!handler.memsample) throw noSuchCommand('memsample');
    return reply(await handler.memsample(ctx));
  },
  memdump: async (args, handler, ctx) => {
    if (!handler.memdump) throw noSuchCommand('memdump');
    return reply(await handler.memdump(args.samples === undefined || args.samples === null ? 10 : count(args.samples), ctx));
  },
  // Celery draws a graph of Python objects with the objgraph library; a Node worker has none to draw.
  objgraph: async () => nok('objgraph is not supported by Celerity workers (it graphs Python objects); use memsample and memdump'),
  // Celery runs elections over gossip, which Celery workers started with --without-gossip (and Celerity) do not
  // take part in; such a worker answers None, as here.
  election: async () => reply(null),
  heartbeat: async (_args, handler, ctx) => {
    if (!handler.heartbeat) throw noSuchCommand('heartbeat');
    await handler.heartbeat(ctx);
    return reply(null);
  },
  enable_events: async (_args, handler, ctx) => {
    if (!handler.enableEvents) throw noSuchCommand('enable_events');
    return ok((await handler.enableEvents(ctx)) ? 'task events enabled' : 'task events already enabled');
  },
  disable_events: async (_args, handler, ctx) => {
    if (!handler.disableEvents) throw noSuchCommand('disable_events');
    return ok((await handler.disableEvents(ctx)) ? 'task events disabled' : 'task events already disabled');
  },
};

/** Celery's second names for some commands. */
const ALIASES: Record<string, string> = {
  dump_active: 'active',
  dump_reserved: 'reserved',
  dump_schedule: 'scheduled',
  dump_revoked: 'revoked',
  dump_tasks: 'registered',
  dump_conf: 'conf',
};

/** Celery's `shutdown` default message. */
export const DEFAULT_SHUTDOWN_MESSAGE = 'Got shutdown from remote';

/**
 * Runs one command. Never rejects: a failure becomes the `{"error": ...}` reply Celery would send (an unknown
 * command is `{"error": "KeyError('name')"}`, what kombu's dispatch replies). `shutdown` starts the handler's
 * shutdown without waiting for it (the caller is usually about to be closed by it) and sends no reply.
 */
export async function dispatchCommand(
  handler: ControlHandler,
  method: string,
  args: Args,
  ctx: ControlContext,
  onBackgroundError: (err: unknown) => void = () => undefined,
): Promise<DispatchResult> {
  try {
    const name = ALIASES[method] ?? method;
    if (name === 'shutdown') {
      const message = typeof args.msg === 'string' ? args.msg : DEFAULT_SHUTDOWN_MESSAGE;
      handler.shutdown(message, ctx).catch(onBackgroundError);
      return { kind: 'none' };
    }
    const custom = handler.commands?.[method];
    if (custom && !Object.hasOwn(COMMANDS, name)) return reply(await custom(args, ctx));
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!command) throw noSuchCommand(method);
    return await command(args, handler, ctx);
  } catch (err) {
    return nok(errorText(err));
  }
}

/** `{"error": ...}` text: a ControlCommandError's message as is, anything else as Python's `repr(exc)`. */
function errorText(err: unknown): string {
  if (err instanceof ControlCommandError) return err.message;
  if (err instanceof PyError) return `${err.pyType}(${pyRepr(err.message)})`;
  if (err instanceof Error) return `${err.name || 'Error'}(${pyRepr(err.message)})`;
  return `Exception(${pyRepr(String(err))})`;
}

/** An error to report with a Python exception type, as kombu would have raised it. */
class PyError extends Error {
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(message);
  }
}

function noSuchCommand(method: string): PyError {
  // kombu looks the handler up in a dict: KeyError('name'), whose repr quotes the name once more.
  return new PyError('KeyError', method);
}

function required(args: Args, command: string, name: string): unknown {
  if (!(name in args)) {
    throw new PyError('TypeError', `${command}() missing 1 required positional argument: '${name}'`);
  }
  return args[name];
}

async function revoke(args: Args, terminate: boolean, handler: ControlHandler, ctx: ControlContext) {
  const taskIds = [...new Set(maybeList(required(args, 'revoke', 'task_id')).map(String))];
  if (!terminate) {
    await handler.revoke({ taskIds, terminate: false, signal: 'SIGTERM' }, ctx);
    return ok(`tasks ${taskIds.join(', ')} flagged as revoked`);
  }
  const signal = signalOf(args.signal);
  const terminated = await handler.revoke({ taskIds, terminate: true, signal }, ctx);
  return ok(terminated.length > 0 ? `terminate: ${terminated.join(', ')}` : 'terminate: tasks unknown');
}

/** Celery's `signals.signum`: an integer as is; an uppercase name, `SIG` added when missing; default SIGTERM. */
function signalOf(value: unknown): string | number {
  if (value === null || value === undefined || value === '') return 'SIGTERM';
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value !== 'string' || value !== value.toUpperCase()) {
    throw new PyError('TypeError', 'signal name must be uppercase string.');
  }
  const name = value.startsWith('SIG') ? value : `SIG${value}`;
  if (!(name in os.constants.signals)) throw new PyError('AttributeError', `module 'signal' has no attribute '${name}'`);
  return name;
}

/**
 * Celery's `rate()` check: a number, or `"<float>[/s|/m|/h]"`. Returns the repr of the error Celery would report
 * (ValueError text) or null when valid; an unknown unit fails like Celery's, with a KeyError reply.
 */
function checkRate(value: unknown): string | null {
  if (typeof value !== 'string' || value === '') return null;
  const slash = value.indexOf('/');
  const amount = slash < 0 ? value : value.slice(0, slash);
  const unit = slash < 0 ? '' : value.slice(slash + 1);
  if (!PY_FLOAT.test(amount.trim())) return `ValueError(${pyRepr(`could not convert string to float: ${pyRepr(amount)}`)})`;
  if (!['', 's', 'm', 'h'].includes(unit)) throw new PyError('KeyError', unit);
  return null;
}

const PY_FLOAT = /^[+-]?(?:(?:\d(?:_?\d)*)?\.?\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*\.|inf(?:inity)?|nan)$/i;

/** `<name> [attr=value ...]` with the attributes that are set, as `inspect registered` lists a task. */
function describeTask(name: string, attributes: Record<string, unknown>, items: readonly string[]): string {
  const fields = items
    .filter((item) => attributes[item] !== null && attributes[item] !== undefined)
    .map((item) => `${item}=${pyStr(attributes[item])}`);
  return fields.length > 0 ? `${name} [${fields.join(' ')}]` : name;
}

/** Python's `str()` of a simple value. */
function pyStr(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return pyRepr(value);
}

/** Celery's `maybe_list`: a list as is, anything else but None as a one-item list. */
function maybeList(value: unknown): unknown[] {
  if (value === null || value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Python truthiness of a JSON value. */
function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (value && typeof value === 'object') return Object.keys(value).length > 0;
  return Boolean(value);
}

function seconds(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new PyError('ValueError', `could not convert string to float: ${pyRepr(value)}`);
  return n;
}

/** Celery's `strtobool` on a command argument: a boolean, a number, or yes/no/true/false/on/off/1/0 text. */
function strtobool(value: unknown): boolean {
  if (typeof value !== 'string') return truthy(value);
  const text = value.trim().toLowerCase();
  if (['y', 'yes', 't', 'true', 'on', '1'].includes(text)) return true;
  if (['n', 'no', 'f', 'false', 'off', '0', ''].includes(text)) return false;
  throw new PyError('TypeError', `${pyRepr(value)} is not a valid boolean argument.`);
}

/** An int argument that may be absent (None). */
function optionalCount(value: unknown): number | null {
  return value === null || value === undefined ? null : count(value);
}

function count(value: unknown): number {
  if (value === null || value === undefined) return 1;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new PyError('ValueError', `invalid literal for int() with base 10: ${pyRepr(value)}`);
  return n;
}

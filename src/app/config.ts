/**
 * Configuration, compiled once: built-in defaults < options in code < CELERITY_* environment (or the app's own
 * `envPrefix`) < CLI flags, validated
 * with zod and frozen. A bad value fails at start with the key (as the user wrote it), the value and what was
 * expected. The Celery name table below is the single source for both docs/configuration.md and env aliases.
 */
import os from 'node:os';
import { z } from 'zod';
import { checkBackendUrl, checkBrokerUrl, describeBackendSchemes, describeBrokerSchemes } from '../transports/index.js';
import { ConfigurationError } from '../errors/index.js';
import { normalizeEntry } from './schedule-entries.js';
import { checkTimezone } from '../schedule/spec.js';

export const DEFAULT_URL = 'sqlite://./celerity.db';

const seconds = z.number().nonnegative();
const route = z.union([
  z.string().min(1),
  z.object({ queue: z.string().min(1), priority: z.number().int().min(0).max(9).optional() }).strict(),
]);

const schema = z
  .object({
    broker: z.string().min(1),
    backend: z.string().min(1),
    defaultQueue: z.string().min(1),
    queues: z.array(z.string().min(1)).min(1).optional(),
    taskRoutes: z.record(z.string(), route),
    concurrency: z.number().int().positive(),
    prefetchMultiplier: z.number().int().positive(),
    acksLate: z.boolean(),
    visibilityTimeout: z.number().positive(),
    resultExpires: seconds,
    resultCleanupInterval: seconds,
    resultExtended: z.boolean(),
    taskSerializer: z.string().min(1),
    resultSerializer: z.string().min(1),
    acceptContent: z.array(z.string().min(1)).min(1),
    defaultRetryDelay: seconds,
    maxRetries: z.number().int().nonnegative().nullable(),
    timeLimit: z.number().positive().nullable(),
    softTimeLimit: z.number().positive().nullable(),
    ignoreResult: z.boolean(),
    trackStarted: z.boolean(),
    defaultPriority: z.number().int().min(0).max(9),
    hostname: z.string().min(1),
    loglevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    logFormat: z.enum(['pretty', 'json']),
    shutdownTimeout: seconds,
    etaParkThreshold: seconds,
    pool: z.enum(['async', 'threads', 'process']),
    maxTasksPerChild: z.number().int().positive().nullable(),
    maxMemoryPerChild: z.number().int().positive().nullable(),
    rejectOnWorkerLost: z.boolean(),
    sendTaskEvents: z.boolean(),
    sendSentEvent: z.boolean(),
    poolRestarts: z.boolean(),
    brokerConnectionTimeout: z.number().positive(),
    redisSocketConnectTimeout: z.number().positive(),
    redisSocketTimeout: z.number().positive(),
    sqliteBusyTimeout: z.number().positive(),
    statedb: z.string().min(1).nullable(),
    timezone: z.string().min(1),
    beatSchedule: z.record(z.string().min(1), z.unknown()),
    beatStore: z.string().min(1).nullable(),
    beatLeaseTimeout: z.number().min(2),
    include: z.array(z.string().min(1)),
    historyUrl: z.string().min(1).nullable(),
    historyMaxAge: seconds,
    historyMaxTasks: z.number().int().nonnegative(),
    apiUsers: z.array(z.string().min(1)),
    apiTokens: z.array(z.string().min(1)),
    metricsPort: z.number().int().min(0).max(65535).nullable(),
    metricsHost: z.string().min(1),
  })
  .strict();

export type CelerityConfig = Readonly<z.infer<typeof schema>>;
export type TaskRoute = z.infer<typeof route>;
/** What `new Celerity(name, options)` accepts: any subset of the settings, and `envPrefix`. */
export type CelerityOptions = Partial<z.infer<typeof schema>> & {
  /**
   * The prefix of the environment variables this app reads, `CELERITY_` by default: with `'PIXCRAWLER_CELERY_'`
   * the app reads `PIXCRAWLER_CELERY_BROKER_URL`, `PIXCRAWLER_CELERY_WORKER_CONCURRENCY` and so on, and no
   * `CELERITY_*` variable at all. An option in code only (it is never read from the environment): uppercase
   * letters, digits and underscores, ending in `_`.
   */
  envPrefix?: string;
};

export const DEFAULT_ENV_PREFIX = 'CELERITY_';

/** What each setting expects, in words, for error messages and the reference docs. */
const EXPECTED: Record<keyof CelerityConfig, string> = {
  broker: describeBrokerSchemes(),
  backend: describeBackendSchemes(),
  defaultQueue: 'a non-empty queue name',
  queues: 'a non-empty list of queue names (comma separated in the environment)',
  taskRoutes: 'an object mapping task name globs to a queue name or {queue, priority}',
  concurrency: 'a positive integer',
  prefetchMultiplier: 'a positive integer',
  acksLate: 'a boolean (true/false, 1/0, yes/no)',
  visibilityTimeout: 'a positive number of seconds',
  resultExpires: 'a number of seconds, 0 for never',
  resultCleanupInterval: 'a number of seconds between deletions of expired results by each worker, 0 for never',
  resultExtended: 'a boolean',
  taskSerializer: 'a serializer name: json or msgpack',
  resultSerializer: 'a serializer name: json or msgpack',
  acceptContent: 'a list of serializer names',
  defaultRetryDelay: 'a number of seconds',
  maxRetries: 'a non-negative integer, or null for unlimited',
  timeLimit: 'a positive number of seconds, or null',
  softTimeLimit: 'a positive number of seconds, or null',
  ignoreResult: 'a boolean',
  trackStarted: 'a boolean',
  defaultPriority: 'an integer from 0 to 9',
  hostname: 'a non-empty node name such as celerity@host',
  loglevel: 'one of trace, debug, info, warn, error, fatal, silent',
  logFormat: 'pretty or json',
  shutdownTimeout: 'a number of seconds',
  etaParkThreshold: 'a number of seconds',
  pool: 'async (tasks share the event loop), threads or process',
  maxTasksPerChild: 'a positive integer, or null for no limit',
  maxMemoryPerChild: 'a positive number of KiB, or null for no limit',
  rejectOnWorkerLost: 'a boolean',
  sendTaskEvents: 'a boolean (task events for monitors)',
  sendSentEvent: 'a boolean: producers announce each task they send with a task-sent event (queue, arguments) for monitors',
  poolRestarts: 'a boolean (allow the pool_restart control command: threads and process pools reload the app module)',
  brokerConnectionTimeout: 'a positive number of seconds to wait for a broker server to answer when connecting',
  redisSocketConnectTimeout: 'a positive number of seconds to wait for a Redis result backend to answer when connecting',
  redisSocketTimeout: 'a positive number of seconds a Redis command (publish, ack, result read or write) waits for its answer',
  sqliteBusyTimeout: "a positive number of seconds a write waits for another process's lock on the SQLite file",
  statedb: 'a file path where the worker keeps revoked task ids across restarts, or null',
  timezone: 'an IANA time zone such as Europe/Berlin: the zone of crontab schedules that name none',
  beatSchedule: 'an object of periodic tasks, name -> {task, schedule, args, kwargs, options, ...} (docs/beat.md)',
  beatStore:
    'where beat keeps schedules and their state: a result store URL (sqlite://, redis://, postgresql://), or null for the result backend',
  beatLeaseTimeout: 'seconds (at least 2) a beat leads without renewing its lease; another beat takes over after it',
  include:
    'a list of module paths or globs (* within a path segment, ** across segments), relative to the working directory, imported with the app module by the CLI and worker pools (comma separated in the environment)',
  historyUrl:
    'where monitors (`celerity api`, `celerity dashboard`) keep task history: a sqlite:// or postgresql:// URL, or null for the result backend when it is one of those and sqlite://./celerity-history.db otherwise',
  historyMaxAge: 'seconds a task stays in the history after it was first seen, 0 for no limit',
  historyMaxTasks: 'how many tasks the history keeps (the newest), 0 for no limit',
  apiUsers:
    'users of the REST API and dashboard, each `name:<password hash>` or `name:<password hash>:ro` for read-only (hashes from `celerity api hash-password`; comma separated in the environment)',
  apiTokens:
    'bearer tokens of the REST API, each `<token hash>` or `<token hash>:ro` for read-only (hashes from `celerity api hash-token`; comma separated in the environment)',
  metricsPort: 'a port on which each worker serves Prometheus /metrics, /healthz and /readyz, or null for none',
  metricsHost: 'the address the worker metrics server binds (127.0.0.1 keeps it local)',
};

export function defaults(): CelerityConfig {
  return {
    broker: DEFAULT_URL,
    backend: DEFAULT_URL,
    defaultQueue: 'celery',
    taskRoutes: {},
    // Celery's default is the CPU count; it suits the async pool's I/O-bound work poorly, but one number that
    // means the same in both systems is less surprising than a clever one.
    concurrency: os.availableParallelism(),
    prefetchMultiplier: 4,
    acksLate: true,
    visibilityTimeout: 3600,
    resultExpires: 86400,
    // Celery deletes expired results with a daily beat task (celery.backend_cleanup); workers doing it themselves
    // keep stores without their own expiry (SQLite, PostgreSQL) from growing when no beat runs.
    resultCleanupInterval: 3600,
    resultExtended: true,
    taskSerializer: 'json',
    resultSerializer: 'json',
    acceptContent: ['json'],
    defaultRetryDelay: 180,
    maxRetries: 3,
    timeLimit: null,
    softTimeLimit: null,
    ignoreResult: false,
    trackStarted: false,
    defaultPriority: 0,
    hostname: `celerity@${os.hostname()}`,
    loglevel: 'info',
    logFormat: process.stdout.isTTY ? 'pretty' : 'json',
    shutdownTimeout: 30,
    etaParkThreshold: 60,
    pool: 'async',
    maxTasksPerChild: null,
    maxMemoryPerChild: null,
    rejectOnWorkerLost: false,
    sendTaskEvents: false,
    sendSentEvent: false,
    poolRestarts: false,
    brokerConnectionTimeout: 4,
    redisSocketConnectTimeout: 5,
    // Celery's is 120 s; a producer or worker stuck on a frozen Redis for two minutes is hard to tell from a hang.
    redisSocketTimeout: 30,
    sqliteBusyTimeout: 5,
    statedb: null,
    timezone: 'UTC',
    beatSchedule: {},
    beatStore: null,
    beatLeaseTimeout: 10,
    include: [],
    historyUrl: null,
    historyMaxAge: 7 * 24 * 3600,
    historyMaxTasks: 1_000_000,
    apiUsers: [],
    apiTokens: [],
    metricsPort: null,
    metricsHost: '127.0.0.1',
  };
}

/**
 * Celery setting name -> ours. Used for the reference table in docs/configuration.md and to accept the Celery
 * spelling in the environment (`CELERITY_TASK_ACKS_LATE` works like `CELERITY_ACKS_LATE`).
 */
export const CELERY_NAMES: Readonly<Record<string, keyof CelerityConfig>> = {
  broker_url: 'broker',
  result_backend: 'backend',
  task_default_queue: 'defaultQueue',
  task_routes: 'taskRoutes',
  worker_concurrency: 'concurrency',
  worker_prefetch_multiplier: 'prefetchMultiplier',
  task_acks_late: 'acksLate',
  'broker_transport_options.visibility_timeout': 'visibilityTimeout',
  result_expires: 'resultExpires',
  result_extended: 'resultExtended',
  task_serializer: 'taskSerializer',
  result_serializer: 'resultSerializer',
  accept_content: 'acceptContent',
  task_default_retry_delay: 'defaultRetryDelay',
  task_max_retries: 'maxRetries',
  task_time_limit: 'timeLimit',
  task_soft_time_limit: 'softTimeLimit',
  task_ignore_result: 'ignoreResult',
  task_track_started: 'trackStarted',
  task_default_priority: 'defaultPriority',
  worker_pool: 'pool',
  worker_max_tasks_per_child: 'maxTasksPerChild',
  worker_max_memory_per_child: 'maxMemoryPerChild',
  task_reject_on_worker_lost: 'rejectOnWorkerLost',
  worker_send_task_events: 'sendTaskEvents',
  task_send_sent_event: 'sendSentEvent',
  worker_pool_restarts: 'poolRestarts',
  broker_connection_timeout: 'brokerConnectionTimeout',
  redis_socket_connect_timeout: 'redisSocketConnectTimeout',
  redis_socket_timeout: 'redisSocketTimeout',
  worker_state_db: 'statedb',
  timezone: 'timezone',
  beat_schedule: 'beatSchedule',
  include: 'include',
};

/** Environment names (after the prefix) that differ from the <PREFIX><SCREAMING_SNAKE> rule, kept for the documented contract. */
const ENV_ALIASES: Readonly<Record<string, keyof CelerityConfig>> = {
  BROKER_URL: 'broker',
  RESULT_BACKEND: 'backend',
};

export function envName(key: keyof CelerityConfig, prefix: string = DEFAULT_ENV_PREFIX): string {
  const alias = Object.entries(ENV_ALIASES).find(([, k]) => k === key);
  if (alias) return `${prefix}${alias[0]}`;
  return `${prefix}${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

function envTable(prefix: string): Map<string, keyof CelerityConfig> {
  const table = new Map<string, keyof CelerityConfig>();
  for (const key of Object.keys(EXPECTED) as (keyof CelerityConfig)[]) table.set(envName(key, prefix), key);
  for (const [celery, key] of Object.entries(CELERY_NAMES)) {
    if (!celery.includes('.')) table.set(`${prefix}${celery.toUpperCase()}`, key);
  }
  return table;
}

/** Checks an `envPrefix` option; ConfigurationError naming `envPrefix` when it is not one. */
export function checkEnvPrefix(prefix: unknown): string {
  if (prefix === undefined) return DEFAULT_ENV_PREFIX;
  if (typeof prefix !== 'string' || !/^[A-Z0-9_]*_$/.test(prefix) || !/[A-Z0-9]/.test(prefix)) {
    throw new ConfigurationError('envPrefix', prefix, 'uppercase letters, digits and underscores ending in _, such as MYAPP_CELERY_');
  }
  return prefix;
}

/** Parse an environment string into the type the setting expects, so zod can validate it. */
function fromEnv(key: keyof CelerityConfig, raw: string, envKey: string): unknown {
  const sample = defaults()[key];
  const trimmed = raw.trim();
  const fail = (): never => {
    // A secret put here in plain text must not reach the error output.
    throw new ConfigurationError(envKey, key === 'apiUsers' || key === 'apiTokens' ? '***' : raw, EXPECTED[key]);
  };
  if (key === 'beatSchedule') return parseJsonOr(trimmed, fail);
  if (key === 'statedb' || key === 'beatStore' || key === 'historyUrl') return ['', 'none', 'null'].includes(trimmed.toLowerCase()) ? null : raw;
  if (key === 'maxRetries' || key === 'timeLimit' || key === 'softTimeLimit' || key === 'maxTasksPerChild' || key === 'maxMemoryPerChild' || key === 'metricsPort') {
    if (trimmed === '' || trimmed.toLowerCase() === 'none' || trimmed.toLowerCase() === 'null') return null;
    const n = Number(trimmed);
    return Number.isFinite(n) ? n : fail();
  }
  if (typeof sample === 'boolean') {
    const v = trimmed.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    return fail();
  }
  if (typeof sample === 'number') {
    const n = Number(trimmed);
    return trimmed !== '' && Number.isFinite(n) ? n : fail();
  }
  if (key === 'queues' || key === 'acceptContent' || key === 'include' || key === 'apiUsers' || key === 'apiTokens') {
    if (trimmed.startsWith('[')) return parseJsonOr(trimmed, fail);
    return trimmed.split(',').map((s) => s.trim()).filter(Boolean);
  }
  if (key === 'taskRoutes') return parseJsonOr(trimmed, fail);
  return raw;
}

function parseJsonOr(text: string, fail: () => never): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fail();
  }
}

/** The settings found in `env` under `prefix`, keyed by our names, with the variable each came from. */
export function readEnv(
  env: NodeJS.ProcessEnv,
  prefix: string = DEFAULT_ENV_PREFIX,
): { values: CelerityOptions; sources: Map<string, string> } {
  const table = envTable(prefix);
  const values: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(prefix) || raw === undefined) continue;
    const key = table.get(name);
    if (!key) {
      throw new ConfigurationError(name, raw, `a known setting (see docs/configuration.md); ${suggest(name, table, prefix.length)}`);
    }
    values[key] = fromEnv(key, raw, name);
    sources.set(key, name);
  }
  return { values: values as CelerityOptions, sources };
}

function suggest(name: string, table: Map<string, keyof CelerityConfig>, skip: number): string {
  const close = [...table.keys()].filter((k) => k.includes(name.slice(skip, skip + 5)) || name.includes(k.slice(skip)));
  return close.length ? `did you mean ${close.slice(0, 3).join(' or ')}?` : 'no similar setting exists';
}

export interface ConfigLayers {
  code?: CelerityOptions;
  env?: NodeJS.ProcessEnv;
  cli?: CelerityOptions;
}

/** Compile the layers into one validated, frozen config. Throws ConfigurationError naming the first bad key. */
export function compileConfig(layers: ConfigLayers = {}): CelerityConfig {
  const { envPrefix, ...codeSettings } = layers.code ?? {};
  const { values: envValues, sources } = readEnv(layers.env ?? {}, checkEnvPrefix(envPrefix));
  const code = stripUndefined(codeSettings);
  const cli = stripUndefined(layers.cli ?? {});
  const merged = { ...defaults(), ...code, ...envValues, ...cli };
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const top = String(issue.path[0] ?? '');
    // An unknown key inside a setting (a route's `{queue, url}`) is that setting's error, reported below.
    if (issue.code === 'unrecognized_keys' && issue.path.length === 0) {
      const unknown = issue.keys[0] ?? '?';
      const ours = CELERY_NAMES[unknown];
      const hint = ours ? ` (Celery's ${unknown} is ${ours} here)` : '';
      throw new ConfigurationError(unknown, (merged as Record<string, unknown>)[unknown], `a known setting name${hint}`);
    }
    const key = top as keyof CelerityConfig;
    throw new ConfigurationError(where(key), (merged as Record<string, unknown>)[key], EXPECTED[key] ?? issue.message);
  }
  const config = parsed.data;
  // The adapter modules' own scheme checks (no adapter is loaded): a URL no adapter takes fails here, when the
  // app is built, rather than at its first publish or result.
  checkBrokerUrl(config.broker, where('broker'));
  checkBackendUrl(config.backend, where('backend'));
  if (config.beatStore !== null) checkBackendUrl(config.beatStore, where('beatStore'));
  try {
    checkTimezone(config.timezone, where('timezone'));
  } catch {
    throw new ConfigurationError(where('timezone'), config.timezone, EXPECTED.timezone);
  }
  // Entries are normalized here (a crontab object, a cron string and a number of seconds all become one shape),
  // so a bad schedule fails when the app is built, not in the beat hours later.
  const schedule: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(config.beatSchedule)) {
    try {
      schedule[name] = normalizeEntry(entry, `${where('beatSchedule')}.${name}`);
    } catch (err) {
      throw new ConfigurationError(`${where('beatSchedule')}.${name}`, entry, (err as Error).message);
    }
  }
  config.beatSchedule = schedule;
  return deepFreeze(config);

  /** The name the user gave the setting under: the CLI flag, the environment variable, or the option. */
  function where(key: keyof CelerityConfig): string {
    return cli[key] !== undefined ? `--${kebab(key)}` : (sources.get(key) ?? key);
  }
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** For docs and `--help`: every setting with its env name, default and expectation. */
export function describeSettings(): { key: string; env: string; default: unknown; expected: string }[] {
  const d = defaults();
  return (Object.keys(EXPECTED) as (keyof CelerityConfig)[]).map((key) => ({
    key,
    env: envName(key),
    default: d[key],
    expected: EXPECTED[key],
  }));
}

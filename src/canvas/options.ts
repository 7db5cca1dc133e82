/**
 * Celery's calling options (snake_case, as a signature carries them and as a Python producer writes them into
 * callbacks and chains) to this app's ApplyOptions and the message fields canvas carries.
 */
import { formatPyIsoDate } from '../protocol/message.js';
import type { EmbedOptions, SignatureDict } from '../protocol/types.js';

/** Options of one call. Times in seconds (Celery's units); `eta`/`expires` may also be absolute dates. */
export interface ApplyOptions {
  kwargs?: Record<string, unknown>;
  countdown?: number;
  eta?: Date | string;
  /** Seconds from now, or an absolute date. */
  expires?: number | Date | string;
  queue?: string;
  priority?: number;
  taskId?: string;
  timeLimit?: number;
  softTimeLimit?: number;
  ignoreResult?: boolean;
  serializer?: string;
  retries?: number;
  parentId?: string;
  rootId?: string;
  /** Extra headers, passed through to the worker. */
  headers?: Record<string, unknown>;
  /**
   * The `reply_to` of the message: the queue of the producer that waits for the result (Celery's rpc:// backend).
   * Default: this app's. A retry keeps the original's, so the result still reaches the first caller.
   */
  replyTo?: string;
}

/** Message fields that canvas (and retries) carry over: the embed, the group and the index in it. */
export interface CarriedFields {
  embed?: EmbedOptions;
  group?: string | null;
  groupIndex?: number | null;
}

/** Options of a signature or of one application of it: a task call's options (times in seconds, as in Celery). */
export type SignatureOptions = Omit<ApplyOptions, 'kwargs'>;

/** camelCase option -> Celery's name for it. */
const CELERY_NAME: Record<keyof SignatureOptions, string> = {
  countdown: 'countdown',
  eta: 'eta',
  expires: 'expires',
  queue: 'queue',
  priority: 'priority',
  taskId: 'task_id',
  timeLimit: 'time_limit',
  softTimeLimit: 'soft_time_limit',
  ignoreResult: 'ignore_result',
  serializer: 'serializer',
  headers: 'headers',
  rootId: 'root_id',
  parentId: 'parent_id',
  retries: 'retries',
  replyTo: 'reply_to',
};

/** Translates to Celery's option names; dates become ISO text (the options travel as JSON). */
export function celeryOptions(options: SignatureOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const name = CELERY_NAME[key as keyof SignatureOptions];
    if (!name) throw new TypeError(`unknown signature option ${JSON.stringify(key)}`);
    out[name] = value instanceof Date ? formatPyIsoDate(value, { utcSuffix: true }) : value;
  }
  return out;
}

type Check = (v: unknown) => boolean;
const isNum: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const isStr: Check = (v) => typeof v === 'string';
const isBool: Check = (v) => typeof v === 'boolean';
const isDateLike: Check = (v) => typeof v === 'string' || v instanceof Date;
const isObj: Check = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

function pick<T>(name: string, options: Record<string, unknown>, key: string, ok: Check, what: string): T | undefined {
  const v = options[key];
  if (v === undefined || v === null) return undefined;
  if (!ok(v)) throw new TypeError(`${name}: option ${key} must be ${what}, got ${JSON.stringify(v)}`);
  return v as T;
}

function signatures(name: string, options: Record<string, unknown>, key: string): SignatureDict[] | null {
  const v = options[key];
  if (v === undefined || v === null) return null;
  const list = Array.isArray(v) ? v : [v];
  if (!list.every(isObj)) throw new TypeError(`${name}: option ${key} must hold signatures`);
  return list.length ? (list as SignatureDict[]) : null;
}

export function applyOptionsFromCelery(name: string, o: Record<string, unknown>): { apply: ApplyOptions; carried: CarriedFields } {
  const expires = o.expires;
  if (expires !== undefined && expires !== null && !isNum(expires) && !isDateLike(expires)) {
    throw new TypeError(`${name}: option expires must be seconds or a date, got ${JSON.stringify(expires)}`);
  }
  const apply: ApplyOptions = {
    taskId: pick(name, o, 'task_id', isStr, 'a string'),
    countdown: pick(name, o, 'countdown', isNum, 'a number of seconds'),
    eta: pick(name, o, 'eta', isDateLike, 'an ISO 8601 date'),
    expires: (expires ?? undefined) as ApplyOptions['expires'],
    // kombu's Redis transport routes the default exchange by routing key, which is the queue name.
    queue: pick(name, o, 'queue', isStr, 'a queue name') ?? pick(name, o, 'routing_key', isStr, 'a queue name'),
    priority: pick(name, o, 'priority', isNum, 'an integer from 0 to 9'),
    timeLimit: pick(name, o, 'time_limit', isNum, 'seconds'),
    softTimeLimit: pick(name, o, 'soft_time_limit', isNum, 'seconds'),
    ignoreResult: pick(name, o, 'ignore_result', isBool, 'true or false'),
    serializer: pick(name, o, 'serializer', isStr, 'a serializer name'),
    headers: pick(name, o, 'headers', isObj, 'an object'),
    rootId: pick(name, o, 'root_id', isStr, 'a task id'),
    parentId: pick(name, o, 'parent_id', isStr, 'a task id'),
    retries: pick(name, o, 'retries', isNum, 'a count'),
    replyTo: pick(name, o, 'reply_to', isStr, 'a queue name'),
  };
  for (const k of Object.keys(apply) as (keyof ApplyOptions)[]) if (apply[k] === undefined) delete apply[k];
  const chord = o.chord;
  if (chord !== undefined && chord !== null && !isObj(chord)) throw new TypeError(`${name}: option chord must be a signature`);
  const groupIndex = pick<number>(name, o, 'group_index', isNum, 'an integer');
  const carried: CarriedFields = {
    embed: {
      callbacks: signatures(name, o, 'link'),
      errbacks: signatures(name, o, 'link_error'),
      chain: signatures(name, o, 'chain'),
      chord: (chord ?? null) as SignatureDict | null,
    },
    group: pick(name, o, 'group_id', isStr, 'a group id') ?? null,
    groupIndex: groupIndex ?? null,
  };
  return { apply, carried };
}

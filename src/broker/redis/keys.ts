/**
 * Key names, exactly as kombu 5's Redis transport spells them, so Python Celery producers, workers, `celery
 * inspect` and Flower see the same queues. Every key carries the `global_keyprefix` (kombu prefixes every key
 * it touches, the unacked mutex included).
 *
 * - a queue is up to four lists: the bare name for priorities 0-2 and `<queue>\x06\x16<step>` for steps 3, 6, 9;
 * - `_kombu.binding.<exchange>` holds `<routing_key>\x06\x16<pattern>\x06\x16<queue>` members;
 * - `unacked` (hash) and `unacked_index` (sorted set) emulate acknowledgements; `unacked_mutex` guards restores.
 *
 * Celerity adds names kombu does not know, under its own `celerity.` namespace so they can never collide with a
 * queue a Python app declares: `celerity.delayed.<queue>` (messages parked until a due time),
 * `celerity.consumer.<queue>` (present while a Celerity worker polls the queue, so parked messages will be
 * promoted) and `celerity.dead_letters` (rejected messages, one JSON record per list item).
 */

/** kombu's separator between a queue name and its priority step. */
export const SEP = '\x06\x16';

/** kombu's priority buckets; a priority is served from the highest step not above it. */
export const PRIORITY_STEPS = [0, 3, 6, 9] as const;
export type PriorityStep = (typeof PRIORITY_STEPS)[number];

/**
 * Which sub-list a consumer empties first. kombu's consumers poll step 0 first, so on Redis a lower number is
 * served sooner; `highest-first` reverses that for fleets with no Python workers that want AMQP's meaning.
 */
export type PriorityOrder = 'lowest-first' | 'highest-first';

/**
 * Where a message with a future due time goes. `park` always holds it in `celerity.delayed.<queue>` until due;
 * only Celerity workers move it on, so a queue consumed by Python workers alone would never see it. `auto` parks
 * it only while a Celerity worker is polling the queue, and otherwise pushes it to the list at once, as kombu
 * does, for the consuming worker to hold until its ETA.
 */
export type DelayedDelivery = 'auto' | 'park';

/** kombu's clamping: the integer part, limited to 0..9; anything unreadable counts as 0. */
export function clampKombuPriority(value: unknown): number {
  const n = typeof value === 'number' ? Math.trunc(value) : typeof value === 'string' ? parseInt(value, 10) : NaN;
  return Number.isFinite(n) ? Math.min(9, Math.max(0, n)) : 0;
}

/** The step a (clamped) priority is stored under. */
export function stepFor(priority: number): PriorityStep {
  let step: PriorityStep = 0;
  for (const s of PRIORITY_STEPS) if (clampKombuPriority(priority) >= s) step = s;
  return step;
}

export class RedisKeys {
  readonly unacked: string;
  readonly unackedIndex: string;
  readonly unackedMutex: string;
  readonly deadLetters: string;
  /** Steps in the order consumers empty them. */
  readonly steps: readonly PriorityStep[];

  constructor(
    readonly prefix: string,
    order: PriorityOrder,
  ) {
    this.unacked = `${prefix}unacked`;
    this.unackedIndex = `${prefix}unacked_index`;
    this.unackedMutex = `${prefix}unacked_mutex`;
    this.deadLetters = `${prefix}celerity.dead_letters`;
    this.steps = order === 'lowest-first' ? [...PRIORITY_STEPS] : [...PRIORITY_STEPS].reverse();
  }

  /** The list a message of `step` waits in. */
  list(queue: string, step: PriorityStep): string {
    return step === 0 ? `${this.prefix}${queue}` : `${this.prefix}${queue}${SEP}${step}`;
  }

  /** Every list of `queues`, in polling order: step-major, then the caller's queue order (as kombu's BRPOP). */
  pollingLists(queues: readonly string[]): string[] {
    return this.steps.flatMap((step) => queues.map((q) => this.list(q, step)));
  }

  /** All four lists of one queue. */
  queueLists(queue: string): string[] {
    return PRIORITY_STEPS.map((step) => this.list(queue, step));
  }

  delayed(queue: string): string {
    return `${this.prefix}celerity.delayed.${queue}`;
  }

  consumer(queue: string): string {
    return `${this.prefix}celerity.consumer.${queue}`;
  }

  /** The shared start schedule of a global rate limit (lua/rate-slot.lua). */
  rate(name: string): string {
    return `${this.prefix}celerity.rate.${name}`;
  }

  /**
   * The binding Celery declares for a queue it creates: a direct exchange named like the queue, routed by the
   * queue name, with an empty pattern.
   */
  binding(queue: string): { key: string; member: string } {
    return { key: `${this.prefix}_kombu.binding.${queue}`, member: `${queue}${SEP}${SEP}${queue}` };
  }
}

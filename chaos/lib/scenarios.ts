/**
 * The scenarios, each against real `celerity worker` processes on a fresh store, each ending with an account of
 * every task it sent (see ledger.ts): kill -9 loops, broker restarts and a frozen broker (Redis), generated garbage
 * mixed with good tasks, and results that cannot be encoded.
 */
import { account, until, type Ledger, type Tally } from './ledger.js';
import { exited, kill9, startWorker, type WorkerProc } from './procs.js';
import { APP_MODULE, type Store } from './stores.js';
import { UNENCODABLE_KINDS } from './kinds.js';

export interface Options {
  /** Good tasks per scenario. */
  tasks: number;
  kills: number;
  restarts: number;
  garbage: number;
  freezeMs: number;
  /** How long a scenario may take to settle once the disturbance is over. */
  settleMs: number;
  seed: number;
}

export type Scenario = (store: Store, ledger: Ledger, o: Options) => Promise<Tally[]>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** The worker processes of a scenario: two of them, two slots each, async pool. */
class Crew {
  readonly workers: WorkerProc[] = [];
  private started = 0;
  constructor(private readonly store: Store) {}

  async start(n: number): Promise<void> {
    for (let i = 0; i < n; i++) this.workers.push(await this.spawn());
  }

  private spawn(): Promise<WorkerProc> {
    return startWorker(this.store.env, `w${this.started++}-${this.store.queue}`, ['-c', '2'], { appModule: APP_MODULE });
  }

  /** kill -9 worker `i` (whatever it is doing) and start a new one in its place. */
  async replace(i: number): Promise<void> {
    await kill9(this.workers[i]!.proc);
    this.workers[i] = await this.spawn();
  }

  /** A warm shutdown: running tasks finish (bounded), then the processes exit. */
  async stop(): Promise<void> {
    await Promise.all(
      this.workers.splice(0).map(async (w) => {
        w.proc.kill('SIGTERM');
        const timer = setTimeout(() => w.proc.kill('SIGKILL'), 20_000);
        await exited(w.proc);
        clearTimeout(timer);
      }),
    );
  }
}

async function withCrew<T>(store: Store, use: (crew: Crew) => Promise<T>): Promise<T> {
  const crew = new Crew(store);
  try {
    await crew.start(2);
    return await use(crew);
  } finally {
    await crew.stop();
  }
}

async function settled(store: Store, ledger: Ledger, ids: readonly string[], ms: number): Promise<boolean> {
  return until(async () => {
    const { done } = await ledger.runs();
    return ids.every((id) => done.has(id)) && (await store.stuck()) === 0;
  }, ms);
}

/** Workers killed with SIGKILL at random moments while tasks flow, and restarted; acks_late and early-ack tasks. */
export const killLoop: Scenario = async (store, ledger, o) => {
  const rand = prng(o.seed);
  const late: string[] = [];
  const early: string[] = [];
  const ok = await withCrew(store, async (crew) => {
    for (let i = 0; i < o.tasks; i++) {
      const name = i % 2 ? 'chaos.record_early' : 'chaos.record';
      const r = await store.app.sendTask(name, [i, 50 + Math.floor(rand() * 250)]);
      (i % 2 ? early : late).push(r.id);
    }
    // Kills spread over the run, each while tasks are still flowing: once a share of them has finished, at a
    // random moment within the next 200 ms.
    for (let k = 0; k < o.kills; k++) {
      const target = Math.floor(((k + 1) * o.tasks) / (o.kills + 2));
      await until(async () => (await ledger.doneCount()) >= target, o.settleMs, 20);
      await sleep(rand() * 200);
      await crew.replace(Math.floor(rand() * crew.workers.length));
    }
    return settled(store, ledger, late, o.settleMs);
  });
  const runs = await ledger.runs();
  const stuck = await store.stuck();
  const dead = await store.deadLetters();
  const deadIds = new Set(dead.map((d) => d.taskId).filter((x): x is string => x !== null));
  const row = (ids: string[], scenario: string, note: string): Tally => ({ store: store.kind, scenario, sent: ids.length, ...account(ids, runs, deadIds), deadLetters: ids.filter((id) => deadIds.has(id)).length, stuck, note });
  const settleNote = ok ? '' : `; not settled within ${o.settleMs} ms`;
  return [
    row(late, 'kill -9 loop, acks_late', `${o.kills} kills${settleNote}`),
    row(early, 'kill -9 loop, early ack', `${o.kills} kills; a task running at a kill is lost (at most once)${settleNote}`),
  ];
};

/** A producer sending tasks one after another while `disturb` happens; then everything accepted must complete. */
async function underDisturbance(store: Store, ledger: Ledger, o: Options, scenario: string, disturb: (round: number) => Promise<void>, rounds: number): Promise<Tally> {
  const accepted: string[] = [];
  let refused = 0;
  const ok = await withCrew(store, async () => {
    let sending = true;
    const producer = (async () => {
      for (let i = 0; sending; i++) {
        // A send either resolves (the task is accepted and must complete) or rejects while the broker is away.
        await store.app.sendTask('chaos.record', [i, 10]).then(
          (r) => accepted.push(r.id),
          () => refused++,
        );
        await sleep(5);
      }
    })();
    for (let round = 0; round < rounds; round++) {
      const target = Math.floor(((round + 1) * o.tasks) / (rounds + 1));
      await until(async () => (await ledger.doneCount()) >= target, o.settleMs, 50);
      await disturb(round);
    }
    await until(async () => accepted.length >= o.tasks, o.settleMs, 50);
    sending = false;
    await producer;
    return settled(store, ledger, accepted, o.settleMs);
  });
  const runs = await ledger.runs();
  const dead = await store.deadLetters();
  const deadIds = new Set(dead.map((d) => d.taskId).filter((x): x is string => x !== null));
  return {
    store: store.kind,
    scenario,
    sent: accepted.length,
    ...account(accepted, runs, deadIds),
    deadLetters: dead.length,
    stuck: await store.stuck(),
    note: `${refused} sends refused while down${ok ? '' : `; not settled within ${o.settleMs} ms`}`,
  };
}

/** The broker's redis-server killed with SIGKILL (append-only file, fsync always) and started again. */
export const brokerRestart: Scenario = async (store, ledger, o) => {
  const redis = store.redis!;
  const tally = await underDisturbance(
    store,
    ledger,
    o,
    'broker kill -9 + restart',
    async () => {
      await kill9(redis.proc!);
      await sleep(500);
      await redis.start();
    },
    o.restarts,
  );
  tally.note = `${o.restarts} restarts; ${tally.note}`;
  return [tally];
};

/** The broker's redis-server stopped with SIGSTOP (connections open, no answers) for a while, then SIGCONT. */
export const frozenBroker: Scenario = async (store, ledger, o) => {
  const tally = await underDisturbance(
    store,
    ledger,
    o,
    'broker frozen (SIGSTOP)',
    async () => {
      store.redis!.freeze();
      await sleep(o.freezeMs);
      store.redis!.thaw();
    },
    1,
  );
  tally.note = `frozen ${o.freezeMs} ms; ${tally.note}`;
  return [tally];
};

/** Good tasks and generated garbage written straight into the queue, shuffled: every bad item a dead letter. */
export const garbage: Scenario = async (store, ledger, o) => {
  const good = Array.from({ length: o.tasks }, (_, i) => `good-${i}-${ledger.key}`);
  let dead = await store.deadLetters();
  const ok = await withCrew(store, async () => {
    await store.inject(good, o.garbage, o.seed);
    return until(async () => {
      const { done } = await ledger.runs();
      dead = await store.deadLetters();
      return good.every((id) => done.has(id)) && dead.length >= o.garbage && (await store.stuck()) === 0;
    }, o.settleMs);
  });
  const runs = await ledger.runs();
  dead = await store.deadLetters();
  const goodSet = new Set(good);
  const deadIds = new Set(dead.map((d) => d.taskId).filter((x): x is string => x !== null && goodSet.has(x)));
  const goods = account(good, runs, deadIds);
  const badDead = dead.length - deadIds.size;
  return [
    {
      store: store.kind,
      scenario: 'garbage (fast-check) + good tasks',
      sent: good.length + o.garbage,
      completed: goods.completed,
      lost: goods.lost + Math.max(0, o.garbage - badDead),
      ranTwice: goods.ranTwice,
      deadLetters: dead.length,
      stuck: await store.stuck(),
      note: `${o.garbage} bad, ${good.length} good (${deadIds.size} good dead-lettered)${ok ? '' : `; not settled within ${o.settleMs} ms`}`,
    },
  ];
};

/** Tasks returning values JSON cannot hold: each must end FAILURE EncodeError, its message acked. */
export const unencodable: Scenario = async (store, ledger, o) => {
  const outcomes = new Map<string, number>();
  const ids: string[] = [];
  let completed = 0;
  await withCrew(store, async () => {
    const sent = [];
    for (const kind of UNENCODABLE_KINDS) for (let i = 0; i < 2; i++) sent.push({ kind, r: await store.app.sendTask('chaos.unencodable', [kind]) });
    await Promise.all(
      sent.map(async ({ kind, r }) => {
        ids.push(r.id);
        const outcome = await r.get({ timeout: o.settleMs }).then(
          () => 'SUCCESS',
          (err: Error) => (err.name === 'TimeoutError' || /timed? ?out/i.test(err.message) ? 'no result' : `FAILURE ${err.name}`),
        );
        if (outcome !== 'no result') completed++;
        const key = `${kind}: ${outcome}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }),
    );
  });
  const runs = await ledger.runs();
  const dead = await store.deadLetters();
  const deadIds = new Set(dead.map((d) => d.taskId).filter((x): x is string => x !== null));
  const { ranTwice, lost } = account(ids, { started: runs.started, done: new Map() }, deadIds);
  return [
    {
      store: store.kind,
      scenario: 'unencodable results',
      sent: ids.length,
      completed,
      lost: lost - completed,
      ranTwice,
      deadLetters: dead.length,
      stuck: await store.stuck(),
      note: [...outcomes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, n]) => `${k} x${n}`).join(', '),
    },
  ];
};

/**
 * Signatures: a task call as plain data, in Celery's dict form (`task, args, kwargs, options, subtask_type,
 * immutable`), so a signature built here travels inside a message to a Python worker and back unchanged. Chains,
 * groups and chords are signatures too (tasks `celery.chain`, `celery.group`, `celery.chord`), as in Celery.
 *
 * Options are kept under Celery's snake_case names (`task_id`, `link_error`, `soft_time_limit`, ...) because that
 * is what a Python worker reads when it applies a callback or the next step of a chain; `set()` takes them in
 * camelCase and translates.
 */
import type { AsyncResult, GroupResult } from '../result/results.js';
import type { SignatureDict } from '../protocol/types.js';
import { addErrback, chainDict, chordDict, chordParts, groupDict, groupTasks, kindOf, mergeCall, normalize } from './dicts.js';
import type { AnyResult, CanvasHost } from './host.js';
import { celeryOptions, type SignatureOptions } from './options.js';

export type { SignatureOptions } from './options.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- `any` here means "whatever it is given"
type Any = any;

/** Anything a signature argument may be: a Signature or its dict form. */
export type SignatureLike = Signature<Any, Any, Any> | SignatureDict;

/** The dict form of a signature or dict, as a fresh deep copy (signatures are data; copies never share state). */
export function toDict(s: SignatureLike): SignatureDict {
  return normalize(structuredClone(s instanceof Signature ? s.dict : s));
}

/** The result type a signature promises. */
export type ResultOf<S> = S extends Signature<Any, infer R, Any> ? R : unknown;

/**
 * A task call as data. `In` is what the call still takes in front of its bound arguments (what a chain passes
 * in: the previous result), `R` what it returns, `Res` the handle `applyAsync` gives; all only guide the compiler.
 *
 * @example
 * const sig = resize.s(800).set({ queue: 'images', priority: 9 });   // resize(path, 800) once given a path
 * await chain(download.s(url), sig).applyAsync();
 */
export class Signature<In extends unknown[] = Any[], R = unknown, Res extends AnyResult = AsyncResult<R>> {
  /**
   * Type carriers only. `in` takes the tuple as one parameter (not spread), so it is checked contravariantly and
   * by length: a step that needs a string rejects a number result, and one with every argument bound rejects any.
   */
  declare readonly __types?: { in: (args: In) => void; out: () => R; res: () => Res };
  /** Celery's dict form; owned by this object (constructors copy what they are given). */
  readonly dict: SignatureDict;
  /** The app that sends it; signatures made from a task have one, composites borrow one from their members. */
  host: CanvasHost | undefined;

  constructor(dict: SignatureDict, host?: CanvasHost) {
    this.dict = normalize(dict);
    this.host = host;
  }

  get name(): string {
    return this.dict.task;
  }

  get args(): readonly unknown[] {
    return this.dict.args;
  }

  get kwargs(): Readonly<Record<string, unknown>> {
    return this.dict.kwargs;
  }

  /** Options under Celery's names. */
  get options(): Readonly<Record<string, unknown>> {
    return this.dict.options;
  }

  get immutable(): boolean {
    return this.dict.immutable;
  }

  get subtaskType(): string | null {
    return this.dict.subtask_type;
  }

  /** The task id once frozen or applied (`options.task_id`; a group's or chord's id for those). */
  get id(): string | undefined {
    const id = this.dict.options.task_id;
    return typeof id === 'string' ? id : undefined;
  }

  /** Sets options (Celery's `sig.set(...)`); `immutable` makes the signature ignore a parent's result. */
  set(options: SignatureOptions & { immutable?: boolean }): this {
    const { immutable, ...rest } = options;
    if (immutable !== undefined) this.dict.immutable = immutable;
    Object.assign(this.dict.options, celeryOptions(rest));
    return this;
  }

  /** Applies `callback` with this task's result when it succeeds; returns the callback (Celery's `link`). */
  link<S extends SignatureLike>(callback: S): S {
    if (kindOf(this.dict) === 'chord') new Signature(chordParts(this.dict).body).link(callback);
    else if (kindOf(this.dict) === 'group') throw new TypeError('a group cannot have link callbacks: use a chord');
    else appendOption(this.dict, 'link', toDict(callback));
    return callback;
  }

  /**
   * Applies `errback` when this task fails, with the failed task's id as its argument (Celery's `link_error`);
   * on a group every member gets it, on a chord its body. Returns the errback.
   */
  linkError<S extends SignatureLike>(errback: S): S {
    addErrback(this.dict, toDict(errback));
    return errback;
  }

  /** `linkError` that returns this signature, for chaining. */
  onError(errback: SignatureLike): this {
    this.linkError(errback);
    return this;
  }

  /** A copy with `args` prepended (unless immutable), `kwargs` merged and options set (Celery's `clone`). */
  clone(args: readonly unknown[] = [], kwargs: Record<string, unknown> = {}, options: SignatureOptions = {}): this {
    const Ctor = this.constructor as new (dict: SignatureDict, host?: CanvasHost) => this;
    return new Ctor(mergeCall(toDict(this), args, kwargs, celeryOptions(options)), this.host);
  }

  /** Celery's `partial`: a copy with more arguments in front. */
  partial(...args: unknown[]): this {
    return this.clone(args);
  }

  /**
   * This, then `next` with this one's result in front of its arguments (Celery's `a | b`). On a group the result
   * is a chord with `next` as its body; on a chord, `next` joins the body.
   */
  pipe<R2, Res2 extends AnyResult>(next: Signature<[R], R2, Res2>): Signature<In, R2, Res2> {
    const kind = kindOf(this.dict);
    const host = this.host ?? next.host;
    if (kind === 'group') return fromDict(chordDict(toDict(this), toDict(next)), host) as Signature<In, R2, Res2>;
    if (kind === 'chord') {
      const d = toDict(this);
      const parts = chordParts(d);
      (d.kwargs as { body: SignatureDict }).body = chainDict([parts.body, toDict(next)]);
      return fromDict(d, host) as Signature<In, R2, Res2>;
    }
    const mine = kind === 'chain' ? groupTasks(toDict(this)) : [toDict(this)];
    const theirs = kindOf(next.dict) === 'chain' ? groupTasks(toDict(next)) : [toDict(next)];
    return new Chain<In, R2>(chainDict([...mine, ...theirs]), host) as unknown as Signature<In, R2, Res2>;
  }

  /**
   * Sends the call. `args` go in front of the bound ones (unless immutable), `options` override the signature's.
   * Resolves once the messages are handed to the producer.
   */
  applyAsync(args?: In, options: SignatureOptions & { kwargs?: Record<string, unknown> } = {}): Promise<Res> {
    const { kwargs, ...rest } = options;
    return this.requireHost().apply(this.dict, (args ?? []) as unknown[], kwargs ?? {}, celeryOptions(rest)) as Promise<Res>;
  }

  /** `applyAsync` with positional arguments. */
  delay(...args: In): Promise<Res> {
    return this.applyAsync(args);
  }

  /**
   * Gives the signature (and, for a canvas, every member) its task id now, before it is sent, so results can be
   * handed out first; applying it later keeps those ids. Returns the result handle it will have.
   */
  freeze(): Res {
    return this.requireHost().freeze(this.dict) as Res;
  }

  /** Celery's dict form (what `JSON.stringify` and the wire see). */
  toJSON(): SignatureDict {
    return this.dict;
  }

  protected requireHost(): CanvasHost {
    if (!this.host) {
      throw new TypeError(`signature ${this.name} has no app: build it from a task (task.s()) or pass one to fromDict()`);
    }
    return this.host;
  }
}

/** Tasks run one after another, each result passed in front of the next one's arguments. */
export class Chain<In extends unknown[] = Any[], R = unknown, Res extends AnyResult = AsyncResult<R>> extends Signature<In, R, Res> {
  get tasks(): Signature<Any[], Any, AnyResult>[] {
    return groupTasks(this.dict).map((d) => fromDict(d, this.host));
  }
}

/** Tasks run in parallel; `R` is the tuple (or array) of their results. */
export class Group<R extends unknown[] = unknown[]> extends Signature<Any[], R, GroupResult<R>> {
  get tasks(): Signature<Any[], Any, AnyResult>[] {
    return groupTasks(this.dict).map((d) => fromDict(d, this.host));
  }

  get length(): number {
    return groupTasks(this.dict).length;
  }
}

/** A group (the header) whose results, in order, are passed as one list to the body once all have finished. */
export class Chord<R = unknown, Res extends AnyResult = AsyncResult<R>> extends Signature<Any[], R, Res> {
  get header(): Group {
    return new Group(chordParts(this.dict).header, this.host);
  }

  get body(): Signature<Any[], Any, AnyResult> {
    return fromDict(chordParts(this.dict).body, this.host);
  }
}

/** Wraps a dict (for example one from a message or a Python producer) in the class for its kind. */
export function fromDict(d: SignatureDict, host?: CanvasHost): Signature<Any[], Any, AnyResult> {
  switch (kindOf(d)) {
    case 'chain':
      return new Chain(d, host);
    case 'group':
      return new Group(d, host);
    case 'chord':
      return new Chord(d, host);
    default:
      return new Signature(d, host);
  }
}

type Sig<I extends unknown[], R> = Signature<I, R, Any>;
type AnySig = Signature<Any, Any, Any>;

function hostOf(items: readonly SignatureLike[]): CanvasHost | undefined {
  for (const s of items) if (s instanceof Signature && s.host) return s.host;
  return undefined;
}

function flatList(items: readonly unknown[]): SignatureLike[] {
  return (items.length === 1 && Array.isArray(items[0]) ? items[0] : items) as SignatureLike[];
}

/**
 * Tasks in sequence: each one's result goes in front of the next one's arguments (Celery's `chain(a, b, c)`, or
 * `a | b | c`). The compiler checks that each step takes what the step before returns.
 *
 * @example
 * const r = await chain(crawl.s('https://example.com'), validate.s()).applyAsync();
 * await r.get();          // validate's result
 * await r.parent!.get();  // crawl's result
 */
// The last step decides the handle: a chain that ends in a group gives that group's GroupResult.
export function chain<I extends unknown[], A, X extends AnyResult>(a: Signature<I, A, X>): Chain<I, A, X>;
export function chain<I extends unknown[], A, B, X extends AnyResult>(a: Sig<I, A>, b: Signature<[A], B, X>): Chain<I, B, X>;
export function chain<I extends unknown[], A, B, C, X extends AnyResult>(
  a: Sig<I, A>,
  b: Sig<[A], B>,
  c: Signature<[B], C, X>,
): Chain<I, C, X>;
export function chain<I extends unknown[], A, B, C, D, X extends AnyResult>(
  a: Sig<I, A>,
  b: Sig<[A], B>,
  c: Sig<[B], C>,
  d: Signature<[C], D, X>,
): Chain<I, D, X>;
export function chain<I extends unknown[], A, B, C, D, E, X extends AnyResult>(
  a: Sig<I, A>,
  b: Sig<[A], B>,
  c: Sig<[B], C>,
  d: Sig<[C], D>,
  e: Signature<[D], E, X>,
): Chain<I, E, X>;
export function chain<I extends unknown[], A, B, C, D, E, F, X extends AnyResult>(
  a: Sig<I, A>,
  b: Sig<[A], B>,
  c: Sig<[B], C>,
  d: Sig<[C], D>,
  e: Sig<[D], E>,
  f: Signature<[E], F, X>,
): Chain<I, F, X>;
/** Any number of steps as one list, unchecked (longer chains, or steps known only at run time). */
export function chain(tasks: readonly SignatureLike[]): Chain;
export function chain(...items: unknown[]): Chain {
  const tasks = flatList(items);
  return new Chain(chainDict(tasks.map(toDict)), hostOf(tasks));
}

/** The same as `chain`, under the name of the pipe operator it stands for. */
export const pipe = chain;

/**
 * Tasks in parallel (Celery's `group`): `applyAsync` gives a GroupResult whose `get()` resolves to the results
 * in order.
 *
 * @example
 * const g = await group(resize.s('a.png'), resize.s('b.png')).applyAsync();
 * const [a, b] = await g.get();
 */
export function group<S extends AnySig[]>(...tasks: S): Group<{ [K in keyof S]: ResultOf<S[K]> }>;
export function group<S extends AnySig[]>(tasks: readonly [...S]): Group<{ [K in keyof S]: ResultOf<S[K]> }>;
export function group(tasks: readonly SignatureLike[]): Group;
export function group(...items: unknown[]): Group {
  const tasks = flatList(items);
  return new Group(groupDict(tasks.map(toDict)), hostOf(tasks));
}

/**
 * A barrier: the header runs in parallel and the body gets the list of its results, in header order, once every
 * member has finished (Celery's `chord(header, body)`). A failed member fails the body with a ChordError and
 * calls the body's error callbacks.
 *
 * @example
 * const r = await chord([resize.s(a), resize.s(b)], zip.s()).applyAsync();
 */
export function chord<S extends AnySig[], R, X extends AnyResult>(
  header: readonly [...S],
  body: Signature<[{ [K in keyof S]: ResultOf<S[K]> }], R, X>,
): Chord<R, X>;
export function chord<T extends unknown[], R, X extends AnyResult>(header: Group<T>, body: Signature<[T], R, X>): Chord<R, X>;
/** Untyped, for signatures in dict form (for example from a message). */
export function chord(header: readonly SignatureDict[] | SignatureDict, body: SignatureDict): Chord;
export function chord(header: readonly SignatureLike[] | SignatureLike, body: SignatureLike): Chord {
  const members = Array.isArray(header) ? (header as SignatureLike[]) : undefined;
  const headerDict = members ? groupDict(members.map(toDict)) : toDict(header as SignatureLike);
  return new Chord(chordDict(headerDict, toDict(body)), hostOf([...(members ?? [header as SignatureLike]), body]));
}

function appendOption(d: SignatureDict, key: 'link', value: SignatureDict): void {
  const current = d.options[key];
  const list = Array.isArray(current) ? current : current ? [current] : [];
  list.push(value);
  d.options[key] = list;
}

/**
 * The ids a worker was told to revoke, and the file that keeps them across restarts.
 *
 * `RevokedIds` is Celery's `LimitedSet` as `worker_state.revoked` uses it: at most 50,000 ids, each forgotten 3 hours
 * after it was added, the oldest dropped first when full. A revoke is remembered for as long as a message carrying
 * that id may plausibly still arrive, and memory stays bounded whatever a client broadcasts.
 *
 * `StateDb` is Celery's `--statedb`: the revoked ids (and the node's Lamport clock) written to a JSON file shortly
 * after each change and at shutdown, read back at start. Celery keeps a Python `shelve`; a JSON file is what a Node
 * process can read and write safely, and nothing else reads it. Writes go to a temporary file renamed into place,
 * so a crash mid-write leaves the previous state rather than a truncated one.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REVOKE_EXPIRES_MS } from '../broker/port.js';

export { REVOKE_EXPIRES_MS };
/** Celery's `REVOKES_MAX` (celery/worker/state.py). */
export const REVOKES_MAX = 50_000;

export class RevokedIds {
  /** id -> epoch ms it was added; Map order is insertion order, so the oldest come first. */
  private readonly added = new Map<string, number>();

  constructor(
    readonly maxSize = REVOKES_MAX,
    readonly expiresMs = REVOKE_EXPIRES_MS,
  ) {}

  get size(): number {
    return this.added.size;
  }

  /** Adds ids (an id added again counts from now); `at` lets a loaded state keep its original times. */
  add(ids: Iterable<string>, at = Date.now()): void {
    for (const id of ids) {
      this.added.delete(id);
      this.added.set(id, at);
    }
    this.purge(at);
  }

  has(id: string, now = Date.now()): boolean {
    const at = this.added.get(id);
    return at !== undefined && now - at < this.expiresMs;
  }

  /** The ids still remembered, oldest first. */
  ids(now = Date.now()): string[] {
    this.purge(now);
    return [...this.added.keys()];
  }

  /** [id, epoch ms added] pairs, oldest first, for the state file. */
  entries(now = Date.now()): [string, number][] {
    this.purge(now);
    return [...this.added.entries()];
  }

  /** Forgets expired ids, then the oldest beyond the size bound. */
  purge(now = Date.now()): void {
    for (const [id, at] of this.added) {
      if (now - at < this.expiresMs && this.added.size <= this.maxSize) break;
      this.added.delete(id);
    }
  }
}

/** What the state file holds. */
interface StateFile {
  version: 1;
  /** [id, epoch ms added], oldest first. */
  revoked: [string, number][];
  clock: number;
}

export interface StateDbOptions {
  /** Milliseconds to wait after a change before writing, so a burst of revokes is one write. Default 1000. */
  debounceMs?: number;
  onError?: (err: Error) => void;
}

export class StateDb {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly debounceMs: number;
  private readonly onError: (err: Error) => void;

  constructor(
    readonly file: string,
    private readonly snapshot: () => { revoked: RevokedIds; clock: number },
    options: StateDbOptions = {},
  ) {
    this.debounceMs = options.debounceMs ?? 1000;
    this.onError = options.onError ?? (() => undefined);
  }

  /**
   * Reads the file into `revoked`; resolves to the saved clock (0 when there is no file yet). An unreadable file is
   * reported to onError and treated as empty: a worker that cannot remember old revokes still runs.
   */
  async load(revoked: RevokedIds): Promise<number> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      this.onError(err as Error);
      return 0;
    }
    try {
      const state = JSON.parse(text) as Partial<StateFile>;
      for (const entry of Array.isArray(state.revoked) ? state.revoked : []) {
        if (Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'number') revoked.add([entry[0]], entry[1]);
      }
      return typeof state.clock === 'number' && Number.isFinite(state.clock) ? state.clock : 0;
    } catch (err) {
      this.onError(new Error(`statedb ${this.file} is not valid JSON; starting without its revoked ids`, { cause: err }));
      return 0;
    }
  }

  /** Schedules a write. */
  changed(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.save();
    }, this.debounceMs);
    this.timer.unref();
  }

  /** Writes now (after any write in progress); never rejects. */
  save(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.writing.then(() => this.write()).catch((err: unknown) => this.onError(err as Error));
    return this.writing;
  }

  private async write(): Promise<void> {
    const { revoked, clock } = this.snapshot();
    const state: StateFile = { version: 1, revoked: revoked.entries(), clock };
    await mkdir(path.dirname(path.resolve(this.file)), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(state));
    await rename(tmp, this.file);
  }
}

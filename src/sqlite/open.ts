/**
 * Opening the embedded store: one SQLite file shared by the broker, the result backend and several processes.
 * Both adapters open their own connection through here so they agree on the pragmas that make sharing safe.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigurationError, ConnectionError } from '../errors/index.js';

export type SqliteDatabase = Database.Database;

/**
 * Milliseconds a statement waits for another process's write lock before failing with SQLITE_BUSY. Writes are
 * short (a reserve batch takes well under a millisecond), so 5 s only bites when something is badly wrong.
 */
const BUSY_TIMEOUT_MS = 5000;

/**
 * `sqlite://./celerity.db` (relative to the working directory), `sqlite:///abs/path.db` (absolute),
 * `sqlite://:memory:` (private to one connection: tests only, since another process or connection cannot see it).
 * `setting` names the configuration key in the error for a URL that has no path.
 */
export function sqlitePathFromUrl(url: string, setting: string): string {
  const rest = url.replace(/^sqlite:\/\//i, '').replace(/[?#].*$/, '');
  if (rest === '') throw new ConfigurationError(setting, url, 'a file path such as sqlite://./celerity.db');
  return rest === ':memory:' ? rest : decodeURIComponent(rest);
}

/**
 * Native handles kept reachable for the life of the process. better-sqlite3 12 (the last line that builds on
 * Node 20) aborts the whole process on Node 24 when the garbage collector finalizes a Database or Statement
 * (`Assertion failed: (env) != nullptr` in RemoveEnvironmentCleanupHook; measured here: a producer of 1,000
 * tasks died with SIGABRT mid-run). Never letting them become garbage avoids the finalizer entirely; the cost is a
 * few kilobytes per opened connection, and connections are opened once per adapter.
 */
const retained = new Set<object>();

/** Prepares a statement that lives as long as the process (see `retained`). */
export function prepare(db: SqliteDatabase, sql: string): Database.Statement {
  const stmt = db.prepare(sql);
  retained.add(stmt);
  return stmt;
}

/**
 * Opens (creating if needed) the database at `path` in WAL mode, so readers never block the writer and several
 * processes can share the file. Throws ConnectionError with one line naming the path when it cannot be used.
 * `busyWaitMs`: how long one statement waits for another process's lock on the calling thread; the adapters keep
 * it short and retry asynchronously (see busy.ts).
 */
export function openDatabase(path: string, busyWaitMs = BUSY_TIMEOUT_MS): SqliteDatabase {
  if (path !== ':memory:') checkPath(path);
  let db: SqliteDatabase;
  try {
    db = new Database(path, { timeout: busyWaitMs });
  } catch (err) {
    throw new ConnectionError(`cannot open SQLite database ${describe(path)}: ${messageOf(err)}`, { cause: err });
  }
  retained.add(db);
  try {
    // exec, not db.pragma(): pragma() builds a throwaway Statement (see `retained` for why that matters).
    // NORMAL in WAL mode syncs at checkpoints, not at every commit: a process crash loses nothing, a power cut can
    // lose the last few commits. FULL costs one fsync per publish/ack batch, which dominates on ordinary disks.
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;');
  } catch (err) {
    db.close();
    throw new ConnectionError(`cannot use SQLite database ${describe(path)}: ${messageOf(err)}`, { cause: err });
  }
  return db;
}

/** Turns the driver's "unable to open database file" into a line that says what is wrong with which path. */
function checkPath(path: string): void {
  const file = resolve(path);
  const dir = dirname(file);
  let dirStat;
  try {
    dirStat = statSync(dir);
  } catch {
    throw new ConnectionError(`cannot open SQLite database ${file}: directory ${dir} does not exist`);
  }
  if (!dirStat.isDirectory()) {
    throw new ConnectionError(`cannot open SQLite database ${file}: ${dir} is not a directory`);
  }
  let exists = true;
  try {
    if (statSync(file).isDirectory()) {
      throw new ConnectionError(`cannot open SQLite database ${file}: it is a directory`);
    }
  } catch (err) {
    if (err instanceof ConnectionError) throw err;
    exists = false;
  }
  // WAL needs to create -wal and -shm files beside the database, so the directory must be writable too.
  for (const target of exists ? [file, dir] : [dir]) {
    try {
      accessSync(target, constants.R_OK | constants.W_OK);
    } catch {
      throw new ConnectionError(`cannot open SQLite database ${file}: ${target} is not writable`);
    }
  }
}

function describe(path: string): string {
  return path === ':memory:' ? path : resolve(path);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

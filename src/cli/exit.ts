/**
 * Exit codes scripts can rely on (sysexits where one fits). Documented in the README.
 */

export const Exit = {
  OK: 0,
  /** The task failed or was revoked (`result`), or an unexpected error. */
  FAILURE: 1,
  /** Bad command-line usage, or the app module cannot be loaded. */
  USAGE: 2,
  /** `result` without --wait: the task is not ready yet. */
  NOT_READY: 3,
  /** The broker or result backend cannot be reached. */
  UNAVAILABLE: 69,
  /** A wait ran out of time. */
  TIMEOUT: 75,
  /** Invalid configuration. */
  CONFIG: 78,
} as const;

const CODES: Record<string, number> = {
  ConfigurationError: Exit.CONFIG,
  ConnectionError: Exit.UNAVAILABLE,
  TimeoutError: Exit.TIMEOUT,
  AppLoadError: Exit.USAGE,
};

/** One line on stderr and the matching exit code; a stack only with DEBUG=celerity. */
export function fail(err: unknown): never {
  const e = err instanceof Error ? err : new Error(String(err));
  // By name, not instanceof: an app module loaded through tsx gets its own copy of the package's classes.
  const code = CODES[e.name] ?? Exit.FAILURE;
  process.stderr.write(`celerity: error: ${e.message}\n`);
  if (process.env.DEBUG?.includes('celerity')) process.stderr.write(`${e.stack}\n`);
  process.exit(code);
}

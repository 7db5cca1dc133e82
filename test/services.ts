/**
 * Outside services (Redis, Python Celery, the sqlite3 shell) for tests that need the real thing. Locally a missing
 * service skips its tests with a one-line reason, so `npm test` passes on a bare machine; under CI=true it is a
 * failure, never a skip.
 */
export interface ServiceCheck {
  ok: boolean;
  reason: string;
}

export async function requireService(name: string, probe: () => Promise<void> | void): Promise<ServiceCheck> {
  try {
    await probe();
    return { ok: true, reason: '' };
  } catch (err) {
    const reason = `${name} unavailable: ${(err as Error).message}`;
    if (process.env.CI) throw new Error(`${reason} (required when CI is set)`, { cause: err });
    return { ok: false, reason };
  }
}

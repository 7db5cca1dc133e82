/**
 * Outside services (Redis, PostgreSQL and psql, Python Celery, the sqlite3 shell) for tests that need the real thing. Locally a missing
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

/** Probe: Redis at `url` answers PING (one attempt, no reconnecting). */
export async function pingRedis(url: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await r.connect();
    await r.ping();
  } finally {
    r.disconnect();
  }
}

/** The Python that has Debian's Celery 5 (the first python3 on PATH may be another install). */
export const PYTHON = '/usr/bin/python3';

/** Probe: PYTHON imports Celery 5 and redis-py, and Redis at `url` answers. */
export async function pythonCeleryOnRedis(url: string): Promise<void> {
  const { spawnSync } = await import('node:child_process');
  const probe = spawnSync(PYTHON, ['-c', 'import celery, redis; assert celery.VERSION[0] == 5'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error(`${PYTHON} cannot import celery and redis (apt-get install python3-celery python3-redis)`);
  await pingRedis(url);
}

/** Probe: PostgreSQL at `url` accepts a connection and answers a query (one attempt, 2 s to connect). */
export async function pingPostgres(url: string): Promise<void> {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** RabbitMQ for the AMQP tests; TEST_AMQP_URL overrides the address (its vhost is replaced by `freshVhost`'s). */
export const AMQP_BASE = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** Probe: RabbitMQ at AMQP_BASE accepts an AMQP connection. */
export async function pingRabbit(url = `${AMQP_BASE}/`): Promise<void> {
  const { connect } = await import('amqplib');
  const model = await connect(url, { timeout: 2000 });
  await model.close();
}

/**
 * A vhost of its own for one test file (queues, exchanges and dead letters of other files out of sight), made with
 * rabbitmqctl on this machine and deleted by the returned function; the default vhost `/` where rabbitmqctl cannot
 * be used (another machine's broker, no root), with the test's random queue names as the only isolation.
 */
export async function freshVhost(label: string): Promise<{ url: string; vhost: string; remove(): Promise<void> }> {
  const { randomUUID } = await import('node:crypto');
  const { spawnSync } = await import('node:child_process');
  const vhost = `celerity-test-${label}-${randomUUID().slice(0, 8)}`;
  const ctl = (...args: string[]) => spawnSync('rabbitmqctl', args, { encoding: 'utf8' });
  const made = process.env.TEST_AMQP_URL ? null : ctl('add_vhost', vhost);
  if (!made || made.status !== 0) return { url: `${AMQP_BASE}/`, vhost: '/', remove: async () => undefined };
  ctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
  return {
    url: `${AMQP_BASE}/${encodeURIComponent(vhost)}`,
    vhost,
    remove: async () => void ctl('delete_vhost', vhost),
  };
}

import { describe, expect, it } from 'vitest';
import { compileConfig, envName } from '../../src/app/config.js';
import { ConfigurationError } from '../../src/errors/index.js';

describe('configuration', () => {
  it('defaults to the embedded SQLite store and Celery-like values', () => {
    const c = compileConfig();
    expect(c.broker).toBe('sqlite://./celerity.db');
    expect(c.backend).toBe('sqlite://./celerity.db');
    expect(c.defaultQueue).toBe('celery');
    expect(c.prefetchMultiplier).toBe(4);
    expect(c.acksLate).toBe(true);
    expect(c.visibilityTimeout).toBe(3600);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('layers defaults < code < environment < CLI flags', () => {
    const code = { concurrency: 2, defaultQueue: 'code', acksLate: false };
    const env = { CELERITY_CONCURRENCY: '3', CELERITY_DEFAULT_QUEUE: 'env' };
    const cli = { concurrency: 4 };
    const c = compileConfig({ code, env, cli });
    expect(c.concurrency).toBe(4);
    expect(c.defaultQueue).toBe('env');
    expect(c.acksLate).toBe(false);
  });

  it('reads the documented environment names and Celery spellings', () => {
    const c = compileConfig({
      env: {
        CELERITY_BROKER_URL: 'memory://',
        CELERITY_RESULT_BACKEND: 'memory://',
        CELERITY_VISIBILITY_TIMEOUT: '30',
        CELERITY_TASK_ACKS_LATE: 'no',
        CELERITY_QUEUES: 'crawl, validation',
        CELERITY_TASK_ROUTES: '{"crawl.*": {"queue": "crawl", "priority": 9}}',
        CELERITY_MAX_RETRIES: 'none',
      },
    });
    expect(c.broker).toBe('memory://');
    expect(c.visibilityTimeout).toBe(30);
    expect(c.acksLate).toBe(false);
    expect(c.queues).toEqual(['crawl', 'validation']);
    expect(c.taskRoutes['crawl.*']).toEqual({ queue: 'crawl', priority: 9 });
    expect(c.maxRetries).toBeNull();
    expect(envName('prefetchMultiplier')).toBe('CELERITY_PREFETCH_MULTIPLIER');
  });

  it("accepts Celery's database backend spelling for PostgreSQL", () => {
    for (const url of ['postgresql://u@h/db', 'db+postgresql://u@h/db', 'db+postgresql+psycopg2://u@h/db']) {
      expect(compileConfig({ env: { CELERITY_RESULT_BACKEND: url } }).backend).toBe(url);
    }
  });

  it('names the key, the value and the expectation on a bad value', () => {
    const bad = (layers: Parameters<typeof compileConfig>[0]) => {
      try {
        compileConfig(layers);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigurationError);
        return (e as Error).message;
      }
      throw new Error('expected a ConfigurationError');
    };
    expect(bad({ env: { CELERITY_CONCURRENCY: 'lots' } })).toBe('invalid setting CELERITY_CONCURRENCY="lots": expected a positive integer');
    expect(bad({ env: { CELERITY_CONCURRENCY: '0' } })).toMatch(/CELERITY_CONCURRENCY=0: expected a positive integer/);
    expect(bad({ code: { prefetchMultiplier: -1 } })).toMatch(/prefetchMultiplier=-1/);
    expect(bad({ cli: { concurrency: 1.5 } })).toMatch(/--concurrency=1.5/);
    expect(bad({ env: { CELERITY_BROKER_URL: 'redis//localhost' } })).toMatch(/CELERITY_BROKER_URL="redis\/\/localhost": expected a URL starting with/);
    expect(bad({ env: { CELERITY_CONCURENCY: '2' } })).toMatch(/CELERITY_CONCURENCY.*did you mean CELERITY_CONCURRENCY/);
    expect(bad({ code: { nonsense: 1 } as never })).toMatch(/invalid setting nonsense=1: expected a known setting name/);
  });
});

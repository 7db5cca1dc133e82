import { describe, expect, it } from 'vitest';
import { compileConfig, envName } from '../../src/app/config.js';
import { Celerity } from '../../src/app/celerity.js';
import { BACKEND_SCHEMES, BROKER_SCHEMES, createBackend, createBroker } from '../../src/transports/index.js';
import { ConfigurationError } from '../../src/errors/index.js';

/** The ConfigurationError `fn` throws. */
function configError(fn: () => unknown): ConfigurationError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigurationError);
    return e as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError');
}

/** A URL that each listed scheme's adapter accepts (the adapter is built, never connected). */
const EXAMPLES: Record<string, string> = {
  sqlite: 'sqlite:///tmp/never-opened.db',
  memory: 'memory://',
  redis: 'redis://:pw@127.0.0.1:6379/0',
  rediss: 'rediss://:pw@127.0.0.1:6380/0',
  unix: 'unix:///run/redis.sock',
  'redis+socket': 'redis+socket:///run/redis.sock',
  sentinel: 'sentinel://127.0.0.1:26379?master_name=mymaster',
  postgresql: 'postgresql://u:pw@127.0.0.1/db',
  postgres: 'postgres://u:pw@127.0.0.1/db',
  'db+postgresql': 'db+postgresql://u:pw@127.0.0.1/db',
  amqp: 'amqp://u:pw@127.0.0.1:5672//',
  amqps: 'amqps://u:pw@127.0.0.1:5671/prod',
  pyamqp: 'pyamqp://u:pw@127.0.0.1//',
  rpc: 'rpc://',
};

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
    const urls = ['postgresql://u@h/db', 'db+postgresql://u@h/db', 'db+postgresql+psycopg2://u@h/db', 'postgresql+psycopg2://u@h/db'];
    for (const url of urls) {
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
    expect(bad({ env: { CELERITY_BROKER_URL: 'redis//localhost' } })).toMatch(/CELERITY_BROKER_URL="redis\/\/localhost": expected a broker URL starting with sqlite:\/\//);
    expect(bad({ env: { CELERITY_CONCURENCY: '2' } })).toMatch(/CELERITY_CONCURENCY.*did you mean CELERITY_CONCURRENCY/);
    expect(bad({ code: { nonsense: 1 } as never })).toMatch(/invalid setting nonsense=1: expected a known setting name/);
    expect(bad({ code: { result_backend: 'memory://' } as never })).toMatch(/known setting name \(Celery's result_backend is backend here\)/);
  });

  it('reads the history, API credential and metrics settings from the environment', () => {
    const c = compileConfig({
      env: {
        CELERITY_HISTORY_URL: 'postgresql://postgres@127.0.0.1/test',
        CELERITY_HISTORY_MAX_TASKS: '5000',
        CELERITY_API_USERS: 'alice:scrypt$a, bob:scrypt$b:ro',
        CELERITY_API_TOKENS: 'sha256$abc:ro',
        CELERITY_METRICS_PORT: '9808',
      },
    });
    expect(c.historyUrl).toBe('postgresql://postgres@127.0.0.1/test');
    expect(c.historyMaxTasks).toBe(5000);
    expect(c.apiUsers).toEqual(['alice:scrypt$a', 'bob:scrypt$b:ro']);
    expect(c.apiTokens).toEqual(['sha256$abc:ro']);
    expect(c.metricsPort).toBe(9808);
    const unset = compileConfig({ env: { CELERITY_HISTORY_URL: 'none', CELERITY_METRICS_PORT: 'null' } });
    expect(unset.historyUrl).toBeNull();
    expect(unset.metricsPort).toBeNull();
    // A malformed credential list is refused without echoing what may be a secret.
    const err = configError(() => compileConfig({ env: { CELERITY_API_TOKENS: '[not json' } }));
    expect(err.message).toContain('CELERITY_API_TOKENS');
    expect(err.message).not.toContain('not json');
  });

  it('never shows a password: URL checks, unknown names, values of any shape', () => {
    const cases: [Parameters<typeof compileConfig>[0], string][] = [
      [{ code: { broker: 'sqs://admin:s3cret@rabbit:5672//' } }, 'broker="sqs://admin:***@rabbit:5672//"'],
      [{ env: { CELERITY_RESULT_BACKEND: 'mongodb://app:s3cret@db/results' } }, 'CELERITY_RESULT_BACKEND="mongodb://app:***@db/results"'],
      [{ cli: { backend: 'amqp://guest:s3cret@rabbit//' } }, '--backend="amqp://guest:***@rabbit//"'],
      [{ env: { CELERITY_BROKER_URL: '  redis://:s3cret@cache:6379/0' } }, 'CELERITY_BROKER_URL="  redis://:***@cache:6379/0"'],
      [{ env: { CELERITY_BROKER: 'redis://:s3cret@cache/0' } }, 'CELERITY_BROKER="redis://:***@cache/0"'],
      [{ code: { brokerUrl: 'redis://u:s3cret@cache/0' } as never }, 'brokerUrl="redis://u:***@cache/0"'],
      [{ code: { broker_url: 'redis://u:s3cret@cache/0' } as never }, "Celery's broker_url is broker here"],
      [
        { code: { brokers: ['sentinel://:s3cret@h1;sentinel://:s3cret@h2?sentinel_password=s3cret'] } as never },
        'brokers=["sentinel://:***@h1;sentinel://:***@h2?sentinel_password=***"]',
      ],
      [
        { code: { taskRoutes: { 'a.*': { queue: 'q', url: 'redis://:s3cret@h' } } } as never },
        'taskRoutes={"a.*":{"queue":"q","url":"redis://:***@h"}}: expected an object mapping',
      ],
    ];
    for (const [layers, shown] of cases) {
      const err = configError(() => compileConfig(layers));
      expect(err.message).toContain(shown);
      expect(err.message).not.toContain('s3cret');
      expect(JSON.stringify(err.value)).not.toContain('s3cret');
    }
  });
});

describe('broker and result backend URLs', () => {
  it('an unusable result backend fails when the app is built, naming the setting, the masked URL and what works', () => {
    for (const url of ['amqp://admin:s3cret@rabbit//', 'foo://u:s3cret@h', 'mongodb://u:s3cret@db/r', 'db+sqlite:///r.db']) {
      const err = configError(() => new Celerity('x', { backend: url }, {}));
      expect(err.key).toBe('backend');
      expect(err.message).toContain(`backend=${JSON.stringify(url.replace(':s3cret@', ':***@'))}`);
      expect(err.message).toContain(`starting with ${BACKEND_SCHEMES.slice(0, -1).map((s) => `${s}://`).join(', ')} or db+postgresql://`);
      expect(err.message).not.toMatch(/amqp:\/\/,|, amqp:\/\//);
    }
    expect(configError(() => new Celerity('x', { backend: 'amqp://h//' }, {})).message).toContain("Celery's amqp:// result backend was removed in Celery 5; use rpc:// or a store");
    const fromEnv = configError(() => new Celerity('x', {}, { CELERITY_RESULT_BACKEND: 'amqp://admin:s3cret@rabbit//' }));
    expect(fromEnv.message).toMatch(/^invalid setting CELERITY_RESULT_BACKEND="amqp:\/\/admin:\*\*\*@rabbit\/\/": expected a result backend URL/);
  });

  it('an unusable broker fails when the app is built; librabbitmq:// is named as not supported, not listed', () => {
    const err = configError(() => new Celerity('x', { broker: 'librabbitmq://admin:s3cret@rabbit//' }, {}));
    expect(err.message).toBe(
      'invalid setting broker="librabbitmq://admin:***@rabbit//": expected a broker URL starting with sqlite://, memory://, ' +
        'redis://, rediss://, unix://, redis+socket://, sentinel://, amqp://, amqps:// or pyamqp:// ' +
        '(librabbitmq is a C client of Python; use amqp:// (the same broker))',
    );
    expect(configError(() => new Celerity('x', {}, { CELERITY_BROKER_URL: 'sqs://k:s3cret@' })).message).toContain(
      'CELERITY_BROKER_URL="sqs://k:***@"',
    );
  });

  it('every scheme the messages list builds an adapter, and nothing else does', async () => {
    for (const scheme of BROKER_SCHEMES) {
      expect(compileConfig({ code: { broker: EXAMPLES[scheme] } }).broker).toBe(EXAMPLES[scheme]);
      expect(await createBroker(EXAMPLES[scheme]!, { visibilityTimeout: 10 })).toBeDefined();
    }
    for (const scheme of BACKEND_SCHEMES) {
      expect(compileConfig({ code: { backend: EXAMPLES[scheme] } }).backend).toBe(EXAMPLES[scheme]);
      // rpc:// travels over the app's AMQP broker, which the app passes along.
      expect(await createBackend(EXAMPLES[scheme]!, { resultExpires: 10, brokerUrl: EXAMPLES.amqp, replyQueue: 'oid' })).toBeDefined();
    }
    // The PostgreSQL schemes are result stores only.
    for (const url of ['postgresql://u@h/db', 'db+postgresql://u@h/db']) {
      expect(configError(() => compileConfig({ code: { broker: url } })).key).toBe('broker');
      await expect(createBroker(url, { visibilityTimeout: 10 })).rejects.toBeInstanceOf(ConfigurationError);
    }
    const err = await createBackend('amqp://a:s3cret@h//', { resultExpires: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toContain('amqp://a:***@h//');
  });
});

describe('envPrefix', () => {
  const prefix = 'PIXCRAWLER_CELERY_';

  it('reads the aliases, Celery names and our names under the app prefix', () => {
    const app = new Celerity(
      'pix',
      { envPrefix: prefix },
      {
        PIXCRAWLER_CELERY_BROKER_URL: 'memory://',
        PIXCRAWLER_CELERY_RESULT_BACKEND: 'memory://',
        PIXCRAWLER_CELERY_WORKER_CONCURRENCY: '7',
        PIXCRAWLER_CELERY_DEFAULT_QUEUE: 'pix',
      },
    );
    expect(app.conf).toMatchObject({ broker: 'memory://', backend: 'memory://', concurrency: 7, defaultQueue: 'pix' });
    expect(compileConfig({ code: { envPrefix: prefix }, env: { PIXCRAWLER_CELERY_CONCURRENCY: '5' } }).concurrency).toBe(5);
    expect(envName('broker', prefix)).toBe('PIXCRAWLER_CELERY_BROKER_URL');
    expect(envName('prefetchMultiplier', prefix)).toBe('PIXCRAWLER_CELERY_PREFETCH_MULTIPLIER');
  });

  it('ignores CELERITY_* variables, even unknown ones, under another prefix', () => {
    const conf = compileConfig({
      code: { envPrefix: prefix, concurrency: 2 },
      env: { CELERITY_CONCURRENCY: '9', CELERITY_NOT_A_SETTING: 'x', PIXCRAWLER_CELERY_DEFAULT_QUEUE: 'pix' },
    });
    expect(conf.concurrency).toBe(2);
    expect(conf.defaultQueue).toBe('pix');
    expect(compileConfig({ code: { envPrefix: 'CELERITY_' }, env: { CELERITY_CONCURRENCY: '9' } }).concurrency).toBe(9);
  });

  it('names the prefixed variable in errors', () => {
    const unknown = configError(() => compileConfig({ code: { envPrefix: prefix }, env: { PIXCRAWLER_CELERY_CONCURENCY: '2' } }));
    expect(unknown.message).toMatch(/^invalid setting PIXCRAWLER_CELERY_CONCURENCY="2": expected a known setting.*did you mean PIXCRAWLER_CELERY_CONCURRENCY/);
    const badValue = configError(() => compileConfig({ code: { envPrefix: prefix }, env: { PIXCRAWLER_CELERY_WORKER_CONCURRENCY: 'lots' } }));
    expect(badValue.message).toBe('invalid setting PIXCRAWLER_CELERY_WORKER_CONCURRENCY="lots": expected a positive integer');
    const badUrl = configError(() => compileConfig({ code: { envPrefix: prefix }, env: { PIXCRAWLER_CELERY_BROKER_URL: 'redis//x' } }));
    expect(badUrl.message).toMatch(/^invalid setting PIXCRAWLER_CELERY_BROKER_URL=/);
  });

  it('rejects a prefix that is not uppercase letters, digits and underscores ending in _', () => {
    for (const bad of ['', '_', 'pix_', 'PIX', 'PIX-CELERY_', 'PIX CELERY_']) {
      const err = configError(() => new Celerity('pix', { envPrefix: bad }, {}));
      expect(err.key).toBe('envPrefix');
      expect(err.message).toMatch(/^invalid setting envPrefix=/);
    }
  });
});

describe('include', () => {
  it('is a list of patterns, comma separated in the environment', () => {
    expect(compileConfig({}).include).toEqual([]);
    expect(compileConfig({ env: { CELERITY_INCLUDE: './a.ts, ./tasks/*.ts' } }).include).toEqual(['./a.ts', './tasks/*.ts']);
    expect(configError(() => compileConfig({ code: { include: [''] } })).key).toBe('include');
  });
});

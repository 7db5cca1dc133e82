/**
 * Broker and result backend URLs no adapter takes, given to the built `celerity` command: one line naming the
 * setting as it was given, the URL with its password masked and the schemes that work; exit code 78; nothing
 * sent anywhere.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { cli } from './worker-process.js';

let tmp: ReturnType<typeof tempDir>;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  tmp = tempDir();
  const url = `sqlite://${path.join(tmp.dir, 'cli.db')}`;
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
  env = { ...clean, CELERITY_BROKER_URL: url, CELERITY_RESULT_BACKEND: url };
});

afterEach(() => tmp.cleanup());

function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

const BACKENDS =
  'sqlite://, memory://, redis://, rediss://, unix://, redis+socket://, sentinel://, rpc://, postgresql://, postgres:// or db+postgresql://';

describe('celerity: unusable broker and result backend URLs', () => {
  it('CELERITY_RESULT_BACKEND=amqp://... fails before anything is sent, password masked', () => {
    const r = run(['call', 'fixtures.add', '--args', '[1, 2]'], { CELERITY_RESULT_BACKEND: 'amqp://admin:s3cret@rabbit:5672//' });
    expect(r).toMatchObject({ code: 78, stdout: '' });
    expect(r.stderr).toBe(
      `celerity: error: invalid setting CELERITY_RESULT_BACKEND="amqp://admin:***@rabbit:5672//": expected a result backend URL starting with ${BACKENDS} ` +
        "(Celery's amqp:// result backend was removed in Celery 5; use rpc:// or a store)",
    );
    // Nothing was published: the queue on the (valid) broker is still empty.
    expect(run(['purge', '-Q', 'celery', '-f']).stdout).toBe('Purged 0 messages from 1 queue.');
  });

  it('--backend and --broker are named as flags; every verb checks them', () => {
    const backend = run(['result', 'some-id', '--backend', 'mongodb://app:s3cret@db/results']);
    expect(backend.code).toBe(78);
    expect(backend.stderr).toMatch(/^celerity: error: invalid setting --backend="mongodb:\/\/app:\*\*\*@db\/results": expected a result backend URL/);
    const broker = run(['dead-letters', 'list', '--broker', 'sqs://guest:s3cret@queue']);
    expect(broker.code).toBe(78);
    expect(broker.stderr).toBe(
      'celerity: error: invalid setting --broker="sqs://guest:***@queue": expected a broker URL starting with sqlite://, ' +
        'memory://, redis://, rediss://, unix://, redis+socket://, sentinel://, amqp://, amqps:// or pyamqp:// (Celerity has no SQS transport)',
    );
    for (const r of [backend, broker]) {
      expect(r.stderr).not.toContain('s3cret');
      expect(r.stderr.split('\n')).toHaveLength(1);
    }
  });

  it('a mistyped setting or flag name holding a URL is reported without its password', () => {
    const r = run(['call', 'x'], { CELERITY_BROKER: 'redis://:s3cret@cache:6379/0' });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('CELERITY_BROKER="redis://:***@cache:6379/0"');
    expect(r.stderr).not.toContain('s3cret');
    const flag = run(['call', 'x', '--brokr=redis://:s3cret@cache:6379/0']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown option '--brokr=redis://:***@cache:6379/0'");
    expect(flag.stderr).not.toContain('s3cret');
  });
});

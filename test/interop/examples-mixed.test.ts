/**
 * examples/mixed for real: the example's Python Celery 5.2 worker (examples/mixed/py/orders.py) and a Celerity
 * worker on examples/mixed/tasks.ts share Redis, each sending tasks to the other and reading their results; the
 * Python producer script asks the TypeScript worker too, and errors cross both ways with their types.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { PYTHON, pythonCeleryOnRedis, requireService } from '../services.js';
import { runToEnd, startUntilReady } from './processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const exampleDir = path.join(root, 'examples/mixed');
const pyDir = path.join(exampleDir, 'py');
const BROKER = 'redis://127.0.0.1:6379/8';
const BACKEND = 'redis://127.0.0.1:6379/9';
const ready = await requireService('Python Celery 5 on Redis', () => pythonCeleryOnRedis(BROKER));

const run = randomUUID().slice(0, 8);
const queues = { py: `mixed-py-${run}`, ts: `mixed-ts-${run}` };
const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CELERITY_')));
const env: NodeJS.ProcessEnv = {
  ...base,
  CELERITY_BROKER_URL: BROKER,
  CELERITY_RESULT_BACKEND: BACKEND,
  MIXED_PY_QUEUE: queues.py,
  MIXED_TS_QUEUE: queues.ts,
  // No __pycache__ left in the example folder.
  PYTHONDONTWRITEBYTECODE: '1',
};
const procs: ChildProcess[] = [];
let client: Celerity;

beforeAll(async () => {
  if (!ready.ok) return;
  const pyWorker = ['-m', 'celery', '-A', 'orders', 'worker', '-Q', queues.py, '-c', '2', '-n', `py-${run}@examples`, '-l', 'info', '--without-heartbeat', '--without-mingle', '--without-gossip'];
  const tsWorker = [path.join(root, 'dist/cli/main.js'), 'worker', '-A', path.join(exampleDir, 'tasks.ts'), '-c', '4', '-n', `ts-${run}@examples`, '--log-format', 'json'];
  await Promise.all([
    startUntilReady(procs, PYTHON, pyWorker, { env, cwd: pyDir, readyLine: /ready\./ }),
    startUntilReady(procs, process.execPath, tsWorker, { env, cwd: root, readyLine: /ready\./ }),
  ]);
  client = new Celerity('producer', {
    broker: BROKER,
    backend: BACKEND,
    loglevel: 'silent',
    taskRoutes: { 'py.*': { queue: queues.py }, 'ts.*': { queue: queues.ts } },
  }, {});
}, 60_000);

afterAll(async () => {
  await client?.close();
  for (const p of procs) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    p.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
  }
});

const items = [
  { sku: 'mug', qty: 2, unit_cents: 1250 },
  { sku: 'tee', qty: 1, unit_cents: 1999 },
];
const priced = { subtotal: 4499, tax: 371, total: 4870, priced_by: 'python' };

describe.skipIf(!ready.ok)(`examples/mixed${ready.ok ? '' : ` (skipped: ${ready.reason})`}`, () => {
  it('TypeScript quotes with prices from the Python worker', { timeout: 30_000 }, async () => {
    const r = await client.sendTask('ts.quote', [items]);
    expect(await r.get({ timeout: 20_000 })).toEqual({ ...priced, display: '$48.70', quoted_by: 'typescript' });
  });

  it('Python checks out with an invoice from the TypeScript worker', { timeout: 30_000 }, async () => {
    const r = await client.sendTask<any>('py.checkout', ['A-1001', items]);
    const done = await r.get({ timeout: 20_000 });
    expect(done).toEqual({
      order_id: 'A-1001',
      total: 4870,
      invoice: { order_id: 'A-1001', rendered_by: 'typescript', text: 'Invoice A-1001: subtotal $44.99, tax $3.71, total $48.70' },
      invoice_task_id: expect.any(String),
    });
    // The invoice's own result, stored by the Celerity worker, is readable here as well.
    expect(await client.asyncResult(done.invoice_task_id).get({ timeout: 5000 })).toEqual(done.invoice);
  });

  it('the Python producer script gets a quote from the TypeScript worker', { timeout: 30_000 }, async () => {
    const out = await runToEnd(procs, PYTHON, ['client.py', JSON.stringify([{ sku: 'mug', qty: 3, unit_cents: 1000 }])], { env, cwd: pyDir });
    expect(out.code, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout.trim().split('\n').at(-1)!);
    expect(report.result).toEqual({ subtotal: 3000, tax: 248, total: 3248, priced_by: 'python', display: '$32.48', quoted_by: 'typescript' });
    expect(await client.asyncResult(report.id).state).toBe('SUCCESS');
  });

  it('errors cross both ways with their types and messages', { timeout: 30_000 }, async () => {
    const quote = await client.sendTask('ts.quote', [[{ sku: 'mug', qty: 0, unit_cents: 1 }]]);
    const fromPython = (await quote.get({ timeout: 20_000 }).catch((e: Error) => e)) as Error;
    expect(fromPython.name).toBe('ValueError');
    expect(fromPython.message).toContain('qty must be a positive integer');

    const checkout = await client.sendTask('py.checkout', ['', items]);
    const fromTs = (await checkout.get({ timeout: 20_000 }).catch((e: Error) => e)) as Error;
    expect(fromTs.name).toBe('TypeError');
    expect(fromTs.message).toBe('order_id must be a non-empty string');
  });

  it('runs with its one command, npx tsx examples/mixed/main.ts', { timeout: 60_000 }, async () => {
    // Queues of its own, so the workers started above take none of its messages.
    const own = { ...env, MIXED_PY_QUEUE: `${queues.py}-main`, MIXED_TS_QUEUE: `${queues.ts}-main`, PYTHON };
    const out = await runToEnd(procs, process.execPath, ['--import', 'tsx', path.join(exampleDir, 'main.ts')], { env: own, cwd: root });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('TypeScript -> ts.quote, priced by Python: {');
    expect(out.stdout).toContain("display: '$48.70'");
    expect(out.stdout).toContain("text: 'Invoice A-1001: subtotal $44.99, tax $3.71, total $48.70'");
    expect(out.stdout).toMatch(/Python client -> ts\.quote \(exit 0\): \{"id": "[0-9a-f-]{36}", "result": \{"subtotal": 2500, "tax": 206, "total": 2706/);
  });
});

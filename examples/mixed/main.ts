/**
 * `npx tsx examples/mixed/main.ts`: a Python Celery worker (./py/orders.py) and a Celerity worker (./tasks.ts) on
 * Redis, each calling the other: a quote asked of TypeScript is priced by Python, a checkout run by Python has its
 * invoice rendered by TypeScript. Then the Python producer (./py/client.py) asks TypeScript for a quote too.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startProcess, startWorker } from '../shared/workers.js';
import { app, quote, type Item } from './tasks.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const python = process.env.PYTHON ?? '/usr/bin/python3';
const pyDir = `${here}py`;
process.env.PYTHONDONTWRITEBYTECODE ??= '1';

const workers = await Promise.all([
  startProcess(python, ['-m', 'celery', '-A', 'orders', 'worker', '-Q', process.env.MIXED_PY_QUEUE ?? 'python', '-c', '2', '-n', 'py@%h', '-l', 'info', '--without-heartbeat', '--without-mingle', '--without-gossip'], /ready\./, process.env, pyDir),
  startWorker(`${here}tasks.ts`, ['-c', '4', '-n', 'ts@%h']),
]);

const items: Item[] = [
  { sku: 'mug', qty: 2, unit_cents: 1250 },
  { sku: 'tee', qty: 1, unit_cents: 1999 },
];
const q = await quote.delay(items);
console.log('TypeScript -> ts.quote, priced by Python:', await q.get({ timeout: 30_000 }));

const checkout = await app.sendTask('py.checkout', ['A-1001', items]);
console.log('TypeScript -> py.checkout, invoice by TypeScript:', await checkout.get({ timeout: 30_000 }));

const client = spawn(python, ['client.py'], { cwd: pyDir, env: process.env, stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
client.stdout.on('data', (d) => (out += d));
const code = await new Promise((r) => client.once('close', r));
console.log(`Python client -> ts.quote (exit ${code}):`, out.trim());

await Promise.all(workers.map((w) => w.stop()));
await app.close();

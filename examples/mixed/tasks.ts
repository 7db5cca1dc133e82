/**
 * The TypeScript half of a mixed deployment on Redis (the Python half is ./py/orders.py): this worker renders
 * invoices, which the Python checkout asks for, and gives quotes, for which it asks the Python worker to price the
 * items. Both halves read CELERITY_BROKER_URL, CELERITY_RESULT_BACKEND, MIXED_PY_QUEUE and MIXED_TS_QUEUE.
 */
import { Celerity } from 'celerity';

export const PY_QUEUE = process.env.MIXED_PY_QUEUE ?? 'python';
export const TS_QUEUE = process.env.MIXED_TS_QUEUE ?? 'node';

export const app = new Celerity('orders', {
  broker: process.env.CELERITY_BROKER_URL ?? 'redis://127.0.0.1:6379/0',
  backend: process.env.CELERITY_RESULT_BACKEND ?? 'redis://127.0.0.1:6379/1',
  taskRoutes: { 'py.*': { queue: PY_QUEUE }, 'ts.*': { queue: TS_QUEUE } },
  queues: [TS_QUEUE],
});

export interface Totals {
  subtotal: number;
  tax: number;
  total: number;
  priced_by: string;
}

export interface Item {
  sku: string;
  qty: number;
  unit_cents: number;
}

const dollars = (cents: number) => `$${(cents / 100).toFixed(2)}`;

export const renderInvoice = app.task(
  'ts.render_invoice',
  (orderId: string, totals: Totals) => {
    if (typeof orderId !== 'string' || !orderId) throw new TypeError('order_id must be a non-empty string');
    return {
      order_id: orderId,
      rendered_by: 'typescript',
      text: `Invoice ${orderId}: subtotal ${dollars(totals.subtotal)}, tax ${dollars(totals.tax)}, total ${dollars(totals.total)}`,
    };
  },
  { params: ['order_id', 'totals'] },
);

export const quote = app.task(
  'ts.quote',
  async function (items: Item[]) {
    // Pricing rules live in Python; this worker awaits them without blocking anything else it runs.
    const priced = await app.sendTask<Totals>('py.price', [items], { parentId: this.id, rootId: this.rootId ?? this.id });
    const totals = await priced.get({ timeout: 30_000 });
    return { ...totals, display: dollars(totals.total), quoted_by: 'typescript' };
  },
  { params: ['items'] },
);

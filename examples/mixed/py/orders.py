"""The Python half of a mixed deployment: a Celery 5 app whose worker prices orders (Python owns the pricing
rules) and, at checkout, asks the TypeScript worker to render the invoice. It shares Redis, the queue names and
the task names with ../tasks.ts; both read the same environment:

    CELERITY_BROKER_URL      (default redis://127.0.0.1:6379/0)
    CELERITY_RESULT_BACKEND  (default redis://127.0.0.1:6379/1)
    MIXED_PY_QUEUE           queue of the py.* tasks (default python)
    MIXED_TS_QUEUE           queue of the ts.* tasks (default node)

Run its worker from this folder: celery -A orders worker -Q python -c 2
"""
import os
from decimal import Decimal, ROUND_HALF_UP

from celery import Celery

BROKER = os.environ.get('CELERITY_BROKER_URL', 'redis://127.0.0.1:6379/0')
BACKEND = os.environ.get('CELERITY_RESULT_BACKEND', 'redis://127.0.0.1:6379/1')
PY_QUEUE = os.environ.get('MIXED_PY_QUEUE', 'python')
TS_QUEUE = os.environ.get('MIXED_TS_QUEUE', 'node')

app = Celery('orders', broker=BROKER, backend=BACKEND)
app.conf.update(
    task_routes={'py.*': {'queue': PY_QUEUE}, 'ts.*': {'queue': TS_QUEUE}},
    task_default_queue=PY_QUEUE,
    task_serializer='json',
    result_serializer='json',
    accept_content=['json'],
    task_acks_late=True,
    worker_prefetch_multiplier=1,
)

TAX_RATE = Decimal('0.0825')


@app.task(name='py.price')
def price(items):
    """Totals in cents for [{'sku', 'qty', 'unit_cents'}], tax rounded half up as the accountants want."""
    if not isinstance(items, list) or not items:
        raise ValueError('items must be a non-empty list')
    subtotal = 0
    for item in items:
        qty, unit = item.get('qty'), item.get('unit_cents')
        if not isinstance(qty, int) or qty < 1 or not isinstance(unit, int) or unit < 0:
            raise ValueError('bad item %r: qty must be a positive integer and unit_cents a non-negative one' % (item,))
        subtotal += qty * unit
    tax = int((Decimal(subtotal) * TAX_RATE).quantize(Decimal('1'), rounding=ROUND_HALF_UP))
    return {'subtotal': subtotal, 'tax': tax, 'total': subtotal + tax, 'priced_by': 'python'}


@app.task(name='py.checkout')
def checkout(order_id, items):
    """Prices the order here, then has the TypeScript worker render its invoice and waits for it."""
    totals = price(items)
    invoice = app.send_task('ts.render_invoice', args=[order_id, totals])
    # Waiting inside a task is refused by default (it can deadlock a pool of one kind); here the work runs on
    # the other fleet's workers, so it is safe.
    rendered = invoice.get(timeout=30, disable_sync_subtasks=False)
    return {'order_id': order_id, 'total': totals['total'], 'invoice': rendered, 'invoice_task_id': invoice.id}

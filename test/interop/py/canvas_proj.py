"""Python side of the canvas interop tests (test/interop/canvas.test.ts): a Celery 5 app on the broker and result
backend given in the environment. A real worker runs the py.* tasks from CANVAS_PY_QUEUE; ts.* are routed to
CANVAS_TS_QUEUE, where the Celerity worker takes them, so chain steps, chord bodies and errbacks sent by either
worker reach the other. cap.<kind>.* go to <CANVAS_CAPTURE_QUEUE>.<kind>, which no worker consumes, so the test can
read what a producer published."""
import json
import os

import redis
from celery import Celery

_env = os.environ

app = Celery('canvas_proj', broker=_env['CANVAS_BROKER'], backend=_env['CANVAS_BACKEND'])
app.conf.update(
    task_routes={
        'py.*': {'queue': _env['CANVAS_PY_QUEUE']},
        'ts.*': {'queue': _env['CANVAS_TS_QUEUE']},
        **{f'cap.{kind}.*': {'queue': f"{_env['CANVAS_CAPTURE_QUEUE']}.{kind}"} for kind in ('chain', 'group', 'chord')},
    },
    # Acknowledged after the task and its canvas follow-ups, so an empty `unacked` hash means nothing is in flight.
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    accept_content=['json'],
    task_serializer='json',
    result_serializer='json',
    broker_transport_options={'visibility_timeout': 3600},
)

_ledger = redis.Redis.from_url(_env['CANVAS_BROKER'])
_prefix = _env['CANVAS_PREFIX']


@app.task(name='py.add')
def add(x, y):
    return x + y


@app.task(name='py.mul')
def mul(x, y):
    return x * y


@app.task(name='py.tsum')
def tsum(xs):
    return sum(xs)


@app.task(name='py.fail')
def fail(message):
    raise KeyError(message)


@app.task(name='py.count')
def count(xs, tag):
    """A chord body that counts its runs, so a body sent twice shows."""
    _ledger.incr(f'{_prefix}:body:{tag}')
    return sum(xs)


@app.task(name='py.errback')
def errback(task_id):
    """One parameter on purpose: Celery calls a registered errback taking more inline, as (request, exc, tb).
    Records the failed task's id and the group the errback was sent in (Celery sends errbacks as a group)."""
    _ledger.rpush(f'{_prefix}:errback:py', json.dumps({'failed': task_id, 'group': errback.request.group}))
    return task_id


@app.task(name='py.gate')
def gate(x, key):
    """Returns x once the test pushes to `key`: how a test makes this member the last of its chord to finish."""
    _ledger.blpop([key], timeout=30)
    return x

"""Python side of the RabbitMQ interop tests (test/interop/amqp.test.ts): a Celery 5 app whose broker is RabbitMQ and
whose results go to Redis, both from the environment:
  AMQP_BROKER        amqp://... (the test's own vhost)
  AMQP_BACKEND       redis://... (also where the tasks record their runs)
  AMQP_PY_QUEUE      default queue, and where py.* are routed (the Python worker's)
  AMQP_TS_QUEUE      where ts.* are routed (the Celerity worker's), so canvas steps cross to it
  AMQP_PREFIX        prefix of the Redis keys the tasks write
  AMQP_MAX_PRIORITY  optional: task_queue_max_priority (x-max-priority of the queues Celery declares)
Run as a worker (`celery -A amqp_proj worker`) or imported by amqp_client.py."""
import os
import socket

import redis
from celery import Celery

_env = os.environ

app = Celery('amqp_proj', broker=_env['AMQP_BROKER'], backend=_env['AMQP_BACKEND'])
app.conf.update(
    task_default_queue=_env['AMQP_PY_QUEUE'],
    task_routes={
        'py.*': {'queue': _env['AMQP_PY_QUEUE']},
        'ts.*': {'queue': _env['AMQP_TS_QUEUE']},
    },
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    accept_content=['json'],
    task_serializer='json',
    result_serializer='json',
    result_extended=True,
    # The test's results are not needed for long (the Celerity side stores its own for an hour too).
    result_expires=3600,
)
if _env.get('AMQP_MAX_PRIORITY'):
    app.conf.task_queue_max_priority = int(_env['AMQP_MAX_PRIORITY'])

_ledger = redis.Redis.from_url(_env['AMQP_BACKEND'])
_prefix = _env['AMQP_PREFIX']


@app.task(name='py.add')
def add(x, y):
    return x + y


@app.task(name='py.mul')
def mul(x, y):
    return x * y


@app.task(name='py.tsum')
def tsum(xs):
    return sum(xs)


@app.task(name='py.info', bind=True)
def info(self, *args, **kwargs):
    """What the Python worker made of a message: arguments, AMQP priority, ETA and expiry as Celery read them."""
    request = self.request
    return {
        'args': list(args),
        'kwargs': kwargs,
        'priority': (request.delivery_info or {}).get('priority'),
        'eta': request.eta,
        'expires': request.expires,
        'retries': request.retries,
        'queue': (request.delivery_info or {}).get('routing_key'),
    }


@app.task(name='py.mark', bind=True)
def mark(self, tag):
    """Counts its runs under AMQP_PREFIX:ran:<task id>, so a task that must not run shows if it did."""
    _ledger.incr(f'{_prefix}:ran:{self.request.id}')
    return tag


@app.task(name='py.retry_countdown', bind=True, max_retries=3)
def retry_countdown(self, x, countdown):
    """Retried once with a countdown (seconds) by this worker; returns the retries seen and the retry's ETA."""
    if self.request.retries < 1:
        raise self.retry(countdown=countdown)
    return {'x': x, 'retries': self.request.retries, 'eta': self.request.eta}


@app.task(name='py.count')
def count(xs, tag):
    """A chord body that counts its runs, so a body sent twice shows."""
    _ledger.incr(f'{_prefix}:body:{tag}')
    return sum(xs)


@app.task(name='mixed.record', bind=True)
def record(self, n):
    """Run by both fleets: counts the runs of each task id, and says which worker ran it at what priority."""
    _ledger.hincrby(f'{_prefix}:runs', self.request.id, 1)
    priority = (self.request.delivery_info or {}).get('priority')
    _ledger.rpush(f'{_prefix}:order:{self.request.delivery_info.get("routing_key")}', f'{priority}')
    return {'n': n, 'by': 'py', 'worker': self.request.hostname or socket.gethostname(), 'priority': priority}

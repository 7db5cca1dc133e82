"""Python side of the interop tests: a real Celery 5 app whose tasks a Celerity producer calls, and whose
producer calls Celerity tasks. Settings come from the environment so each test run gets its own queue."""
import os

import redis
from celery import Celery

app = Celery('proj', broker=os.environ['INTEROP_BROKER'], backend=os.environ['INTEROP_BACKEND'])
app.conf.update(
    task_default_queue=os.environ.get('INTEROP_QUEUE', 'celery'),
    result_extended=True,
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    accept_content=['json'],
    task_serializer='json',
    result_serializer='json',
    broker_transport_options={'visibility_timeout': 3600},
)

_ledger = redis.Redis.from_url(os.environ['INTEROP_BROKER'])


class CustomError(Exception):
    """Raised on purpose so a TypeScript caller sees a type it does not know."""


@app.task(name='py.mul')
def mul(x, y):
    return x * y


@app.task(name='py.echo')
def echo(*args, **kwargs):
    return {'args': list(args), 'kwargs': kwargs}


@app.task(name='py.fail')
def fail(message):
    raise KeyError(message)


@app.task(name='py.custom_fail')
def custom_fail(message):
    raise CustomError(message)


@app.task(name='py.retry_once', bind=True, max_retries=3)
def retry_once(self, x):
    if self.request.retries < 1:
        raise self.retry(countdown=0.1)
    return {'x': x, 'retries': self.request.retries}


@app.task(name='mixed.record', bind=True)
def record(self, n):
    # The ledger counts executions, so a task run twice shows up as a duplicate id.
    _ledger.rpush(os.environ['INTEROP_LEDGER'], self.request.id)
    return {'n': n, 'by': 'py'}

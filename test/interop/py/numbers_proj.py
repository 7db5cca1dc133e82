"""Python side of the numbers interop test: tasks that report exactly what Python received, and that return the
numbers Python's json writes beyond standard JSON (ints past 2**53, NaN, infinities)."""
import os

from celery import Celery

app = Celery('numbers', broker=os.environ['INTEROP_BROKER'], backend=os.environ['INTEROP_BACKEND'])
app.conf.update(
    task_default_queue=os.environ['INTEROP_QUEUE'],
    accept_content=['json'],
    task_serializer='json',
    result_serializer='json',
)


def described(value):
    return [type(value).__name__, repr(value)]


@app.task(name='py.num.inspect')
def inspect(*args, **kwargs):
    return {'args': [described(a) for a in args], 'kwargs': {k: described(v) for k, v in kwargs.items()}}


@app.task(name='py.num.values')
def values():
    return {'big': 2**64 + 1, 'neg': -(2**64 + 1), 'safe': 2**53 - 1, 'nan': float('nan'),
            'inf': float('inf'), 'ninf': float('-inf'), 'f': 0.1}


@app.task(name='py.num.nan')
def nan():
    return float('nan')

"""Python side of the remote-control and events interop tests: a Celery 5 app on the broker given in the
environment, with a few tasks for a real worker to run (one slow, so `inspect active` has something to show)."""
import os
import time

from celery import Celery

app = Celery('control_proj', broker=os.environ['CONTROL_BROKER'])
app.conf.update(
    task_default_queue=os.environ.get('CONTROL_QUEUE', 'celery'),
    accept_content=['json'],
    task_serializer='json',
    broker_transport_options=dict(
        {'global_keyprefix': os.environ['CONTROL_KEYPREFIX']} if os.environ.get('CONTROL_KEYPREFIX') else {},
    ),
)


@app.task(name='control.add')
def add(x, y):
    return x + y


@app.task(name='control.sleep')
def sleep(seconds):
    time.sleep(seconds)
    return seconds

"""Python side of the rpc:// interop test: a Celery 5 app on an AMQP broker whose results travel back over it.
Run as a worker (`celery -A rpc_proj worker`) or as a client (`python3 rpc_proj.py call <task> <json args>`)."""
import json
import os
import sys

from celery import Celery

app = Celery('rpc_proj', broker=os.environ['INTEROP_BROKER'], backend='rpc://')
app.conf.update(
    task_default_queue=os.environ.get('INTEROP_QUEUE', 'celery'),
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    accept_content=['json'],
    task_serializer='json',
    result_serializer='json',
    task_track_started=True,
)


@app.task(name='py.rpc.add')
def add(x, y):
    return x + y


@app.task(name='py.rpc.fail')
def fail(message):
    raise KeyError(message)


if __name__ == '__main__' and sys.argv[1] == 'call':
    # Sends a task (to whichever worker consumes the queue) and prints its result, or its error, as JSON.
    result = app.send_task(sys.argv[2], args=json.loads(sys.argv[3]))
    try:
        print(json.dumps({'ok': result.get(timeout=float(os.environ.get('INTEROP_TIMEOUT', '30'))), 'state': result.state}))
    except Exception as exc:  # the task's own error, re-raised by get()
        print(json.dumps({'error': type(exc).__name__, 'message': str(exc), 'state': result.state}))

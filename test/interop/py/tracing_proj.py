"""Python side of the tracing interop test, in plain Celery: this Python has no OpenTelemetry packages, so it does
on the wire what opentelemetry-instrumentation-celery does. Its worker reads the trace context from the task
request's attributes (the message headers), as the instrumentation's getter does; its producer puts
`traceparent`/`tracestate` among the message headers, where the instrumentation's before_task_publish injection
leaves them.

Worker:   celery -A tracing_proj worker -Q QUEUE ...
Producer: tracing_proj.py send NAME QUEUE TRACEPARENT TRACESTATE  -> sends, waits, prints {"id", "state", "result"}
"""
import json
import os
import sys

from celery import Celery

app = Celery('tracing_proj', broker=os.environ['INTEROP_BROKER'], backend=os.environ['INTEROP_BACKEND'])
app.conf.update(
    task_default_queue=os.environ.get('INTEROP_QUEUE', 'celery'),
    accept_content=['json'],
    task_serializer='json',
    result_serializer='json',
)


@app.task(name='py.trace_headers', bind=True)
def trace_headers(self):
    # What CeleryGetter reads: getattr(task.request, key), i.e. the headers of the message being run.
    return {'traceparent': self.request.get('traceparent'), 'tracestate': self.request.get('tracestate')}


def main():
    verb = sys.argv[1]
    if verb != 'send':
        raise SystemExit(f'unknown verb {verb}')
    name, queue, traceparent, tracestate = sys.argv[2:6]
    res = app.send_task(name, queue=queue, headers={'traceparent': traceparent, 'tracestate': tracestate})
    value = res.get(timeout=60)
    print(json.dumps({'id': res.id, 'state': res.state, 'result': value}))


if __name__ == '__main__':
    main()

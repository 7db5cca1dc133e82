"""Python side of the beat interop tests: a Celery 5 app whose worker runs a task sent by Celerity's beat (and
reports the periodic_task_name header it came with), and whose `celery beat` sends a task a Celerity worker runs.
Settings come from the environment so each test run gets its own queues and schedule file."""
import os

from celery import Celery

app = Celery('beat_proj', broker=os.environ['INTEROP_BROKER'], backend=os.environ['INTEROP_BACKEND'])
app.conf.update(
    task_default_queue=os.environ.get('INTEROP_QUEUE', 'celery'),
    accept_content=['json'],
    task_serializer='json',
    result_serializer='json',
    beat_schedule={
        'python-beat-to-celerity': {
            'task': 'ts.beat_record',
            'schedule': 1.0,
            'args': ('from python beat',),
            'options': {'queue': os.environ.get('INTEROP_TS_QUEUE', 'celery')},
        },
    },
)


@app.task(bind=True, name='py.beat_record')
def beat_record(self, label):
    # Custom message headers become attributes of the request context in Celery 5.
    return {'label': label, 'periodic_task_name': getattr(self.request, 'periodic_task_name', None)}

"""Python producer for examples/media-detection: sends a video task with the frame_skip kwarg as Celery callers do,
watches its PROCESSING state and meta, waits for the result, and prints one JSON line with what it saw."""
import json
import os
import sys
import time

from celery import Celery

app = Celery('media-client', broker=os.environ['CELERITY_BROKER_URL'], backend=os.environ['CELERITY_RESULT_BACKEND'])
app.conf.update(task_serializer='json', result_serializer='json', accept_content=['json'])

path, frame_skip = sys.argv[1], int(sys.argv[2])
result = app.send_task('detection.faces.video', args=[path], kwargs={'frame_skip': frame_skip}, queue='face_detection')
seen = []
deadline = time.monotonic() + 30
while not result.ready():
    if time.monotonic() > deadline:
        raise SystemExit('no result within 30 s')
    if result.state == 'PROCESSING' and isinstance(result.info, dict):
        seen.append(result.info)
    time.sleep(0.01)
print(json.dumps({'id': result.id, 'processing': seen, 'result': result.get(timeout=5)}))

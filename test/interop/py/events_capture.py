"""Celery's own event receiver and state keeper, run for SECONDS against the broker; prints what it saw as JSON:
{"events": [{"type", "hostname", "uuid"}...], "alive": [worker names], "tasks": {uuid: state}}.
It wakes the workers up when it starts listening (a `heartbeat` broadcast), as `celery events` and Flower do.
Usage: events_capture.py SECONDS"""
import json
import sys
import threading

from celery.events.state import State

from control_proj import app


def main():
    seconds = float(sys.argv[1])
    state = State()
    seen = []

    def on_event(event):
        state.event(event)
        seen.append({'type': event['type'], 'hostname': event.get('hostname'), 'uuid': event.get('uuid')})

    with app.connection() as conn:
        receiver = app.events.Receiver(conn, handlers={'*': on_event})
        threading.Timer(seconds, lambda: setattr(receiver, 'should_stop', True)).start()
        receiver.capture(limit=None, timeout=None, wakeup=True)
    print(json.dumps({
        'events': seen,
        'alive': sorted(w.hostname for w in state.alive_workers()),
        'tasks': {uuid: task.state for uuid, task in state.tasks.items()},
    }))


if __name__ == '__main__':
    main()

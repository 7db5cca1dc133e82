"""A Python producer for the mixed deployment: asks the TypeScript worker for a quote (which it gets priced by the
Python worker) and prints the result as JSON. Run from this folder: python3 client.py"""
import json
import sys

from orders import app

items = json.loads(sys.argv[1]) if len(sys.argv) > 1 else [{'sku': 'mug', 'qty': 2, 'unit_cents': 1250}]
result = app.send_task('ts.quote', args=[items])
print(json.dumps({'id': result.id, 'result': result.get(timeout=30)}))

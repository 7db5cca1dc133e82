/** The monitor suite on the embedded SQLite broker and backend (a file per test). */
import path from 'node:path';
import { monitorSuite } from './monitor-suite.js';

monitorSuite({
  label: 'SQLite',
  ready: { ok: true, reason: '' },
  urls: (dir) => {
    const url = `sqlite://${path.join(dir, 'celerity.db')}`;
    return { broker: url, backend: url };
  },
});

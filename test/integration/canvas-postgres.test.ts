/** The canvas suite with results (and the chord join's atomic counter) in PostgreSQL; tasks on a SQLite broker. */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { describe, it } from 'vitest';
import { Celerity } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { pingPostgres, requireService } from '../services.js';
import { canvasSuite } from './canvas-suite.js';

const URL_BASE = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const postgres = await requireService('PostgreSQL', () => pingPostgres(URL_BASE));

if (!postgres.ok) {
  describe('canvas on PostgreSQL', () => {
    it.skip(postgres.reason, () => undefined);
  });
} else {
  canvasSuite('a SQLite broker with PostgreSQL results', async () => {
    const tmp = tempDir();
    const schema = `celerity_canvas_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const app = new Celerity(
      'canvas',
      {
        broker: `sqlite://${path.join(tmp.dir, 'celerity.db')}`,
        backend: `${URL_BASE}?schema=${schema}`,
        loglevel: 'silent',
        logFormat: 'json',
      },
      {},
    );
    return {
      app,
      cleanup: async () => {
        await app.close();
        tmp.cleanup();
        const raw = new pg.Client({ connectionString: URL_BASE });
        await raw.connect();
        await raw.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
        await raw.end();
      },
    };
  });
}

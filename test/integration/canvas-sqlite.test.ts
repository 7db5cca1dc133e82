/** The canvas suite on the embedded store: SQLite broker and result backend in one file. */
import { sqliteApp, tempDir } from '../helpers.js';
import { canvasSuite } from './canvas-suite.js';

canvasSuite('SQLite', async () => {
  const tmp = tempDir();
  const app = sqliteApp(tmp.dir);
  return {
    app,
    cleanup: async () => {
      await app.close();
      tmp.cleanup();
    },
  };
});

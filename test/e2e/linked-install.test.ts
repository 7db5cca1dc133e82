/**
 * The package as another project sees it: linked into node_modules, imported by name through the exports map,
 * named exports only, deep imports refused.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = tempDir('celerity-linked-');
afterAll(() => tmp.cleanup());

mkdirSync(path.join(tmp.dir, 'node_modules'));
symlinkSync(root, path.join(tmp.dir, 'node_modules', 'celerity'), 'dir');
writeFileSync(path.join(tmp.dir, 'package.json'), '{"type": "module"}');

describe('linked install', () => {
  it('imports { Celerity } from "celerity" and runs a task', () => {
    writeFileSync(
      path.join(tmp.dir, 'main.js'),
      `import { Celerity, AsyncResult } from 'celerity';
const app = new Celerity('linked', { broker: 'memory://', backend: 'memory://', loglevel: 'silent' });
const add = app.task('linked.add', (x, y) => x + y);
const worker = app.worker();
await worker.start();
const r = await add.delay(2, 3);
console.log(r instanceof AsyncResult, await r.get({ timeout: 5000 }));
await worker.stop();
await app.close();
`,
    );
    const out = execFileSync(process.execPath, ['main.js'], { cwd: tmp.dir, encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(out.trim()).toBe('true 5');
  });

  it('exposes only the exports map: no default export, no deep imports', () => {
    writeFileSync(path.join(tmp.dir, 'shape.js'), `import * as c from 'celerity'; console.log(JSON.stringify(['default' in c, typeof c.Celerity, typeof c.AsyncResult]));`);
    expect(execFileSync(process.execPath, ['shape.js'], { cwd: tmp.dir, encoding: 'utf8' }).trim()).toBe('[false,"function","function"]');
    writeFileSync(path.join(tmp.dir, 'deep.js'), `await import('celerity/dist/worker/worker.js');`);
    const deep = spawnSync(process.execPath, ['deep.js'], { cwd: tmp.dir, encoding: 'utf8' });
    expect(deep.status).not.toBe(0);
    expect(deep.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });
});

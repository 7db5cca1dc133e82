import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadApp } from '../../src/app/load-app.js';
import { expandInclude } from '../../src/app/include.js';
import { AppLoadError, ConfigurationError } from '../../src/errors/index.js';

const fixtures = path.resolve(import.meta.dirname, '../fixtures/include');
const appModule = path.join(fixtures, 'app.ts');

afterEach(() => {
  delete process.env.INCLUDE_FIXTURE_PATTERN;
});

describe('include', () => {
  it('registers the tasks of every module an include glob matches when loadApp loads the app', async () => {
    process.env.INCLUDE_FIXTURE_PATTERN = path.relative(process.cwd(), path.join(fixtures, 'tasks/*.ts'));
    const app = await loadApp(appModule);
    expect(app.tasks.has('include.crawl')).toBe(true);
    expect(app.tasks.has('include.validate')).toBe(true);
  });

  it('takes absolute globs and ** across directories', () => {
    const files = expandInclude([path.join(fixtures, '**/*.ts')]);
    expect(files.map((f) => path.relative(fixtures, f))).toEqual(['app.ts', 'broken/bad.ts', 'extra.ts', 'tasks/crawl.ts', 'tasks/validate.ts']);
    expect(expandInclude([path.join(fixtures, 'tasks/c*.ts'), path.join(fixtures, 'tasks/crawl.ts')])).toEqual([path.join(fixtures, 'tasks/crawl.ts')]);
  });

  it('imports the other modules of a comma-separated -A for their tasks', async () => {
    process.env.INCLUDE_FIXTURE_PATTERN = path.join(fixtures, 'tasks/crawl.ts');
    const app = await loadApp(`${appModule},${path.join(fixtures, 'extra.ts')}`);
    expect(app.tasks.has('include.extra')).toBe(true);
    expect(app.tasks.has('include.crawl')).toBe(true);
    expect(app.tasks.has('include.validate')).toBe(false);
  });

  it('runs a task of another -A module in a threads pool child, which loads the same modules', { timeout: 30_000 }, async () => {
    process.env.INCLUDE_FIXTURE_PATTERN = path.join(fixtures, 'tasks/crawl.ts');
    const spec = `${appModule},${path.join(fixtures, 'extra.ts')}`;
    const app = await loadApp(spec);
    const worker = app.worker({ pool: 'threads', concurrency: 1, appModule: spec, node: { heartbeat: false, mingle: false } });
    await worker.start();
    try {
      const r = await app.sendTask('include.extra');
      expect(await r.get({ timeout: 20_000 })).toBe('extra');
    } finally {
      await worker.stop();
      await app.close();
    }
  });

  it('fails naming a pattern that matches nothing', async () => {
    process.env.INCLUDE_FIXTURE_PATTERN = 'test/fixtures/include/nowhere/*.ts';
    const err = await loadApp(appModule).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toContain('invalid setting include="test/fixtures/include/nowhere/*.ts"');
  });

  it('fails naming an included module that cannot be imported, and why', async () => {
    process.env.INCLUDE_FIXTURE_PATTERN = path.join(fixtures, 'broken/*.ts');
    const err = await loadApp(appModule).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppLoadError);
    expect((err as Error).message).toContain(path.join(fixtures, 'broken/bad.ts'));
    expect((err as Error).message).toContain('this task module is broken');
  });
});

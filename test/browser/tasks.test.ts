/**
 * The dashboard's task pages in Chromium against a real worker process: the live table, a task's progress and
 * result, retry and revoke from a task's page, the keyboard, and an accessible name on every control of every page.
 */
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromiumCheck, launchBrowser, startDashboard, type Dashboard } from './harness.js';
import { progressOf, settled, shoot, showsState, stillLoaded, taskRow, unnamedControls, visit } from './pages.js';

describe.skipIf(!chromiumCheck.ok)(`dashboard task pages in Chromium${chromiumCheck.ok ? '' : ` (skipped: ${chromiumCheck.reason})`}`, () => {
  let dash: Dashboard;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    [dash, browser] = await Promise.all([startDashboard(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await dash?.close();
  });
  afterEach(async () => {
    await context?.close();
  });
  const open = async () => {
    context = await dash.context(browser);
    page = await context.newPage();
    return page;
  };

  it('shows tasks sent through the API in the live table without a reload', { timeout: 20_000 }, async () => {
    await open();
    await visit(page, '/tasks', /^tasks$/i);
    await page.evaluate('window.liveMarker = true');
    const labels = ['a', 'b', 'c'].map((l) => `${l}-${randomUUID().slice(0, 6)}`);
    const ids = await Promise.all(labels.map((label, i) => dash.send('browser.add', [i, 40])));
    for (const id of ids) {
      await taskRow(page, id).waitFor();
      await showsState(taskRow(page, id), 'SUCCESS');
    }
    await expect.poll(() => taskRow(page, ids[0]!).textContent()).toContain('browser.add');
    await stillLoaded(page, 'liveMarker');
    await shoot(page, 'tasks');
  });

  it('shows a task no worker has taken yet (its queue has no consumer) as PENDING without a reload', { timeout: 20_000 }, async () => {
    await open();
    await visit(page, '/tasks', /^tasks$/i);
    await page.evaluate('window.liveMarker = true');
    const id = await dash.send('browser.add', [5, 5], { queue: `nobody-${randomUUID().slice(0, 6)}` });
    await showsState(taskRow(page, id), 'PENDING');
    await stillLoaded(page, 'liveMarker');
  });

  it('keeps a live update that arrives before the task list it was loading', { timeout: 20_000 }, async () => {
    await open();
    const key = `late-${randomUUID().slice(0, 6)}`;
    const id = await dash.send('browser.steps', [key, 1]);
    await expect.poll(async () => (await dash.api<{ state: string }>('GET', `/api/v1/tasks/${id}`)).body.state).toBe('PROGRESS');
    // Every list the page asks for is read from the server at once (the task still running) and answered only
    // after the stream has told the page that the task succeeded: a slow answer, as on a busy server.
    let read = 0;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    await page.route(
      (u) => u.pathname === '/api/v1/tasks',
      async (route) => {
        const response = await route.fetch();
        read++;
        await released;
        await route.fulfill({ response }).catch(() => undefined);
      },
    );
    await page.goto('/tasks');
    await expect.poll(() => read).toBeGreaterThan(0);
    dash.open(`${key}-1`);
    await showsState(taskRow(page, id), 'SUCCESS');
    release();
    // The list's rows and its count are drawn together: once the count shows, the row shows what the list made of it.
    await page.getByText(/tasks? shown/).waitFor();
    const row = await taskRow(page, id).textContent();
    expect(row).toContain('SUCCESS');
    expect(row).not.toMatch(/PROGRESS|STARTED|PENDING/);
  });

  it("shows a task's progress bar moving, then its result", { timeout: 20_000 }, async () => {
    await open();
    const key = `steps-${randomUUID().slice(0, 6)}`;
    const id = await dash.send('browser.steps', [key, 4]);
    await visit(page, `/tasks/${id}`, /^task$/i);
    const bar = page.getByRole('progressbar');
    await expect.poll(async () => (await bar.count()) > 0 && (await progressOf(bar.first()))).toEqual({ now: 1, max: 4 });
    await shoot(page, 'task-progress');
    dash.open(`${key}-1`);
    await expect.poll(() => progressOf(bar.first())).toEqual({ now: 2, max: 4 });
    dash.open(`${key}-2`);
    await expect.poll(() => progressOf(bar.first())).toEqual({ now: 3, max: 4 });
    dash.open(`${key}-3`);
    dash.open(`${key}-4`);
    await showsState(page, 'SUCCESS');
    await page.getByText(`${key} done in 4 steps`).first().waitFor();
    await shoot(page, 'task-detail');
  });

  it('retries a failed task from its page: a new task runs with the original arguments', { timeout: 20_000 }, async () => {
    await open();
    const label = `flaky-${randomUUID().slice(0, 6)}`;
    const id = await dash.send('browser.flaky', [label]);
    await visit(page, `/tasks/${id}`, /^task$/i);
    await showsState(page, 'FAILURE');
    await page.getByText(`${label} is broken`).first().waitFor();
    await shoot(page, 'task-failed');
    dash.open(`fixed-${label}`);
    await page.getByRole('button', { name: /^retry/i }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Retry' }).click();
    await page.waitForURL((u) => u.pathname.startsWith('/tasks/') && u.pathname !== `/tasks/${id}`);
    const retried = decodeURIComponent(new URL(page.url()).pathname.slice('/tasks/'.length));
    expect(retried).not.toBe(id);
    await showsState(page, 'SUCCESS');
    await page.getByText(`fixed ${label}`).first().waitFor();
    const sent = await dash.api<{ args: string; name: string }>('GET', `/api/v1/tasks/${retried}`);
    expect(sent.body).toMatchObject({ name: 'browser.flaky', state: 'SUCCESS' });
    expect(sent.body.args).toContain(label);
  });

  it('revokes a task waiting for its countdown: it never runs', { timeout: 20_000 }, async () => {
    await open();
    const label = `mark-${randomUUID().slice(0, 6)}`;
    const id = await dash.send('browser.mark', [label], { countdown: 2 });
    await visit(page, `/tasks/${id}`, /^task$/i);
    await page.getByRole('button', { name: /^revoke/i }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Revoke' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await showsState(page, 'REVOKED');
    // The worker holds the message until its countdown ends, then discards it and says so.
    await dash.worker.next((l) => l.includes(id) && l.includes('revoked: discarded'));
    expect(dash.exists(`ran-${label}`)).toBe(false);
    await showsState(page, 'REVOKED');
  });

  it('works from the keyboard: Tab to a control, Enter activates it, Escape closes the confirmation', { timeout: 20_000 }, async () => {
    await open();
    const id = await dash.send('browser.add', [1, 2]);
    await visit(page, `/tasks/${id}`, /^task$/i);
    await showsState(page, 'SUCCESS');
    const retry = page.getByRole('button', { name: /^retry/i });
    await retry.waitFor();
    const changes: string[] = [];
    page.on('request', (r) => void (r.method() !== 'GET' && changes.push(`${r.method()} ${r.url()}`)));
    let focused = false;
    for (let i = 0; i < 60 && !focused; i++) {
      await page.keyboard.press('Tab');
      focused = await retry.evaluate((el) => el === el.ownerDocument.activeElement);
    }
    expect(focused).toBe(true);
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await shoot(page, 'confirm-dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    // Cancelled: nothing was sent, the page stays where it was, and the focus is back on the button that opened it.
    expect(changes).toEqual([]);
    expect(await retry.evaluate((el) => el === el.ownerDocument.activeElement)).toBe(true);
    expect(page.url()).toBe(`${dash.base}/tasks/${id}`);
  });

  it('counts finished tasks on the overview and draws them in its charts', { timeout: 20_000 }, async () => {
    await open();
    const label = `overview-${randomUUID().slice(0, 6)}`;
    const ids = await Promise.all([
      ...[1, 2, 3, 4, 5, 6].map((n) => dash.send('browser.add', [n, n])),
      dash.send('browser.flaky', [`${label}-1`]),
      dash.send('browser.flaky', [`${label}-2`]),
    ]);
    await visit(page, '/tasks', /^tasks$/i);
    for (const id of ids) await taskRow(page, id).getByText(/^(SUCCESS|FAILURE)$/).waitFor();
    await visit(page, '/', /^overview$/i);
    const count = (what: string) => async () => Number(/^\s*([\d,]+)/.exec((await page.getByText(`${what} (15 minutes)`).textContent()) ?? '')?.[1]?.replaceAll(',', '') ?? NaN);
    await expect.poll(count('succeeded')).toBeGreaterThanOrEqual(6);
    await expect.poll(count('failed')).toBeGreaterThanOrEqual(2);
    await shoot(page, 'overview-charts');
  });

  it('gives every control of every page an accessible name', { timeout: 30_000 }, async () => {
    await open();
    const id = await dash.send('browser.add', [2, 3]);
    const workers = await dash.api<{ workers: { name: string }[] }>('GET', '/api/v1/workers');
    const worker = workers.body.workers[0]?.name;
    expect(worker).toBeTruthy();
    const pages: [string, RegExp, string][] = [
      ['/', /overview|dashboard|celerity/i, 'overview'],
      ['/tasks', /^tasks$/i, 'tasks-list'],
      [`/tasks/${id}`, /^task$/i, 'task'],
      ['/workers', /^workers$/i, 'workers'],
      [`/workers/${encodeURIComponent(worker!)}`, /^worker$/i, 'worker'],
      ['/queues', /^queues$/i, 'queues'],
      ['/dead-letters', /dead letters/i, 'dead-letters'],
      ['/schedules', /^schedules$/i, 'schedules'],
    ];
    for (const [url, heading, name] of pages) {
      await visit(page, url, heading);
      await settled(page);
      expect({ url, missing: await unnamedControls(page) }).toEqual({ url, missing: {} });
      await shoot(page, name);
    }
  });
});

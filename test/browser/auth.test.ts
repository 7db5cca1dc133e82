/**
 * The dashboard with credentials configured (CELERITY_API_USERS from `celerity api hash-password`), in Chromium:
 * the login form, a wrong password refused without the browser's own password dialog, and a read-only user who sees
 * no action and whose POST from the page is refused.
 */
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromiumCheck, launchBrowser, startDashboard, type Dashboard, type User } from './harness.js';
import { shoot, showsState, visit } from './pages.js';

const admin: User = { user: 'alice', password: `admin-${randomUUID()}` };
const viewer: User = { user: 'grafana', password: `viewer-${randomUUID()}`, readOnly: true };

describe.skipIf(!chromiumCheck.ok)(`dashboard login in Chromium${chromiumCheck.ok ? '' : ` (skipped: ${chromiumCheck.reason})`}`, () => {
  let dash: Dashboard;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Every answer the page got that asked for Basic credentials (Chromium would show its own dialog for those). */
  let challenges: string[];

  beforeAll(async () => {
    [dash, browser] = await Promise.all([startDashboard({ users: [admin, viewer] }), launchBrowser()]);
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
    challenges = [];
    page.on('response', (r) => {
      const challenge = r.headers()['www-authenticate'];
      if (challenge && /^basic/i.test(challenge)) challenges.push(`${r.status()} ${r.url()}`);
    });
    return page;
  };
  const logIn = async (u: User) => {
    await page.getByRole('textbox', { name: 'User' }).fill(u.user);
    await page.getByLabel('Password').fill(u.password);
    await page.getByRole('button', { name: 'Log in' }).click();
  };

  it('shows the login form, refuses a wrong password and lets the right one in', { timeout: 20_000 }, async () => {
    await open();
    await visit(page, '/tasks', /^login$/i);
    // The login page remembers where the user was going.
    await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('next') === '/tasks');
    await shoot(page, 'login');
    await logIn({ ...admin, password: 'not-the-password' });
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/wrong user name or password/i);
    expect(new URL(page.url()).pathname).toBe('/login');
    expect(challenges).toEqual([]);

    await page.getByLabel('Password').fill(admin.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: /^tasks$/i }).waitFor();
    await page.waitForURL((u) => u.pathname === '/tasks');
    expect(challenges).toEqual([]);
  });

  it('shows a read-only user no action, and refuses a POST from the page (403)', { timeout: 20_000 }, async () => {
    const id = await dash.send('browser.add', [20, 22], undefined, admin);
    await open();
    await visit(page, `/tasks/${id}`, /^login$/i);
    await logIn(viewer);
    await page.waitForURL((u) => u.pathname === `/tasks/${id}`);
    await showsState(page, 'SUCCESS');
    await page.getByText('42', { exact: true }).first().waitFor();
    for (const action of [/retry/i, /revoke/i, /terminate/i, /delete/i]) expect(await page.getByRole('button', { name: action }).count()).toBe(0);

    const status = await page.evaluate(async (taskId: string) => {
      const headers = { accept: 'application/json', 'x-celerity-client': 'dashboard' };
      const session = (await (await fetch('/api/v1/session', { headers })).json()) as { user: string; readOnly: boolean; csrfToken: string };
      const res = await fetch(`/api/v1/tasks/${taskId}/retry`, {
        method: 'POST',
        headers: { ...headers, 'x-csrf-token': session.csrfToken },
      });
      return { session: { user: session.user, readOnly: session.readOnly, csrf: typeof session.csrfToken }, status: res.status };
    }, id);
    expect(status).toEqual({ session: { user: viewer.user, readOnly: true, csrf: 'string' }, status: 403 });
    await shoot(page, 'task-read-only');

    // The task list the same user sees: the task, and no action on the matching tasks.
    await page.getByRole('link', { name: 'Tasks', exact: true }).first().click();
    await page.getByRole('heading', { level: 1, name: /^tasks$/i }).waitFor();
    await page.locator(`[data-task-id="${id}"]`).waitFor();
    expect(await page.getByRole('button', { name: /retry|revoke|terminate/i }).count()).toBe(0);
    // The refused retry sent nothing: the only task with these arguments is the original.
    const same = await dash.api<{ tasks: { id: string }[] }>('GET', `/api/v1/tasks?q=${encodeURIComponent('(20, 22)')}`, undefined, admin);
    expect(same.body.tasks.map((t) => t.id)).toEqual([id]);
  });

  it('shows the same task page to a user who may change things with its actions', { timeout: 20_000 }, async () => {
    const id = await dash.send('browser.add', [1, 1], undefined, admin);
    await open();
    await visit(page, `/tasks/${id}`, /^login$/i);
    await logIn(admin);
    await page.waitForURL((u) => u.pathname === `/tasks/${id}`);
    await showsState(page, 'SUCCESS');
    await page.getByRole('button', { name: /^retry/i }).waitFor();
  });
});

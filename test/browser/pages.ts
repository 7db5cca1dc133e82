/**
 * What the browser tests ask of a page, in a user's terms: the page named by its heading, a task's row, the state a
 * task shows, controls without an accessible name. Everything waits on page conditions, never on time.
 */
import type { Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { screenshot } from './harness.js';

/** Opens `url` and waits for the page's `<h1>` to say `heading`. */
export async function visit(page: Page, url: string, heading: RegExp): Promise<void> {
  await page.goto(url);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

/** Waits until the page has loaded what it shows: no "Loading…" left on it. */
export async function settled(page: Page): Promise<void> {
  await expect.poll(() => page.getByText('Loading…').count()).toBe(0);
}

export function taskRow(page: Page, id: string): Locator {
  return page.locator(`[data-task-id="${id}"]`);
}

/** Waits until the page shows `state` (a state badge or cell with exactly that text) inside `scope`. */
export async function showsState(scope: Page | Locator, state: string): Promise<void> {
  await scope.getByText(state, { exact: true }).first().waitFor();
}

/** The value and maximum a progress bar announces (aria-valuenow/-max, or a `<progress>` element's value/max). */
export async function progressOf(bar: Locator): Promise<{ now: number; max: number }> {
  const now = (await bar.getAttribute('aria-valuenow')) ?? (await bar.getAttribute('value'));
  const max = (await bar.getAttribute('aria-valuemax')) ?? (await bar.getAttribute('max')) ?? '1';
  return { now: Number(now), max: Number(max) };
}

const CONTROL_ROLES = ['button', 'link', 'textbox', 'searchbox', 'combobox', 'checkbox', 'radio', 'spinbutton', 'switch', 'tab'] as const;

/** For each role of control, how many on the page have an empty accessible name; {} when every control has one. */
export async function unnamedControls(page: Page): Promise<Record<string, number>> {
  const missing: Record<string, number> = {};
  for (const role of CONTROL_ROLES) {
    const all = await page.getByRole(role).count();
    const named = await page.getByRole(role, { name: /\S/ }).count();
    if (all !== named) missing[role] = all - named;
  }
  return missing;
}

/** A screenshot of the page as the test left it, kept in test/browser/artifacts/<name>.png. */
export async function shoot(page: Page, name: string): Promise<void> {
  await screenshot(page, name);
}

/** Asserts that a flag set on `window` earlier is still there: the page was not reloaded in between. */
export async function stillLoaded(page: Page, marker: string): Promise<void> {
  expect(await page.evaluate(`window.${marker} === true`)).toBe(true);
}

/**
 * The schedules routes of an app whose result backend keeps no schedules (rpc:// over RabbitMQ): the list says so
 * instead of failing, and a change names the setting that would give the app a schedule store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiInstance } from '../../src/api/context.js';
import { registerDashboard } from '../../src/dashboard/index.js';
import { startApiHarness, type ApiHarness } from '../api-harness.js';
import { freshVhost, pingRabbit, requireService } from '../services.js';

const { ok, reason } = await requireService('RabbitMQ', () => pingRabbit());

let h: ApiHarness;
let front: ApiInstance;
let vhost: Awaited<ReturnType<typeof freshVhost>> | undefined;

beforeAll(async () => {
  if (!ok) return;
  vhost = await freshVhost('dashboard');
  h = await startApiHarness({ broker: vhost.url, backend: 'rpc://', extend: (api, ctx) => void registerDashboard(api, ctx, { assets: false }) });
  front = h.api;
});

afterAll(async () => {
  await h?.close();
  await vhost?.remove();
});

describe.skipIf(!ok)(`schedules without a schedule store${ok ? '' : ` (skipped: ${reason})`}`, () => {
  it('lists none and says they are not available', async () => {
    const res = await front.inject({ method: 'GET', url: '/api/v1/schedules' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ available: false, schedules: [] });
  });

  it('answers a change with 404 naming beatStore', async () => {
    for (const action of ['pause', 'resume', 'run']) {
      const res = await front.inject({ method: 'POST', url: `/api/v1/schedules/nightly/${action}` });
      expect(res.statusCode).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json().detail).toMatch(/beatStore/);
    }
  });

  it('serves no pages when asked for none: / stays the API’s', async () => {
    const res = await front.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe('/api/v1/openapi.json');
  });
});

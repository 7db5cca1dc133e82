/**
 * The tasks routes behind the API's credentials: nothing without them, reads for a read-only token, sends, revokes
 * and retries only for a read-write one, and the refusals in the same problem+json shape as every other error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken, hashToken, parseCredentials } from '../../src/api/auth.js';
import { startApiHarness, type ApiHarness } from '../api-harness.js';

const readWrite = generateToken();
const readOnly = generateToken();
let h: ApiHarness;
beforeAll(async () => {
  const credentials = parseCredentials({ apiUsers: [], apiTokens: [hashToken(readWrite), `${hashToken(readOnly)}:ro`] });
  h = await startApiHarness({ credentials, loopback: false });
});
afterAll(async () => {
  await h?.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('tasks routes with credentials', () => {
  it('refuses a caller without credentials, as problem+json', async () => {
    for (const [method, url] of [['GET', '/api/v1/tasks'], ['GET', '/api/v1/tasks/x'], ['GET', '/api/v1/openapi.json'], ['POST', '/api/v1/tasks']] as const) {
      const res = await h.call(method, url, method === 'POST' ? { name: 'a.b' } : undefined);
      expect(res.status, `${method} ${url}`).toBe(401);
      expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
    }
  });

  it('lets a read-only token read and nothing more', async () => {
    expect((await h.call('GET', '/api/v1/tasks', undefined, bearer(readOnly))).status).toBe(200);
    expect((await h.call('GET', '/api/v1/tasks/some-id/tree', undefined, bearer(readOnly))).status).toBe(200);
    for (const [method, url, body] of [
      ['POST', '/api/v1/tasks', { name: 'a.b' }],
      ['DELETE', '/api/v1/tasks/some-id', undefined],
      ['POST', '/api/v1/tasks/some-id/retry', {}],
      ['POST', '/api/v1/tasks/revoke', { filter: { name: 'a.b' } }],
    ] as const) {
      const res = await h.call(method, url, body, bearer(readOnly));
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.body.detail).toMatch(/read-only/);
    }
    expect(await h.history.count({})).toBe(0);
  });

  it('lets a read-write token send and revoke', async () => {
    const sent = await h.call('POST', '/api/v1/tasks', { name: 'a.b', args: [1] }, bearer(readWrite));
    expect(sent.status).toBe(202);
    expect((await h.call('DELETE', `/api/v1/tasks/${sent.body.id}`, undefined, bearer(readWrite))).status).toBe(202);
    await h.monitor.flush();
    const task = await h.call('GET', sent.body.url, undefined, bearer(readOnly));
    expect(task.body.timeline.map((e: { type: string }) => e.type)).toEqual(['api-sent', 'api-revoke']);
  });
});

/**
 * The REST API's answers to bad requests: every one is RFC 9457 problem+json with a 4xx status and, where a field
 * was wrong, a JSON pointer to it; nothing a client sends reaches a 500. And the OpenAPI document that describes
 * every route.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiHarness, type ApiHarness } from '../api-harness.js';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApiHarness();
});
afterAll(async () => {
  await h?.close();
});

function expectProblem(res: { status: number; headers: Record<string, unknown>; body: any }, status: number, field?: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type: 'about:blank', status, title: expect.any(String), detail: expect.any(String) });
  if (field !== undefined) expect(res.body.field).toBe(field);
}

describe('problem+json', () => {
  it('a limit out of range or not a number names /query/limit', async () => {
    for (const limit of ['0', '1001', 'ten', '2.5']) {
      const res = await h.call('GET', `/api/v1/tasks?limit=${limit}`);
      expectProblem(res, 400, '/query/limit');
      expect(res.body.errors).toEqual([{ field: '/query/limit', detail: expect.any(String) }]);
    }
  });

  it('a cursor the API did not hand out names /query/cursor', async () => {
    expectProblem(await h.call('GET', '/api/v1/tasks?cursor=not-a-cursor'), 400, '/query/cursor');
  });

  it('bad times and unknown query parameters name their field', async () => {
    expectProblem(await h.call('GET', '/api/v1/tasks?since=yesterday'), 400, '/query/since');
    expectProblem(await h.call('GET', '/api/v1/tasks?until=1h'), 400, '/query/until');
    expectProblem(await h.call('GET', '/api/v1/tasks?colour=red'), 400, '/query/colour');
  });

  it('an unknown send option names /body/options/<name>', async () => {
    const res = await h.call('POST', '/api/v1/tasks', { name: 'x.y', options: { queue: 'q', retry_policy: {} } });
    expectProblem(res, 400, '/body/options/retry_policy');
  });

  it('wrong body fields: a missing name, args not an array, a priority out of range, a bad eta', async () => {
    expectProblem(await h.call('POST', '/api/v1/tasks', { args: [] }), 400, '/body/name');
    expectProblem(await h.call('POST', '/api/v1/tasks', { name: 'x.y', args: { a: 1 } }), 400, '/body/args');
    expectProblem(await h.call('POST', '/api/v1/tasks', { name: 'x.y', options: { priority: 10 } }), 400, '/body/options/priority');
    expectProblem(await h.call('POST', '/api/v1/tasks', { name: 'x.y', options: { eta: 'tomorrow' } }), 400, '/body/options/eta');
  });

  it('a URL that cannot be decoded, a delay too long to be a date', async () => {
    expectProblem(await h.call('GET', '/api/v1/tasks/%ZZ'), 400);
    expectProblem(await h.call('POST', '/api/v1/tasks', { name: 'x.y', options: { countdown: 1e300 } }), 400, '/body/options/countdown');
    expectProblem(await h.call('GET', '/api/v1/tasks?since=2026-02-30'), 400, '/query/since');
  });

  it('a body that is not JSON, or no body', async () => {
    expectProblem(await h.call('POST', '/api/v1/tasks', '{"name": '), 400, '/body');
    expectProblem(await h.call('POST', '/api/v1/tasks', ''), 400, '/body');
  });

  it('a body over 1 MiB is refused with 413', async () => {
    const res = await h.call('POST', '/api/v1/tasks', { name: 'x.y', args: ['x'.repeat(1024 * 1024)] });
    expectProblem(res, 413);
  });

  it('a malformed task id is a 400 naming /params/id', async () => {
    expectProblem(await h.call('GET', `/api/v1/tasks/${'a'.repeat(256)}`), 400, '/params/id');
    expectProblem(await h.call('GET', '/api/v1/tasks/bad%01id'), 400, '/params/id');
    expectProblem(await h.call('DELETE', '/api/v1/tasks/bad%0Aid'), 400, '/params/id');
    expectProblem(await h.call('POST', `/api/v1/tasks/${'b'.repeat(300)}/retry`), 400, '/params/id');
  });

  it('a task just sent reads back at once with what was sent; states may be given repeated or comma separated', async () => {
    const sent = await h.call('POST', '/api/v1/tasks', { name: 'nowhere.echo', args: ['hi'], options: { queue: 'nowhere', taskId: 'fixed-id-1' } });
    expect(sent.body.id).toBe('fixed-id-1');
    const task = await h.call('GET', '/api/v1/tasks/fixed-id-1');
    expect(task.body).toMatchObject({ known: true, state: 'PENDING', name: 'nowhere.echo', queue: 'nowhere', argsJson: '["hi"]' });
    expect(task.body.timeline.map((e: { type: string }) => e.type)).toEqual(['api-sent']);
    const both = await h.call('GET', '/api/v1/tasks?state=SUCCESS&state=PENDING&queue=nowhere');
    expect(both.body.tasks.map((t: { id: string }) => t.id)).toEqual(['fixed-id-1']);
    const comma = await h.call('GET', '/api/v1/tasks?state=SUCCESS,PENDING&queue=nowhere');
    expect(comma.body).toEqual(both.body);
  });

  it('an id nobody knows reads as PENDING with known: false, as Celery says', async () => {
    const res = await h.call('GET', '/api/v1/tasks/never-sent-1');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: 'never-sent-1', state: 'PENDING', known: false, result: null, error: null, timeline: [] });
    const retry = await h.call('POST', '/api/v1/tasks/never-sent-1/retry');
    expectProblem(retry, 409);
    expect(retry.body.detail).toMatch(/PENDING/);
  });

  it('an unknown route is a 404 naming the path; a wrong method on a known one is a 405 with Allow', async () => {
    const missing = await h.call('GET', '/api/v1/nothing-here?x=1');
    expectProblem(missing, 404);
    expect(missing.body.detail).toContain('/api/v1/nothing-here');
    expect(missing.body.instance).toBe('/api/v1/nothing-here');
    const wrong = await h.call('PUT', '/api/v1/tasks/abc', {});
    expectProblem(wrong, 405);
    expect(wrong.headers.allow).toBe('DELETE, GET, HEAD');
  });

  it('a bulk call with an empty filter is refused unless all: true', async () => {
    expectProblem(await h.call('POST', '/api/v1/tasks/revoke', { filter: {} }), 400, '/body/filter');
    expectProblem(await h.call('POST', '/api/v1/tasks/retry', {}), 400, '/body/filter');
    expectProblem(await h.call('POST', '/api/v1/tasks/retry', { filter: { nmae: 'x' } }), 400, '/body/filter/nmae');
    expectProblem(await h.call('POST', '/api/v1/tasks/revoke', { filter: { state: 'PENDING' }, limit: 5000 }), 400, '/body/limit');
    const all = await h.call('POST', '/api/v1/tasks/revoke', { filter: {}, all: true });
    expect(all.status).toBe(200);
    const every = (await h.history.list({ limit: 1000 })).tasks.map((t) => t.id);
    expect(all.body.matched).toBe(every.length);
    expect(new Set([...all.body.revoked, ...all.body.skipped.map((x: { id: string }) => x.id)])).toEqual(new Set(every));
  });
});

describe('unexpected errors', () => {
  it('answer 500 with a generic detail and log the error with its stack', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(line) });
    const broken = await startApiHarness({ logger });
    try {
      // A store that fails underneath the API: nothing a client sent is wrong.
      broken.history.list = () => Promise.reject(new Error('disk on fire'));
      const res = await broken.call('GET', '/api/v1/tasks');
      expectProblem(res, 500);
      expect(res.body.detail).not.toContain('disk on fire');
      const logged = lines.map((l) => JSON.parse(l));
      expect(logged).toHaveLength(1);
      expect(logged[0].err.message).toBe('disk on fire');
      expect(logged[0].err.stack).toMatch(/disk on fire\n\s+at /);
    } finally {
      await broken.close();
    }
  });
});

describe('OpenAPI', () => {
  it('describes every route with its parameters, as OpenAPI 3.1', async () => {
    const res = await h.api.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = JSON.parse(res.body);
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    const paths = doc.paths as Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: unknown; responses: object }>>;
    const expected: [string, string][] = [
      ['/api/v1/tasks', 'get'],
      ['/api/v1/tasks', 'post'],
      ['/api/v1/tasks/retry', 'post'],
      ['/api/v1/tasks/revoke', 'post'],
      ['/api/v1/tasks/{id}', 'get'],
      ['/api/v1/tasks/{id}', 'delete'],
      ['/api/v1/tasks/{id}/retry', 'post'],
      ['/api/v1/tasks/{id}/tree', 'get'],
    ];
    for (const [path, method] of expected) expect(paths[path]?.[method], `${method} ${path}`).toBeDefined();
    const names = (path: string, method: string, where: string) => (paths[path]![method]!.parameters ?? []).filter((p) => p.in === where).map((p) => p.name).sort();
    expect(names('/api/v1/tasks', 'get', 'query')).toEqual(['cursor', 'limit', 'name', 'q', 'queue', 'since', 'state', 'until', 'worker']);
    expect(names('/api/v1/tasks/{id}', 'delete', 'path')).toEqual(['id']);
    expect(names('/api/v1/tasks/{id}', 'delete', 'query')).toEqual(['signal', 'terminate']);
    expect(names('/api/v1/tasks/{id}/tree', 'get', 'query')).toEqual(['depth']);
    expect(paths['/api/v1/tasks']!.post!.requestBody).toBeDefined();
    // Every documented operation is one the server answers, and each says what it returns.
    for (const [path, ops] of Object.entries(paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(h.api.hasRoute({ method: method.toUpperCase() as 'GET', url: path.replace(/\{(\w+)\}/g, ':$1') }), `${method} ${path}`).toBe(true);
        expect(op.responses, `${method} ${path}`).toBeDefined();
      }
    }
  });
});

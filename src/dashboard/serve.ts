/**
 * `celerity dashboard` as a running server. The REST API's instance is complete (ready) when buildApi returns, so
 * the dashboard's routes live on a front instance that listens, and every request none of them matches goes on,
 * untouched, to the API's router. The front authenticates by asking the API itself, with the request's own
 * credentials: one login, one session store, the same rules (read-only users, CSRF tokens, loopback-only without
 * credentials) for both.
 */
import fastifySwagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { assertBindAllowed, isLoopbackHost, parseCredentials, SESSION_PATH, type Caller } from '../api/auth.js';
import type { ApiContext, ApiInstance } from '../api/context.js';
import { Problem, PROBLEM_CONTENT_TYPE } from '../api/problem.js';
import { controlOpener, retentionOf, type ApiServer, type ApiServerOptions } from '../api/serve.js';
import { BODY_LIMIT, buildApi } from '../api/server.js';
import { historyUrlFor, openHistoryStore } from '../history/open.js';
import { Monitor } from '../monitor/monitor.js';
import { VERSION } from '../util/version.js';
import { registerDashboard, type DashboardOptions } from './register.js';

export interface MountOptions extends DashboardOptions {
  logger?: FastifyBaseLogger;
}

/** Request headers that decide who a caller is and whether the request may change something. */
const AUTH_HEADERS = ['authorization', 'cookie', 'host', 'origin', 'referer', 'sec-fetch-site', 'x-csrf-token', 'x-celerity-client', 'x-forwarded-proto', 'x-forwarded-for'];
/** Headers of the API's refusal passed on to the client. */
const REFUSAL_HEADERS = ['content-type', 'www-authenticate', 'set-cookie', 'retry-after'];

/**
 * A front instance serving the dashboard's routes and passing every other request to `api` (ready, not listening).
 * Close the front first, then `api`.
 */
export async function mountDashboard(api: ApiInstance, ctx: ApiContext, options: MountOptions = {}): Promise<ApiInstance> {
  const front = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: 2048 },
    logController: new LogController({ disableRequestLogging: true }),
  }).withTypeProvider<ZodTypeProvider>();
  front.setValidatorCompiler(validatorCompiler);
  front.setSerializerCompiler(serializerCompiler);
  front.setErrorHandler((err, request, reply) => sendProblem(reply, request, toProblem(err as FastifyError, request)));
  await front.register(fastifySwagger, { openapi: { openapi: '3.1.0', info: { title: 'Celerity dashboard', version: VERSION } }, transform: jsonSchemaTransform });
  front.decorateRequest('caller', null);

  front.addHook('onRequest', async (request, reply) => {
    if (request.is404) {
      // Before the body is read: the API's router reads it itself.
      reply.hijack();
      api.routing(request.raw, reply.raw);
      return;
    }
    if (request.routeOptions.config.dashboardPage) return;
    const caller = await authenticate(api, request, reply);
    if (caller) request.caller = caller;
  });

  registerDashboard(front, ctx, options);
  // One document for both: the API's paths and the dashboard's.
  front.get('/api/v1/openapi.json', { schema: { hide: true } }, () => {
    const base = api.swagger() as { paths?: Record<string, unknown>; tags?: unknown[] };
    const own = front.swagger() as { paths?: Record<string, unknown> };
    return { ...base, paths: { ...base.paths, ...own.paths } };
  });
  await front.ready();
  return front;
}

/**
 * Asks the API who sent `request` and whether it may do what it asks. A read is a `GET /api/v1/session` with the
 * request's credentials; a change is the same method and path, which the API's authentication judges before its
 * router finds no such route (404): anything but 404 or 405 is the API's refusal, sent on as it is.
 */
async function authenticate(api: ApiInstance, request: FastifyRequest, reply: FastifyReply): Promise<Caller | undefined> {
  const headers: Record<string, string> = {};
  for (const name of AUTH_HEADERS) {
    const v = request.headers[name];
    if (typeof v === 'string') headers[name] = v;
  }
  const ask = (method: string, url: string) => api.inject({ method: method as 'GET', url, headers, remoteAddress: request.ip });
  const read = request.method === 'GET' || request.method === 'HEAD';
  if (!read) {
    const res = await ask(request.method, request.url.split('?')[0]!);
    if (res.statusCode !== 404 && res.statusCode !== 405) return refuse(reply, res);
  }
  const res = await ask('GET', SESSION_PATH);
  if (res.statusCode !== 200) return refuse(reply, res);
  const body = res.json() as { user: string; readOnly: boolean; via: Caller['via'] };
  return { name: body.user, readOnly: body.readOnly, via: body.via };
}

function refuse(reply: FastifyReply, res: { statusCode: number; headers: Record<string, unknown>; body: string }): undefined {
  for (const name of REFUSAL_HEADERS) {
    const v = res.headers[name];
    if (typeof v === 'string' || Array.isArray(v)) reply.header(name, v);
  }
  reply.code(res.statusCode).send(res.body);
  return undefined;
}

function sendProblem(reply: FastifyReply, request: FastifyRequest, problem: Problem): FastifyReply {
  return reply
    .code(problem.status)
    .headers(problem.headers)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problem.body(request.url.split('?')[0])));
}

function toProblem(err: FastifyError, request: FastifyRequest): Problem {
  if (err instanceof Problem) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const base = err.validationContext === 'querystring' ? '/query' : `/${err.validationContext ?? ''}`;
    const errors = err.validation.map((issue) => ({ field: `${base}${issue.instancePath === '/' ? '' : issue.instancePath}`, detail: issue.message ?? 'invalid' }));
    const first = errors[0] ?? { field: base, detail: 'invalid request' };
    return new Problem(400, errors.map((e) => `${e.field}: ${e.detail}`).join('; '), { field: first.field, errors });
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) return new Problem(status, err.message);
  request.log.error({ err, method: request.method, url: request.url }, 'unexpected error in the dashboard');
  return new Problem(500, 'the server failed to handle this request; the error is in its log');
}

export interface DashboardServerOptions extends ApiServerOptions {
  dashboard?: DashboardOptions;
}

/** As startApiServer, with the dashboard's routes and pages in front of the API. */
export async function startDashboardServer(options: DashboardServerOptions): Promise<ApiServer> {
  const { app, host } = options;
  const credentials = parseCredentials(app.conf);
  assertBindAllowed(host, credentials);
  const history = await openHistoryStore(options.historyUrl ?? historyUrlFor(app.conf), { busyTimeout: app.conf.sqliteBusyTimeout });
  let monitor: Monitor | undefined;
  let api: ApiInstance | undefined;
  let front: ApiInstance | undefined;
  const control = controlOpener(app);
  const close = async () => {
    await front?.close();
    await api?.close();
    await control.close();
    await monitor?.close();
    await history.close();
  };
  try {
    monitor = await Monitor.start(app, { history, retention: retentionOf(app), ...(options.logger ? { logger: options.logger } : {}) });
    const ctx: ApiContext = { app, monitor, control: control.open };
    api = await buildApi(ctx, { credentials, loopback: isLoopbackHost(host), logger: options.logger });
    front = await mountDashboard(api, ctx, { ...options.dashboard, logger: options.logger });
    await front.listen({ host, port: options.port });
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  const address = front.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const shown = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return { url: `http://${shown}:${port}`, close };
}

/**
 * The REST API's HTTP server: Fastify with zod schemas (validation and the OpenAPI document from the same
 * shapes), every error rendered as RFC 9457 problem+json, and each route module registered on it. It does not
 * listen: serve.ts does, and tests call `inject()` on what `buildApi` returns.
 */
import fastifySwagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { VERSION } from '../util/version.js';
import type { ApiContext, ApiInstance } from './context.js';
import { Problem, PROBLEM_CONTENT_TYPE } from './problem.js';
import { registerAuth, type Credentials } from './auth.js';
import { registerDeadLetterRoutes } from './routes/dead-letters.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerQueueRoutes } from './routes/queues.js';
import { registerTaskRoutes } from './routes/tasks.js';
import { registerWorkerRoutes } from './routes/workers.js';

/** Request bodies above this are refused (413) before they are parsed. */
export const BODY_LIMIT = 1024 * 1024;

export interface BuildApiOptions {
  /** Who may call the API (auth.ts parseCredentials). */
  credentials: Credentials;
  /** The server listens on a loopback address only. */
  loopback: boolean;
  /** Where request errors are logged; none by default. */
  logger?: FastifyBaseLogger;
  /**
   * Adds routes of a layer above the API (the dashboard's stream, charts and pages) before the server is ready:
   * they pass the same authentication, error handling and OpenAPI document. `/` is theirs if they take it.
   */
  extend?: (api: ApiInstance) => void;
}

export async function buildApi(ctx: ApiContext, options: BuildApiOptions): Promise<ApiInstance> {
  const api = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: BODY_LIMIT,
    // A task id may be 255 characters: a longer one gets a 400 from its schema, not a 404 from the router.
    routerOptions: { maxParamLength: 2048 },
    // A URL that cannot be decoded (`%ZZ`) fails before routing: answered as problem+json too.
    frameworkErrors: (err, request, reply) => sendProblem(reply, request, toProblem(err, request)),
    // Request lines would drown the app's own log; errors are still logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
  }).withTypeProvider<ZodTypeProvider>();
  api.setValidatorCompiler(validatorCompiler);
  api.setSerializerCompiler(serializerCompiler);
  api.setErrorHandler((err, request, reply) => sendProblem(reply, request, toProblem(err as FastifyError, request)));
  const routes = trackRoutes(api);
  api.setNotFoundHandler((request, reply) => {
    const path = pathOf(request);
    const allowed = routes.methodsFor(path);
    const problem = allowed.length
      ? new Problem(405, `${request.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`, { headers: { allow: allowed.join(', ') } })
      : new Problem(404, `no route ${request.method} ${path}`);
    return sendProblem(reply, request, problem);
  });

  await api.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Celerity REST API',
        version: VERSION,
        description:
          'Tasks, workers and queues of a Celerity or Celery 5 cluster. Errors are application/problem+json (RFC 9457). ' +
          'GET and HEAD read; every other method changes something and needs a read-write caller.',
      },
    },
    transform: jsonSchemaTransform,
  });

  registerAuth(api, options.credentials, { loopback: options.loopback });
  registerTaskRoutes(api, ctx);
  registerWorkerRoutes(api, ctx);
  registerQueueRoutes(api, ctx);
  registerDeadLetterRoutes(api, ctx);
  registerHealthRoutes(api, ctx);

  options.extend?.(api);

  api.get('/api/v1/openapi.json', { schema: { hide: true } }, () => api.swagger());
  // Without web pages (`celerity api`, or a dashboard asked to serve none), `/` leads to the description of the API.
  if (!api.hasRoute({ method: 'GET', url: '/' })) api.get('/', { schema: { hide: true } }, (_request, reply) => reply.redirect('/api/v1/openapi.json'));

  await api.ready();
  return api;
}

function sendProblem(reply: FastifyReply, request: FastifyRequest, problem: Problem): FastifyReply {
  return reply
    .code(problem.status)
    .headers(problem.headers)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problem.body(pathOf(request))));
}

/** Where in the request a schema failure was: fastify's validation context as the first step of a JSON pointer. */
const CONTEXT_POINTER: Record<string, string> = { body: '/body', querystring: '/query', params: '/params', headers: '/headers' };

function toProblem(err: FastifyError, request: FastifyRequest): Problem {
  if (err instanceof Problem) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const base = CONTEXT_POINTER[err.validationContext ?? ''] ?? '';
    const errors: { field: string; detail: string }[] = [];
    for (const issue of err.validation) {
      const at = issue.instancePath === '/' ? '' : issue.instancePath;
      const keys = (issue.params as { keys?: unknown }).keys;
      if (issue.keyword === 'unrecognized_keys' && Array.isArray(keys)) {
        for (const key of keys) errors.push({ field: `${base}${at}/${escapePointer(String(key))}`, detail: `unknown field ${JSON.stringify(key)}` });
      } else {
        errors.push({ field: `${base}${at}`, detail: issue.message ?? 'invalid' });
      }
    }
    const first = errors[0] ?? { field: base, detail: 'invalid request' };
    const detail = errors.length === 1 ? `${first.field}: ${first.detail}` : `${errors.length} invalid fields: ${errors.map((e) => `${e.field}: ${e.detail}`).join('; ')}`;
    return new Problem(400, detail, { field: first.field, errors });
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // Fastify's own refusals: a body that is not JSON, too large, of a media type no parser takes.
    const field = err.code?.startsWith('FST_ERR_CTP_') ? '/body' : undefined;
    return new Problem(status, err.message, field ? { field } : {});
  }
  request.log.error({ err, method: request.method, url: request.url }, 'unexpected error in the REST API');
  return new Problem(500, 'the server failed to handle this request; the error is in its log');
}

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** The registered paths and their methods, to tell a wrong method (405) from an unknown path (404). */
function trackRoutes(api: ApiInstance): { methodsFor(path: string): string[] } {
  const routes: { pattern: RegExp; methods: string[] }[] = [];
  api.addHook('onRoute', (route) => {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map(String);
    const source = route.url
      .split('/')
      .map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    routes.push({ pattern: new RegExp(`^${source}$`), methods });
  });
  return {
    methodsFor: (path) => [...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods))].sort(),
  };
}


function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url;
}

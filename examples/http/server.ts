/**
 * An HTTP service that hands slow work to workers and lets clients poll for it, the way FastAPI services do with
 * Celery: `POST` answers 202 with the task id at once, `GET /tasks/:id` says how far it got.
 *
 *   npx celerity worker -A examples/http/tasks.ts      # one terminal
 *   npx tsx examples/http/server.ts                      # another; listens on 127.0.0.1:8000
 *   curl -X POST localhost:8000/reports -H 'content-type: application/json' -d '{"customer_id":"c-42","months":5}'
 *   curl localhost:8000/tasks/<task_id>
 *
 * Both read CELERITY_BROKER_URL / CELERITY_RESULT_BACKEND, so the same code runs on the embedded SQLite file, Redis or
 * RabbitMQ. The service needs no task code to send by name (`app.sendTask`); it imports tasks.ts here for the
 * typed `generateReport.delay`, which is the more common style.
 */
import Fastify from 'fastify';
import { errorText } from 'celerity';
import { app, generateReport } from './tasks.js';

export async function buildServer() {
  const server = Fastify({ logger: false });

  server.post<{ Body: { customer_id?: unknown; months?: unknown } }>('/reports', async (req, reply) => {
    const { customer_id: customerId, months = 3 } = req.body ?? {};
    if (typeof customerId !== 'string' || !customerId) return reply.code(400).send({ detail: 'customer_id must be a non-empty string' });
    if (!Number.isInteger(months) || (months as number) < 1 || (months as number) > 24) {
      return reply.code(400).send({ detail: 'months must be an integer from 1 to 24' });
    }
    const result = await generateReport.delay(customerId, months as number);
    return reply.code(202).header('location', `/tasks/${result.id}`).send({ task_id: result.id });
  });

  // Any task by name, as `send_task` does: the service does not need the task's code.
  server.post<{ Body: { name?: unknown; args?: unknown; kwargs?: unknown } }>('/tasks', async (req, reply) => {
    const { name, args = [], kwargs = {} } = req.body ?? {};
    if (typeof name !== 'string' || !name) return reply.code(400).send({ detail: 'name must be a task name' });
    if (!Array.isArray(args)) return reply.code(400).send({ detail: 'args must be a list' });
    if (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs)) return reply.code(400).send({ detail: 'kwargs must be an object' });
    const result = await app.sendTask(name, args, { kwargs: kwargs as Record<string, unknown> });
    return reply.code(202).header('location', `/tasks/${result.id}`).send({ task_id: result.id });
  });

  server.get<{ Params: { id: string } }>('/tasks/:id', async (req) => {
    const result = app.asyncResult(req.params.id);
    const meta = await result.meta();
    const status = meta?.status ?? 'PENDING';
    const body: Record<string, unknown> = { task_id: result.id, task_status: status };
    if (status === 'SUCCESS') body.task_result = meta?.result;
    else if (status === 'FAILURE') body.error = errorText(meta?.result);
    else if (meta && meta.result && typeof meta.result === 'object') body.progress = meta.result;
    return body;
  });

  server.delete<{ Params: { id: string } }>('/tasks/:id', async (req, reply) => {
    await app.asyncResult(req.params.id).revoke();
    return reply.code(202).send({ task_id: req.params.id, revoked: true });
  });

  server.addHook('onClose', async () => {
    await app.close();
  });
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await buildServer();
  const port = Number(process.env.PORT ?? 8000);
  const address = await server.listen({ host: process.env.HOST ?? '127.0.0.1', port });
  process.stdout.write(`listening on ${address}\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void server.close().then(() => process.exit(0)));
}

/**
 * What every route module receives: the app (to send, revoke and read results), the monitor (workers seen, live
 * events, the history store), and a shared remote-control client. Route modules export
 * `register<Name>Routes(api, ctx)`; access is by method: GET and HEAD read, every other method changes something
 * and needs a read-write caller (auth.ts).
 */
import type { FastifyInstance, FastifyBaseLogger, RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Celerity } from '../app/celerity.js';
import type { ControlClient } from '../control/client.js';
import type { MonitorView } from '../monitor/types.js';

/** The Fastify instance routes are declared on: zod schemas validate input and describe the OpenAPI document. */
export type ApiInstance = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

export interface ApiContext {
  app: Celerity;
  monitor: MonitorView;
  /** The API's remote-control client on the app's broker mailbox, opened on first use; rejects when the broker has none. */
  control(): Promise<ControlClient>;
}

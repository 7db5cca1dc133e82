/**
 * A remote-control client on an app's broker mailbox, as the CLI's inspect/control/status verbs and the REST API
 * open it: connected, closing its own mailbox with it.
 */
import { ControlClient } from '../control/client.js';
import { ConfigurationError } from '../errors/index.js';
import type { Celerity } from './celerity.js';

/** A connected ControlClient; ConfigurationError naming `broker` when the broker carries no remote control. */
export async function openControlClient(app: Celerity): Promise<ControlClient> {
  const broker = await app.broker();
  if (!broker.mailbox) {
    throw new ConfigurationError('broker', app.conf.broker, 'a broker that carries remote control (Redis, RabbitMQ or the embedded SQLite store)');
  }
  const client = new ControlClient({ mailbox: broker.mailbox(), closeMailbox: true, accept: app.conf.acceptContent, serializer: app.conf.taskSerializer });
  try {
    await client.connect();
  } catch (err) {
    await client.close();
    throw err;
  }
  return client;
}

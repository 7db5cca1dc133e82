/**
 * What the worker needs from the app that runs it, as an interface: the worker sits above the app's parts (tasks,
 * settings, canvas, connections) without importing the Celerity class, whose `worker()` is the one deliberate edge
 * from the app down to the worker. Celerity implements it.
 */
import type { CelerityConfig } from '../app/config.js';
import type { AnyTask } from '../app/task.js';
import type { ResultBackend } from '../backend/port.js';
import type { Broker, OutboundMessage } from '../broker/port.js';
import type { Canvas } from '../canvas/engine.js';
import type { ApplyOptions, CarriedFields } from '../canvas/options.js';
import type { SerializerRegistry } from '../protocol/serializers.js';
import type { BrokerMessage } from '../protocol/types.js';
import type { Logger } from '../util/logger.js';

export interface WorkerApp {
  /** The app's name (`new Celerity(name)`), Celery's `main`. */
  readonly main: string;
  readonly conf: CelerityConfig;
  readonly log: Logger;
  readonly serializers: SerializerRegistry;
  readonly canvas: Canvas;
  readonly tasks: ReadonlyMap<string, AnyTask>;
  lookupTask(name: string): AnyTask | undefined;
  /** The connected broker and result backend, shared with the app's producers. */
  broker(): Promise<Broker>;
  backend(): Promise<ResultBackend>;
  /** Publishes an already built message (retries, parking). */
  publish(message: OutboundMessage): Promise<void>;
  /** Encodes a task message the way the app's producers do (retries). */
  buildMessage(
    name: string,
    args: readonly unknown[],
    options: ApplyOptions,
    task?: AnyTask,
    carried?: CarriedFields,
  ): { id: string; message: BrokerMessage; queue: string; priority: number; notBefore: number | undefined };
}

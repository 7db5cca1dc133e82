/**
 * Celery's remote control (pidbox) and monitoring events over the broker's mailbox: a node's ControlServer, the requester's
 * ControlClient, and the EventDispatcher / EventReceiver pair. Wire formats live in protocol/control.ts and
 * protocol/events.ts.
 */
export { LamportClock } from './clock.js';
export { ControlClient } from './client.js';
export type { BroadcastOptions, ControlClientOptions, InspectOptions, RevokeOptions } from './client.js';
export { DEFAULT_SHUTDOWN_MESSAGE, dispatchCommand } from './dispatch.js';
export type { DispatchResult } from './dispatch.js';
export { EventDispatcher } from './event-dispatcher.js';
export type { EventDispatcherOptions, HeartbeatOptions } from './event-dispatcher.js';
export { EventReceiver } from './event-receiver.js';
export type { EventReceiverOptions, EventStreamOptions, ReceivedEvent } from './event-receiver.js';
export { ControlCommandError, processRusage, queueInfo } from './handler.js';
export type {
  AddConsumerCommand,
  ControlContext,
  ControlHandler,
  QueriedTaskState,
  QueueInfo,
  RegisteredTask,
  RevokeCommand,
  ScheduledTaskInfo,
  TaskInfo,
  WorkerStats,
} from './handler.js';
export { ControlServer } from './server.js';
export type { ControlServerOptions } from './server.js';
export type { RedisTargetOptions } from '../broker/redis/fanout.js';
export type { MailboxSource } from './transport.js';

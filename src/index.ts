/**
 * Public API. Named exports only; anything not listed here is internal and may change, as are members marked
 * `@internal` (the app's message building and publishing, which the worker and canvas use).
 */
export { Celerity } from './app/celerity.js';
export type { CelerityConfig, CelerityOptions, TaskRoute } from './app/config.js';
export { Task } from './app/task.js';
export type { RetryOptions, TaskContext, TaskFn, TaskOptions } from './app/task.js';
export type { ApplyOptions } from './canvas/options.js';
export { AsyncResult, GroupResult } from './result/results.js';
export type { AnyResult, GetOptions, ResultTuple, RevokeTaskOptions } from './result/results.js';
export { Signature, Chain, Group, Chord, chain, pipe, group, chord, fromDict } from './canvas/signature.js';
export type { SignatureLike, SignatureOptions, ResultOf } from './canvas/signature.js';
export { Worker } from './worker/worker.js';
export type { WorkerOptions } from './worker/worker.js';
export type { WorkerEvents } from './worker/events.js';
export type { NodeOptions } from './worker/node.js';
export { Beat } from './beat/beat.js';
export type { BeatClock, BeatEvents, BeatOptions, SlotEvent } from './beat/beat.js';
export { crontab, cron, every, clocked } from './schedule/spec.js';
export type { ScheduleSpec } from './schedule/spec.js';
export type { MisfirePolicy, OverlapPolicy, ScheduleEntry, ScheduleEntryInput } from './schedule/entry.js';
export type { ScheduleInfo, Schedules } from './app/schedules.js';
export { ControlClient, EventReceiver } from './control/index.js';
export type {
  BroadcastOptions,
  ControlClientOptions,
  EventReceiverOptions,
  EventStreamOptions,
  InspectOptions,
  QueueInfo,
  ReceivedEvent,
  RevokeOptions,
  ScheduledTaskInfo,
  TaskInfo,
  WorkerStats,
} from './control/index.js';
export type { Broker, BrokerCapabilities, DeadLetter, Delivery, OutboundMessage } from './broker/port.js';
export type { Mailbox, MailboxQueue, MailboxSubscription } from './broker/mailbox.js';
export type { ChordPart, GroupMeta, ResultBackend } from './backend/port.js';
export type { ClaimOutcome, FireRecord, Lease, ScheduleStore, StoredSchedule } from './backend/schedules.js';
export type { ResultMeta, TaskState, SignatureDict } from './protocol/types.js';
export { States } from './protocol/types.js';
export { errorText } from './protocol/error-text.js';
export type { ProgressEvent, ProgressOptions, SubscribeOptions } from './result/progress.js';
export {
  CelerityError,
  ChordError,
  ConfigurationError,
  ConnectionError,
  ContentDisallowed,
  DecodeError,
  EncodeError,
  Ignore,
  MaxRetriesExceededError,
  NotRegistered,
  Reject,
  RemoteTaskError,
  Retry,
  SoftTimeLimitExceeded,
  TaskRevokedError,
  TimeLimitExceeded,
  TimeoutError,
} from './errors/index.js';

/**
 * Shapes of Celery's wire format (protocol v2, with v1 accepted on input). See docs/protocol.md.
 * Field names stay in Celery's snake_case where they cross the wire; decoded requests use camelCase.
 */

/**
 * A transport-neutral message: what every broker adapter stores and moves. The Redis adapter wraps it in kombu's
 * JSON envelope (base64 body), AMQP maps it onto basic properties, SQLite keeps the parts in columns.
 */
export interface BrokerMessage {
  /** Celery task headers (v2) — `{}` for protocol v1 messages. Insertion order is kept on the wire. */
  headers: Record<string, unknown>;
  /** AMQP-style properties: correlation_id, reply_to, delivery_mode, priority, expiration, ... */
  properties: Record<string, unknown>;
  /** The serialized body exactly as the serializer produced it (before any transport encoding). */
  body: Buffer;
  contentType: string;
  contentEncoding: string;
  /**
   * The headers as Python-exact JSON text in pieces, when the producer wrote it while building them (a task message
   * does): joined, exactly `pyDumps(headers)`. JSON transports copy the pieces into their own text in one join
   * instead of encoding the headers again (or joining them twice). Whoever changes `headers` must drop it.
   */
  headersParts?: readonly string[];
}

/** Signature in Celery's dict form (keys in Celery's order). Canvas builds these; the worker only passes them on. */
export interface SignatureDict {
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  options: Record<string, unknown>;
  subtask_type: string | null;
  immutable: boolean;
  [key: string]: unknown;
}

/** The third element of a v2 body. */
export interface EmbedOptions {
  callbacks: SignatureDict[] | null;
  errbacks: SignatureDict[] | null;
  chain: SignatureDict[] | null;
  chord: SignatureDict | null;
}

/** What a producer asks to send; `encodeTaskMessage` turns it into a BrokerMessage with Celery's headers. */
export interface TaskSendSpec {
  id: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  /** absolute time; null = run now */
  eta: Date | null;
  expires: Date | null;
  retries: number;
  /** [hard, soft] seconds */
  timelimit: [number | null, number | null];
  rootId: string | null;
  parentId: string | null;
  group: string | null;
  groupIndex: number | null;
  shadow: string | null;
  ignoreResult: boolean;
  replyTo: string;
  priority: number;
  embed: EmbedOptions;
  /** `gen<pid>@<host>` */
  origin: string;
  /** Extra headers appended after Celery's own (unknown headers are ignored by workers). */
  extraHeaders?: Record<string, unknown>;
}

/** A decoded task message, whichever protocol version it arrived in. */
export interface TaskRequest {
  protocol: 1 | 2;
  id: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  embed: EmbedOptions;
  eta: Date | null;
  expires: Date | null;
  retries: number;
  timelimit: [number | null, number | null];
  rootId: string | null;
  parentId: string | null;
  group: string | null;
  groupIndex: number | null;
  ignoreResult: boolean;
  replyTo: string | null;
  correlationId: string | null;
  priority: number;
  origin: string | null;
  argsrepr: string | null;
  kwargsrepr: string | null;
  redelivered: boolean;
  /** All headers as received, for passing on unknown ones (v1: the body's fields). */
  headers: Record<string, unknown>;
}

/** Task states, Celery's names. Custom states are any other string. */
export const States = {
  PENDING: 'PENDING',
  RECEIVED: 'RECEIVED',
  STARTED: 'STARTED',
  SUCCESS: 'SUCCESS',
  FAILURE: 'FAILURE',
  RETRY: 'RETRY',
  REVOKED: 'REVOKED',
  REJECTED: 'REJECTED',
  IGNORED: 'IGNORED',
} as const;
export type KnownState = (typeof States)[keyof typeof States];
/** A state string: one of Celery's, or custom (`'PROGRESS'`). The `& {}` keeps editor completion for known ones. */
export type TaskState = KnownState | (string & {});

export const READY_STATES: ReadonlySet<string> = new Set(['SUCCESS', 'FAILURE', 'REVOKED']);
export const EXCEPTION_STATES: ReadonlySet<string> = new Set(['RETRY', 'FAILURE', 'REVOKED']);

/** Result metadata as Celery's backends store it (key order matters on the wire; see protocol/result-meta.ts). */
export interface ResultMeta {
  status: TaskState;
  result: unknown;
  traceback: string | null;
  children: unknown[];
  /** naive UTC ISO text, null unless ready */
  date_done: string | null;
  group_id?: string | null;
  parent_id?: string | null;
  name?: string | null;
  args?: unknown[] | null;
  kwargs?: Record<string, unknown> | null;
  worker?: string | null;
  retries?: number | null;
  queue?: string | null;
  task_id: string;
}

/**
 * The SQLite broker's operations, one prepared statement per file in `./sql/`, with the row shapes they return.
 * The adapter composes them in transactions and never writes SQL itself.
 */
import { prepare, type SqliteDatabase } from '../../sqlite/open.js';
import { readSql, type Stmt } from '../../sqlite/sql-files.js';

export interface MessageRow {
  id: number;
  queue: string;
  priority: number;
  tag: string;
  redelivered: number;
  headers: string;
  properties: string;
  body: Buffer;
  content_type: string;
  content_encoding: string;
}

export interface DeadLetterRow {
  id: number;
  queue: string;
  reason: string;
  raw: string;
  task_id: string | null;
  task_name: string | null;
  failed_at: number;
}

export interface PublishParams {
  queue: string;
  priority: number;
  not_before: number | null;
  now: number;
  redelivered: 0 | 1;
  headers: string;
  properties: string;
  body: Buffer;
  content_type: string;
  content_encoding: string;
}

export interface RevocationRow {
  seq: number;
  task_id: string;
  terminate: number;
  signal: string;
}

interface TagParams {
  id: number;
  tag: string;
}

export function prepareStatements(db: SqliteDatabase) {
  const sql = <P, R = unknown>(name: string) =>
    prepare(db, readSql(import.meta.url, name)) as unknown as Stmt<P, R>;
  return {
    publish: sql<PublishParams>('publish.sql'),
    promote: sql<{ queues: string; now: number }>('promote.sql'),
    restore: sql<{ now: number }>('restore.sql'),
    reserve: sql<{ queues: string; max: number; visible_at: number }, MessageRow>('reserve.sql'),
    nextDue: sql<{ queues: string }, { due: number | null }>('next-due.sql'),
    ack: sql<TagParams>('ack.sql'),
    rejectRequeue: sql<TagParams>('reject-requeue.sql'),
    take: sql<TagParams, Omit<MessageRow, 'tag' | 'redelivered'>>('take.sql'),
    deadLetter: sql<Omit<DeadLetterRow, 'id'>>('dead-letter.sql'),
    extend: sql<TagParams & { visible_at: number }>('extend.sql'),
    purge: sql<{ queue: string }>('purge.sql'),
    size: sql<{ queue: string }, { n: number }>('size.sql'),
    oldestAge: sql<{ queue: string; now: number }, { since: number | null }>('oldest-age.sql'),
    deadLettersList: sql<{ queue: string | null; limit: number }, DeadLetterRow>('dead-letters-list.sql'),
    deadLetterGet: sql<{ id: number }, { raw: string }>('dead-letter-get.sql'),
    deadLetterDelete: sql<{ id: number }>('dead-letter-delete.sql'),
    deadLettersPurge: sql<{ queue: string | null }>('dead-letters-purge.sql'),
    rateSlot: sql<{ key: string; now: number; spacing: number }, { wait: number }>('rate-slot.sql'),
    revoke: sql<{ task_id: string; terminate: 0 | 1; signal: string; now: number }>('revoke.sql'),
    revocations: sql<{ cursor: number; since: number }, RevocationRow>('revocations.sql'),
    revocationsExpire: sql<{ before: number }>('revocations-expire.sql'),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

export function createSchema(db: SqliteDatabase): void {
  db.exec(readSql(import.meta.url, 'schema.sql'));
}

/**
 * What canvas needs from an app, kept as an interface so canvas/ never imports the app class (the app imports
 * canvas to build signatures from tasks).
 */
import type { ResultBackend } from '../backend/port.js';
import type { AsyncResult, GroupResult, ResultSource } from '../result/results.js';
import type { SignatureDict } from '../protocol/types.js';

/** Either handle a canvas gives back: a task's result, or a group's. */
export type AnyResult = AsyncResult | GroupResult;

/** The app side: publishing one task message, and the result store. */
export interface CanvasApp extends ResultSource {
  /** Celery's `reply_to` for this process. */
  readonly oid: string;
  /**
   * Publishes one task message from Celery-named options (`task_id`, `countdown`, `queue`, `link`, `link_error`,
   * `chain`, `chord`, `group_id`, `group_index`, `root_id`, `parent_id`, ...). Resolves once the broker has stored
   * the batch it went out in, so a worker can acknowledge its own message after the follow-ups are safe.
   */
  sendFromOptions(name: string, args: unknown[], kwargs: Record<string, unknown>, options: Record<string, unknown>): Promise<void>;
  backend(): Promise<ResultBackend>;
}

/** What a Signature calls to send or freeze itself: the canvas engine bound to an app. */
export interface CanvasHost extends ResultSource {
  readonly oid: string;
  apply(d: SignatureDict, args: unknown[], kwargs: Record<string, unknown>, options: Record<string, unknown>): Promise<AnyResult>;
  freeze(d: SignatureDict): AnyResult;
}

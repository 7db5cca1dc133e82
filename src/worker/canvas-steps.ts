/**
 * What a finished task does for the canvas it belongs to, as a Celery 5 worker does it (celery/app/trace.py and
 * the result backends' `on_chord_part_return`):
 *
 * - on success: apply the callbacks (`link`) and the next step of its chain with its result in front;
 * - on failure: store the same FAILURE for the rest of its chain, and send its errbacks (`link_error`) with its id;
 * - as a chord header member, whatever the outcome: record its part; the member that completes the join sends
 *   the body with every result in header order, or, when a member failed, stores a ChordError for the body and
 *   sends the body's errbacks.
 *
 * All of this happens before the task's message is acknowledged, so a crash in between repeats it rather than
 * losing it (the join counts a repeated part once).
 */
import type { WorkerApp } from './worker-app.js';
import type { AnyResult } from '../canvas/host.js';
import { groupDict, kindOf } from '../canvas/dicts.js';
import type { ChordPart } from '../backend/port.js';
import { ChordError, deserializeError, formatTraceback, serializeError, toError } from '../errors/index.js';
import { buildResultMeta } from '../protocol/result-meta.js';
import { pyRepr } from '../protocol/repr.js';
import type { SignatureDict, TaskRequest, TaskState } from '../protocol/types.js';
import type { Logger } from '../util/logger.js';

/** States whose value a chord body cannot use: they fail the chord (Celery's PROPAGATE_STATES). */
const PROPAGATE = new Set<TaskState>(['FAILURE', 'REVOKED']);

/** True when the request carries anything for canvas to do once it finishes. */
export function hasCanvas(req: TaskRequest): boolean {
  const e = req.embed;
  return !!(e.callbacks?.length || e.errbacks?.length || e.chain?.length || (e.chord && req.group));
}

export class CanvasSteps {
  constructor(
    private readonly app: WorkerApp,
    private readonly log: Logger,
  ) {}

  /**
   * Sends the callbacks and the next chain step with `value` in front of their arguments. Resolves with their
   * results in Celery's tuple form, for the task's stored `children`.
   */
  async succeeded(req: TaskRequest, value: unknown): Promise<unknown[]> {
    const sent: AnyResult[] = [];
    const parent = { parent_id: req.id, root_id: req.rootId ?? req.id };
    const callbacks = req.embed.callbacks ?? [];
    if (callbacks.length === 1) {
      sent.push(await this.app.canvas.apply(callbacks[0]!, [value], {}, parent));
    } else if (callbacks.length > 1) {
      // Celery applies group callbacks one by one and the plain ones together, as one group.
      const plain: SignatureDict[] = [];
      for (const cb of callbacks) {
        if (kindOf(cb) === 'group') sent.push(await this.app.canvas.apply(cb, [value], {}, parent));
        else plain.push(cb);
      }
      if (plain.length) sent.push(await this.app.canvas.apply(groupDict(plain), [value], {}, parent));
    }
    const chain = req.embed.chain;
    if (chain?.length) {
      const rest = chain.slice(0, -1);
      const next = chain[chain.length - 1]!;
      sent.push(await this.app.canvas.apply(next, [value], {}, { ...parent, chain: rest.length ? rest : null }));
    }
    return sent.map((r) => r.asTuple());
  }

  /**
   * A final failure: the steps of the chain it will never reach are stored as failed with the same error (and
   * count as failed parts of any chord they were in), then its errbacks are sent with its id.
   */
  async failed(req: TaskRequest, status: TaskState, error: unknown, traceback: string | null): Promise<void> {
    const backend = await this.app.backend();
    const steps = (req.embed.chain ?? []).filter((step) => typeof step.options?.task_id === 'string');
    // One write for all of them: whoever waits on the last step finds every step before it failed too.
    await backend.setMany(
      steps.map((step) => {
        const id = step.options.task_id as string;
        return { taskId: id, meta: buildResultMeta({ taskId: id, status, result: error, traceback }) };
      }),
    );
    for (const step of steps) {
      const id = step.options.task_id as string;
      const chord = step.options.chord as SignatureDict | undefined;
      const groupId = step.options.group_id;
      if (chord && typeof groupId === 'string') {
        const index = typeof step.options.group_index === 'number' ? step.options.group_index : null;
        await this.joinPart(groupId, chord, { taskId: id, groupIndex: index, status, result: error }, req);
      }
    }
    await this.sendErrbacks(req.embed.errbacks ?? [], req.id, req.rootId ?? req.id);
  }

  /** Records this task's part of its chord (a no-op unless it is a header member). */
  async chordPart(req: TaskRequest, status: TaskState, result: unknown): Promise<void> {
    if (!req.group || !req.embed.chord) return;
    await this.joinPart(req.group, req.embed.chord, { taskId: req.id, groupIndex: req.groupIndex, status, result }, req);
  }

  private async joinPart(groupId: string, body: SignatureDict, part: ChordPart, req: TaskRequest): Promise<void> {
    const backend = await this.app.backend();
    const parts = await backend.chordPartReturn(groupId, part);
    if (!parts) return;
    const failed = parts.find((p) => PROPAGATE.has(p.status));
    const bodyId = typeof body.options?.task_id === 'string' ? body.options.task_id : undefined;
    if (failed) {
      const cause = deserializeError(failed.result, null);
      const error = new ChordError(`Dependency ${failed.taskId} raised ${excRepr(failed.result)}`, { cause });
      this.log.error({ group: groupId, body: bodyId, failed: failed.taskId }, `Chord ${groupId} failed: ${error.message}`);
      if (bodyId) {
        await backend.set(bodyId, buildResultMeta({ taskId: bodyId, status: 'FAILURE', result: serializeError(error), traceback: formatTraceback(error) }));
      }
      const errbacks = body.options?.link_error;
      await this.sendErrbacks(Array.isArray(errbacks) ? (errbacks as SignatureDict[]) : [], bodyId ?? groupId, req.rootId ?? req.id);
    } else {
      try {
        await this.app.canvas.apply(body, [parts.map((p) => p.result)], {}, { parent_id: req.id, root_id: req.rootId ?? req.id });
      } catch (err) {
        // A body that cannot be sent as written fails, with the reason, where its caller waits; the member itself
        // succeeded. Store and broker errors propagate: the member's message stays unacknowledged and comes back.
        if (!(err instanceof TypeError || err instanceof RangeError) || !bodyId) throw err;
        const error = toError(err);
        this.log.error({ group: groupId, body: bodyId, err: error.message }, `Chord ${groupId}: its body could not be sent: ${error.message}`);
        await backend.set(bodyId, buildResultMeta({ taskId: bodyId, status: 'FAILURE', result: serializeError(error), traceback: formatTraceback(error) }));
      }
    }
    await backend.chordDone(groupId);
  }

  /** Celery sends a failed task's errbacks together, as one group, with the failed task's id as the argument. */
  private async sendErrbacks(errbacks: readonly SignatureDict[], failedId: string, rootId: string): Promise<void> {
    if (!errbacks.length) return;
    await this.app.canvas.apply(groupDict([...errbacks]), [failedId], {}, { parent_id: failedId, root_id: rootId });
  }
}

/** A stored exception as Python's repr shows it (`KeyError('oops')`), which is how Celery words a ChordError. */
function excRepr(value: unknown): string {
  const v = value as { exc_type?: unknown; exc_message?: unknown } | null;
  if (v && typeof v.exc_type === 'string') {
    const args = Array.isArray(v.exc_message) ? v.exc_message : [v.exc_message];
    return `${v.exc_type}(${args.map((a) => pyRepr(a)).join(', ')})`;
  }
  return pyRepr(value);
}

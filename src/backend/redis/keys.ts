/**
 * Key names of Celery's Redis result backend, with the optional global key prefix.
 *
 * Celery 5.2's result backend has no global prefix at all (only kombu's transport does), so a prefixed store is
 * readable by Celery 5.3 and later only. Those versions put the prefix in front of the task, group and chord key
 * prefixes, followed by `_` unless it already ends in one of `:_-.` (5.3.0 always added `_`); the result PUBLISH
 * uses the key as its channel, so the channel carries the prefix too. We follow the later rule.
 */

/** Celery's `task_keyprefix`: a task's meta lives at `celery-task-meta-<task id>`. */
export const TASK_KEY_PREFIX = 'celery-task-meta-';

/**
 * Celery's `group_keyprefix`: a saved group lives at `celery-taskset-meta-<group id>`, and the chord join of a header
 * group beside it, at the same name plus `.j` (parts), `.t` (size adjustment) and `.s` (size).
 */
export const GROUP_KEY_PREFIX = 'celery-taskset-meta-';

export interface KeyNames {
  /** The meta key of a task, which is also the channel its updates are published on. */
  task(taskId: string): string;
  /** A group's key (Celery's `get_key_for_group`): the saved group, or with a suffix such as `.j` its chord join. */
  group(groupId: string, suffix?: string): string;
  /** A caller-named key (chord counters such as `celery-taskset-meta-<gid>.t`) under the global prefix. */
  other(key: string): string;
}

export function keyNames(globalKeyprefix: string): KeyNames {
  const prefix = globalKeyprefix === '' || /[:_\-.]$/.test(globalKeyprefix) ? globalKeyprefix : `${globalKeyprefix}_`;
  return {
    task: (taskId) => `${prefix}${TASK_KEY_PREFIX}${taskId}`,
    group: (groupId, suffix = '') => `${prefix}${GROUP_KEY_PREFIX}${groupId}${suffix}`,
    other: (key) => `${prefix}${key}`,
  };
}

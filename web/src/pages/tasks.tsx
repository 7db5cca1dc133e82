// Tasks: the history, newest first, searched and filtered through GET /api/v1/tasks with cursor paging, kept up to
// date by the stream's `tasks` batches (all batches of one frame applied in one state update), with bulk actions.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorText } from '../api.js';
import { navigate } from '../router.js';
import { subscribe } from '../stream.js';
import type { TaskPage, TaskRow } from '../types.js';
import { announce, confirmAction, useCanAct } from '../ui.js';
import { applyChanges, bulkFilter, filterFromSearch, filterQuery, filterToSearch, instant, isEmpty, type TaskFilter } from './task-filter.js';
import { TasksTable } from './tasks-table.js';

const PAGE = 100;
const MAX_RECENT = 10_000;
/** Live rows beyond this push the oldest off the end (they come back with Load more), so memory stays bounded. */
const MAX_ROWS = 20_000;
const STATES = ['PENDING', 'RECEIVED', 'STARTED', 'PROGRESS', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED'];
const SINCE = [
  ['', 'Any time'],
  ['15m', 'Last 15 minutes'],
  ['1h', 'Last hour'],
  ['24h', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
];

export function TasksPage(props: { search: string }) {
  const filter = filterFromSearch(props.search);
  const filterKey = filterToSearch(filter);
  const canAct = useCanAct();
  const [rows, setRows] = useState<TaskRow[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const filterRef = useRef(filter);
  filterRef.current = filter;
  // Every change the stream brought since the list was asked for: an answer read before a change arrives after it,
  // and must not put the older state back.
  const recent = useRef(new Map<string, TaskRow>());
  const floor = useRef(-Infinity);
  // Rows pushed off the end by live ones: the cursor no longer follows the last row shown, so the next page is
  // asked for by time instead.
  const trimmed = useRef(false);

  useEffect(() => subscribe('hello', () => setGeneration((g) => g + 1)), []);
  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    recent.current.clear();
    trimmed.current = false;
    api<TaskPage>('/tasks', { query: { ...filterQuery(filter), limit: PAGE }, signal: controller.signal }).then(
      (page) => {
        floor.current = page.next ? (page.tasks.at(-1)?.createdAt ?? -Infinity) : -Infinity;
        setRows(applyChanges(page.tasks, recent.current.values(), filter, Date.now(), floor.current));
        setNext(page.next);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (controller.signal.aborted) return;
        setError(errorText(e));
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [filterKey, generation]);

  // Stream batches wait for the next animation frame, and every batch that arrived by then is applied at once.
  useEffect(() => {
    let pending: TaskRow[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const changes = pending;
      pending = [];
      for (const c of changes) {
        const seen = recent.current.get(c.id);
        if (seen && seen.updatedAt > c.updatedAt) continue;
        recent.current.delete(c.id);
        recent.current.set(c.id, c);
      }
      // Bounded: the oldest changes go first, and they are long applied to the rows.
      for (const id of recent.current.keys()) {
        if (recent.current.size <= MAX_RECENT) break;
        recent.current.delete(id);
      }
      setRows((current) => {
        const next = applyChanges(current, changes, filterRef.current, Date.now(), floor.current);
        const limit = Math.max(MAX_ROWS, current.length);
        if (next.length <= limit) return next;
        trimmed.current = true;
        return next.slice(0, limit);
      });
    };
    const unsubscribe = subscribe('tasks', (data) => {
      if (!Array.isArray(data)) return;
      pending.push(...(data as TaskRow[]));
      if (!frame) frame = requestAnimationFrame(flush);
    });
    return () => {
      unsubscribe();
      cancelAnimationFrame(frame);
    };
  }, []);

  const loadMore = async () => {
    const byTime = trimmed.current;
    const oldest = rows.at(-1);
    if (!next && !(byTime && oldest)) return;
    setLoading(true);
    try {
      const until = byTime && oldest ? Math.min(oldest.createdAt, instant(filter.until, Date.now()) ?? Infinity) / 1000 : undefined;
      const query = until === undefined ? { ...filterQuery(filter), limit: PAGE, cursor: next } : { ...filterQuery(filter), limit: PAGE, until };
      const page = await api<TaskPage>('/tasks', { query });
      trimmed.current = false;
      const ids = new Set(page.tasks.map((t) => t.id));
      const older = applyChanges(page.tasks, [...recent.current.values()].filter((c) => ids.has(c.id)), filter, Date.now());
      floor.current = page.next ? (page.tasks.at(-1)?.createdAt ?? floor.current) : -Infinity;
      setRows((current) => {
        const seen = new Set(current.map((r) => r.id));
        return [...current, ...older.filter((t) => !seen.has(t.id))];
      });
      setNext(page.next);
      announce(`${page.tasks.length} more tasks loaded`);
    } catch (e) {
      announce(errorText(e), 'error');
    } finally {
      setLoading(false);
    }
  };

  return (
    <>
      <h1>Tasks</h1>
      <Filters key={filterKey} filter={filter} />
      {canAct && <BulkActions filter={filter} />}
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : (
        <>
          <p class="muted" aria-live="polite">
            {loading ? 'Loading…' : `${rows.length} task${rows.length === 1 ? '' : 's'} shown${next || trimmed.current ? '; more to load' : ''}`}
          </p>
          <TasksTable rows={rows} label="Tasks" />
          {(next || trimmed.current) && (
            <button type="button" class="more" onClick={() => void loadMore()} disabled={loading}>
              Load more
            </button>
          )}
        </>
      )}
    </>
  );
}

function Filters(props: { filter: TaskFilter }) {
  const [draft, setDraft] = useState(props.filter);
  const set = (k: keyof TaskFilter) => (e: Event) => setDraft({ ...draft, [k]: (e.currentTarget as HTMLInputElement).value });
  const apply = (f: TaskFilter) => navigate(`/tasks${filterToSearch(f)}`);
  const applyNow = (k: keyof TaskFilter) => (e: Event) => {
    const f = { ...draft, [k]: (e.currentTarget as HTMLSelectElement).value };
    setDraft(f);
    apply(f);
  };
  return (
    <form class="filters" role="search" aria-label="Filter tasks" onSubmit={(e) => (e.preventDefault(), apply(draft))}>
      <label>
        Search
        <input type="search" name="q" value={draft.q} onInput={set('q')} placeholder="id, name, arguments, result…" />
      </label>
      <label>
        State
        <select name="state" value={draft.state} onChange={applyNow('state')}>
          <option value="">Any state</option>
          {!STATES.includes(draft.state) && draft.state && <option value={draft.state}>{draft.state}</option>}
          {STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Name
        <input name="name" value={draft.name} onInput={set('name')} placeholder="exact, or prefix*" />
      </label>
      <label>
        Worker
        <input name="worker" value={draft.worker} onInput={set('worker')} />
      </label>
      <label>
        Queue
        <input name="queue" value={draft.queue} onInput={set('queue')} />
      </label>
      <label>
        Since
        <select name="since" value={draft.since} onChange={applyNow('since')}>
          {!SINCE.some(([v]) => v === draft.since) && <option value={draft.since}>{draft.since}</option>}
          {SINCE.map(([v, l]) => (
            <option key={v} value={v}>
              {l}
            </option>
          ))}
        </select>
      </label>
      <label>
        Until
        <input name="until" value={draft.until} onInput={set('until')} placeholder="ISO 8601" />
      </label>
      <button type="submit" class="primary">
        Apply filters
      </button>
      <button type="button" onClick={() => apply({ q: '', state: '', name: '', worker: '', queue: '', since: '', until: '' })}>
        Clear filters
      </button>
    </form>
  );
}

interface BulkResult {
  matched: number;
  retried?: string[];
  revoked?: string[];
  skipped: { id: string; reason: string }[];
}

function BulkActions(props: { filter: TaskFilter }) {
  const all = isEmpty(props.filter);
  const scope = all ? 'every task in the history (no filter is set)' : `the tasks matching ${filterToSearch(props.filter).slice(1).replaceAll('&', ', ')}`;
  const body = (extra: Record<string, unknown>) => ({ filter: bulkFilter(props.filter), limit: 1000, all, ...extra });
  const bulk = (verb: 'retry' | 'revoke', terminate = false) =>
    confirmAction({
      title: verb === 'retry' ? 'Retry matching tasks' : terminate ? 'Terminate matching tasks' : 'Revoke matching tasks',
      confirmLabel: verb === 'retry' ? 'Retry them' : terminate ? 'Terminate them' : 'Revoke them',
      danger: verb === 'revoke',
      body: (
        <p>
          {verb === 'retry' ? 'Send again, with their original arguments, the finished tasks among ' : 'Revoke the unfinished tasks among '}
          {scope} (at most 1000).{terminate ? ' Running ones are stopped.' : ''}
        </p>
      ),
      action: async () => {
        const r = await api<BulkResult>(`/tasks/${verb}`, { method: 'POST', body: body(verb === 'revoke' ? { terminate } : {}) });
        const done = (r.retried ?? r.revoked ?? []).length;
        return `${r.matched} matched, ${done} ${verb === 'retry' ? 'retried' : 'revoked'}, ${r.skipped.length} skipped`;
      },
    });
  return (
    <div class="toolbar" role="group" aria-label="Bulk actions on the matching tasks">
      <button type="button" onClick={() => bulk('retry')}>
        Retry matching
      </button>
      <button type="button" onClick={() => bulk('revoke')}>
        Revoke matching
      </button>
      <button type="button" class="danger" onClick={() => bulk('revoke', true)}>
        Terminate matching
      </button>
    </div>
  );
}

// One task: its fields, arguments, result or error, progress, timeline and canvas tree, with revoke, terminate and
// retry. Stream updates of this task refetch it, so state and progress move while the page is open.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { api } from '../api.js';
import { navigate } from '../router.js';
import { subscribe } from '../stream.js';
import type { TaskDetail, TaskRow, TaskTree, TreeNode } from '../types.js';
import { Json, Link, LoadState, ProgressBar, StateBadge, confirmAction, fmtSeconds, fmtTime, useCanAct, useLoad } from '../ui.js';

const FINISHED = new Set(['SUCCESS', 'FAILURE', 'REVOKED', 'REJECTED']);
const taskHref = (id: string) => `/tasks/${encodeURIComponent(id)}`;

export function TaskPage(props: { id: string }) {
  const path = `/tasks/${encodeURIComponent(props.id)}`;
  const task = useLoad((signal) => api<TaskDetail>(path, { signal }), path);
  const tree = useLoad((signal) => api<TaskTree>(`${path}/tree`, { query: { depth: 3 }, signal }), path);
  const lastTree = useRef(0);
  const reload = useRef((_withTree: boolean) => {});
  reload.current = (withTree) => {
    task.reload();
    if (!withTree) return;
    lastTree.current = Date.now();
    tree.reload();
  };

  // Changes come at most every 250 ms; one refetch per frame that saw a change of this task or of a task in its
  // tree. Progress alone leaves the tree as it is; a new state or a new child redraws it.
  useEffect(() => {
    let frame = 0;
    let withTree = false;
    return subscribe('tasks', (data) => {
      if (!Array.isArray(data)) return;
      const inTree = new Set([props.id, ...(tree.data ? [tree.data.parent, ...tree.data.children, ...(tree.data.group?.members ?? [])].map((n) => n?.id) : [])]);
      const mine = (data as TaskRow[]).filter((t) => t.id === props.id);
      // A task sent after this one may be its child: the tree is read again for those, at most every 2 s.
      const since = task.data?.createdAt ?? 0;
      const maybeChild = Date.now() - lastTree.current > 2000 && (data as TaskRow[]).some((t) => !inTree.has(t.id) && t.createdAt >= since);
      const treeChanged = maybeChild || (data as TaskRow[]).some((t) => t.id !== props.id && (inTree.has(t.id) || !tree.data));
      if (!mine.length && !treeChanged) return;
      withTree ||= treeChanged || mine.some((t) => t.state !== task.data?.state);
      if (!frame) frame = requestAnimationFrame(() => ((frame = 0), reload.current(withTree), (withTree = false)));
    });
  }, [props.id, tree.data, task.data?.state]);

  const t = task.data;
  return (
    <>
      <p class="crumbs">
        <Link href="/tasks">Tasks</Link> /
      </p>
      <h1>Task</h1>
      <LoadState loading={task.loading && !t} error={task.error} />
      {t && (
        <>
          <p class="subtitle">
            <strong>{t.name ?? '(unknown name)'}</strong> <span class="mono">{t.id}</span> <StateBadge state={t.state} />
          </p>
          {!t.known && <p class="muted">Neither the history nor the result store knows this id (Celery reports PENDING for any unknown id).</p>}
          <TaskActions task={t} onDone={() => reload.current(true)} />
          {t.progress !== null && t.progress !== undefined && (
            <section aria-labelledby="progress-h">
              <h2 id="progress-h">Progress</h2>
              <ProgressBar progress={t.progress} label="Task progress" />
            </section>
          )}
          <Fields task={t} />
          <section aria-labelledby="args-h">
            <h2 id="args-h">Arguments</h2>
            <h3>args</h3>
            <Json value={t.args ?? t.argsJson ?? '—'} label="Positional arguments" />
            <h3>kwargs</h3>
            <Json value={t.kwargs ?? t.kwargsJson ?? '—'} label="Keyword arguments" />
          </section>
          {t.error ? (
            <section aria-labelledby="error-h">
              <h2 id="error-h">Error</h2>
              <p>
                <strong>{t.error.type ?? 'Error'}</strong>: {t.error.message}
              </p>
              {t.error.traceback && (
                <pre class="traceback" tabIndex={0} aria-label="Traceback">
                  {t.error.traceback}
                </pre>
              )}
            </section>
          ) : (
            <section aria-labelledby="result-h">
              <h2 id="result-h">Result</h2>
              <Json value={t.result ?? null} label="Result" />
            </section>
          )}
          <section aria-labelledby="tree-h">
            <h2 id="tree-h">Canvas</h2>
            {tree.data ? <Tree tree={tree.data} /> : <LoadState loading={tree.loading} error={tree.error} />}
          </section>
          <section aria-labelledby="timeline-h">
            <h2 id="timeline-h">Timeline</h2>
            <Timeline task={t} />
          </section>
        </>
      )}
    </>
  );
}

function Fields(props: { task: TaskDetail }) {
  const t = props.task;
  const rows: [string, ComponentChildren][] = [
    ['Worker', t.worker ? <Link href={`/workers/${encodeURIComponent(t.worker)}`}>{t.worker}</Link> : '—'],
    ['Queue', t.queue ?? '—'],
    ['Retries', t.retries ?? '—'],
    ['Runtime', fmtSeconds(t.runtime)],
    ['Created', fmtTime(t.createdAt)],
    ['Sent', fmtTime(t.sentAt)],
    ['Received', fmtTime(t.receivedAt)],
    ['Started', fmtTime(t.startedAt)],
    ['Finished', fmtTime(t.finishedAt)],
    ['ETA', t.eta ?? '—'],
    ['Expires', t.expires ?? '—'],
    ['Parent', t.parentId ? <Link href={taskHref(t.parentId)}>{t.parentId}</Link> : '—'],
    ['Root', t.rootId && t.rootId !== t.id ? <Link href={taskHref(t.rootId)}>{t.rootId}</Link> : t.rootId ? 'this task' : '—'],
    ['Group', t.groupId ?? '—'],
  ];
  return (
    <dl class="fields">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function TaskActions(props: { task: TaskDetail; onDone: () => void }) {
  const canAct = useCanAct();
  if (!canAct || !props.task.known) return null;
  const t = props.task;
  const id = encodeURIComponent(t.id);
  const finished = FINISHED.has(t.state);
  const label = `${t.name ?? 'task'} ${t.id}`;
  return (
    <div class="toolbar" role="group" aria-label="Task actions">
      {!finished && (
        <>
          <button
            type="button"
            onClick={() =>
              confirmAction({
                title: 'Revoke task',
                body: <p>Revoke {label}: a worker will not run it. If it is already running it goes on.</p>,
                confirmLabel: 'Revoke',
                danger: true,
                action: async () => (await api(`/tasks/${id}`, { method: 'DELETE' }), props.onDone(), `Task ${t.id} revoked`),
              })
            }
          >
            Revoke
          </button>
          <button
            type="button"
            class="danger"
            onClick={() =>
              confirmAction({
                title: 'Terminate task',
                body: <p>Revoke {label} and stop it with SIGTERM if it is running.</p>,
                confirmLabel: 'Terminate',
                danger: true,
                action: async () => (await api(`/tasks/${id}`, { method: 'DELETE', query: { terminate: true } }), props.onDone(), `Task ${t.id} terminated`),
              })
            }
          >
            Terminate
          </button>
        </>
      )}
      {finished && (
        <button
          type="button"
          onClick={() =>
            confirmAction({
              title: 'Retry task',
              body: <p>Send {label} again as a new task, with its original arguments and queue.</p>,
              confirmLabel: 'Retry',
              action: async () => {
                const r = await api<{ id: string }>(`/tasks/${id}/retry`, { method: 'POST' });
                navigate(taskHref(r.id));
                return `Retried as task ${r.id}`;
              },
            })
          }
        >
          Retry
        </button>
      )}
    </div>
  );
}

function Timeline(props: { task: TaskDetail }) {
  const entries = props.task.timeline;
  if (!entries.length) return <p class="muted">No events recorded.</p>;
  const start = entries[0]?.timestamp ?? 0;
  return (
    <table class="table" aria-label="Timeline">
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">+</th>
          <th scope="col">Event</th>
          <th scope="col">Host</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((e, i) => (
          <tr key={i}>
            <td>{fmtTime(e.timestamp)}</td>
            <td>{fmtSeconds((e.timestamp - start) / 1000)}</td>
            <td>{e.type}</td>
            <td>{e.hostname ?? '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function NodeLink(props: { node: TreeNode; current: string }) {
  const n = props.node;
  return (
    <span class="node">
      {n.id === props.current ? <strong>{n.name ?? n.id}</strong> : <Link href={taskHref(n.id)}>{n.name ?? n.id}</Link>} <StateBadge state={n.state} />{' '}
      <span class="mono muted">{n.id.slice(0, 8)}</span>
    </span>
  );
}

/** The task among its parent, descendants (nested under their parents) and group members, each a link. */
function Tree(props: { tree: TaskTree }) {
  const { tree } = props;
  const byParent = new Map<string, TreeNode[]>();
  for (const c of tree.children) {
    const list = byParent.get(c.parentId ?? '') ?? [];
    list.push(c);
    byParent.set(c.parentId ?? '', list);
  }
  const branch = (id: string): ComponentChildren => {
    const kids = byParent.get(id);
    if (!kids?.length) return null;
    return (
      <ul>
        {kids.map((k) => (
          <li key={k.id}>
            <NodeLink node={k} current={tree.id} />
            {branch(k.id)}
          </li>
        ))}
      </ul>
    );
  };
  const self = (
    <li>
      <NodeLink node={tree.task} current={tree.id} />
      {branch(tree.id)}
    </li>
  );
  return (
    <div class="tree" role="group" aria-label="Canvas tree">
      <ul>
        {tree.parent ? (
          <li>
            <NodeLink node={tree.parent} current={tree.id} /> (parent)
            <ul>{self}</ul>
          </li>
        ) : (
          self
        )}
      </ul>
      {tree.group && (
        <>
          <h3>Group {tree.group.id}</h3>
          <ul>
            {tree.group.members.map((m) => (
              <li key={m.id}>
                <NodeLink node={m} current={tree.id} />
              </li>
            ))}
          </ul>
        </>
      )}
      {tree.truncated && <p class="muted">The tree is cut short: it has more nodes than one answer carries.</p>}
    </div>
  );
}

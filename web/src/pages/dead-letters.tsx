// Dead letters: messages no worker could take, kept instead of dropped; each can be read, requeued or deleted.
import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import type { DeadLetter } from '../types.js';
import { Link, LoadState, confirmAction, fmtTime, useCanAct, useLoad } from '../ui.js';

export function DeadLettersPage() {
  const [queue, setQueue] = useState('');
  const [draft, setDraft] = useState('');
  const list = useLoad((signal) => api<{ deadLetters: DeadLetter[] }>('/dead-letters', { query: { queue, limit: 1000 }, signal }), `dl:${queue}`);
  const canAct = useCanAct();
  const [open, setOpen] = useState<string | null>(null);
  const letters = list.data?.deadLetters ?? [];

  const requeue = (ids: string[] | 'all', what: string) =>
    confirmAction({
      title: 'Requeue dead letters',
      body: <p>Put {what} back on {ids === 'all' && !queue ? 'their queues' : 'its queue'}, for a worker to take again.</p>,
      confirmLabel: 'Requeue',
      action: async () => {
        const r = await api<{ requeued: number; notFound: string[] }>('/dead-letters/requeue', {
          method: 'POST',
          body: ids === 'all' ? { all: true, ...(queue ? { queue } : {}) } : { ids },
        });
        list.reload();
        return `${r.requeued} dead letter(s) requeued${r.notFound.length ? `, ${r.notFound.length} no longer there` : ''}`;
      },
    });
  const remove = (id: string, what: string) =>
    confirmAction({
      title: 'Delete dead letter',
      body: <p>Delete {what} for good. Its task will never run.</p>,
      confirmLabel: 'Delete',
      danger: true,
      action: async () => {
        await api(`/dead-letters/${encodeURIComponent(id)}`, { method: 'DELETE' });
        list.reload();
        return `Dead letter ${id} deleted`;
      },
    });

  return (
    <>
      <h1>Dead letters</h1>
      <form class="filters" role="search" aria-label="Filter dead letters" onSubmit={(e) => (e.preventDefault(), setQueue(draft.trim()))}>
        <label>
          Queue
          <input name="queue" value={draft} onInput={(e) => setDraft(e.currentTarget.value)} placeholder="any queue" />
        </label>
        <button type="submit">Apply filter</button>
        {canAct && letters.length > 0 && (
          <button type="button" onClick={() => requeue('all', queue ? `every dead letter of ${queue}` : 'every dead letter')}>
            Requeue all
          </button>
        )}
      </form>
      <LoadState loading={list.loading && !list.data} error={list.error} empty={!letters.length} emptyText="No dead letters." />
      {letters.length > 0 && (
        <table class="table" role="table" aria-label="Dead letters">
          <thead>
            <tr>
              <th scope="col">Failed at</th>
              <th scope="col">Queue</th>
              <th scope="col">Task</th>
              <th scope="col">Reason</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {letters.map((d) => {
              const what = `the dead letter ${d.taskName ?? d.id}${d.taskId ? ` (task ${d.taskId})` : ''}`;
              return (
                <Fragment key={d.id}>
                  <tr data-dead-letter={d.id} data-queue={d.queue}>
                    <td>{fmtTime(d.failedAt)}</td>
                    <td>{d.queue}</td>
                    <td>
                      {d.taskName ?? '(unknown)'}
                      {d.taskId && (
                        <>
                          {' '}
                          <Link href={`/tasks/${encodeURIComponent(d.taskId)}`} class="mono" aria-label={`Task ${d.taskId}`}>
                            {d.taskId.slice(0, 8)}
                          </Link>
                        </>
                      )}
                    </td>
                    <td class="reason">{d.reason}</td>
                    <td class="actions">
                      <button type="button" class="small" aria-expanded={open === d.id} aria-label={`Inspect ${what}`} onClick={() => setOpen(open === d.id ? null : d.id)}>
                        Inspect
                      </button>
                      {canAct && (
                        <>
                          <button type="button" class="small" aria-label={`Requeue ${what}`} onClick={() => requeue([d.id], what)}>
                            Requeue
                          </button>
                          <button type="button" class="small danger" aria-label={`Delete ${what}`} onClick={() => remove(d.id, what)}>
                            Delete
                          </button>
                        </>
                      )}
                    </td>
                  </tr>
                  {open === d.id && (
                    <tr class="detail-row">
                      <td colSpan={5}>
                        <dl class="fields">
                          <div>
                            <dt>Id</dt>
                            <dd class="mono">{d.id}</dd>
                          </div>
                          <div>
                            <dt>Arguments</dt>
                            <dd class="mono">{d.argsPreview ?? '—'}</dd>
                          </div>
                          <div>
                            <dt>Reason</dt>
                            <dd>{d.reason}</dd>
                          </div>
                        </dl>
                      </td>
                    </tr>
                  )}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      )}
    </>
  );
}

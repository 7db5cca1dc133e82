// Queues: depth, consumers and the oldest message's age, with a warning for a queue that has work and no consumer.
// Queue depth is not part of the stream, so the page refetches every few seconds while it is open.
import { useEffect } from 'preact/hooks';
import { api } from '../api.js';
import type { QueueInfo } from '../types.js';
import { Link, LoadState, fmtAge, useLoad } from '../ui.js';

const REFRESH_MS = 5000;

export function QueuesPage() {
  const list = useLoad((signal) => api<{ queues: QueueInfo[] }>('/queues', { signal }), 'queues');
  useEffect(() => {
    const timer = setInterval(() => document.visibilityState === 'visible' && list.reload(), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  const queues = list.data?.queues ?? [];
  const orphaned = queues.filter((q) => q.warning === 'no-consumer');
  return (
    <>
      <h1>Queues</h1>
      {orphaned.length > 0 && (
        <p class="warning" role="alert">
          ⚠ {orphaned.length === 1 ? 'Queue' : 'Queues'} {orphaned.map((q) => q.name).join(', ')} {orphaned.length === 1 ? 'has' : 'have'} messages waiting and no
          consumer: no worker will run them.
        </p>
      )}
      <LoadState loading={list.loading && !list.data} error={list.error} empty={!queues.length} emptyText="No queue is known." />
      {queues.length > 0 && (
        <table class="table" role="table" aria-label="Queues">
          <thead>
            <tr>
              <th scope="col">Queue</th>
              <th scope="col">Messages</th>
              <th scope="col">Consumers</th>
              <th scope="col">Oldest message</th>
              <th scope="col">Warning</th>
            </tr>
          </thead>
          <tbody>
            {queues.map((q) => (
              <tr key={q.name} data-queue={q.name} data-warning={q.warning ?? undefined} class={q.warning ? 'warn-row' : undefined}>
                <td>
                  <Link href={`/tasks?queue=${encodeURIComponent(q.name)}`} aria-label={`Tasks of queue ${q.name}`}>
                    {q.name}
                  </Link>
                </td>
                <td>{q.messages}</td>
                <td>
                  {q.consumers ?? '—'}
                  {q.consumerNames?.length ? (
                    <span class="muted">
                      {' '}
                      (
                      {q.consumerNames.map((c, i) => (
                        <span key={c}>
                          {i > 0 && ', '}
                          <Link href={`/workers/${encodeURIComponent(c)}`}>{c}</Link>
                        </span>
                      ))}
                      )
                    </span>
                  ) : null}
                </td>
                <td>
                  {fmtAge(q.oldestMessageAgeSeconds)}
                  {q.oldestMessageAgeSource === 'history' && <span class="muted"> (estimate)</span>}
                </td>
                <td>{q.warning === 'no-consumer' ? <span class="badge state-failure">⚠ no consumer</span> : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

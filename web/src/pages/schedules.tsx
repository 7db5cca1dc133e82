// Schedules (when the app has a schedule store): next fire times, pause and resume, run now.
import { useEffect } from 'preact/hooks';
import { api } from '../api.js';
import type { Schedule } from '../types.js';
import { Link, LoadState, confirmAction, fmtTime, useCanAct, useLoad } from '../ui.js';

export function SchedulesPage() {
  const list = useLoad((signal) => api<{ available: boolean; schedules: Schedule[] }>('/schedules', { signal }), 'schedules');
  const canAct = useCanAct();
  // Next fire times move on as schedules fire; a refetch a few times a minute keeps them current.
  useEffect(() => {
    const timer = setInterval(() => document.visibilityState === 'visible' && list.reload(), 15_000);
    return () => clearInterval(timer);
  }, []);
  const schedules = list.data?.schedules ?? [];
  const act = (s: Schedule, verb: 'pause' | 'resume' | 'run') =>
    confirmAction({
      title: verb === 'run' ? 'Run schedule now' : verb === 'pause' ? 'Pause schedule' : 'Resume schedule',
      body: (
        <p>
          {verb === 'run' ? `Send ${s.task} now, as schedule ${s.name} would.` : verb === 'pause' ? `${s.name} stops firing until resumed.` : `${s.name} fires again on its schedule.`}
        </p>
      ),
      confirmLabel: verb === 'run' ? 'Run now' : verb === 'pause' ? 'Pause' : 'Resume',
      action: async () => {
        await api(`/schedules/${encodeURIComponent(s.name)}/${verb}`, { method: 'POST' });
        list.reload();
        return `Schedule ${s.name}: ${verb === 'run' ? 'sent now' : verb === 'pause' ? 'paused' : 'resumed'}`;
      },
    });
  return (
    <>
      <h1>Schedules</h1>
      <LoadState loading={list.loading && !list.data} error={list.error} />
      {list.data && !list.data.available && <p class="muted">This app has no schedule store, so there are no schedules to show.</p>}
      {list.data?.available && !schedules.length && <p class="muted">No schedules.</p>}
      {schedules.length > 0 && (
        <table class="table" role="table" aria-label="Schedules">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Task</th>
              <th scope="col">Schedule</th>
              <th scope="col">Status</th>
              <th scope="col">Next run</th>
              <th scope="col">Last run</th>
              <th scope="col">Runs</th>
              {canAct && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {schedules.map((s) => (
              <tr key={s.name} data-schedule={s.name} data-paused={String(s.paused)}>
                <td>{s.name}</td>
                <td>
                  <Link href={`/tasks?name=${encodeURIComponent(s.task)}`}>{s.task}</Link>
                </td>
                <td class="mono">{s.schedule}</td>
                <td>
                  {s.paused ? <span class="badge state-revoked">paused</span> : <span class="badge state-success">active</span>}
                  {s.error && <span class="error"> {s.error}</span>}
                </td>
                <td>{s.paused ? '—' : fmtTime(s.nextRunAt)}</td>
                <td>
                  {fmtTime(s.lastRunAt)}
                  {s.lastTaskId && (
                    <>
                      {' '}
                      <Link href={`/tasks/${encodeURIComponent(s.lastTaskId)}`} aria-label={`Last task of ${s.name}`}>
                        task
                      </Link>
                    </>
                  )}
                </td>
                <td>{s.totalRuns}</td>
                {canAct && (
                  <td class="actions">
                    {s.paused ? (
                      <button type="button" class="small" aria-label={`Resume ${s.name}`} onClick={() => act(s, 'resume')}>
                        Resume
                      </button>
                    ) : (
                      <button type="button" class="small" aria-label={`Pause ${s.name}`} onClick={() => act(s, 'pause')}>
                        Pause
                      </button>
                    )}
                    <button type="button" class="small" aria-label={`Run ${s.name} now`} onClick={() => act(s, 'run')}>
                      Run now
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

// A virtualized table of tasks: however many rows are loaded, only those in view (plus a few either side) are in
// the DOM, each at a fixed height, so thousands of live rows scroll and update without layout work for the rest.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { TaskRow } from '../types.js';
import { Link, ProgressBar, StateBadge, fmtSeconds, fmtTime } from '../ui.js';

const ROW_HEIGHT = 36;
const OVERSCAN = 8;

export function TasksTable(props: { rows: TaskRow[]; label: string }) {
  const scroller = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 600 });
  const frame = useRef(0);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setView({ top: el.scrollTop, height: el.clientHeight || 600 });
    measure();
    const observer = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(measure);
    observer?.observe(el);
    return () => {
      observer?.disconnect();
      cancelAnimationFrame(frame.current);
    };
  }, []);

  // Scroll events come faster than frames; one measurement per frame is all rendering can use.
  const onScroll = () => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      const el = scroller.current;
      if (el) setView({ top: el.scrollTop, height: el.clientHeight || 600 });
    });
  };

  // Rows outside the view are not in the DOM, so Tab cannot reach them: the arrow keys (and Page Up/Down, Home,
  // End) move the focus from row to row, scrolling the wanted row in first.
  const wanted = useRef<number | null>(null);
  useEffect(() => {
    const index = wanted.current;
    if (index === null) return;
    const link = scroller.current?.querySelector<HTMLAnchorElement>(`[aria-rowindex="${index + 2}"] a`);
    if (link) {
      wanted.current = null;
      link.focus({ preventScroll: true });
    }
  });
  const onKeyDown = (event: KeyboardEvent) => {
    const el = scroller.current;
    const row = (event.target as HTMLElement).closest<HTMLElement>('[aria-rowindex]');
    if (!el || (!row && wanted.current === null)) return;
    // A key pressed before the last move was drawn counts from where that move goes.
    const current = wanted.current ?? Number(row?.getAttribute('aria-rowindex')) - 2;
    const page = Math.max(1, Math.floor(el.clientHeight / ROW_HEIGHT) - 1);
    const moves: Record<string, number> = { ArrowDown: current + 1, ArrowUp: current - 1, PageDown: current + page, PageUp: current - page, Home: 0, End: props.rows.length - 1 };
    const target = moves[event.key];
    if (target === undefined) return;
    event.preventDefault();
    const index = Math.min(props.rows.length - 1, Math.max(0, target));
    const top = index * ROW_HEIGHT;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight;
    wanted.current = index;
    setView({ top: el.scrollTop, height: el.clientHeight || 600 });
  };

  const { rows } = props;
  const first = Math.max(0, Math.floor(view.top / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((view.top + view.height) / ROW_HEIGHT) + OVERSCAN);
  const visible = rows.slice(first, last);

  return (
    <div class="vtable tasks-table" role="table" aria-label={props.label} aria-rowcount={rows.length + 1}>
      <div role="rowgroup" class="vhead">
        <div role="row" class="vrow" aria-rowindex={1}>
          <span role="columnheader">Task</span>
          <span role="columnheader">ID</span>
          <span role="columnheader">State</span>
          <span role="columnheader">Worker</span>
          <span role="columnheader">Queue</span>
          <span role="columnheader">Created</span>
          <span role="columnheader">Runtime</span>
        </div>
      </div>
      <div class="vscroll" ref={scroller} onScroll={onScroll} onKeyDown={onKeyDown} tabIndex={-1}>
        <div role="rowgroup" class="vbody" style={{ height: `${rows.length * ROW_HEIGHT}px` }}>
          {visible.map((t, i) => (
            <div
              role="row"
              class="vrow"
              key={t.id}
              data-task-id={t.id}
              data-state={t.state}
              aria-rowindex={first + i + 2}
              style={{ transform: `translateY(${(first + i) * ROW_HEIGHT}px)` }}
            >
              <span role="cell" class="ellipsis">
                <Link href={`/tasks/${encodeURIComponent(t.id)}`} aria-label={`Task ${t.name ?? 'unknown'} ${t.id}`}>
                  {t.name ?? '(unknown)'}
                </Link>
              </span>
              <span role="cell" class="mono ellipsis" title={t.id}>
                {t.id}
              </span>
              <span role="cell" class="state-cell">
                <StateBadge state={t.state} />
                {t.progress && <ProgressBar progress={t.progress} label={`progress of ${t.id}`} compact />}
              </span>
              <span role="cell" class="ellipsis">
                {t.worker ?? '—'}
              </span>
              <span role="cell" class="ellipsis">
                {t.queue ?? '—'}
              </span>
              <span role="cell">{fmtTime(t.createdAt)}</span>
              <span role="cell">{fmtSeconds(t.runtime)}</span>
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}

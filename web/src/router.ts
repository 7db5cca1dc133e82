// A small history-based router: the server answers index.html for every page path, the client picks the page.
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set<() => void>();

function location(): { path: string; search: string } {
  return { path: window.location.pathname, search: window.location.search };
}

export function navigate(to: string, replace = false): void {
  if (to === window.location.pathname + window.location.search) return;
  if (replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  for (const l of listeners) l();
}

window.addEventListener('popstate', () => {
  for (const l of listeners) l();
});

export function useLocation(): { path: string; search: string } {
  const [loc, setLoc] = useState(location);
  useEffect(() => {
    const update = () => setLoc(location());
    listeners.add(update);
    return () => void listeners.delete(update);
  }, []);
  return loc;
}

/** A plain click on a link moves in place; a modified click (new tab, download) is left to the browser. */
export function onLinkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = event.currentTarget as HTMLAnchorElement;
  if (anchor.target || anchor.origin !== window.location.origin) return;
  event.preventDefault();
  navigate(anchor.pathname + anchor.search);
}

export type Route =
  | { page: 'overview' }
  | { page: 'tasks' }
  | { page: 'task'; id: string }
  | { page: 'workers' }
  | { page: 'worker'; name: string }
  | { page: 'queues' }
  | { page: 'dead-letters' }
  | { page: 'schedules' }
  | { page: 'login' }
  | { page: 'not-found' };

export function matchRoute(path: string): Route {
  const parts = path.replace(/\/+$/, '').split('/').slice(1).map(decodeURIComponent);
  const [first, second] = parts;
  if (parts.length === 0 || (parts.length === 1 && first === '')) return { page: 'overview' };
  if (first === 'tasks') return second ? { page: 'task', id: second } : { page: 'tasks' };
  if (first === 'workers') return second ? { page: 'worker', name: second } : { page: 'workers' };
  if (parts.length === 1 && (first === 'queues' || first === 'dead-letters' || first === 'schedules' || first === 'login')) return { page: first };
  return { page: 'not-found' };
}

// The dashboard's shell: asks who the caller is, shows the login page when the server wants one, else the page of
// the current path with the navigation, the live stream's state and the status region around it.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { errorText, loadSession, logout, onUnauthorized } from './api.js';
import { matchRoute, navigate, useLocation, type Route } from './router.js';
import { onConnection, startStream, stopStream } from './stream.js';
import type { Session } from './types.js';
import { ConfirmHost, Link, SessionContext, StatusRegion, announce } from './ui.js';
import { LoginPage } from './pages/login.js';
import { TasksPage } from './pages/tasks.js';
import { TaskPage } from './pages/task.js';
import { WorkersPage } from './pages/workers.js';
import { WorkerPage } from './pages/worker.js';
import { QueuesPage } from './pages/queues.js';
import { DeadLettersPage } from './pages/dead-letters.js';
import { SchedulesPage } from './pages/schedules.js';
import { OverviewPage } from './pages/overview.js';
import './styles.css';

const NAV: { href: string; label: string; pages: Route['page'][] }[] = [
  { href: '/', label: 'Overview', pages: ['overview'] },
  { href: '/tasks', label: 'Tasks', pages: ['tasks', 'task'] },
  { href: '/workers', label: 'Workers', pages: ['workers', 'worker'] },
  { href: '/queues', label: 'Queues', pages: ['queues'] },
  { href: '/dead-letters', label: 'Dead letters', pages: ['dead-letters'] },
  { href: '/schedules', label: 'Schedules', pages: ['schedules'] },
];

function Page(props: { route: Route; search: string }) {
  const r = props.route;
  switch (r.page) {
    case 'overview':
      return <OverviewPage />;
    case 'tasks':
      return <TasksPage search={props.search} />;
    case 'task':
      return <TaskPage id={r.id} />;
    case 'workers':
      return <WorkersPage />;
    case 'worker':
      return <WorkerPage name={r.name} />;
    case 'queues':
      return <QueuesPage />;
    case 'dead-letters':
      return <DeadLettersPage />;
    case 'schedules':
      return <SchedulesPage />;
    case 'login':
      return <h1>Login</h1>;
    case 'not-found':
      return (
        <>
          <h1>Not found</h1>
          <p>
            No page here. <Link href="/">Back to the overview</Link>.
          </p>
        </>
      );
  }
}

function Connection() {
  const [up, setUp] = useState(false);
  useEffect(() => onConnection(setUp), []);
  return (
    <span class={`live ${up ? 'up' : 'down'}`} title={up ? 'receiving live updates' : 'live updates disconnected; reconnecting'}>
      {up ? '● live' : '○ offline'}
    </span>
  );
}

/** Where to go after logging in: the page that asked for it, never the login page itself. */
function afterLogin(): string {
  const next = new URLSearchParams(window.location.search).get('next');
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login') ? next : '/';
}

function App() {
  const { path, search } = useLocation();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);

  const refresh = () =>
    loadSession().then(
      (s) => {
        setSession(s);
        setError(null);
      },
      (e: unknown) => setError(errorText(e)),
    );
  useEffect(() => {
    void refresh();
    return onUnauthorized(() => {
      stopStream();
      setSession(null);
    });
  }, []);
  useEffect(() => {
    if (!session) return;
    // A closed stream is opened again after a pause, unless the session has ended (then the login page shows).
    let timer = 0;
    const open = () =>
      startStream(() => {
        timer = window.setTimeout(() => {
          void loadSession().then(
            (s) => (s ? open() : setSession(null)),
            () => open(),
          );
        }, 3000);
      });
    open();
    return () => window.clearTimeout(timer);
  }, [session]);

  const route = matchRoute(path);
  useEffect(() => {
    if (session === null && route.page !== 'login') navigate(`/login?next=${encodeURIComponent(path + search)}`, true);
    else if (session && route.page === 'login') navigate(afterLogin(), true);
  }, [session, route.page]);
  useEffect(() => {
    const title = NAV.find((n) => n.pages.includes(route.page))?.label ?? (route.page === 'login' ? 'Login' : 'Not found');
    document.title = `${title} · Celerity`;
  }, [route.page]);

  if (error)
    return (
      <main id="main">
        <h1>Celerity dashboard</h1>
        <p class="error" role="alert">
          Cannot reach the server: {error}
        </p>
        <button type="button" onClick={() => void refresh()}>
          Try again
        </button>
      </main>
    );
  if (session === undefined) return <p class="muted">Loading…</p>;
  if (session === null || route.page === 'login')
    return (
      <main id="main" class="login-main">
        <LoginPage
          onLogin={(s) => {
            setSession(s);
            announce(`Logged in as ${s.user}`);
            navigate(afterLogin(), true);
          }}
        />
        <StatusRegion />
      </main>
    );

  const doLogout = async () => {
    try {
      await logout();
    } finally {
      stopStream();
      setSession(null);
    }
  };

  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Celerity</span>
        <nav aria-label="Main">
          {NAV.map((n) => (
            <Link key={n.href} href={n.href} aria-current={n.pages.includes(route.page) ? 'page' : undefined}>
              {n.label}
            </Link>
          ))}
        </nav>
        <span class="who">
          <Connection />
          <span>
            {session.user}
            {session.readOnly ? ' (read-only)' : ''}
          </span>
          {session.via === 'session' && (
            <button type="button" onClick={() => void doLogout()}>
              Log out
            </button>
          )}
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} search={search} />
      </main>
      <StatusRegion />
      <ConfirmHost />
    </SessionContext.Provider>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);

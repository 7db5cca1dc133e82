// Shared pieces of every page: links, the session, status announcements, the confirmation dialog, formatting.
import { createContext, type ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from './api.js';
import { onLinkClick } from './router.js';
import { subscribe } from './stream.js';
import type { Session } from './types.js';

export const SessionContext = createContext<Session | null>(null);

/** Read-only callers see no control that changes something (the server refuses them anyway). */
export function useCanAct(): boolean {
  const session = useContext(SessionContext);
  return !!session && !session.readOnly;
}

export function Link(props: { href: string; children: ComponentChildren; class?: string; 'aria-label'?: string; 'aria-current'?: 'page' }) {
  return (
    <a href={props.href} class={props.class} aria-label={props['aria-label']} aria-current={props['aria-current']} onClick={onLinkClick}>
      {props.children}
    </a>
  );
}

// ---- Status messages: one polite live region for the whole page, so screen readers hear what an action did.
type Message = { text: string; kind: 'ok' | 'error' };
const messageListeners = new Set<(m: Message) => void>();

export function announce(text: string, kind: Message['kind'] = 'ok'): void {
  for (const l of messageListeners) l({ text, kind });
}

export function StatusRegion() {
  const [message, setMessage] = useState<Message | null>(null);
  useEffect(() => {
    const l = (m: Message) => setMessage(m);
    messageListeners.add(l);
    return () => void messageListeners.delete(l);
  }, []);
  return (
    <div class={`status ${message?.kind ?? ''}`} role="status" aria-live="polite" data-testid="status">
      {message?.text ?? ''}
    </div>
  );
}

// ---- Confirmation: every action that changes something asks first, in a modal <dialog> (focus moves into it,
// Escape closes it, the page behind is inert).
export interface ConfirmRequest {
  title: string;
  body?: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  action: () => Promise<string>;
}
let openConfirm: ((r: ConfirmRequest) => void) | null = null;

export function confirmAction(request: ConfirmRequest): void {
  openConfirm?.(request);
}

export function ConfirmHost() {
  const dialog = useRef<HTMLDialogElement>(null);
  const [request, setRequest] = useState<ConfirmRequest | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const returnFocus = useRef<HTMLElement | null>(null);

  useEffect(() => {
    openConfirm = (r) => {
      returnFocus.current = document.activeElement as HTMLElement | null;
      setError(null);
      setRequest(r);
    };
    return () => void (openConfirm = null);
  }, []);
  useEffect(() => {
    const d = dialog.current;
    if (request && d && !d.open) {
      d.showModal();
      d.querySelector<HTMLButtonElement>('button[data-autofocus]')?.focus();
    }
  }, [request]);

  const close = useCallback(() => {
    if (dialog.current?.open) dialog.current.close();
    setRequest(null);
    setBusy(false);
    returnFocus.current?.focus?.();
  }, []);

  const confirm = async () => {
    if (!request) return;
    setBusy(true);
    setError(null);
    try {
      const text = await request.action();
      announce(text);
      close();
    } catch (e) {
      setBusy(false);
      setError(errorText(e));
      announce(`${request.title} failed: ${errorText(e)}`, 'error');
    }
  };

  return (
    <dialog ref={dialog} class="confirm" aria-labelledby="confirm-title" onCancel={(e) => (e.preventDefault(), close())}>
      {request && (
        <form method="dialog" onSubmit={(e) => (e.preventDefault(), void confirm())}>
          <h2 id="confirm-title">{request.title}</h2>
          <div class="confirm-body">{request.body}</div>
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <div class="buttons">
            <button type="button" onClick={close} data-autofocus>
              Cancel
            </button>
            <button type="submit" class={request.danger ? 'danger' : 'primary'} disabled={busy}>
              {busy ? 'Working…' : request.confirmLabel}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

// ---- Data loading.
export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload: () => void;
  setData: (update: (previous: T | null) => T | null) => void;
}

/** Loads once per change of `key`, again on each stream `hello` (after a reconnect) and on reload(). */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, key: string): Loaded<T> {
  const [data, setDataState] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  useEffect(() => subscribe('hello', reload), [reload]);
  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    load(controller.signal).then(
      (d) => {
        setDataState(d);
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
    // `key` names everything `load` depends on, so a new closure for the same key does not refetch.
  }, [key, generation]);
  return { data, error, loading, reload, setData: (u) => setDataState(u) };
}

export function LoadState(props: { loading: boolean; error: string | null; empty?: boolean; emptyText?: string }) {
  if (props.error)
    return (
      <p class="error" role="alert">
        {props.error}
      </p>
    );
  if (props.loading) return <p class="muted">Loading…</p>;
  if (props.empty) return <p class="muted">{props.emptyText ?? 'Nothing to show.'}</p>;
  return null;
}

// ---- Formatting.
export function fmtTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtAge(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
}

export function fmtSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined) return '—';
  if (s < 1) return `${(s * 1000).toFixed(s < 0.01 ? 2 : 0)} ms`;
  return `${s.toFixed(s < 10 ? 2 : 1)} s`;
}

export function StateBadge(props: { state: string }) {
  return <span class={`badge state-${props.state.toLowerCase()}`}>{props.state}</span>;
}

export function ProgressBar(props: { progress: unknown; label?: string; compact?: boolean }) {
  const p = asProgress(props.progress);
  if (!p) return null;
  const pct = p.total > 0 ? Math.round((p.current / p.total) * 100) : 0;
  return (
    <span class={props.compact ? 'progress compact' : 'progress'}>
      {/* The ARIA values as attributes too: Preact sets `value` as a property, which leaves the attribute stale. */}
      <progress max={p.total} value={p.current} aria-valuenow={p.current} aria-valuemin={0} aria-valuemax={p.total} aria-label={props.label ?? 'progress'} />
      <span>
        {p.current}/{p.total}
        {props.compact ? '' : ` (${pct}%)`}
      </span>
    </span>
  );
}

export function asProgress(value: unknown): { current: number; total: number } | null {
  if (!value || typeof value !== 'object') return null;
  const { current, total } = value as { current?: unknown; total?: unknown };
  return typeof current === 'number' && typeof total === 'number' && total >= 0 ? { current, total } : null;
}

export function Json(props: { value: unknown; label: string }) {
  const text = typeof props.value === 'string' ? props.value : JSON.stringify(props.value, null, 2);
  return (
    <pre class="json" tabIndex={0} aria-label={props.label}>
      {text ?? 'null'}
    </pre>
  );
}

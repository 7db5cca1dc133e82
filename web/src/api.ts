// The pages' one way to the server: JSON over fetch, marked as the dashboard's (so a 401 comes without a Basic
// challenge and the browser shows no password dialog of its own), with the session's CSRF token on every change.
import type { Session } from './types.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
const unauthorizedListeners = new Set<() => void>();

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called whenever the server answers 401: the session has ended and the login page should show. */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  body?: unknown;
  query?: Query;
  signal?: AbortSignal;
  /** A 401 is the caller's to handle (the login form), not a reason to show the login page. */
  quiet401?: boolean;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json', 'x-celerity-client': 'dashboard' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(withQuery(`/api/v1${path}`, options.query), {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: 'same-origin',
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError(0, 'the server cannot be reached');
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    if (response.status === 401 && !options.quiet401) for (const l of unauthorizedListeners) l();
    const detail = body && typeof body === 'object' && 'detail' in body ? String((body as { detail: unknown }).detail) : text || response.statusText;
    throw new ApiError(response.status, `${response.status}: ${detail}`);
  }
  return body as T;
}

/** Who the caller is; null when the server wants a login. */
export async function loadSession(): Promise<Session | null> {
  try {
    const session = await api<Session>('/session', { quiet401: true });
    setCsrfToken(session.csrfToken);
    return session;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export async function login(user: string, password: string): Promise<Session> {
  const session = await api<Session>('/session', { method: 'POST', body: { user, password }, quiet401: true });
  setCsrfToken(session.csrfToken);
  return session;
}

export async function logout(): Promise<void> {
  await api('/session', { method: 'DELETE', quiet401: true });
  setCsrfToken(null);
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// One EventSource for the whole page (GET /api/v1/stream). EventSource reconnects by itself; every `hello` (the
// first and each after a reconnect) tells the pages to refetch what they show, since events may have been missed.
const handlers = new Map<string, Set<(data: unknown) => void>>();
let source: EventSource | null = null;

function dispatch(type: string, event: MessageEvent<string>): void {
  let data: unknown;
  try {
    data = JSON.parse(event.data);
  } catch {
    return;
  }
  for (const h of handlers.get(type) ?? []) h(data);
}

const TYPES = ['hello', 'tasks', 'workers', 'stats'] as const;
export type StreamEvent = (typeof TYPES)[number];

/**
 * Opens the stream. EventSource retries a dropped connection by itself but gives up on an HTTP error (a 401 once
 * the session has ended): then `onClosed` runs, to ask the server who the caller is and log in again if needed.
 */
export function startStream(onClosed: () => void): void {
  if (source || typeof EventSource === 'undefined') return;
  const es = new EventSource('/api/v1/stream', { withCredentials: true });
  source = es;
  for (const type of TYPES) es.addEventListener(type, (e) => dispatch(type, e as MessageEvent<string>));
  es.addEventListener('open', () => setConnected(true));
  es.addEventListener('error', () => {
    setConnected(es.readyState === EventSource.OPEN);
    if (es.readyState !== EventSource.CLOSED || source !== es) return;
    source = null;
    onClosed();
  });
}

export function stopStream(): void {
  source?.close();
  source = null;
  setConnected(false);
}

export function subscribe(type: StreamEvent, handler: (data: unknown) => void): () => void {
  let set = handlers.get(type);
  if (!set) handlers.set(type, (set = new Set()));
  set.add(handler);
  return () => void set.delete(handler);
}

let connected = false;
const connectionListeners = new Set<(c: boolean) => void>();
function setConnected(c: boolean): void {
  if (c === connected) return;
  connected = c;
  for (const l of connectionListeners) l(c);
}
export function onConnection(listener: (c: boolean) => void): () => void {
  connectionListeners.add(listener);
  listener(connected);
  return () => void connectionListeners.delete(listener);
}

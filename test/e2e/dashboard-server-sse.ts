/**
 * A Server-Sent Events reader for the dashboard's tests: opens `GET /api/v1/stream` with fetch and collects the
 * events, so a test can await the first one that matches what it expects.
 */
export interface SseEvent {
  event: string;
  data: any;
}

export interface SseStream {
  status: number;
  headers: Headers;
  events: SseEvent[];
  /** Comments (`: ping`) seen. */
  comments: string[];
  /** The first event from index `from` on that matches, as soon as it arrives; rejects if the stream ends first. */
  next(match: (e: SseEvent) => boolean, what: string, from?: number): Promise<SseEvent>;
  /** The next comment line's text (`ping`) from now on. */
  nextComment(): Promise<string>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export async function openStream(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  const commentWaiters: ((text: string) => void)[] = [];
  let finished = false;
  const wake = () => waiters.forEach((w) => w());

  const ended = (async () => {
    if (!res.body) return;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) {
              comments.push(line.slice(1).trim());
              commentWaiters.splice(0).forEach((w) => w(line.slice(1).trim()));
            }
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length) events.push({ event, data: JSON.parse(data.join('\n')) });
        }
        wake();
      }
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    } finally {
      finished = true;
      wake();
    }
  })();
  ended.catch(() => undefined);

  const next: SseStream['next'] = (match, what, from = 0) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = events.slice(from).find(match);
        if (found) {
          waiters.delete(check);
          resolve(found);
        } else if (finished) {
          waiters.delete(check);
          reject(new Error(`the stream ended before ${what}; events: ${events.map((e) => e.event).join(', ')}`));
        }
      };
      waiters.add(check);
      check();
    });

  const nextComment = () => new Promise<string>((resolve) => commentWaiters.push(resolve));
  return { status: res.status, headers: res.headers, events, comments, next, nextComment, ended, close: () => abort.abort() };
}

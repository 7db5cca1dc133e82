/** A sleep that an AbortSignal ends early, and that whoever awaits it can cut short (clearing its timer). */
export function sleep(ms: number, signal?: AbortSignal): { promise: Promise<void>; cancel(): void } {
  let cancel!: () => void;
  const promise = new Promise<void>((resolve) => {
    const timer = setTimeout(finish, ms);
    // Removed on every exit, so a long broker outage (one sleep per retry) does not pile listeners on the signal.
    signal?.addEventListener('abort', finish, { once: true });
    function finish(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', finish);
      resolve();
    }
    cancel = finish;
  });
  return { promise, cancel };
}

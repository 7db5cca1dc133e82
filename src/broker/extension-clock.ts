/**
 * Restores return reservations whose visibility timeout passed because their worker died. A worker whose event
 * loop was blocked (a CPU-bound task on the async pool) also fails to extend in time, and without care its own
 * next reserve would restore, and run again, the very task that blocked it. So a reserve is told what its caller
 * still holds (`ReserveOptions.held`), and before it restores anything the adapter extends those when this broker
 * object's last extension is older than half the visibility timeout: the extending loop fell behind.
 */
export class ExtensionClock {
  private last = Date.now();

  /** Records an extension of the caller's holdings (a healthy worker extends every third of the timeout). */
  extended(now = Date.now()): void {
    this.last = now;
  }

  /** The tags to extend before a restore: `held()` when extensions fell behind, none otherwise. */
  overdue(held: (() => readonly string[]) | undefined, visibilityMs: number, now = Date.now()): readonly string[] {
    if (!held || now - this.last < visibilityMs / 2) return [];
    return held();
  }
}

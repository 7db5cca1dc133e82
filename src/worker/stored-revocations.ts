/**
 * Revoke on a broker that stores revocations (the embedded SQLite store): clients store revoked ids in the broker
 * (`Broker.revoke`), and every worker reads what is new, both on a short timer (to drop held jobs and terminate
 * running ones) and right after each reserve, before the reserved messages are looked at. So a message reserved
 * after its revoke was stored is always discarded, with no per-message query: one small indexed read per batch.
 */
import type { Broker } from '../broker/port.js';
import { toError } from '../errors/index.js';
import type { NodeHost } from './node-state.js';
import { RevokedIds } from './revoked-ids.js';
import { revokeJobs } from './revoke-jobs.js';

/** How often held and running jobs are checked against new revocations. */
const POLL_MS = 200;

export class StoredRevocations {
  private readonly revoked = new RevokedIds();
  private cursor = 0;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<boolean> | undefined;

  constructor(
    private readonly broker: Broker & Required<Pick<Broker, 'revocationsSince'>>,
    private readonly host: NodeHost,
    /** Also told of every id read: the node's revoked set, so `inspect revoked`, mingle and statedb include them. */
    private readonly share: (ids: string[]) => void = () => undefined,
  ) {}

  /** Reads the revocations still remembered, then follows new ones. */
  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  isRevoked(id: string): boolean {
    return this.revoked.size > 0 && this.revoked.has(id);
  }

  /** Applies what was stored since the last read; resolves false when it could not be read. Calls share a read. */
  poll(): Promise<boolean> {
    this.reading ??= this.read().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async read(): Promise<boolean> {
    try {
      const { revocations, cursor } = await this.broker.revocationsSince(this.cursor);
      this.cursor = cursor;
      if (!revocations.length) return true;
      this.revoked.add(revocations.map((r) => r.taskId));
      this.share(revocations.map((r) => r.taskId));
      const { log } = this.host;
      log.info({ ids: revocations.map((r) => r.taskId) }, `Tasks flagged as revoked: ${revocations.map((r) => r.taskId).join(', ')}`);
      const plain = new Set(revocations.filter((r) => !r.terminate).map((r) => r.taskId));
      const terminating = new Set(revocations.filter((r) => r.terminate).map((r) => r.taskId));
      if (plain.size) revokeJobs(this.host, plain, false);
      if (terminating.size) {
        revokeJobs(this.host, terminating, true, (job) => log.info({ id: job.req.id }, `Terminating ${job.req.id}`));
      }
      return true;
    } catch (err) {
      this.host.log.warn({ err: toError(err).message }, 'could not read revocations; trying again');
      return false;
    }
  }
}

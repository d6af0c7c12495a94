/**
 * Leases of live claims, in memory only: by job (settlement checks) and by
 * expiry (the reaper). A claim without a live lease cannot be settled.
 */
import { BTree } from "../util/btree.js";
import type { Job } from "./state.js";
import type { ClaimToken } from "./types.js";

/**
 * The lease of one live claim. Leases exist only in memory: a claim from an
 * earlier process (or a settled or reaped one) has no entry here, which is
 * what makes its settlement fail with `ClaimLostError`.
 */
export class Lease implements ClaimToken {
  /** Created on first request (workers); aborted on cancel, lease loss or close. */
  controller: AbortController | undefined = undefined;

  constructor(
    readonly job: Job,
    public expiresAt: number,
    readonly seq: number,
  ) {}

  get id(): string {
    return this.job.id;
  }

  abort(reason: Error): void {
    this.controller?.abort(reason);
  }
}

function byExpiry(a: Lease, b: Lease): number {
  return a.expiresAt - b.expiresAt || a.seq - b.seq;
}

/** Live leases by job and by expiry (for the reaper). */
export class LeaseTable {
  readonly #byJob = new Map<Job, Lease>();
  readonly #byExpiry = new BTree<Lease, undefined>(undefined, byExpiry);
  #seq = 0;

  add(job: Job, expiresAt: number): Lease {
    const lease = new Lease(job, expiresAt, this.#seq++);
    this.#byJob.set(job, lease);
    this.#byExpiry.set(lease, undefined);
    return lease;
  }

  get(job: Job): Lease | undefined {
    return this.#byJob.get(job);
  }

  isLive(lease: Lease): boolean {
    return this.#byJob.get(lease.job) === lease;
  }

  renew(lease: Lease, expiresAt: number): void {
    this.#byExpiry.delete(lease);
    lease.expiresAt = expiresAt;
    this.#byExpiry.set(lease, undefined);
  }

  remove(lease: Lease): void {
    if (this.#byJob.get(lease.job) !== lease) return;
    this.#byJob.delete(lease.job);
    this.#byExpiry.delete(lease);
  }

  /** Remove and return every lease that expired at or before `now`, soonest first. */
  takeExpired(now: number): Lease[] {
    const expired: Lease[] = [];
    for (;;) {
      const first = this.#byExpiry.minKey();
      if (first === undefined || first.expiresAt > now) return expired;
      this.remove(first);
      expired.push(first);
    }
  }

  /** Remove every lease, aborting their signals with `reason`. */
  clear(reason: Error): void {
    for (const lease of this.#byJob.values()) lease.abort(reason);
    this.#byJob.clear();
    this.#byExpiry.clear();
  }
}

/**
 * Leases of claims, in memory only: by job (settlement checks) and by expiry
 * (the reaper). A claim without a live lease cannot be settled. Expiries are
 * monotonic times: a wall-clock step neither ends a lease early nor keeps an
 * abandoned one alive.
 *
 * A lease is taken when its claim is decided and starts running only once the
 * claim record is durable and the claim is handed out (`activate`): until
 * then it holds the job (no one else can claim it) but cannot expire, so a
 * slow commit never reaps a claim nobody has seen yet.
 */

import { ClaimLostError } from "../errors.js";
import { BTree } from "../util/btree.js";
import { invalidArgument } from "../validate.js";
import { CLAIM_TOKEN, type Claim, type ClaimToken, type JobRecord } from "./types.js";

/**
 * The lease of one claim. Leases exist only in memory: a claim from an
 * earlier process (or a settled or reaped one) has no entry here, which is
 * what makes its settlement fail with `ClaimLostError`.
 */
export class Lease implements ClaimToken {
  /** Created on first request (workers); aborted on cancel, lease loss or close. */
  controller: AbortController | undefined = undefined;
  /** Monotonic time the lease runs out; +∞ until the claim is handed out. */
  expiresAt = Number.POSITIVE_INFINITY;
  /** The handler's last progress as JSON text (`ctx.progress`), written with the settlement. */
  progress: string | undefined = undefined;
  /** Ended by a settlement (ack, nack, deadLetter, release, a transaction's), not by expiry or close. */
  settled = false;
  /** Why the claim was lost, or how to make that error when first asked for (see {@link lose}). */
  #lost: Error | LostReason | undefined = undefined;
  /**
   * Called once by {@link lose}, with why: a traced run's way to end its span
   * when its claim is really lost (not when its job's cancel is only asked).
   */
  onLost: ((reason: Error) => void) | undefined = undefined;
  /**
   * While a worker of this process renews the lease (`runWorker`'s
   * `autoRenew`, or a claim it holds ready), the length it renews it to;
   * `undefined` otherwise. Such a lease is renewed, not reaped, by a reaper
   * pass that finds it run out: the worker's renewal was due as well, and
   * only a stalled event loop (or one big step of a `ManualClock`) let the
   * reaper come first. Its holder is alive, in this very process.
   */
  renewedByWorkerMs: number | undefined = undefined;
  /**
   * Handed out, but no handler works on it yet: a worker of this process
   * holds the claim ready (`runWorker`'s `prefetch`) and has not started its
   * handler on it. A clean close gives such a claim back as it does one not
   * handed out at all (see {@link LeaseTable.unhanded}): no attempt counts.
   */
  heldReady = false;
  /**
   * Its claim's record is durable, but the offloaded payloads of its batch
   * are still being read: not handed out yet, so a clean close gives it back
   * (see {@link LeaseTable.unhanded}).
   */
  readingPayload = false;
  /** Its place in its table's expiry order while it runs (see {@link ExpiryGroup}); undefined otherwise. */
  expiryGroup: ExpiryGroup | undefined = undefined;

  constructor(
    /** The table the lease was taken from: its queue's (see {@link LeaseTable.holds}). */
    readonly table: LeaseTable,
    /** The claimed job's row in the job table. */
    readonly job: number,
    /** The job's id in the log. */
    readonly id: string,
    /** The claimed job's queue. */
    readonly queue: string,
    /** The job's public id (a caller's `jobId`, else {@link id}), for messages. */
    readonly publicId: string = id,
  ) {}

  /** Whether the claim was handed out (its record is durable) and the lease is running. */
  get active(): boolean {
    return this.expiresAt !== Number.POSITIVE_INFINITY;
  }

  abort(reason: Error): void {
    this.controller?.abort(reason);
  }

  /** Why the claim was lost while held (its lease expired, the queue stopped); set by {@link lose}. */
  get lostBecause(): Error | undefined {
    const lost = this.#lost;
    if (typeof lost !== "function") return lost;
    const reason = lost(this);
    this.#lost = reason;
    return reason;
  }

  /**
   * The claim is lost (not settled by its holder): abort its signal, and keep
   * why. `reason` may be a function that makes the error: it is called only
   * when someone listens (a signal, {@link onLost}) or asks later, so a
   * reaper expiring many leases nobody watches makes no error (and captures
   * no stack) for each. Such an error's stack is where it was first asked for.
   */
  lose(reason: Error | LostReason): void {
    this.#lost = reason;
    if (this.controller !== undefined) this.abort(this.lostBecause!);
    const onLost = this.onLost;
    this.onLost = undefined;
    if (onLost !== undefined) onLost(this.lostBecause!);
  }
}

/** Makes the error saying why `lease` was lost (see {@link Lease.lose}). */
export type LostReason = (lease: Lease) => Error;

/** Why a lease the reaper found run out was lost. */
export const leaseExpired: LostReason = (lease) =>
  new ClaimLostError(`lease of job ${lease.publicId} expired`);

/**
 * Running leases that run out at the same time and started running one after
 * another: a claim batch's, handed out together with one expiry. They take
 * one entry of the expiry order between them, so handing out a batch of N
 * claims inserts into the tree once, not N times, and settling one is a set
 * removal (the tree is touched only when its group empties). A tree insert
 * and delete per claim was about a quarter of a microsecond warm, and
 * several microseconds in a fresh process before V8 had compiled the tree.
 */
export class ExpiryGroup {
  /** Its leases, in the order they started running. */
  readonly leases = new Set<Lease>();
  constructor(
    readonly expiresAt: number,
    /** Groups made before it in its table: its place among groups of the same expiry. */
    readonly order: number,
  ) {}
}

function byExpiry(a: ExpiryGroup, b: ExpiryGroup): number {
  return a.expiresAt - b.expiresAt || a.order - b.order;
}

/**
 * Leases by job, and the running ones by expiry (for the reaper): soonest
 * first, and those that run out at the same time in the order they started
 * running (were handed out, or last renewed), not the order they were taken:
 * a lease renewed to a batch's expiry after the batch was handed out goes
 * after it, and of two batches decided with one expiry (only a clock whose
 * monotonic time stands still gives that) the one handed out first goes first.
 */
export class LeaseTable {
  readonly #byJob = new Map<number, Lease>();
  readonly #byExpiry = new BTree<ExpiryGroup, undefined>(undefined, byExpiry);
  /** The group made last, while it has leases: a lease started with its expiry joins it. */
  #newest: ExpiryGroup | undefined = undefined;
  /** Groups made so far (see {@link ExpiryGroup.order}). */
  #groups = 0;

  /** A lease on `job` that holds it but does not run yet (see {@link activate}). */
  add(job: number, id: string, queue: string, publicId: string = id): Lease {
    const lease = new Lease(this, job, id, queue, publicId);
    this.#byJob.set(job, lease);
    return lease;
  }

  /** Starts `lease` running until `expiresAt` (the claim was handed out). */
  activate(lease: Lease, expiresAt: number): void {
    this.renew(lease, expiresAt);
  }

  get(job: number): Lease | undefined {
    return this.#byJob.get(job);
  }

  isLive(lease: Lease): boolean {
    return this.#byJob.get(lease.job) === lease;
  }

  /** Whether `lease` was taken from this table (live or not): not another queue's. */
  holds(lease: Lease): boolean {
    return lease.table === this;
  }

  renew(lease: Lease, expiresAt: number): void {
    this.#stopRunning(lease);
    lease.expiresAt = expiresAt;
    let group = this.#newest;
    if (group === undefined || group.expiresAt !== expiresAt) {
      group = new ExpiryGroup(expiresAt, this.#groups++);
      this.#byExpiry.set(group, undefined);
      this.#newest = group;
    }
    group.leases.add(lease);
    lease.expiryGroup = group;
  }

  /** Takes `lease` out of the expiry order, if it is in it. */
  #stopRunning(lease: Lease): void {
    const group = lease.expiryGroup;
    if (group === undefined) return;
    lease.expiryGroup = undefined;
    group.leases.delete(lease);
    if (group.leases.size > 0) return;
    this.#byExpiry.delete(group);
    if (this.#newest === group) this.#newest = undefined;
  }

  /** @internal For tests: entries of the expiry order (one per {@link ExpiryGroup}). */
  get expiryEntries(): number {
    return this.#byExpiry.size;
  }

  /** Ends the live `lease` by a settlement of its claim (see {@link Lease.settled}). */
  settle(lease: Lease): void {
    lease.settled = true;
    // A settled claim is never lost: drop the callback (and the span it holds).
    lease.onLost = undefined;
    this.remove(lease);
  }

  remove(lease: Lease): void {
    if (this.#byJob.get(lease.job) !== lease) return;
    this.#byJob.delete(lease.job);
    this.#stopRunning(lease);
  }

  /**
   * Remove and return the running leases that expired at or before monotonic
   * `now`, soonest first, handling at most `limit` of them. One a worker is
   * renewing (see {@link Lease.renewedByWorkerMs}) is renewed from `now`
   * instead, as its overdue renewal would have; it counts toward `limit`, so
   * a pass after a long stall renews many such leases in slices too (see
   * {@link hasExpired}: what is left for the next slice).
   */
  takeExpired(now: number, limit: number): Lease[] {
    const expired: Lease[] = [];
    let handled = 0;
    while (handled < limit) {
      const group = this.#byExpiry.minKey();
      if (group === undefined || group.expiresAt > now) return expired;
      // One iterator for the whole group, which its leases leave as they are
      // handled (a Set's iterator goes on past deletions): a new one per lease
      // would step over every lease taken before it, quadratic in the group.
      for (const lease of group.leases) {
        if (handled++ >= limit) return expired;
        if (lease.renewedByWorkerMs !== undefined) {
          // Positive (a lease length): the renewed lease joins a group after `now`,
          // so it is not met again in this pass.
          this.renew(lease, now + lease.renewedByWorkerMs);
          continue;
        }
        this.remove(lease);
        expired.push(lease);
      }
    }
    return expired;
  }

  /** Whether a running lease expired at or before monotonic `now`. */
  hasExpired(now: number): boolean {
    const first = this.#byExpiry.minKey();
    return first !== undefined && first.expiresAt <= now;
  }

  /**
   * The live leases whose claims no handler or caller works on yet: not
   * handed out yet (see {@link activate}; {@link Lease.readingPayload}), or
   * held ready by a worker that has not started its handler on them (see
   * {@link Lease.heldReady}).
   */
  unhanded(): Lease[] {
    const leases: Lease[] = [];
    for (const lease of this.#byJob.values())
      if (!lease.active || lease.readingPayload || lease.heldReady) leases.push(lease);
    return leases;
  }

  /** Remove every lease, aborting their signals with `reason`. */
  clear(reason: Error): void {
    for (const lease of this.#byJob.values()) {
      lease.expiryGroup = undefined;
      lease.lose(reason);
    }
    this.#byJob.clear();
    this.#byExpiry.clear();
    this.#newest = undefined;
  }
}

/**
 * The live lease of `claim` in `leases`, or `ClaimLostError` naming
 * `operation`; a value that is not a claim or job record at all is
 * `InvalidArgumentError` naming `arg` (see `QueueCore.liveLease`).
 */
export function liveLeaseIn(
  leases: LeaseTable,
  claim: Claim,
  operation: string,
  arg: string,
): Lease {
  const lease = (claim as Partial<Claim> | null | undefined)?.[CLAIM_TOKEN];
  if (lease instanceof Lease && leases.isLive(lease)) return lease;
  if (!(lease instanceof Lease) && !isJobRecord(claim))
    throw invalidArgument(arg, "a claim from claim()/claimBatch()", claim);
  throw new ClaimLostError(
    `${operation}: the claim on job ${String(claim.id)} is not live (already settled, lease reaped, or not a claim from this queue)`,
  );
}

/**
 * Whether `value` has a job record's shape (string `id`, `queue` and
 * `status`): a claim of another queue or build, or a `getJob` record, whose
 * claim is not live here; anything else is not a claim at all.
 */
function isJobRecord(value: unknown): value is JobRecord {
  if (typeof value !== "object" || value === null) return false;
  const { id, queue, status } = value as Partial<JobRecord>;
  return typeof id === "string" && typeof queue === "string" && typeof status === "string";
}

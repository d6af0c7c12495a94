/**
 * Automatic lease renewal for the claims a worker holds: renews each claim's
 * lease every third of the lease, so a handler may run far longer than
 * `leaseMs` while a crashed process's jobs still come back within one lease.
 * Timers follow the queue's clock, on monotonic time.
 *
 * The claims of one `claimBatch` are handed out together, with the same
 * lease, so they share one timer: renewing a batch costs one timer, not one
 * per claim (a timer set and cleared per job was a large share of the
 * worker's CPU on short jobs).
 *
 * While a claim is renewed here the queue knows it (`markRenewedByWorker`):
 * its reaper then renews such a lease it finds run out instead of reaping
 * it. The renewal timer and the reaper fall due together after a stall of
 * the event loop longer than the lease (or one `ManualClock.advance` past
 * it), and a handler still running in this process must not lose its claim
 * to whichever happens to fire first.
 */
import { type MonotonicClock, startTimer, type TimerHandle } from "../clock.js";
import { Lease } from "../queue/leases.js";
import type { Queue } from "../queue/queue.js";
import { CLAIM_TOKEN, type Claim } from "../queue/types.js";
import { markRenewedByWorker } from "../queue/worker-hooks.js";

/**
 * Renews the leases of one batch of claims, handed out at the same time, to
 * `leaseMs` from now every `leaseMs / 3` until each is stopped with
 * {@link stop}. A claim whose renewal fails is renewed no more: its lease is
 * then lost (reaped, settled, or the queue closed), and the queue has already
 * aborted its signal. The timer is cancelled once every claim is stopped.
 */
export class BatchRenewal {
  readonly #queue: Queue;
  readonly #clock: MonotonicClock;
  /** The batch's claims; a stopped one is dropped so its payload can be collected. */
  readonly #claims: (Claim | undefined)[];
  readonly #leaseMs: number;
  readonly #periodMs: number;
  /** `stopped[i]`: claim `i` is no longer renewed. */
  readonly #stopped: Uint8Array;
  #live: number;
  #timer: TimerHandle | null = null;

  /**
   * Takes `claims` over: each entry is cleared when its claim stops. `clock`
   * is the one the queue's timers run on.
   */
  constructor(queue: Queue, clock: MonotonicClock, claims: (Claim | undefined)[], leaseMs: number) {
    this.#queue = queue;
    this.#clock = clock;
    this.#claims = claims;
    this.#leaseMs = leaseMs;
    this.#periodMs = Math.max(1, Math.floor(leaseMs / 3));
    this.#stopped = new Uint8Array(claims.length);
    this.#live = claims.length;
    for (const claim of claims) if (claim !== undefined) markRenewed(queue, claim, leaseMs);
    if (this.#live > 0) this.#arm();
  }

  /** Stops renewing claim `index` of the batch (idempotent). */
  stop(index: number): void {
    if (this.#stopped[index] === 1) return;
    this.#stopped[index] = 1;
    const claim = this.#claims[index];
    if (claim !== undefined) markRenewed(this.#queue, claim, undefined);
    // A long handler keeps its batch's renewal alive: hold only the claims still renewed.
    this.#claims[index] = undefined;
    if (--this.#live === 0) {
      this.#timer?.cancel();
      this.#timer = null;
    }
  }

  /** @internal How many claims the batch still holds (for tests: stopped ones are let go). */
  get held(): number {
    let held = 0;
    for (const claim of this.#claims) if (claim !== undefined) held++;
    return held;
  }

  #arm(): void {
    this.#timer = startTimer(this.#clock, this.#periodMs, () => this.#renew());
  }

  #renew(): void {
    this.#timer = null;
    if (this.#live === 0) return;
    const claims = this.#claims;
    for (let i = 0; i < claims.length; i++) {
      if (this.#stopped[i] === 1) continue;
      this.#queue.renewLease(claims[i]!, this.#leaseMs).catch(() => this.stop(i));
    }
    // Renewals of live leases succeed at once; a failed one stops only its claim.
    this.#arm();
  }
}

/**
 * Tells the queue whether a worker renews `claim`'s lease: on the lease
 * itself for a claim of this build (the common case, and the cheap one),
 * through the queue's hook for a claim of the package's other build.
 */
function markRenewed(queue: Queue, claim: Claim, leaseMs: number | undefined): void {
  const lease = (claim as Claim & { [CLAIM_TOKEN]?: unknown })[CLAIM_TOKEN];
  if (lease instanceof Lease) lease.renewedByWorkerMs = leaseMs;
  else markRenewedByWorker(queue, claim, leaseMs);
}

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
 */
import { type MonotonicClock, startTimer, type TimerHandle } from "../clock.js";
import type { Queue } from "../queue/queue.js";
import type { Claim } from "../queue/types.js";

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
    if (this.#live > 0) this.#arm();
  }

  /** Stops renewing claim `index` of the batch (idempotent). */
  stop(index: number): void {
    if (this.#stopped[index] === 1) return;
    this.#stopped[index] = 1;
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

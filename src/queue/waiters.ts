/**
 * Claim waiters (long-poll): callers of `claim(queue, { waitMs })` that found
 * nothing, queued per queue name, oldest first. Each job that becomes
 * claimable wakes exactly one waiter (no thundering herd, no polling); a
 * waiter leaves with `null` when its wait times out, its signal aborts, or
 * the queue stops. Knows nothing of jobs: `serve` is handed a way to claim.
 */
import { type Clock, startTimer, type TimerHandle } from "../clock.js";
import type { Claim } from "./types.js";

interface Waiter {
  readonly leaseMs: number;
  readonly resolve: (claim: Promise<Claim | null> | null) => void;
  timer: TimerHandle | undefined;
}

export class ClaimWaiters {
  readonly #clock: Clock;
  /** Waiters per queue name, oldest first; a queue without waiters has no entry. */
  readonly #byQueue = new Map<string, Waiter[]>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Whether anyone waits on `queue` (a new claim must then queue behind them). */
  has(queue: string): boolean {
    return this.#byQueue.has(queue);
  }

  /**
   * Waits until `serve` hands this caller a claim, or until `waitMs` of
   * monotonic time passed (a wall-clock step neither cuts the wait short nor
   * stretches it) or `signal` aborts (then resolves `null`).
   */
  wait(
    queue: string,
    leaseMs: number,
    waitMs: number,
    signal: AbortSignal | undefined,
  ): Promise<Claim | null> {
    return new Promise<Claim | null>((resolve) => {
      const stopWaiting = (): void => {
        this.#remove(queue, waiter);
        waiter.timer?.cancel();
        resolve(null);
      };
      const waiter: Waiter = {
        leaseMs,
        resolve: (claim) => {
          signal?.removeEventListener("abort", stopWaiting);
          resolve(claim);
        },
        timer: undefined,
      };
      let list = this.#byQueue.get(queue);
      if (list === undefined) {
        list = [];
        this.#byQueue.set(queue, list);
      }
      list.push(waiter);
      waiter.timer = startTimer(this.#clock, waitMs, () => {
        signal?.removeEventListener("abort", stopWaiting);
        stopWaiting();
      });
      signal?.addEventListener("abort", stopWaiting, { once: true });
    });
  }

  /**
   * Hands claims to the waiters of `queue`, oldest first, one each, while
   * `available()` says a job is claimable; `claim(leaseMs)` takes the job at
   * once and settles when the claim can be handed out (the waiter's promise
   * follows it, so a claim that fails to commit rejects that waiter).
   */
  serve(
    queue: string,
    available: () => boolean,
    claim: (leaseMs: number) => Promise<Claim | null> | null,
  ): void {
    const list = this.#byQueue.get(queue);
    if (list === undefined) return;
    while (list.length > 0 && available()) {
      const waiter = list.shift()!;
      waiter.timer?.cancel();
      waiter.resolve(claim(waiter.leaseMs));
    }
    if (list.length === 0) this.#byQueue.delete(queue);
  }

  /** Ends every wait with `null` (the queue is closing or failed). */
  releaseAll(): void {
    const waiters = [...this.#byQueue.values()].flat();
    this.#byQueue.clear();
    for (const waiter of waiters) {
      waiter.timer?.cancel();
      waiter.resolve(null);
    }
  }

  #remove(queue: string, waiter: Waiter): void {
    const list = this.#byQueue.get(queue);
    if (list === undefined) return;
    const i = list.indexOf(waiter);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#byQueue.delete(queue);
  }
}

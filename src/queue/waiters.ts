/**
 * Claim waiters (long-poll): callers of `claim`/`claimBatch` with `waitMs`
 * that found nothing, queued per queue name, oldest first. Each job that
 * becomes claimable wakes exactly one waiter (a batch waiter takes up to its
 * `max` of what is claimable at that moment; no thundering herd, no polling);
 * a waiter leaves empty-handed when its wait times out, its signal aborts, or
 * the queue stops; one served whose jobs were all lost to unreadable payload
 * objects goes back to the head of the line for the rest of its time. While anyone waits, the process is kept alive (the wait's
 * timer itself is unref'd). Knows nothing of jobs: `serve` is handed a way
 * to claim.
 */
import { type MonotonicClock, startTimer, type TimerHandle } from "../clock.js";
import { KeepAlive } from "../util/keep-alive.js";
import type { Claim } from "./types.js";

interface Waiter {
  readonly leaseMs: number;
  /** Most jobs this waiter takes (1 for `claim`). */
  readonly max: number;
  /** When the wait ends, in monotonic time. */
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
  /** Whether it holds the process alive (while in line). */
  alive: boolean;
  timer: TimerHandle | undefined;
  readonly resolve: (claims: Claim[]) => void;
  readonly reject: (error: unknown) => void;
  /** Leaves the line empty-handed (the wait timed out, or the signal aborted). */
  readonly giveUp: () => void;
}

/**
 * Takes up to `max` claimable jobs at once; settles with the claims when they
 * can be handed out, or with `null` when every job it took was lost to an
 * unreadable payload object and nothing replaced them: the waiter then waits
 * on for the rest of its time rather than leave empty-handed early.
 */
export type TakeClaims = (leaseMs: number, max: number) => Promise<Claim[] | null> | null;

export class ClaimWaiters {
  readonly #clock: MonotonicClock;
  /** Waiters per queue name, oldest first; a queue without waiters has no entry. */
  readonly #byQueue = new Map<string, Waiter[]>();
  /** The process stays alive while anyone waits. */
  readonly #keepAlive = new KeepAlive();
  /** Set once every wait was ended ({@link releaseAll}): a waiter being served does not line up again. */
  #released = false;

  constructor(clock: MonotonicClock) {
    this.#clock = clock;
  }

  /** Whether anyone waits on `queue` (a new claim must then queue behind them). */
  has(queue: string): boolean {
    return this.#byQueue.has(queue);
  }

  /**
   * Waits until `serve` hands this caller up to `max` claims, or until
   * `waitMs` of monotonic time passed (a wall-clock step neither cuts the
   * wait short nor stretches it) or `signal` aborts (then resolves `[]`).
   */
  wait(
    queue: string,
    leaseMs: number,
    max: number,
    waitMs: number,
    signal: AbortSignal | undefined,
  ): Promise<Claim[]> {
    return new Promise<Claim[]>((resolve, reject) => {
      const waiter: Waiter = {
        leaseMs,
        max,
        deadline: this.#clock.monotonicNow() + waitMs,
        signal,
        alive: false,
        timer: undefined,
        resolve,
        reject,
        giveUp: () => {
          this.#leaveLine(queue, waiter);
          resolve([]);
        },
      };
      this.#line(queue, waiter, false);
    });
  }

  /**
   * Hands claims to the waiters of `queue`, oldest first, while `available()`
   * says a job is claimable; `take(leaseMs, max)` takes up to the waiter's
   * `max` jobs at once and settles when they can be handed out (the waiter's
   * promise follows it, so claims that fail to commit reject that waiter).
   * A waiter whose jobs were all lost to unreadable payload objects (`take`
   * settles with `null`) goes back to the head of the line for the rest of
   * its time, and `redispatch()` is called to serve it again if it can be.
   */
  serve(queue: string, available: () => boolean, take: TakeClaims, redispatch: () => void): void {
    const list = this.#byQueue.get(queue);
    if (list === undefined) return;
    while (list.length > 0 && available()) {
      const waiter = list.shift()!;
      this.#leaveLine(null, waiter);
      const claims = take(waiter.leaseMs, waiter.max);
      if (claims === null) {
        waiter.resolve([]);
        continue;
      }
      claims.then((handed) => {
        if (handed !== null) waiter.resolve(handed);
        else if (
          this.#released ||
          waiter.signal?.aborted ||
          waiter.deadline <= this.#clock.monotonicNow()
        )
          waiter.resolve([]);
        else {
          this.#line(queue, waiter, true);
          redispatch();
        }
      }, waiter.reject);
    }
    if (list.length === 0) this.#byQueue.delete(queue);
  }

  /** Ends every wait empty-handed (the queue is closing or failed). */
  releaseAll(): void {
    this.#released = true;
    const waiters = [...this.#byQueue.values()].flat();
    this.#byQueue.clear();
    for (const waiter of waiters) {
      this.#leaveLine(null, waiter);
      waiter.resolve([]);
    }
  }

  /** Puts `waiter` in the line of `queue` (at its head when `first`) until its deadline or its signal. */
  #line(queue: string, waiter: Waiter, first: boolean): void {
    if (this.#released) {
      waiter.resolve([]);
      return;
    }
    let list = this.#byQueue.get(queue);
    if (list === undefined) {
      list = [];
      this.#byQueue.set(queue, list);
    }
    if (first) list.unshift(waiter);
    else list.push(waiter);
    waiter.alive = true;
    this.#keepAlive.acquire();
    waiter.timer = startTimer(
      this.#clock,
      waiter.deadline - this.#clock.monotonicNow(),
      waiter.giveUp,
    );
    waiter.signal?.addEventListener("abort", waiter.giveUp, { once: true });
  }

  /** Takes `waiter` out of the line of `queue` (if still in it): no timer, no listener, not kept alive. */
  #leaveLine(queue: string | null, waiter: Waiter): void {
    if (queue !== null) this.#remove(queue, waiter);
    waiter.timer?.cancel();
    waiter.timer = undefined;
    waiter.signal?.removeEventListener("abort", waiter.giveUp);
    if (!waiter.alive) return;
    waiter.alive = false;
    this.#keepAlive.release();
  }

  #remove(queue: string, waiter: Waiter): void {
    const list = this.#byQueue.get(queue);
    if (list === undefined) return;
    const i = list.indexOf(waiter);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#byQueue.delete(queue);
  }
}

/**
 * Claim waiters (long-poll): callers of `claim`/`claimBatch` with `waitMs`
 * that found nothing, queued per queue name, oldest first. Each job that
 * becomes claimable wakes exactly one waiter (a batch waiter takes up to its
 * `max` of what is claimable at that moment; no thundering herd, no polling);
 * a waiter leaves empty-handed when its wait times out, its signal aborts, or
 * the queue stops. While anyone waits, the process is kept alive (the wait's
 * timer itself is unref'd). Knows nothing of jobs: `serve` is handed a way
 * to claim.
 */
import { type Clock, startTimer, type TimerHandle } from "../clock.js";
import { KeepAlive } from "../util/keep-alive.js";
import type { Claim } from "./types.js";

interface Waiter {
  readonly leaseMs: number;
  /** Whether it still holds the process alive (until it is served or gives up). */
  alive: boolean;
  /** Most jobs this waiter takes (1 for `claim`). */
  readonly max: number;
  readonly resolve: (claims: Promise<Claim[]> | null) => void;
  timer: TimerHandle | undefined;
}

/** Takes up to `max` claimable jobs at once; settles when the claims can be handed out. */
export type TakeClaims = (leaseMs: number, max: number) => Promise<Claim[]> | null;

export class ClaimWaiters {
  readonly #clock: Clock;
  /** Waiters per queue name, oldest first; a queue without waiters has no entry. */
  readonly #byQueue = new Map<string, Waiter[]>();
  /** The process stays alive while anyone waits. */
  readonly #keepAlive = new KeepAlive();

  constructor(clock: Clock) {
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
    return new Promise<Claim[]>((resolve) => {
      const stopWaiting = (): void => {
        this.#remove(queue, waiter);
        waiter.timer?.cancel();
        this.#letGo(waiter);
        resolve([]);
      };
      const waiter: Waiter = {
        leaseMs,
        alive: true,
        max,
        resolve: (claims) => {
          signal?.removeEventListener("abort", stopWaiting);
          this.#letGo(waiter);
          resolve(claims ?? []);
        },
        timer: undefined,
      };
      this.#keepAlive.acquire();
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
   * Hands claims to the waiters of `queue`, oldest first, while `available()`
   * says a job is claimable; `take(leaseMs, max)` takes up to the waiter's
   * `max` jobs at once and settles when they can be handed out (the waiter's
   * promise follows it, so claims that fail to commit reject that waiter).
   */
  serve(queue: string, available: () => boolean, take: TakeClaims): void {
    const list = this.#byQueue.get(queue);
    if (list === undefined) return;
    while (list.length > 0 && available()) {
      const waiter = list.shift()!;
      waiter.timer?.cancel();
      waiter.resolve(take(waiter.leaseMs, waiter.max));
    }
    if (list.length === 0) this.#byQueue.delete(queue);
  }

  /** Ends every wait empty-handed (the queue is closing or failed). */
  releaseAll(): void {
    const waiters = [...this.#byQueue.values()].flat();
    this.#byQueue.clear();
    for (const waiter of waiters) {
      waiter.timer?.cancel();
      waiter.resolve(null);
    }
  }

  #letGo(waiter: Waiter): void {
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

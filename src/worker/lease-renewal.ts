/**
 * Automatic lease renewal for a running handler: renews the claim's lease
 * every third of the lease, so a handler may run far longer than `leaseMs`
 * while a crashed process's jobs still come back within one lease. Timers
 * follow the queue's clock, on monotonic time.
 */
import { startTimer, type TimerHandle } from "../clock.js";
import type { Queue } from "../queue/queue.js";
import type { Claim } from "../queue/types.js";

/**
 * Renews `claim` to `leaseMs` from now every `leaseMs / 3` until the returned
 * function is called. Stops by itself when a renewal fails: the lease is then
 * lost (reaped, settled, or the queue closed), and the queue has already
 * aborted the claim's signal.
 */
export function keepRenewing(queue: Queue, claim: Claim, leaseMs: number): () => void {
  const clock = queue.clock;
  const periodMs = Math.max(1, Math.floor(leaseMs / 3));
  let timer: TimerHandle | null = null;
  let stopped = false;
  const arm = (): void => {
    timer = startTimer(clock, periodMs, renew);
  };
  const renew = (): void => {
    timer = null;
    if (stopped) return;
    queue.renewLease(claim, leaseMs).then(
      () => {
        if (!stopped) arm();
      },
      () => {
        stopped = true;
      },
    );
  };
  arm();
  return () => {
    stopped = true;
    timer?.cancel();
    timer = null;
  };
}

/**
 * The worker loop: keeps claims of one queue coming, in batches sized to
 * what is missing (up to `concurrency` running plus `prefetch` ready, one
 * durable write per batch), runs the handler on up to `concurrency` of
 * them at a time, keeps their leases renewed, and settles each from its
 * outcome, until shutdown or until the queue closes or fails. Under
 * `prefetch: "auto"` the claims held ready follow the measured rate at which
 * slots free and the commit round-trip (see `ready-target.ts`).
 *
 * Only a claim for free slots alone waits for jobs (up to `pollIntervalMs`,
 * or for a wake-up when it is 0, re-checking every {@link IDLE_RECHECK_MS}).
 * One that also asks for ready claims takes what is there now, and once one
 * comes back short (and no slot freed meanwhile) no ready claims are asked
 * for until a slot frees: a job that arrives while every slot is busy is
 * left for a worker with a free slot, not held behind a running handler, and
 * jobs that arrive after a quiet spell are claimed for free slots only, not
 * by the number of ready claims from before it.
 *
 * Settlements and claims share writes: the jobs that end in one turn of the
 * event loop are settled in the next, together with the claim for the slots
 * they freed, so one WAL write carries both (not one write for the acks
 * and a second for the claims).
 */
import { taqubaErrorCode } from "../errors.js";
import { queueClosing } from "../queue/close-queue.js";
import { tracingOf } from "../queue/instrument.js";
import { Lease } from "../queue/leases.js";
import { type ClaimOptions, MAX_CLAIM_BATCH } from "../queue/options.js";
import type { Queue } from "../queue/queue.js";
import { timerClockOf } from "../queue/time.js";
import { CLAIM_TOKEN, type Claim } from "../queue/types.js";
import { claimQueuePaused, claimStartable, onQueueStopped } from "../queue/worker-hooks.js";
import { turnLater } from "../util/timers.js";
import { ClaimHoldOff } from "./hold-off.js";
import { JobRun, type RunOwner } from "./job-run.js";
import { BatchRenewal } from "./lease-renewal.js";
import { ReadyTarget } from "./ready-target.js";
import { MAX_UNSETTLED, type Outcome, Settlements } from "./settlements.js";
import { ShutdownDeadline } from "./shutdown-deadline.js";
import type { Handler, WorkerOptions } from "./types.js";
import { endWorker } from "./worker-end.js";
import { DEFAULT_POLL_INTERVAL_MS, IDLE_RECHECK_MS, workerSettings } from "./worker-options.js";

export { IDLE_RECHECK_MS } from "./worker-options.js";

/** A claim handed to the worker: durable, its lease renewed while it waits (and, with `autoRenew`, while it runs). */
interface Held {
  claim: Claim;
  /** Renews the leases of the claim's batch; the claim is number `index` in it. */
  renewal: BatchRenewal;
  index: number;
}

function stopRenewing(held: Held): void {
  held.renewal.stop(held.index);
}

/**
 * Tells the queue whether `claim` is held ready, its handler not started: a
 * clean close gives such a claim back rather than leave it to count as an
 * interrupted attempt (see `Lease.heldReady`). A claim of the package's
 * other build is left alone.
 */
function markHeldReady(claim: Claim, ready: boolean): void {
  const lease = (claim as Claim & { [CLAIM_TOKEN]?: unknown })[CLAIM_TOKEN];
  if (lease instanceof Lease) lease.heldReady = ready;
}

/**
 * Claim jobs of `queueName` and run `handler` on each, up to `concurrency` at
 * a time. Returning acks the job, throwing nacks it with the error's message
 * (cut to `MAX_MESSAGE_BYTES`), throwing `PermanentFailure`
 * dead-letters it. A handler starts only once its claim is durable; to keep
 * slots busy across that commit round-trip the worker can hold claims ready
 * (`prefetch`, default 0; `"auto"` holds about as many as its slots free in
 * one round-trip). While a claim is held its lease is renewed every third
 * of the lease (`autoRenew`; a reaper pass that comes first after a stall
 * renews it too, see `WorkerOptions.autoRenew`); if the claim is lost anyway
 * (the job was cancelled, or the handler renews its own lease and let it
 * run out), `ctx.signal` aborts and the failed settlement is logged as one line. The loop goes on after a
 * failed settlement.
 *
 * Resolves after `options.signal` aborts (claiming stops, no handler starts,
 * running handlers finish and settle, ready claims are released, all durably)
 * or the queue is closed. From the call of `queue.close()` on, no handler
 * starts and nothing is claimed (the close gives back the claims held
 * ready). Handlers that never return hold its end up for good,
 * unless `options.shutdownTimeoutMs` bounds the wait: handlers still running
 * that long after the shutdown began (or the queue stopped) are abandoned,
 * their `ctx.signal` aborted and, while the queue is open, their attempts
 * failed, durably, before it resolves (unless a transaction of the handler
 * that settles its job, in flight then, settles it: that is waited for).
 * Also resolves when the queue is fenced (another
 * process opened the store), after one log line: the queue's own error line
 * when the worker's logger is the queue's (the default for both; the
 * worker's line, with the count of failed settlements, then goes to
 * `debug`), else a warning on the worker's logger. Whether the worker was
 * idle or running handlers, it stops claiming, running handlers finish, and
 * their settlements, which fail with `FencedError`, are not retried (the new
 * writer requeues those jobs). An idle queue learns of a takeover only when
 * it next touches the store: a write (an enqueue, the reaper requeuing an
 * expired lease, a schedule firing, a checkpoint) or, with
 * `OpenOptions.heartbeatMs` set, its next beat, which also looks for a newer
 * writer. Without a heartbeat an idle worker of a queue nobody writes to
 * keeps waiting for jobs that now go to the new writer. Rejects with a
 * `StorageError` that failed the queue, once running jobs ended; and with an
 * `InvalidArgumentError` when the queue hands out a claim that is not its
 * own (two copies of part of the package's modules loaded), after giving
 * back the claims it holds and once running jobs ended.
 */
export async function runWorker(
  queue: Queue,
  queueName: string,
  handler: Handler,
  options: WorkerOptions = {},
): Promise<void> {
  const {
    concurrency,
    prefetch,
    pollIntervalMs,
    leaseMs,
    autoRenew,
    shutdown,
    shutdownTimeoutMs,
    logger,
  } = workerSettings(queue, queueName, handler, options);

  const clock = timerClockOf(queue);
  /** Claims to hold ready, when measured (`prefetch: "auto"`). */
  const readyTarget = prefetch === "auto" ? new ReadyTarget(concurrency) : null;
  const fixedPrefetch = prefetch === "auto" ? 0 : prefetch;
  /** Claims wanted beyond the running handlers and those held ready. */
  const missing = (): number =>
    concurrency + (readyDry ? 0 : prefetchNow()) - running - ready.length;
  /** Claims to hold ready now. */
  const prefetchNow = (): number =>
    readyTarget === null ? fixedPrefetch : readyTarget.valueAt(clock.monotonicNow());

  const claimOptions: ClaimOptions = {
    leaseMs,
    waitMs: pollIntervalMs === 0 ? IDLE_RECHECK_MS : pollIntervalMs,
    ...(shutdown === undefined ? {} : { signal: shutdown }),
  };
  /** A claim that also asks for ready claims takes what is there now. */
  const readyClaimOptions: ClaimOptions = { ...claimOptions, waitMs: 0 };
  let failure: unknown = null;
  /** The queue closed or failed: claim no more, drop what is held but not started. */
  let stopped = false;
  /**
   * A claim turned out not to be the queue's (see `isStartable`): claim no
   * more, give back what is held, and fail with {@link failure} once
   * running handlers finished.
   */
  let refused = false;
  const claimingStopped = (): boolean => stopped || refused || shutdown?.aborted === true;
  /**
   * The queue's `close()` began: it gives back the claims held ready (see
   * `markHeldReady`), so no handler starts and nothing is claimed; they are
   * dropped once the queue counts as closed.
   */
  const closeBegun = (): boolean => queueClosing(queue);
  /**
   * The worker stands still for a close that began: it may wait on nothing
   * that pumps again (no claim out, no handler running), so the queue's stop does.
   */
  let heldByClose = false;
  /** A claimBatch request is out. */
  let claiming = false;
  /** How many claims the request out asked for, and whether for ready ones too. */
  let claimAskedFor = 0;
  let claimAskedWithReady = false;
  /** A claim that asked for ready claims came back short: ask for none until a slot frees. */
  let readyDry = false;
  /** Slots freed so far; a short claim sets {@link readyDry} only if none freed while it was out. */
  let slotsFreed = 0;
  let slotsFreedWhenAsked = 0;
  let running = 0;
  /** Inside pump's loop that starts handlers. */
  let pumping = false;
  const ready: Held[] = [];
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  /** A turn is scheduled that settles `ended` and claims what is missing. */
  let requestQueued = false;
  /**
   * Jobs whose handler ended, to be settled in the next turn alongside the
   * next claim; each still renewed (`renewal`) until its settlement is issued.
   */
  const ended: Array<{ claim: Claim; outcome: Outcome; renewal: BatchRenewal; index: number }> = [];

  /** A handler ended (or never `started`): its slot is free again. */
  const slotFreed = (started: boolean): void => {
    running--;
    slotsFreed++;
    readyDry = false;
    if (readyTarget !== null && started) readyTarget.slotFreed(clock.monotonicNow());
    // Inside pump's loop (a handler that returned at once) the loop itself goes on.
    if (!pumping) pump();
  };

  const deadline =
    shutdownTimeoutMs === null
      ? null
      : new ShutdownDeadline({
          queue,
          queueName,
          clock,
          logger,
          timeoutMs: shutdownTimeoutMs,
          fail: (claim, message) => settlements.settleAbandoned(claim, message),
          queueStopped: () => pump(),
        });
  const owner: RunOwner = {
    queue,
    clock,
    handler,
    tracing: tracingOf(queue),
    ended: (claim, outcome, renewal, index) => {
      ended.push({ claim, outcome, renewal, index });
    },
    release: (claim) => settlements.release(claim),
    timedOut: (claim, message, settling) => settlements.settleTimedOut(claim, message, settling),
    abandonment: deadline,
    done: () => slotFreed(true),
  };

  /** Runs the handler on `held`; its slot frees when the run is over. */
  const run = (held: Held): void => {
    const { claim } = held;
    // From here on its handler starts, or the worker settles the claim itself.
    markHeldReady(claim, false);
    let startable: boolean;
    try {
      startable = claimStartable(queue, claim);
    } catch (error) {
      // Not a claim of this queue (two copies of the package's modules, say): none of
      // its claims ever will be. Fail the worker, giving the claim back if the queue
      // takes it (else its lease runs out).
      failure ??= error;
      refused = true;
      stopRenewing(held);
      settlements.giveBack(claim);
      slotFreed(false);
      return;
    }
    if (!startable || claimQueuePaused(queue, claim)) {
      // Cancelled (or its lease lost) while it waited ready, or its queue paused since it
      // was handed out: its handler never starts. The release makes a paused queue's job
      // pending again (its attempt not counted) and removes a cancelled one; a lost
      // claim's release fails with one line. Asked before the release, which ends it.
      if (!startable) holdOff.notStartable(claim);
      stopRenewing(held);
      settlements.release(claim);
      slotFreed(false);
      return;
    }
    holdOff.started();
    if (!autoRenew) {
      // Renewed while it waited ready; from here on the handler renews it itself.
      stopRenewing(held);
      queue.renewLease(claim, leaseMs).catch(() => {}); // a lost lease shows in ctx.signal
    }
    JobRun.start(owner, claim, held.renewal, held.index);
  };

  /** Starts handlers on ready claims, tops claims up, and ends the loop when all is done. */
  const pump = (): void => {
    if (queue.closed) stopped = true;
    const nested = pumping;
    pumping = true;
    try {
      // Checked on each turn: a claim run here may be refused (see `run`).
      while (running < concurrency && ready.length > 0 && !claimingStopped() && !closeBegun()) {
        running++;
        run(ready.shift()!);
      }
    } finally {
      // A throw must never leave the loop marked as pumping: no slot would pump again.
      pumping = nested;
    }
    const stopping = claimingStopped();
    heldByClose = !stopping && closeBegun();
    if (stopping) deadline?.arm();
    // After shutdown no handler starts: claims held ready are given back (pending
    // again, their attempt not counted) before the worker resolves. A clean
    // close of the queue gave them back already (see `markHeldReady`); after a
    // failure they cannot be: the next open requeues them.
    if (stopping)
      for (const held of ready.splice(0)) {
        stopRenewing(held);
        if (refused) settlements.giveBack(held.claim);
        else if (!stopped) settlements.release(held.claim);
      }
    const wanted = missing();
    const claimWanted = !stopping && !closeBegun() && !claiming && !holdOff.active && wanted > 0;
    if (!requestQueued && (ended.length > 0 || claimWanted)) {
      requestQueued = true;
      turnLater(requestClaims);
    }
    if (stopping && running === 0 && !claiming && !requestQueued && ready.length === 0) finish();
  };

  /**
   * Settles the jobs that ended, then claims what is missing as one batch,
   * one turn of the event loop after it went missing: slots that free up
   * together share a batch, their settlements go in the same write as that
   * batch's claims, and empty polls never spin on microtasks.
   */
  const requestClaims = (): void => {
    requestQueued = false;
    // Taken before settling: an entry that throws is not settled again on every pump.
    const endedNow = ended.splice(0);
    for (let i = 0; i < endedNow.length; i++) {
      const { claim, outcome, renewal, index } = endedNow[i]!;
      let settlement: Promise<void>;
      try {
        settlement = settlements.settle(claim, outcome);
      } finally {
        // Issuing the settlement took the lease out of the reaper's reach (or it was
        // lost already; a result the queue refuses is nacked a microtask later, before
        // any timer can run): stop renewing it only now.
        renewal.stop(index);
      }
      // One round-trip measured per write: the first settlement of the turn.
      if (i === 0 && readyTarget !== null) {
        const issuedAt = clock.monotonicNow();
        settlement.then(
          () => {
            readyTarget.settled(clock.monotonicNow() - issuedAt);
            pump(); // the target may have risen
          },
          () => {},
        );
      }
    }
    const wanted = missing();
    if (claimingStopped() || closeBegun() || claiming || holdOff.active || wanted <= 0) {
      pump();
      return;
    }
    if (settlements.size >= MAX_UNSETTLED) return; // a settlement that lands pumps again
    claiming = true;
    claimAskedFor = Math.min(wanted, MAX_CLAIM_BATCH);
    claimAskedWithReady = claimAskedFor > concurrency - running - ready.length;
    slotsFreedWhenAsked = slotsFreed;
    queue
      .claimBatch(queueName, claimAskedFor, claimAskedWithReady ? readyClaimOptions : claimOptions)
      .then(claimed, claimFailed);
  };

  const claimed = (claims: Claim[]): void => {
    claiming = false;
    if (claimAskedWithReady && claims.length < claimAskedFor && slotsFreed === slotsFreedWhenAsked)
      readyDry = true;
    if (claims.length === 0 && queue.closed) stopped = true;
    if (claims.length > 0) {
      // One renewal timer for the batch: its claims were handed out together.
      const renewal = new BatchRenewal(queue, clock, claims, leaseMs);
      for (let index = 0; index < claims.length; index++) {
        markHeldReady(claims[index]!, true);
        ready.push({ claim: claims[index]!, renewal, index });
      }
    }
    pump();
  };

  const claimFailed = (error: unknown): void => {
    claiming = false;
    // By code, not instanceof: the queue may be of the package's other build.
    if (taqubaErrorCode(error) !== "CLOSED") failure ??= error;
    stopped = true;
    pump();
  };

  const settlements = new Settlements(queue, logger, pump);
  // Not startable for no reason the queue shows: claim again only after a wait.
  const holdOff = new ClaimHoldOff({
    queue,
    queueName,
    clock,
    logger,
    firstWaitMs: pollIntervalMs > 0 ? pollIntervalMs : DEFAULT_POLL_INTERVAL_MS,
    maxWaitMs: Math.max(pollIntervalMs, IDLE_RECHECK_MS),
    ended: pump,
  });
  const onShutdown = (): void => pump();
  shutdown?.addEventListener("abort", onShutdown, { once: true });
  // A worker that stood still for the close, or held claims off, learns here that
  // the queue closed or failed: it ends now, not when the hold-off's wait next wakes.
  const offQueueStopped = onQueueStopped(queue, () => {
    if (holdOff.active) holdOff.cancel();
    else if (!heldByClose) return;
    pump();
  });
  // The queue's own timers never hold the process open; a running worker should.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  try {
    pump();
    await finished;
  } finally {
    clearInterval(keepAlive);
    holdOff.cancel();
    deadline?.cancel();
    shutdown?.removeEventListener("abort", onShutdown);
    offQueueStopped?.();
    await settlements.drain();
  }
  const thrown = endWorker({ queue, queueName, logger, settlements, deadline, failure });
  if (thrown !== null) throw thrown;
}

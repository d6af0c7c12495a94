/**
 * One run of a handler under `runWorker`: the job's context (`ctx`), its
 * deadline, and what happens when the handler ends. One object per job and
 * its three context functions in the common case (a handler that returns at
 * once and never reads `ctx.signal`): short jobs are bound by the CPU the worker spends around
 * them, much of it allocation and garbage collection, so the context's
 * signal is made on first use, and a handler that returns a
 * plain value ends within the call that started it, with no promise made.
 */

import { types } from "node:util";
import type { MonotonicClock } from "../clock.js";
import type { Tracing } from "../queue/instrument.js";
import { reportProgress } from "../queue/progress.js";
import type { Queue } from "../queue/queue.js";
import type { Transaction, TransactionResult } from "../queue/transaction.js";
import type { Claim, JsonValue } from "../queue/types.js";
import { claimLostReason, claimStartable, onClaimLost } from "../queue/worker-hooks.js";
import { anySignal } from "../util/abort.js";
import { type Deadline, startDeadline, timedOutMessage } from "./deadline.js";
import { JobTransactions } from "./job-transactions.js";
import type { BatchRenewal } from "./lease-renewal.js";
import { resultBytes } from "./result.js";
import type { Outcome } from "./settlements.js";
import type { Handler, JobContext } from "./types.js";

/** What a run reports to its worker. */
export interface RunOwner {
  readonly queue: Queue;
  /** The clock of the queue's timers: the job's deadline runs on it. */
  readonly clock: MonotonicClock;
  readonly handler: Handler;
  /** Spans around handler runs, when the queue was opened with telemetry. */
  readonly tracing: Tracing | null;
  /**
   * The handler ended with `outcome`: settle the job (in the worker's next
   * turn), and stop `renewal` renewing claim `index` once that settlement is
   * issued.
   */
  ended(claim: Claim, outcome: Outcome, renewal: BatchRenewal, index: number): void;
  /** Give back `claim`: its handler gave up because the job was cancelled (or the claim lost). */
  release(claim: Claim): void;
  /**
   * The job passed its `timeoutMs`: fail its attempt as timed out, unless
   * `settling`, the handler's own transactions that settle its job and were
   * still in flight (`null` when there were none), settles it (resolving
   * `true`).
   */
  timedOut(claim: Claim, message: string, settling: Promise<boolean> | null): void;
  /**
   * The worker's shutdown deadline, when it may abandon runs
   * (`shutdownTimeoutMs`); `null` otherwise (no set kept per job).
   */
  readonly abandonment: RunAbandonment | null;
  /** The run is over: its slot is free (called exactly once, after any of the above). */
  done(): void;
}

/** Where runs go that the worker may abandon at its shutdown deadline. */
export interface RunAbandonment {
  /** The runs not over yet: those the deadline abandons. */
  readonly runs: Set<JobRun>;
  /**
   * The run was abandoned at the shutdown deadline before its handler ended
   * (and its attempt did not already fail as timed out): fail the attempt,
   * unless `settling`, the handler's own transactions that settle its job and
   * were still in flight (`null` when there were none), settles it
   * (resolving `true`).
   */
  abandoned(claim: Claim, settling: Promise<boolean> | null): void;
  /** The run was abandoned at the shutdown deadline after its attempt failed as timed out. */
  abandonedTimedOut(): void;
  /** The handler of an abandoned run ended after all: its outcome is ignored. */
  endedAfterAbandoned(claim: Claim): void;
}

/** The outcome of a handler that returned nothing (the common case: no object per job). */
const RETURNED_NOTHING: Outcome = Object.freeze({ ok: true, result: undefined });

/** How a handler that returned `value` ended (`resultBytes` may throw: the attempt then fails). */
function outcomeOf(value: unknown): Outcome {
  try {
    return value === undefined ? RETURNED_NOTHING : { ok: true, result: resultBytes(value) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Whether `value` is bytes a handler returned as its result (not a thenable that is bytes too). */
function isResultBytes(value: unknown): value is Uint8Array {
  return types.isUint8Array(value) && typeof (value as { then?: unknown }).then !== "function";
}

/**
 * A handler's return value as it is when it returns (or, returned as a
 * promise, when the wait for it resumes): bytes are copied at once, since
 * the job is settled a turn later and by then the handler may have reused
 * their buffer (a scratch buffer it encodes each result into). The copy is
 * the worker's own, so it is the one stored (the ack copies it no more).
 * Anything else is kept.
 */
function takenNow(value: unknown): unknown {
  return isResultBytes(value) ? new Uint8Array(value) : value;
}

/** Whether `await value` could wait (an object or function may be a thenable); primitives never do. */
function mayBeThenable(value: unknown): boolean {
  return (typeof value === "object" && value !== null) || typeof value === "function";
}

/**
 * What the handler returned, as `await` gives it, with bytes taken (see
 * {@link takenNow}) as soon as they are there: at once when returned as
 * they are, else within the resumption of the wait for them.
 */
async function awaitedTaken(value: unknown): Promise<unknown> {
  return isResultBytes(value) ? new Uint8Array(value) : takenNow(await value);
}

/**
 * The run of the handler on one claim, and the `ctx` the handler gets. Its
 * state is private, so the handler sees only the {@link JobContext} members:
 * `renewLease`, `transaction` and `progress` are own properties; `signal` is
 * a getter on the prototype that makes the signal on first use (so a spread
 * `{ ...ctx }` does not carry `signal`; destructuring `ctx` does).
 */
export class JobRun implements JobContext {
  readonly #owner: RunOwner;
  readonly #claim: Claim;
  readonly #renewal: BatchRenewal;
  /** The claim's number in its renewal batch. */
  readonly #index: number;
  readonly #deadline: Deadline | null;
  #timedOut = false;
  /** Given up at the worker's shutdown deadline: the handler's outcome, whenever it comes, is ignored. */
  #abandoned = false;
  /** Aborts `signal` when the run is abandoned; only when the worker may abandon runs. */
  #abandon: AbortController | null = null;
  #signal: AbortSignal | undefined = undefined;
  /** Lets go of the sources of a combined `#signal` (see `anySignal`); `null` when there is none. */
  #disposeSignal: (() => void) | null = null;
  #transactions: JobTransactions | null = null;
  /** Ends the run's span now, as failed (a traced run's; see `Tracing.handle`). */
  #endSpan: ((reason: unknown) => void) | null = null;

  /**
   * Starts the handler on `claim` (number `index` of the batch `renewal`
   * renews): at the job's deadline, if it has one and the handler is still
   * running, the attempt fails as timed out at once and the handler's own
   * outcome, whenever it comes, is ignored (its slot stays taken until it
   * returns, or until the worker abandons the run at its shutdown deadline,
   * see {@link abandon}). As at the shutdown deadline, a transaction of the
   * handler that settles its job and is in flight then is waited for: the
   * attempt times out only if that transaction fails.
   */
  static start(owner: RunOwner, claim: Claim, renewal: BatchRenewal, index: number): void {
    new JobRun(owner, claim, renewal, index).#start();
  }

  private constructor(owner: RunOwner, claim: Claim, renewal: BatchRenewal, index: number) {
    this.#owner = owner;
    this.#claim = claim;
    this.#renewal = renewal;
    this.#index = index;
    owner.abandonment?.runs.add(this);
    this.#deadline =
      claim.timeoutMs === undefined
        ? null
        : startDeadline(owner.clock, claim.timeoutMs, () => {
            this.#timedOut = true;
            // The handler may never return: its span ends now, as its attempt fails.
            this.#endSpan?.(this.#deadline!.signal.reason);
            // Asked only now: the signal's abort listener may have just issued one.
            owner.timedOut(claim, timedOutMessage(claim.timeoutMs!), this.#ownSettling());
          });
  }

  /**
   * Aborts when the job is cancelled, its lease is lost, its deadline passes,
   * the queue closes, or the worker abandons the run at its shutdown deadline.
   */
  get signal(): AbortSignal {
    if (this.#signal === undefined) {
      const claimSignal = this.#owner.queue.claimSignal(this.#claim);
      if (this.#owner.abandonment !== null) this.#abandon ??= new AbortController();
      const abandon = this.#abandon?.signal ?? null;
      if (this.#deadline === null && abandon === null) this.#signal = claimSignal;
      else {
        const sources = [claimSignal];
        if (this.#deadline !== null) sources.push(this.#deadline.signal);
        if (abandon !== null) sources.push(abandon);
        const combined = anySignal(sources);
        this.#signal = combined.signal;
        this.#disposeSignal = combined.dispose;
      }
    }
    return this.#signal;
  }

  /**
   * Gives the run up at the worker's shutdown deadline, its handler still
   * running: the claim is renewed no more, `ctx.signal` aborts with `reason`
   * (unless it aborted already), the attempt fails (unless it already did,
   * as timed out, or a transaction of the handler settles the job: see
   * below) and the slot frees now. Whatever the handler does later changes
   * nothing.
   *
   * A transaction of the handler that settles its job and is in flight then
   * (issued earlier, or from its signal's abort listener just now) is waited
   * for as a settlement of the worker: the attempt fails only if that
   * transaction fails, and the claim stays renewed until it ended.
   */
  abandon(reason: Error): void {
    const owner = this.#owner;
    this.#abandoned = true;
    owner.abandonment?.runs.delete(this);
    this.#deadline?.cancel();
    // A run that timed out was dealt with then (its renewal stops with its settlement).
    if (!this.#timedOut) {
      // A handler that never read its signal may still: made now, while the claim is
      // still live, it aborts with `reason` rather than the settled claim's.
      void this.signal;
      this.#abandon?.abort(reason);
      this.#endSpan?.(reason);
      // Asked only now: the abort listener may have just issued one.
      owner.abandonment?.abandoned(this.#claim, this.#ownSettling());
    } else owner.abandonment?.abandonedTimedOut();
    this.#disposeSignal?.();
    owner.done();
  }

  /**
   * The handler's own transactions that settle its job and are in flight
   * now, as whether one of them settled it (`null` when none was issued),
   * for a deadline that would fail the attempt: the claim stays renewed
   * until they ended, so it is not reaped while they commit.
   */
  #ownSettling(): Promise<boolean> | null {
    const issued = this.#transactions;
    if (issued?.settling !== true) {
      this.#renewal.stop(this.#index);
      return null;
    }
    return issued.settled().then((settled) => {
      this.#renewal.stop(this.#index);
      return settled;
    });
  }

  // Own properties (not prototype getters), so `{ ...ctx, extra }`, `Object.assign`
  // and `Object.keys(ctx)` keep them; an arrow field costs a few nanoseconds per job.
  // `signal` stays a lazy getter on the prototype: its AbortSignal costs far more
  // than a field, and most handlers never read it.

  readonly renewLease = (extensionMs: number): Promise<number> =>
    this.#owner.queue.renewLease(this.#claim, extensionMs);

  readonly transaction = (build: (tx: Transaction) => void): Promise<TransactionResult> => {
    this.#transactions ??= new JobTransactions(this.#owner.queue, this.#claim);
    return this.#transactions.run(build);
  };

  readonly progress = (value: JsonValue): void =>
    reportProgress(this.#owner.queue, this.#claim, value);

  #start(): void {
    const { handler, tracing } = this.#owner;
    const claim = this.#claim;
    let traced = false;
    let value: unknown;
    try {
      // A run without a span (tracing off, or a job tracing leaves out) calls the
      // handler directly: a wrapper would cost every job a promise of its own
      // (and, under a context manager, its async hooks). A traced run awaits the
      // handler's value inside its span as `#awaited` does (a promise's own
      // `then` is not called), so its outcome is the one it has untraced.
      traced = tracing?.tracesRun(claim) === true;
      value = traced
        ? tracing!.handle(
            claim,
            // Async: a handler that throws at once rejects, inside the span. Its value
            // becomes its outcome there, so a value that cannot be stored as its
            // result fails the span as it fails the attempt.
            async () => outcomeOf(await awaitedTaken(handler(claim, this))),
            (outcome) => {
              const ended = outcome as Outcome;
              return ended.ok ? this.#failure() : ended.error;
            },
            (endSpan) => {
              this.#endSpan = endSpan;
              // A handler that ignores its signal may never return: without a deadline,
              // nothing else would end its span once its claim is lost (lease reaped,
              // queue closed). A cancel only asks, so it ends nothing: the handler may
              // still return and complete its job. Ending it again changes nothing.
              onClaimLost(this.#owner.queue, claim, endSpan);
            },
          )
        : handler(claim, this);
    } catch (error) {
      this.#returned({ ok: false, error });
      return;
    }
    // A traced run's value is its span's promise, of the run's outcome.
    if (traced) void this.#awaitedOutcome(value as Promise<Outcome>);
    else if (!mayBeThenable(value)) this.#returned(outcomeOf(value));
    else if (isResultBytes(value)) this.#returned(outcomeOf(new Uint8Array(value)));
    else void this.#awaited(value);
  }

  /**
   * Why this run's attempt failed although its handler returned (asked for
   * its span when it returns): its deadline passed (the timed-out attempt
   * already failed), or its claim was lost meanwhile (its lease expired and
   * the reaper took the job back, or the queue stopped). The error is the
   * one `ctx.signal` aborted with, so a handler that ignores the signal
   * fails its span as one that honours it does. `undefined` otherwise.
   */
  #failure(): unknown {
    if (this.#timedOut) return this.#deadline!.signal.reason;
    if (this.#abandoned) return this.#abandon?.signal.reason;
    return claimLostReason(this.#owner.queue, this.#claim);
  }

  /**
   * Waits for a returned object as `await` does: a native promise's own `then`
   * is never called (its `constructor` is read, as `await` reads it), and
   * whatever the wait throws fails the attempt rather than escaping the
   * worker. Bytes it gives are taken as the wait resumes.
   */
  async #awaited(value: unknown): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = outcomeOf(takenNow(await value));
    } catch (error) {
      outcome = { ok: false, error };
    }
    this.#returned(outcome);
  }

  /** Waits for a traced run's outcome; a handler that threw rejects it. */
  async #awaitedOutcome(running: Promise<Outcome>): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = await running;
    } catch (error) {
      outcome = { ok: false, error };
    }
    this.#returned(outcome);
  }

  #returned(outcome: Outcome): void {
    // A transaction of the handler that acked, nacked or dead-lettered the job settled it.
    const issued = this.#transactions;
    // The handler is no longer running: its settling transaction is waited for, neither
    // abandoned nor timed out.
    if (!this.#abandoned) this.#owner.abandonment?.runs.delete(this);
    this.#deadline?.cancel();
    if (issued?.settling === true)
      void issued.settled().then((settled) => this.#end(outcome, settled));
    else this.#end(outcome, false);
  }

  #end(outcome: Outcome, settled: boolean): void {
    const owner = this.#owner;
    if (this.#abandoned) {
      // Abandoned at the shutdown deadline: its slot freed and its attempt was dealt with then.
      owner.abandonment?.endedAfterAbandoned(this.#claim);
      return;
    }
    owner.abandonment?.runs.delete(this);
    if (this.#timedOut || settled) this.#renewal.stop(this.#index);
    else {
      const signal = this.#signal;
      if (
        !outcome.ok &&
        signal?.aborted === true &&
        outcome.error === signal.reason &&
        !claimStartable(owner.queue, this.#claim)
      ) {
        // The handler gave up because the job was cancelled (or its claim lost): the
        // attempt did not fail, so no error of its own goes into the job's history.
        this.#renewal.stop(this.#index);
        owner.release(this.#claim);
      }
      // Its settlement goes out in the worker's next turn; until then the lease is
      // still renewed (and kept from the reaper), so a clock step in between does
      // not take back a job whose handler already returned.
      else owner.ended(this.#claim, outcome, this.#renewal, this.#index);
    }
    this.#disposeSignal?.();
    owner.done();
  }
}

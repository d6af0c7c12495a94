/**
 * `waitForCompletion`: callers waiting for jobs to end. An observer of the
 * commit boundary (`observe.ts`), registered only while someone waits, so a
 * waiter learns of the ack, dead-letter or cancel of its job once that record
 * is durable — no polling of the state or the store. Owns the waiters, their
 * time-outs (monotonic time) and abort signals, and which records end a job;
 * and the entry of `Queue.waitForCompletion`.
 */
import { type MonotonicClock, startTimer, type TimerHandle } from "../clock.js";
import type { Log } from "../log/index.js";
import { KeepAlive } from "../util/keep-alive.js";
import {
  checkDuration,
  checkOptionalSignal,
  checkOptionsObject,
  checkString,
} from "../validate.js";
import type { QueueCore } from "./core.js";
import type { ClaimAckTimes, CommitObserver, Observers } from "./observe.js";
import { WAIT_FOR_COMPLETION_OPTION_KEYS, type WaitForCompletionOptions } from "./options.js";
import type { QueueRecord } from "./records/codec.js";
import { Tag } from "./records/tags.js";
import type { Transition } from "./transition.js";
import type { Completion } from "./types.js";
import { completionOfJob } from "./views.js";

/** `Queue.waitForCompletion`: `id` is the job's public id (a caller's `jobId` or the generated one). */
export async function waitForCompletionOf(
  core: QueueCore,
  id: string,
  options: WaitForCompletionOptions,
): Promise<Completion> {
  core.check();
  const publicId = checkString(id, "id");
  checkOptionsObject(options, "options");
  const timeoutMs =
    options.timeoutMs === undefined
      ? undefined
      : checkDuration(options.timeoutMs, "options.timeoutMs");
  const signal = checkOptionalSignal(options.signal, "options.signal");
  if (signal?.aborted) throw signal.reason;
  core.settings.optionWarnings.check(
    options,
    "waitForCompletion options",
    WAIT_FOR_COMPLETION_OPTION_KEYS,
  );
  const state = core.state;
  const ended = completionOfJob(state, publicId);
  if (ended !== undefined) {
    // Its final record may still be in flight: answer once it is durable (leaving the open
    // batch open: an answer must not cost a log write of its own).
    const durable = await core.completions.whenDurable(core.log, timeoutMs, signal);
    return durable ? ended : { status: "timeout" };
  }
  const h = state.findPublic(publicId);
  if (h === -1) {
    // What made it so (an ack that deleted it, a removal) may still be in flight too.
    const durable = await core.completions.whenDurable(core.log, timeoutMs, signal);
    return durable ? { status: "not_found" } : { status: "timeout" };
  }
  // Records name the job by its log id.
  return core.completions.wait(state.idOf(h), timeoutMs, signal);
}

interface Waiter {
  resolve(completion: Completion): void;
  reject(error: unknown): void;
  timer: TimerHandle | null;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
}

/** How `record` ends its job, or `undefined` when it does not. */
export function completionOf(record: QueueRecord): Completion | undefined {
  switch (record.tag) {
    case Tag.Ack:
      return record.result === undefined
        ? { status: "done" }
        : { status: "done", result: Buffer.from(record.result) };
    case Tag.Dead:
      return { status: "dead", error: record.reason };
    case Tag.Cancel:
    case Tag.Remove: // `removeJobs` on a waiting job
      return { status: "cancelled" };
    default:
      return undefined;
  }
}

/** Waiters by job id. */
export class CompletionWaiters implements CommitObserver {
  /** An enqueue ends no job. */
  readonly eachEnqueue = false;
  /**
   * A claim ends no job, and an ack's record comes with the times
   * (`ClaimAckTimes.acks`): a waiter makes no transition per claim and ack.
   */
  readonly eachClaimAndAck = false;
  readonly #waiting = new Map<string, Set<Waiter>>();
  readonly #observers: Observers;
  readonly #clock: MonotonicClock;
  /** Holds the process open while anyone waits (the time-out timers are unref'd). */
  readonly #keepAlive = new KeepAlive();

  constructor(observers: Observers, clock: MonotonicClock) {
    this.#observers = observers;
    this.#clock = clock;
  }

  /**
   * Resolves when job `id` ends (the record is durable), with `timeout` after
   * `timeoutMs`; rejects with `signal`'s reason when it aborts first.
   */
  wait(
    id: string,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Completion> {
    return new Promise<Completion>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: null, signal, onAbort: null };
      if (timeoutMs !== undefined)
        waiter.timer = startTimer(this.#clock, timeoutMs, () =>
          this.#settle(id, waiter, { status: "timeout" }),
        );
      if (signal !== undefined) {
        waiter.onAbort = () => {
          this.#remove(id, waiter);
          reject(signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      let set = this.#waiting.get(id);
      if (set === undefined) {
        set = new Set();
        this.#waiting.set(id, set);
      }
      set.add(waiter);
      this.#keepAlive.acquire();
      this.#observers.add(this);
    });
  }

  /**
   * `log.whenDurable()`, bounded as {@link wait} is: `true` once durable,
   * `false` when `timeoutMs` passes first; rejects with `signal`'s reason when
   * it aborts first. With neither, no timer is set.
   */
  async whenDurable(
    log: Pick<Log, "whenDurable">,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const durable = log.whenDurable();
    if (timeoutMs === undefined && signal === undefined) {
      await durable;
      return true;
    }
    this.#keepAlive.acquire();
    try {
      return await new Promise<boolean>((resolve, reject) => {
        let timer: TimerHandle | null = null;
        const onAbort = (): void => {
          done();
          reject(signal!.reason);
        };
        const done = (): void => {
          timer?.cancel();
          signal?.removeEventListener("abort", onAbort);
        };
        // First, so a write already durable answers before a due timer fires.
        durable.then(
          () => {
            done();
            resolve(true);
          },
          (error: unknown) => {
            done();
            reject(error);
          },
        );
        if (timeoutMs !== undefined)
          timer = startTimer(this.#clock, timeoutMs, () => {
            done();
            resolve(false);
          });
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    } finally {
      this.#keepAlive.release();
    }
  }

  committed(
    transitions: readonly Transition[],
    _enqueued: unknown,
    times: ClaimAckTimes | undefined,
  ): void {
    // In commit order: the acks kept as times go between the transitions
    // they were committed among, so a job that ends twice in one batch (a
    // dead job requeued and acked, a kept done job removed) answers its first end.
    const acks = times?.acks;
    const after = times?.acksAfter;
    let a = 0;
    for (let i = 0; i < transitions.length; i++) {
      if (acks !== undefined) for (; a < acks.length && after![a]! <= i; a++) this.#ended(acks[a]!);
      this.#ended(transitions[i]!.record);
    }
    if (acks !== undefined) for (; a < acks.length; a++) this.#ended(acks[a]!);
  }

  /** Settles the waiters of the job `record` names, if it ends the job. */
  #ended(record: QueueRecord): void {
    const id = "id" in record ? record.id : undefined;
    if (id === undefined) return;
    const waiters = this.#waiting.get(id);
    if (waiters === undefined) return;
    const completion = completionOf(record);
    if (completion === undefined) return;
    for (const waiter of [...waiters]) this.#settle(id, waiter, completion);
  }

  /** Ends every wait with `error` (the queue closed or failed). */
  rejectAll(error: Error): void {
    for (const [id, set] of [...this.#waiting])
      for (const waiter of [...set]) {
        this.#remove(id, waiter);
        waiter.reject(error);
      }
  }

  #settle(id: string, waiter: Waiter, completion: Completion): void {
    this.#remove(id, waiter);
    // Each waiter gets its own copy of the result bytes.
    waiter.resolve(
      completion.status === "done" && completion.result !== undefined
        ? { status: "done", result: Buffer.from(completion.result) }
        : completion,
    );
  }

  #remove(id: string, waiter: Waiter): void {
    waiter.timer?.cancel();
    if (waiter.onAbort !== null) waiter.signal?.removeEventListener("abort", waiter.onAbort);
    const set = this.#waiting.get(id);
    if (set === undefined || !set.delete(waiter)) return;
    this.#keepAlive.release();
    if (set.size === 0) this.#waiting.delete(id);
    if (this.#waiting.size === 0) this.#observers.delete(this);
  }
}

/**
 * Group commit: turns appended records into WAL batches, keeps several of
 * their creates in flight, acknowledges each append once its batch and every
 * batch before it are durable, applies backpressure, and fails the log for
 * good when a write cannot succeed. Knows nothing of checkpoints or
 * manifests; the {@link WriterFence} supplies the epoch, the error for a slot
 * someone else took, and the acknowledgement rule.
 *
 * Sealing. With no create in flight the open batch is sealed at once (after
 * the current turn of the event loop, so records appended together share
 * it), or after `flushIntervalMs` when that is set: a lone producer waits one
 * store round trip, not a window. While creates are in flight, records
 * accumulate; the open batch is sealed when the last create completes, or
 * earlier — as one more create in flight — once one append brought
 * {@link PIPELINE_MIN_RECORDS} or {@link PIPELINE_MIN_BYTES} by itself, or
 * once the batch holds that minimum and twice as much as the newest batch in
 * flight (`isBig`). A steady stream gathers about one batch in flight's worth
 * per round trip, so it goes out as one create per round trip instead of
 * being split over several; big appends, and a load that doubles within a
 * round trip, are pipelined. So is any batch while producers wait for
 * backpressure (`maxUnflushedBytes`): holding it back would halve what gets
 * through.
 *
 * Order. Batch ids are dense and creates are issued in id order, at most
 * `maxWritesInFlight` (≤ {@link WAL_WINDOW}) past the last acknowledged one.
 * They may complete in any order; acknowledgements go strictly in WAL order.
 * A create that fails (or finds its slot taken) fails the log: its batch and
 * every later one are rejected; creates still in flight are resolved first
 * (`failed-tail.ts`).
 *
 * After a send. Work asked with `afterSend` runs right after the next create
 * is issued, while it is in flight (or when the log fails or stops): the
 * callers' bookkeeping for a batch that became durable then does not stand
 * between that batch's end and the next one's start.
 *
 * Elsewhere: the batches themselves (`batch.ts`), backpressure
 * (`backpressure.ts`), write tokens (`write-tokens.ts`), keeping the process
 * alive while appends wait (`keep-alive.ts`), the sealing timers
 * (`seal-timer.ts`), the writer's shapes (`writer-types.ts`).
 */
import { ClosedError, FencedError, StorageError } from "../errors.js";
import { messageOf } from "../util/message.js";
import { invalidArgument } from "../validate.js";
import { Backpressure } from "./backpressure.js";
import { isBig, isBigAppend, type OpenBatch, type SealedBatch } from "./batch.js";
import { encodedRecordBytes, encodeWalBatch } from "./codec.js";
import { deferred } from "./deferred.js";
import { FailedTail, withDoubt } from "./failed-tail.js";
import type { WriterFence } from "./fencing.js";
import { KeepAlive } from "./keep-alive.js";
import type { LogKeys } from "./keys.js";
import type { ResolvedLogOptions } from "./options.js";
import { SealTimer } from "./seal-timer.js";
import type { LogStorage } from "./storage.js";
import type { FailureListenerOptions } from "./types.js";
import { createWalObject } from "./wal-create.js";
import { WriteTokens } from "./write-tokens.js";
import {
  CREATE_MS_SAMPLE_CAP,
  CREATE_MS_SMOOTHING,
  type Cut,
  type WriterInit,
  type WriterStats,
} from "./writer-types.js";

export { PIPELINE_MIN_BYTES, PIPELINE_MIN_RECORDS } from "./batch.js";
export type { Cut, WriterInit, WriterStats } from "./writer-types.js";

export class LogWriter {
  readonly #storage: LogStorage;
  readonly #keys: LogKeys;
  readonly #options: ResolvedLogOptions;
  readonly #fence: WriterFence;
  readonly #describe: string;

  #nextWalId: number;
  #durableWalId: number;
  #open: OpenBatch | null = null;
  /** Sealed, not yet settled, in WAL order; the first `#issued` have creates issued. */
  readonly #sealed: SealedBatch[] = [];
  #issued = 0;
  readonly #sealTimer: SealTimer;
  #revalidating = false;
  /** Keeps the process alive while appends wait to become durable. */
  readonly #keepAlive = new KeepAlive();
  readonly #tokens = new WriteTokens();
  readonly #backpressure: Backpressure;
  #afterDurable: () => void = () => {};
  /** Called once the next batch is sent (or the log fails or stops), in the order asked. */
  #afterSend: Array<() => void> = [];

  #failure: Error | null = null;
  readonly #failedTail = new FailedTail();
  readonly #failureListeners: Array<(error: Error) => void> = [];
  /** Whether a failure listener writes the failure's log line (then the log writes none). */
  #failureLoggedByListener = false;
  #closing = false;
  /** Set by {@link stop}: nothing is sent from then on. */
  #stopped = false;

  #sealedBytesTotal: number;
  #durableBytesTotal: number;
  #sealedRecordsTotal: number;
  #durableRecordsTotal: number;
  #batchesWritten = 0;
  #recordsWritten = 0;
  #bytesWritten = 0;
  /** Moving average of how long a WAL create took to succeed (ms), or null before the first. */
  #walCreateMs: number | null = null;

  constructor(init: WriterInit) {
    this.#storage = init.storage;
    this.#keys = init.keys;
    this.#options = init.options;
    this.#fence = init.fence;
    this.#describe = init.describeLog;
    this.#nextWalId = init.nextWalId;
    this.#durableWalId = init.nextWalId - 1;
    this.#sealedBytesTotal = init.replayedWalBytes;
    this.#durableBytesTotal = init.replayedWalBytes;
    this.#sealedRecordsTotal = init.replayedWalRecords;
    this.#durableRecordsTotal = init.replayedWalRecords;
    this.#backpressure = new Backpressure(init.options.maxUnflushedBytes);
    this.#sealTimer = new SealTimer(
      init.options.clock,
      () => this.#seal(),
      () => this.#sealIfDue(),
    );
  }

  /** The error this log failed with, or null while it works. */
  get failure(): Error | null {
    return this.#failure;
  }

  /** Records appended so far (cumulative, counting those replayed at open), durable or not. */
  get appendedRecords(): number {
    return this.#sealedRecordsTotal + (this.#open?.records.length ?? 0);
  }

  /** Whether close has begun: appends are refused from then on. */
  get closing(): boolean {
    return this.#closing;
  }

  /** The error a call gets when the log cannot take it: its failure, or closed. */
  refusal(): Error | null {
    return this.#failure ?? (this.#closing ? new ClosedError(`${this.#describe} is closed`) : null);
  }

  /** Called after every batch that becomes durable (checkpoint policy, epoch checks). */
  afterDurable(listener: () => void): void {
    this.#afterDurable = listener;
  }

  append(records: Uint8Array | readonly Uint8Array[]): Promise<void> {
    // One record (the common case) needs no list of its own.
    const one = records instanceof Uint8Array ? records : null;
    if (one === null && (!Array.isArray(records) || !records.every((r) => r instanceof Uint8Array)))
      return Promise.reject(
        invalidArgument("records", "a Uint8Array or an array of Uint8Arrays", records),
      );
    const refused = this.refusal();
    if (refused !== null) return Promise.reject(refused);
    const list = records as readonly Uint8Array[];
    if (one === null && list.length === 0) return this.#barrier();

    let bytes = 0;
    if (one !== null) bytes = encodedRecordBytes(one);
    else for (const record of list) bytes += encodedRecordBytes(record);
    // All records of one call share a batch, so start a new one rather than overflow.
    if (this.#open !== null && this.#open.bytes + bytes > this.#options.maxBatchBytes) this.#seal();
    this.#open ??= { records: [], bytes: 0, bigAppend: false, done: deferred() };
    if (!this.#keepAlive.holding) this.#keepAlive.hold();
    const open = this.#open;
    if (one !== null) open.records.push(one);
    else for (const record of list) open.records.push(record);
    open.bytes += bytes;
    if (isBigAppend(one === null ? list.length : 1, bytes)) open.bigAppend = true;
    this.#backpressure.appended(bytes);

    if (open.bytes >= this.#options.maxBatchBytes) this.#seal();
    else this.#scheduleSeal(open);
    return open.done.promise;
  }

  /** Whether an append may go ahead without waiting (below `maxUnflushedBytes`, log working). */
  isWritable(): boolean {
    return this.#failure === null && this.#backpressure.allows(this.#closing);
  }

  whenWritable(): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    return this.#backpressure.whenAllowed(this.#closing);
  }

  /** Seals the open batch now; resolves once everything appended so far is durable. */
  flush(): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    this.#seal();
    return this.#barrier();
  }

  /** Seals the open batch and reports the cut: the state as of now is the state as of `walId`. */
  cut(): Cut {
    this.#seal();
    const last = this.#sealed.at(-1);
    return {
      walId: this.#nextWalId - 1,
      sealedBytes: this.#sealedBytesTotal,
      sealedRecords: this.#sealedRecordsTotal,
      durable: last === undefined ? Promise.resolve() : last.done.promise,
    };
  }

  onFailure(listener: (error: Error) => void, options?: FailureListenerOptions): void {
    const failure = this.#failure;
    if (failure !== null) queueMicrotask(() => listener(failure));
    else {
      this.#failureListeners.push(listener);
      if (options?.logsIt === true) this.#failureLoggedByListener = true;
    }
  }

  stats(): WriterStats {
    return {
      durableWalId: this.#durableWalId,
      batchesWritten: this.#batchesWritten,
      recordsWritten: this.#recordsWritten,
      bytesWritten: this.#bytesWritten,
      durableBytes: this.#durableBytesTotal,
      durableRecords: this.#durableRecordsTotal,
      unflushedBytes: this.#backpressure.unflushedBytes,
      walCreateMs: this.#walCreateMs,
    };
  }

  /** See {@link Log.afterSend}. */
  afterSend(callback: () => void): void {
    this.#afterSend.push(callback);
    // A failed or stopped log sends nothing more: the work runs soon (not
    // inside this call, so that work asking again does not recurse).
    if ((this.#failure !== null || this.#stopped) && this.#afterSend.length === 1)
      queueMicrotask(() => this.#runAfterSend());
  }

  /** Runs the work waiting for a batch to be sent (see {@link Log.afterSend}). */
  #runAfterSend(): void {
    const callbacks = this.#afterSend;
    if (callbacks.length === 0) return;
    this.#afterSend = [];
    for (const callback of callbacks) {
      try {
        callback();
      } catch (error) {
        const message = `${this.#describe}: work run after a send threw: ${messageOf(error)}`;
        this.#options.logger.error(message, { error });
      }
    }
  }

  /** Refuses appends from now on (flush and checkpoints still run). */
  beginClose(): void {
    this.#closing = true;
  }

  /** Stops the flush timer, cuts retry sleeps short and lets the process exit. */
  stop(): void {
    this.#stopped = true;
    this.#sealTimer.cancel();
    this.#runAfterSend();
    this.#storage.retry.sleeper.wakeAll();
    this.#keepAlive.stop();
  }

  /**
   * Fails the log for good: every later call rejects with the same error.
   * What was never written is rejected now; creates in flight are resolved
   * first (`failed-tail.ts`).
   */
  fail(cause: unknown): void {
    if (this.#failure !== null) return;
    const error =
      cause instanceof FencedError || cause instanceof StorageError
        ? cause
        : new StorageError(`${this.#describe}: ${String(cause)}`, { cause });
    this.#failure = error;
    this.#sealTimer.cancel();
    this.#storage.retry.sleeper.wakeAll();
    const unwritten = this.#sealed.splice(this.#issued).map((b) => b.done);
    if (this.#open !== null) unwritten.push(this.#open.done);
    this.#open = null;
    for (const done of unwritten) done.reject(error);
    this.#backpressure.failAll(error);
    // One line per failure: a listener that logs it (the queue) says more than this would.
    if (!this.#failureLoggedByListener)
      this.#options.logger.error("log failed", { log: this.#describe, error: error.message });
    for (const listener of this.#failureListeners.splice(0)) {
      try {
        listener(error);
      } catch (listenerError) {
        this.#options.logger.error("onFailure listener threw", { error: String(listenerError) });
      }
    }
    queueMicrotask(() => this.#settle());
    this.#runAfterSend();
  }

  /** Arranges for the open batch to be sealed when due (see the module comment). */
  #scheduleSeal(open: OpenBatch): void {
    if (this.#issued === 0 && this.#sealed.length === 0) {
      // Idle: no create to wait for.
      const { flushIntervalMs } = this.#options;
      if (flushIntervalMs > 0) {
        this.#sealTimer.openWindow(flushIntervalMs);
        return;
      }
    } else if (!this.#goesAlongside(open)) {
      return; // sealed when a create completes
    }
    this.#sealTimer.afterTurn();
  }

  #roomInFlight(): boolean {
    return this.#sealed.length === this.#issued && this.#issued < this.#options.maxWritesInFlight;
  }

  /** Seals the open batch if nothing is in flight, or if it is big enough to go alongside. */
  #sealIfDue(): void {
    const open = this.#open;
    if (open === null || this.#failure !== null || this.#sealTimer.windowOpen) return;
    if (this.#issued === 0 || this.#goesAlongside(open)) this.#seal();
  }

  /**
   * Whether the open batch goes out beside the creates in flight: when it is
   * big (see the module comment), or when producers wait for backpressure:
   * holding their bytes back for a round trip would then halve what one
   * create in flight lets through.
   */
  #goesAlongside(open: OpenBatch): boolean {
    return (
      this.#roomInFlight() &&
      (isBig(open, this.#sealed.at(-1)) || !this.#backpressure.allows(this.#closing))
    );
  }

  /** Resolves once everything appended so far is durable. */
  #barrier(): Promise<void> {
    const last = this.#open ?? this.#sealed.at(-1);
    return last === undefined ? Promise.resolve() : last.done.promise;
  }

  /** Turns the open batch into the next WAL batch and issues creates while there is room. */
  #seal(): void {
    const open = this.#open;
    if (open === null || this.#failure !== null) return;
    this.#open = null;
    this.#sealTimer.cancel();
    const id = this.#nextWalId++;
    const token = this.#tokens.next();
    const header = { epoch: this.#fence.epoch, acknowledgedThrough: this.#durableWalId };
    const body = encodeWalBatch(id, header, token, open.records);
    this.#sealedBytesTotal += body.byteLength;
    this.#sealedRecordsTotal += open.records.length;
    this.#sealed.push({
      id,
      recordCount: open.records.length,
      bytes: open.bytes,
      body,
      token,
      done: open.done,
      outcome: null,
      issuedAt: 0,
      completedAt: 0,
    });
    this.#pump();
  }

  #pump(): void {
    let sent = false;
    while (this.#failure === null && this.#issued < this.#options.maxWritesInFlight) {
      const batch = this.#sealed[this.#issued];
      if (batch === undefined) break;
      this.#issued++;
      // Keep the acknowledgement rule satisfied without waiting: look for a newer epoch
      // alongside the create when the last look is getting old.
      if (this.#fence.confirmationAging) this.#validate().catch(() => {});
      void this.#write(batch);
      sent = true;
    }
    // The create is on its way (its request made before `#write` first
    // awaits): the work waiting for it runs during the write, not before it.
    if (sent) this.#runAfterSend();
  }

  async #write(batch: SealedBatch): Promise<void> {
    batch.issuedAt = this.#options.clock.monotonicNow();
    try {
      batch.outcome = await createWalObject(
        this.#storage,
        this.#keys.wal(batch.id),
        batch.body,
        batch.token,
        () => this.#failure !== null,
      );
    } catch (error) {
      // Not a store answer (a logger or sleeper threw): the create may have been sent.
      batch.outcome = { kind: "unknown", error };
    }
    batch.completedAt = this.#options.clock.monotonicNow();
    if (batch.outcome.kind === "created") {
      // Capped: a rare slow create (a stall of the event loop, a hiccup of the disk) moves the
      // average by at most a few milliseconds, so one does not turn a fast store into a slow one.
      const took = Math.min(batch.completedAt - batch.issuedAt, CREATE_MS_SAMPLE_CAP);
      this.#walCreateMs =
        this.#walCreateMs === null
          ? took
          : this.#walCreateMs + (took - this.#walCreateMs) / CREATE_MS_SMOOTHING;
    }
    this.#settle();
  }

  /** Looks for a newer epoch; fails the log if there is one. */
  #validate(): Promise<void> {
    return this.#fence.validate().catch((error: unknown) => {
      if (error instanceof FencedError) this.fail(error);
      throw error;
    });
  }

  /** Acknowledges or rejects completed batches at the head, strictly in WAL order. */
  #settle(): void {
    let acknowledged = false;
    for (;;) {
      const head = this.#sealed[0];
      if (head === undefined || head.outcome === null) break;
      if (this.#failure !== null) {
        acknowledged = this.#settleAfterFailure(head) || acknowledged;
        continue;
      }
      const { kind } = head.outcome;
      if (kind === "created") {
        if (!this.#fence.mayAcknowledge(head.completedAt)) {
          this.#revalidate();
          break;
        }
        this.#acknowledge(head);
        acknowledged = true;
      } else if (kind === "taken") {
        this.fail(this.#fence.fenced({ walKey: this.#keys.wal(head.id) }));
      } else {
        this.fail(head.outcome.error);
      }
    }
    if (this.#failure !== null) {
      if (this.#sealed.length === 0 && this.#open === null) this.#keepAlive.release();
      return;
    }
    // Whatever arrived during the writes goes out now: the writes themselves were the wait.
    this.#sealIfDue();
    this.#pump();
    if (this.#sealed.length === 0 && this.#open === null) this.#keepAlive.release();
    if (acknowledged) this.#afterDurable();
  }

  /** The head landed, but too long after the last look at the epochs: look again first. */
  #revalidate(): void {
    if (this.#revalidating) return;
    this.#revalidating = true;
    this.#validate().then(
      () => {
        this.#revalidating = false;
        this.#settle();
      },
      (error: unknown) => {
        this.#revalidating = false;
        this.fail(error); // fenced (already failed), or the store kept failing
      },
    );
  }

  #acknowledge(batch: SealedBatch): void {
    this.#sealed.shift();
    this.#issued--;
    this.#durableWalId = batch.id;
    this.#batchesWritten++;
    this.#recordsWritten += batch.recordCount;
    this.#bytesWritten += batch.body.byteLength;
    this.#durableBytesTotal += batch.body.byteLength;
    this.#durableRecordsTotal += batch.recordCount;
    this.#backpressure.durable(batch.bytes);
    batch.done.resolve();
  }

  /** Settles the head after the log failed; true when it was acknowledged. */
  #settleAfterFailure(head: SealedBatch): boolean {
    const verdict = this.#failedTail.next(head.outcome!, () =>
      this.#fence.mayAcknowledge(head.completedAt),
    );
    if (verdict === "acknowledge") {
      this.#acknowledge(head);
      return true;
    }
    this.#sealed.shift();
    this.#issued--;
    const failure = this.#failure!;
    head.done.reject(verdict === "rejectInDoubt" ? withDoubt(failure) : failure);
    return false;
  }
}

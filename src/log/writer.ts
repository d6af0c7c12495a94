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
 * Order. Creates are issued in id order and acknowledged strictly in WAL
 * order; a create that fails (or finds its slot taken) fails the log. The
 * window of creates in flight, which keeps that order, is `wal-window.ts`.
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

import { types } from "node:util";
import { ClosedError, FencedError, StorageError } from "../errors.js";
import { writesComing } from "../store/write-hint.js";
import { messageOf } from "../util/message.js";
import { invalidArgument } from "../validate.js";
import { Backpressure } from "./backpressure.js";
import { isBig, isBigAppend, type OpenBatch, type SealedBatch } from "./batch.js";
import { encodedRecordBytes, encodeWalBatch } from "./codec.js";
import { deferred } from "./deferred.js";
import type { WriterFence } from "./fencing.js";
import { KeepAlive } from "./keep-alive.js";
import type { ResolvedLogOptions } from "./options.js";
import { SealTimer } from "./seal-timer.js";
import type { LogStorage } from "./storage.js";
import type { FailureListenerOptions } from "./types.js";
import { WalWindow } from "./wal-window.js";
import { WriteTokens } from "./write-tokens.js";
import type { Cut, WriterInit, WriterStats } from "./writer-types.js";

export { PIPELINE_MIN_BYTES, PIPELINE_MIN_RECORDS } from "./batch.js";
export type { Cut, WriterInit, WriterStats } from "./writer-types.js";

export class LogWriter {
  readonly #storage: LogStorage;
  readonly #options: ResolvedLogOptions;
  readonly #fence: WriterFence;
  readonly #describe: string;

  #nextWalId: number;
  #durableWalId: number;
  #open: OpenBatch | null = null;
  /** Sealed batches, their creates in flight, and their settling in WAL order. */
  readonly #window: WalWindow;
  readonly #sealTimer: SealTimer;
  /** Keeps the process alive while appends wait to become durable. */
  readonly #keepAlive = new KeepAlive();
  readonly #tokens: WriteTokens;
  readonly #backpressure: Backpressure;
  #afterDurable: () => void = () => {};
  /** Called once the next batch is sent (or the log fails or stops), in the order asked. */
  #afterSend: Array<() => void> = [];

  #failure: Error | null = null;
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

  constructor(init: WriterInit) {
    this.#storage = init.storage;
    this.#tokens = new WriteTokens(init.storage.random);
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
    this.#window = new WalWindow({
      storage: init.storage,
      keys: init.keys,
      options: init.options,
      fence: init.fence,
      failure: () => this.#failure,
      fail: (cause) => this.fail(cause),
      durable: (batch) => this.#durable(batch),
      settled: (acknowledged) => this.#settled(acknowledged),
    });
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
    const one = types.isUint8Array(records) ? records : null;
    if (one === null && (!Array.isArray(records) || !records.every(types.isUint8Array)))
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
    this.#open ??= { records: [], bytes: 0, bigAppend: false, hinted: false, done: deferred() };
    if (!this.#keepAlive.holding) this.#keepAlive.hold();
    const open = this.#open;
    // A second call into one batch: appends come from several callers at once, maybe a
    // steady stream the store may prepare for (see `write-hint.ts`; the store judges from
    // how often it is told); told once per batch.
    if (open.records.length > 0 && !open.hinted) {
      open.hinted = true;
      writesComing(this.#storage.store);
    }
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

  /** Resolves once everything appended so far is durable, leaving the open batch open. */
  whenDurable(): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    return this.#barrier();
  }

  /** Seals the open batch and reports the cut: the state as of now is the state as of `walId`. */
  cut(): Cut {
    this.#seal();
    const last = this.#window.newest;
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
      walCreateMs: this.#window.walCreateMs,
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
    const unwritten = this.#window.unissued().map((b) => b.done);
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
    queueMicrotask(() => this.#window.settle());
    this.#runAfterSend();
  }

  /** Arranges for the open batch to be sealed when due (see the module comment). */
  #scheduleSeal(open: OpenBatch): void {
    if (this.#window.issued === 0 && this.#window.empty) {
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

  /** Seals the open batch if nothing is in flight, or if it is big enough to go alongside. */
  #sealIfDue(): void {
    const open = this.#open;
    if (open === null || this.#failure !== null || this.#sealTimer.windowOpen) return;
    if (this.#window.issued === 0 || this.#goesAlongside(open)) this.#seal();
  }

  /**
   * Whether the open batch goes out beside the creates in flight: when it is
   * big (see the module comment), or when producers wait for backpressure:
   * holding their bytes back for a round trip would then halve what one
   * create in flight lets through.
   */
  #goesAlongside(open: OpenBatch): boolean {
    return (
      this.#window.hasRoom() &&
      (isBig(open, this.#window.newest) || !this.#backpressure.allows(this.#closing))
    );
  }

  /** Resolves once everything appended so far is durable. */
  #barrier(): Promise<void> {
    const last = this.#open ?? this.#window.newest;
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
    this.#window.push({
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

  /** Issues the creates there is room for; the work waiting for a send runs once one is. */
  #pump(): void {
    // The create is on its way (its request made before the window's write
    // first awaits): the work waiting for it runs during the write, not before it.
    if (this.#window.pump()) this.#runAfterSend();
  }

  /** A settling pass of the window ended: what arrived meanwhile goes out. */
  #settled(acknowledged: boolean): void {
    if (this.#failure !== null) {
      if (this.#window.empty && this.#open === null) this.#keepAlive.release();
      return;
    }
    // Whatever arrived during the writes goes out now: the writes themselves were the wait.
    this.#sealIfDue();
    this.#pump();
    if (this.#window.empty && this.#open === null) this.#keepAlive.release();
    if (acknowledged) this.#afterDurable();
  }

  /** `batch` left the window acknowledged: count it and tell its callers. */
  #durable(batch: SealedBatch): void {
    this.#durableWalId = batch.id;
    this.#batchesWritten++;
    this.#recordsWritten += batch.recordCount;
    this.#bytesWritten += batch.body.byteLength;
    this.#durableBytesTotal += batch.body.byteLength;
    this.#durableRecordsTotal += batch.recordCount;
    this.#backpressure.durable(batch.bytes);
    batch.done.resolve();
  }
}

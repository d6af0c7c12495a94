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
 * earlier — as one more create in flight — once it is big enough to be worth
 * its own request ({@link PIPELINE_MIN_RECORDS}, {@link PIPELINE_MIN_BYTES}).
 *
 * Order. Batch ids are dense and creates are issued in id order, at most
 * `maxWritesInFlight` (≤ {@link WAL_WINDOW}) past the last acknowledged one.
 * They may complete in any order; acknowledgements go strictly in WAL order.
 * A create that fails (or finds its slot taken) fails the log: its batch and
 * every later one are rejected.
 *
 * Failure. When the log fails with creates in flight, each of them is still
 * resolved before its callers hear anything: one that landed, after every
 * batch before it landed, is acknowledged (it is below the new writer's
 * fence and will be replayed); one whose outcome cannot be learnt is
 * rejected with `inDoubt: true`; the rest are rejected plainly.
 */
import { randomBytes } from "node:crypto";
import { startTimer, type TimerHandle } from "../clock.js";
import { ClosedError, FencedError, StorageError } from "../errors.js";
import { invalidArgument } from "../validate.js";
import { encodedRecordBytes, encodeWalBatch, WRITE_TOKEN_BYTES } from "./codec.js";
import { type Deferred, deferred } from "./deferred.js";
import type { WriterFence } from "./fencing.js";
import type { LogKeys } from "./keys.js";
import type { ResolvedLogOptions } from "./options.js";
import type { LogStorage } from "./storage.js";
import { createWalObject, type WalCreateOutcome } from "./wal-create.js";

/** Write tokens drawn from the system's random source at once (one call per this many batches). */
const TOKEN_POOL = 64;

/** An open batch this many records long is sealed as one more create in flight. */
export const PIPELINE_MIN_RECORDS = 32;
/** An open batch this many bytes big is sealed as one more create in flight. */
export const PIPELINE_MIN_BYTES = 256 * 1024;

/** Everything recovery hands to the group-commit writer. */
export interface WriterInit {
  storage: LogStorage;
  keys: LogKeys;
  options: ResolvedLogOptions;
  fence: WriterFence;
  /** The first WAL slot this writer will fill (past its fences). */
  nextWalId: number;
  /** Encoded bytes of the WAL replayed at open (they count towards the next checkpoint). */
  replayedWalBytes: number;
  describeLog: string;
}

/** A consistent cut of the log: what a checkpoint taken right now covers. */
export interface Cut {
  /** The newest sealed batch: everything appended so far is in it or before it. */
  walId: number;
  /** Encoded bytes of every batch up to `walId` (replayed ones included). */
  sealedBytes: number;
  /** Resolves once batch `walId` is durable; rejects if the log fails first. */
  durable: Promise<void>;
}

/** Counters of the group-commit writer. */
export interface WriterStats {
  durableWalId: number;
  batchesWritten: number;
  recordsWritten: number;
  bytesWritten: number;
  /** Encoded bytes of every durable batch, replayed ones included. */
  durableBytes: number;
  unflushedBytes: number;
}

interface OpenBatch {
  records: Uint8Array[];
  bytes: number;
  done: Deferred<void>;
}

interface SealedBatch {
  id: number;
  recordCount: number;
  bytes: number;
  body: Uint8Array;
  token: Uint8Array;
  done: Deferred<void>;
  /** Null until the create completes. */
  outcome: WalCreateOutcome | null;
  /** Monotonic time the create completed. */
  completedAt: number;
}

/**
 * After the log failed: what the batches settled so far amount to for the
 * next one. `landed`: all of them are in the WAL; `maybe`: one may be
 * missing; `dead`: one is missing for sure, so nothing after it is replayed.
 */
type Prefix = "landed" | "maybe" | "dead";

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
  #flushTimer: TimerHandle | null = null;
  #kick: NodeJS.Immediate | null = null;
  #revalidating = false;
  /**
   * Keeps the process alive while appends wait to become durable (timers
   * themselves never do): one handle, ref'd while busy and unref'd when idle,
   * so a busy log does not create and clear a timer per batch.
   */
  #keepAlive: NodeJS.Timeout | null = null;
  #keepingAlive = false;
  #tokens: Uint8Array = new Uint8Array(0);
  #tokenOffset = 0;
  #unflushedBytes = 0;
  #writableWaiters: Deferred<void>[] = [];
  #afterDurable: () => void = () => {};

  #failure: Error | null = null;
  #prefix: Prefix = "landed";
  readonly #failureListeners: Array<(error: Error) => void> = [];
  #closing = false;

  #sealedBytesTotal: number;
  #durableBytesTotal: number;
  #batchesWritten = 0;
  #recordsWritten = 0;
  #bytesWritten = 0;

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
  }

  /** The error this log failed with, or null while it works. */
  get failure(): Error | null {
    return this.#failure;
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
    const list: readonly Uint8Array[] = records instanceof Uint8Array ? [records] : records;
    if (!Array.isArray(list) || !list.every((r) => r instanceof Uint8Array)) {
      return Promise.reject(
        invalidArgument("records", "a Uint8Array or an array of Uint8Arrays", records),
      );
    }
    const refused = this.refusal();
    if (refused !== null) return Promise.reject(refused);
    if (list.length === 0) return this.#barrier();

    let bytes = 0;
    for (const record of list) bytes += encodedRecordBytes(record);
    // All records of one call share a batch, so start a new one rather than overflow.
    if (this.#open !== null && this.#open.bytes + bytes > this.#options.maxBatchBytes) this.#seal();
    this.#open ??= { records: [], bytes: 0, done: deferred() };
    if (!this.#keepingAlive) this.#holdKeepAlive();
    const open = this.#open;
    for (const record of list) open.records.push(record);
    open.bytes += bytes;
    this.#unflushedBytes += bytes;

    if (open.bytes >= this.#options.maxBatchBytes) this.#seal();
    else this.#scheduleSeal(open);
    return open.done.promise;
  }

  /** Whether an append may go ahead without waiting (below `maxUnflushedBytes`, log working). */
  isWritable(): boolean {
    return (
      this.#failure === null &&
      (this.#unflushedBytes <= this.#options.maxUnflushedBytes || this.#closing)
    );
  }

  whenWritable(): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (this.#unflushedBytes <= this.#options.maxUnflushedBytes || this.#closing) {
      return Promise.resolve();
    }
    const waiter = deferred<void>();
    this.#writableWaiters.push(waiter);
    return waiter.promise;
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
      durable: last === undefined ? Promise.resolve() : last.done.promise,
    };
  }

  onFailure(listener: (error: Error) => void): void {
    const failure = this.#failure;
    if (failure !== null) queueMicrotask(() => listener(failure));
    else this.#failureListeners.push(listener);
  }

  stats(): WriterStats {
    return {
      durableWalId: this.#durableWalId,
      batchesWritten: this.#batchesWritten,
      recordsWritten: this.#recordsWritten,
      bytesWritten: this.#bytesWritten,
      durableBytes: this.#durableBytesTotal,
      unflushedBytes: this.#unflushedBytes,
    };
  }

  /** Refuses appends from now on (flush and checkpoints still run). */
  beginClose(): void {
    this.#closing = true;
  }

  /** Stops the flush timer, cuts retry sleeps short and lets the process exit. */
  stop(): void {
    this.#cancelScheduledSeal();
    this.#storage.retry.sleeper.wakeAll();
    this.#releaseKeepAlive();
    if (this.#keepAlive !== null) clearInterval(this.#keepAlive);
    this.#keepAlive = null;
  }

  /**
   * Fails the log for good: every later call rejects with the same error.
   * What was never written is rejected now; creates in flight are resolved
   * first (see the module comment).
   */
  fail(cause: unknown): void {
    if (this.#failure !== null) return;
    const error =
      cause instanceof FencedError || cause instanceof StorageError
        ? cause
        : new StorageError(`${this.#describe}: ${String(cause)}`, { cause });
    this.#failure = error;
    this.#cancelScheduledSeal();
    this.#storage.retry.sleeper.wakeAll();
    const unwritten = this.#sealed.splice(this.#issued).map((b) => b.done);
    if (this.#open !== null) unwritten.push(this.#open.done);
    this.#open = null;
    for (const done of unwritten) done.reject(error);
    for (const waiter of this.#writableWaiters) waiter.reject(error);
    this.#writableWaiters = [];
    this.#options.logger.error("log failed", { log: this.#describe, error: error.message });
    for (const listener of this.#failureListeners.splice(0)) {
      try {
        listener(error);
      } catch (listenerError) {
        this.#options.logger.error("onFailure listener threw", { error: String(listenerError) });
      }
    }
    queueMicrotask(() => this.#settle());
  }

  /** Arranges for the open batch to be sealed when due (see the module comment). */
  #scheduleSeal(open: OpenBatch): void {
    if (this.#issued === 0 && this.#sealed.length === 0) {
      // Idle: no create to wait for.
      const { clock, flushIntervalMs } = this.#options;
      if (flushIntervalMs > 0) {
        this.#flushTimer ??= startTimer(clock, flushIntervalMs, () => {
          this.#flushTimer = null;
          this.#seal();
        });
        return;
      }
    } else if (!(this.#roomInFlight() && isBig(open))) {
      return; // sealed when a create completes
    }
    this.#kick ??= setImmediate(() => {
      this.#kick = null;
      this.#sealIfDue();
    });
  }

  #cancelScheduledSeal(): void {
    this.#flushTimer?.cancel();
    this.#flushTimer = null;
    if (this.#kick !== null) clearImmediate(this.#kick);
    this.#kick = null;
  }

  #roomInFlight(): boolean {
    return this.#sealed.length === this.#issued && this.#issued < this.#options.maxWritesInFlight;
  }

  /** Seals the open batch if nothing is in flight, or if it is big enough to go alongside. */
  #sealIfDue(): void {
    const open = this.#open;
    if (open === null || this.#failure !== null || this.#flushTimer !== null) return;
    if (this.#issued === 0 || (this.#roomInFlight() && isBig(open))) this.#seal();
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
    this.#cancelScheduledSeal();
    const id = this.#nextWalId++;
    const token = this.#nextToken();
    const header = { epoch: this.#fence.epoch, acknowledgedThrough: this.#durableWalId };
    const body = encodeWalBatch(id, header, token, open.records);
    this.#sealedBytesTotal += body.byteLength;
    this.#sealed.push({
      id,
      recordCount: open.records.length,
      bytes: open.bytes,
      body,
      token,
      done: open.done,
      outcome: null,
      completedAt: 0,
    });
    this.#pump();
  }

  #pump(): void {
    while (this.#failure === null && this.#issued < this.#options.maxWritesInFlight) {
      const batch = this.#sealed[this.#issued];
      if (batch === undefined) return;
      this.#issued++;
      // Keep the acknowledgement rule satisfied without waiting: look for a newer epoch
      // alongside the create when the last look is getting old.
      if (this.#fence.confirmationAging) this.#validate().catch(() => {});
      void this.#write(batch);
    }
  }

  async #write(batch: SealedBatch): Promise<void> {
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
      if (this.#sealed.length === 0 && this.#open === null) this.#releaseKeepAlive();
      return;
    }
    // Whatever arrived during the writes goes out now: the writes themselves were the wait.
    this.#sealIfDue();
    this.#pump();
    if (this.#sealed.length === 0 && this.#open === null) this.#releaseKeepAlive();
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
    this.#unflushedBytes -= batch.bytes;
    batch.done.resolve();
    this.#releaseWritableWaiters();
  }

  /** Settles the head after the log failed; true when it was acknowledged. */
  #settleAfterFailure(head: SealedBatch): boolean {
    const outcome = head.outcome!;
    const failure = this.#failure!;
    if (
      outcome.kind === "created" &&
      this.#prefix === "landed" &&
      this.#fence.mayAcknowledge(head.completedAt)
    ) {
      // Landed after everything before it: the next writer replays it.
      this.#acknowledge(head);
      return true;
    }
    this.#sealed.shift();
    this.#issued--;
    let inDoubt: boolean;
    if (outcome.kind === "created" || outcome.kind === "unknown") {
      // Replayed exactly when every batch before it is in the WAL.
      inDoubt = this.#prefix !== "dead";
      if (this.#prefix === "landed") this.#prefix = "maybe";
    } else {
      inDoubt = false;
      this.#prefix = "dead";
    }
    head.done.reject(inDoubt ? withDoubt(failure) : failure);
    return false;
  }

  #releaseWritableWaiters(): void {
    if (this.#unflushedBytes > this.#options.maxUnflushedBytes) return;
    const waiters = this.#writableWaiters;
    this.#writableWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  #holdKeepAlive(): void {
    this.#keepingAlive = true;
    if (this.#keepAlive === null) this.#keepAlive = setInterval(() => {}, 1 << 30);
    else this.#keepAlive.ref();
  }

  #releaseKeepAlive(): void {
    if (!this.#keepingAlive) return;
    this.#keepingAlive = false;
    this.#keepAlive?.unref();
  }

  /** A fresh random write token (a view into a pool refilled every {@link TOKEN_POOL} batches). */
  #nextToken(): Uint8Array {
    if (this.#tokenOffset === this.#tokens.byteLength) {
      this.#tokens = randomBytes(WRITE_TOKEN_BYTES * TOKEN_POOL);
      this.#tokenOffset = 0;
    }
    const token = this.#tokens.subarray(this.#tokenOffset, this.#tokenOffset + WRITE_TOKEN_BYTES);
    this.#tokenOffset += WRITE_TOKEN_BYTES;
    return token;
  }
}

function isBig(open: OpenBatch): boolean {
  return open.records.length >= PIPELINE_MIN_RECORDS || open.bytes >= PIPELINE_MIN_BYTES;
}

/** A copy of `error` that says the write may have been applied anyway. */
function withDoubt(error: Error): Error {
  const suffix = " The write may have been applied anyway: treat it as maybe-applied.";
  if (error instanceof FencedError)
    return new FencedError(error.message + suffix, { cause: error, inDoubt: true });
  if (error instanceof StorageError)
    return new StorageError(error.message + suffix, {
      cause: error,
      permanent: error.permanent,
      inDoubt: true,
    });
  return error;
}

/**
 * Group commit: turns appended records into WAL batches, writes them strictly
 * in order, acknowledges each append once its batch (and every batch before
 * it) is durable, applies backpressure, and fails the log for good when a
 * write cannot succeed. Knows nothing of checkpoints or manifests; the
 * {@link WriterFence} only supplies the error for a slot someone else took.
 *
 * At most one WAL create is in flight, so batch ids are dense and a batch is
 * durable only once every batch before it is. Records appended while a write
 * is in flight form the next batch, sealed the moment that write lands.
 */
import { randomBytes } from "node:crypto";
import { startTimer, type TimerHandle } from "../clock.js";
import { ClosedError, FencedError, StorageError } from "../errors.js";
import { invalidArgument } from "../validate.js";
import { encodedRecordBytes, encodeWalBatch, hasWriteToken, WRITE_TOKEN_BYTES } from "./codec.js";
import { type Deferred, deferred } from "./deferred.js";
import type { WriterFence } from "./fencing.js";
import type { LogKeys } from "./keys.js";
import type { ResolvedLogOptions } from "./options.js";
import type { LogStorage } from "./storage.js";

/** Everything recovery hands to the group-commit writer. */
export interface WriterInit {
  storage: LogStorage;
  keys: LogKeys;
  options: ResolvedLogOptions;
  fence: WriterFence;
  /** The first WAL slot this writer will fill (one past its fence). */
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
}

export class LogWriter {
  readonly #storage: LogStorage;
  readonly #keys: LogKeys;
  readonly #options: ResolvedLogOptions;
  readonly #fence: WriterFence;
  readonly #describe: string;

  #nextWalId: number;
  #durableWalId: number;
  #open: OpenBatch | null = null;
  /** Sealed, not yet durable; the head is being written when `#writing`. */
  readonly #sealed: SealedBatch[] = [];
  #writing = false;
  #flushTimer: TimerHandle | null = null;
  /** Keeps the process alive while appends wait to become durable (timers themselves never do). */
  #keepAlive: NodeJS.Timeout | null = null;
  #unflushedBytes = 0;
  #writableWaiters: Deferred<void>[] = [];
  #afterDurable: () => void = () => {};

  #failure: Error | null = null;
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
    this.#keepAlive ??= setInterval(() => {}, 1 << 30);
    const open = this.#open;
    for (const record of list) open.records.push(record);
    open.bytes += bytes;
    this.#unflushedBytes += bytes;

    if (open.bytes >= this.#options.maxBatchBytes) this.#seal();
    else if (!this.#writing && this.#flushTimer === null) this.#armFlushTimer();
    return open.done.promise;
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
    this.#flushTimer?.cancel();
    this.#flushTimer = null;
    this.#storage.retry.sleeper.wakeAll();
    this.#releaseKeepAlive();
  }

  /** Fails the log for good: every pending and later call rejects with the same error. */
  fail(cause: unknown): void {
    if (this.#failure !== null) return;
    const error =
      cause instanceof FencedError || cause instanceof StorageError
        ? cause
        : new StorageError(`${this.#describe}: ${String(cause)}`, { cause });
    this.#failure = error;
    this.stop();
    const pending = [...this.#sealed.map((b) => b.done), ...(this.#open ? [this.#open.done] : [])];
    this.#sealed.length = 0;
    this.#open = null;
    for (const done of pending) done.reject(error);
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
  }

  #armFlushTimer(): void {
    const { clock, flushIntervalMs } = this.#options;
    this.#flushTimer = startTimer(clock, flushIntervalMs, () => {
      this.#flushTimer = null;
      this.#seal();
    });
  }

  /** Resolves once everything appended so far is durable. */
  #barrier(): Promise<void> {
    const last = this.#open ?? this.#sealed.at(-1);
    return last === undefined ? Promise.resolve() : last.done.promise;
  }

  /** Turns the open batch into the next WAL batch and starts writing if idle. */
  #seal(): void {
    const open = this.#open;
    if (open === null || this.#failure !== null) return;
    this.#open = null;
    this.#flushTimer?.cancel();
    this.#flushTimer = null;
    const id = this.#nextWalId++;
    const token = randomBytes(WRITE_TOKEN_BYTES);
    const body = encodeWalBatch(id, token, open.records);
    this.#sealedBytesTotal += body.byteLength;
    this.#sealed.push({
      id,
      recordCount: open.records.length,
      bytes: open.bytes,
      body,
      token,
      done: open.done,
    });
    this.#pump();
  }

  #pump(): void {
    const batch = this.#sealed[0];
    if (this.#writing || this.#failure !== null || batch === undefined) return;
    this.#writing = true;
    void this.#write(batch);
  }

  async #write(batch: SealedBatch): Promise<void> {
    const walKey = this.#keys.wal(batch.id);
    try {
      const outcome = await this.#storage.create(walKey, batch.body, (existing) =>
        hasWriteToken(existing, batch.token),
      );
      if (outcome === "taken") throw this.#fence.fenced({ walKey });
    } catch (error) {
      this.fail(error);
      return;
    }
    // Failed meanwhile (fenced by a checkpoint's manifest write): the batch was already rejected.
    if (this.#failure !== null) return;
    this.#sealed.shift();
    this.#writing = false;
    this.#durableWalId = batch.id;
    this.#batchesWritten++;
    this.#recordsWritten += batch.recordCount;
    this.#bytesWritten += batch.body.byteLength;
    this.#durableBytesTotal += batch.body.byteLength;
    this.#unflushedBytes -= batch.bytes;
    batch.done.resolve();
    this.#releaseWritableWaiters();
    // Whatever arrived during the write goes out now: the write itself was the wait.
    if (this.#open !== null) this.#seal();
    else this.#pump();
    if (this.#sealed.length === 0) this.#releaseKeepAlive();
    this.#afterDurable();
  }

  #releaseWritableWaiters(): void {
    if (this.#unflushedBytes > this.#options.maxUnflushedBytes) return;
    const waiters = this.#writableWaiters;
    this.#writableWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  #releaseKeepAlive(): void {
    if (this.#keepAlive !== null) clearInterval(this.#keepAlive);
    this.#keepAlive = null;
  }
}

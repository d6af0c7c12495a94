/**
 * The writer side of an open log: group commit of WAL batches, durable acks in
 * order, failure handling, backpressure, background checkpoints and GC.
 *
 * At most one WAL create is in flight, so batch ids are dense and a batch is
 * durable only once every batch before it is. Records appended while a write
 * is in flight form the next batch, sealed the moment that write lands.
 */
import { randomBytes } from "node:crypto";
import { ulid } from "ulid";
import { createTimer, type TimerHandle } from "../clock.js";
import { ClosedError, FencedError, InvalidArgumentError, StorageError } from "../errors.js";
import {
  encodeCheckpoint,
  encodedRecordBytes,
  encodeWalBatch,
  hasWriteToken,
  WRITE_TOKEN_BYTES,
} from "./codec.js";
import { type Deferred, deferred } from "./deferred.js";
import { collectGarbage } from "./gc.js";
import { checkpointName, type LogKeys } from "./keys.js";
import { encodeManifest, type Manifest, type ManifestReader } from "./manifest.js";
import type { ResolvedLogOptions } from "./options.js";
import type { Sleeper } from "./retry.js";
import type { LogStorage } from "./storage.js";
import type { Log, LogStats, SnapshotSource } from "./types.js";

/** Everything recovery hands to the writer. */
export interface WriterInit {
  storage: LogStorage;
  keys: LogKeys;
  manifests: ManifestReader;
  options: ResolvedLogOptions;
  sleeper: Sleeper;
  manifestId: number;
  manifest: Manifest;
  /** The first WAL slot this writer will fill (one past its fence). */
  nextWalId: number;
  /** Encoded bytes of the WAL replayed at open (they count towards the next checkpoint). */
  replayedWalBytes: number;
  /** Size of the checkpoint object loaded at open (0 when none). */
  checkpointBytes: number;
  describeLog: string;
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

export class LogWriter implements Log {
  readonly #storage: LogStorage;
  readonly #keys: LogKeys;
  readonly #manifests: ManifestReader;
  readonly #options: ResolvedLogOptions;
  readonly #sleeper: Sleeper;
  readonly #describe: string;
  readonly #epoch: number;
  readonly #writerToken: string;

  #manifestId: number;
  #manifest: Manifest;
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

  #failure: Error | null = null;
  readonly #failureListeners: Array<(error: Error) => void> = [];
  #closing = false;
  #closePromise: Promise<void> | null = null;

  #snapshotSource: SnapshotSource | null = null;
  /** Checkpoints and GC run one at a time, chained here. */
  #maintenance: Promise<void> = Promise.resolve();
  #backgroundCheckpoint = false;

  #sealedBytesTotal: number;
  #durableBytesTotal: number;
  #checkpointCoveredBytes = 0;
  #lastCheckpointBytes: number;
  #checkpointClockStart: number;
  #lastCheckpointAt: number | null = null;
  #checkpointsWritten = 0;
  /** When this writer last confirmed that no newer epoch exists (see `#checkEpochWhileBusy`). */
  #epochCheckedAt: number;
  #epochCheckRunning = false;
  #batchesWritten = 0;
  #recordsWritten = 0;
  #bytesWritten = 0;

  constructor(init: WriterInit) {
    this.#storage = init.storage;
    this.#keys = init.keys;
    this.#manifests = init.manifests;
    this.#options = init.options;
    this.#sleeper = init.sleeper;
    this.#describe = init.describeLog;
    this.#manifestId = init.manifestId;
    this.#manifest = init.manifest;
    this.#epoch = init.manifest.epoch;
    this.#writerToken = init.manifest.writer;
    this.#nextWalId = init.nextWalId;
    this.#durableWalId = init.nextWalId - 1;
    this.#sealedBytesTotal = init.replayedWalBytes;
    this.#durableBytesTotal = init.replayedWalBytes;
    this.#lastCheckpointBytes = init.checkpointBytes;
    this.#checkpointClockStart = init.options.clock.now();
    this.#epochCheckedAt = init.options.clock.now();
  }

  /** The error this log failed with, or null while it works. */
  get failure(): Error | null {
    return this.#failure;
  }

  append(records: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const list: readonly Uint8Array[] = records instanceof Uint8Array ? [records] : records;
    if (!Array.isArray(list) || !list.every((r) => r instanceof Uint8Array)) {
      return Promise.reject(
        new InvalidArgumentError("append(records): expected a Uint8Array or an array of them"),
      );
    }
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (this.#closing) return Promise.reject(new ClosedError(`${this.#describe} is closed`));
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

  flush(): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    this.#seal();
    return this.#barrier();
  }

  setSnapshotSource(source: SnapshotSource): void {
    if (typeof source !== "function") {
      throw new InvalidArgumentError("setSnapshotSource(source): expected a function");
    }
    this.#snapshotSource = source;
  }

  checkpoint(): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (this.#closing) return Promise.reject(new ClosedError(`${this.#describe} is closed`));
    if (this.#snapshotSource === null) return Promise.resolve();
    return this.#exclusive(() => this.#writeCheckpoint());
  }

  collectGarbage(): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (this.#closing) return Promise.reject(new ClosedError(`${this.#describe} is closed`));
    return this.#exclusive(() => this.#collectGarbage());
  }

  onFailure(listener: (error: Error) => void): void {
    const failure = this.#failure;
    if (failure !== null) queueMicrotask(() => listener(failure));
    else this.#failureListeners.push(listener);
  }

  stats(): LogStats {
    return {
      epoch: this.#epoch,
      durableWalId: this.#durableWalId,
      batchesWritten: this.#batchesWritten,
      recordsWritten: this.#recordsWritten,
      bytesWritten: this.#bytesWritten,
      walBytesSinceCheckpoint: this.#durableBytesTotal - this.#checkpointCoveredBytes,
      checkpointsWritten: this.#checkpointsWritten,
      lastCheckpointAt: this.#lastCheckpointAt,
      unflushedBytes: this.#unflushedBytes,
    };
  }

  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    try {
      if (this.#failure !== null) return;
      this.#seal();
      await this.#barrier();
      if (this.#snapshotSource !== null) await this.#exclusive(() => this.#writeCheckpoint());
      else await this.#maintenance;
    } finally {
      this.#stopTimers();
    }
  }

  // ---- group commit ----

  #armFlushTimer(): void {
    const { clock, flushIntervalMs } = this.#options;
    this.#flushTimer = createTimer(clock, clock.now() + flushIntervalMs, () => {
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
    const key = this.#keys.wal(batch.id);
    try {
      const outcome = await this.#storage.create(key, batch.body, (existing) =>
        hasWriteToken(existing, batch.token),
      );
      if (outcome === "taken") {
        throw new FencedError(
          `${this.#describe}: WAL slot "${key}" was taken by another writer; this writer (epoch ${this.#epoch}) is fenced`,
        );
      }
    } catch (error) {
      this.#fail(error);
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
    this.#maybeCheckpoint();
    this.#checkEpochWhileBusy();
  }

  /**
   * A busy writer only meets a newer writer's fence when its next WAL slot is
   * the fenced one, and an opener placing its fence behind a writer that keeps
   * filling slots can chase it for a long time. So while writing, at most once
   * per `fenceCheckIntervalMs`, look for a newer epoch in the background and
   * stop (FENCED) as soon as one exists. Only ever fails the log early, which
   * is safe: a newer epoch means another writer has taken over.
   */
  #checkEpochWhileBusy(): void {
    const { clock, fenceCheckIntervalMs } = this.#options;
    if (this.#epochCheckRunning || clock.now() - this.#epochCheckedAt < fenceCheckIntervalMs)
      return;
    this.#epochCheckRunning = true;
    this.#epochCheckedAt = clock.now();
    this.#manifests
      .newest()
      .then((newest) => {
        if (newest !== null && newest.manifest.epoch > this.#epoch)
          this.#fail(
            new FencedError(
              `${this.#describe}: a writer with epoch ${newest.manifest.epoch} took over (this one is epoch ${this.#epoch})`,
            ),
          );
      })
      .catch(() => {}) // a failed look is retried at the next interval; writes are unaffected
      .finally(() => {
        this.#epochCheckRunning = false;
      });
  }

  #releaseWritableWaiters(): void {
    if (this.#unflushedBytes > this.#options.maxUnflushedBytes) return;
    const waiters = this.#writableWaiters;
    this.#writableWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  // ---- failure ----

  /** Fails the log for good: every pending and later call rejects with the same error. */
  #fail(cause: unknown): void {
    if (this.#failure !== null) return;
    const error =
      cause instanceof FencedError || cause instanceof StorageError
        ? cause
        : new StorageError(`${this.#describe}: ${String(cause)}`, { cause });
    this.#failure = error;
    this.#stopTimers();
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

  #stopTimers(): void {
    this.#flushTimer?.cancel();
    this.#flushTimer = null;
    this.#sleeper.wakeAll();
    this.#releaseKeepAlive();
  }

  #releaseKeepAlive(): void {
    if (this.#keepAlive !== null) clearInterval(this.#keepAlive);
    this.#keepAlive = null;
  }

  // ---- checkpoints and GC ----

  /**
   * Runs `task` after every earlier checkpoint/GC task. Being fenced fails the
   * log; a store outage here does not, since no acknowledged record depends on
   * a checkpoint (the WAL still holds everything) — the error goes to the caller.
   */
  #exclusive(task: () => Promise<void>): Promise<void> {
    const run = this.#maintenance.then(async () => {
      if (this.#failure !== null) throw this.#failure;
      try {
        await task();
      } catch (error) {
        if (error instanceof FencedError) this.#fail(error);
        throw this.#failure ?? error;
      }
    });
    this.#maintenance = run.catch(() => {});
    return run;
  }

  #maybeCheckpoint(): void {
    if (this.#snapshotSource === null || this.#backgroundCheckpoint || this.#closing) return;
    const { clock, checkpointWalBytes, checkpointWalBatches, checkpointIntervalMs } = this.#options;
    const walBytes = this.#durableBytesTotal - this.#checkpointCoveredBytes;
    const sinceLast = clock.now() - (this.#lastCheckpointAt ?? this.#checkpointClockStart);
    const walBatches = this.#durableWalId - this.#manifest.replayAfter;
    const due =
      walBytes > Math.max(checkpointWalBytes, this.#lastCheckpointBytes) ||
      walBatches > checkpointWalBatches ||
      sinceLast >= checkpointIntervalMs;
    if (!due) return;
    this.#backgroundCheckpoint = true;
    this.#exclusive(() => this.#writeCheckpoint())
      .catch((error: unknown) => {
        if (this.#failure === null) {
          this.#options.logger.warn("background checkpoint failed", { error: String(error) });
        }
      })
      .finally(() => {
        this.#backgroundCheckpoint = false;
      });
  }

  async #writeCheckpoint(): Promise<void> {
    const source = this.#snapshotSource;
    if (source === null) return;
    this.#seal();
    const walId = this.#nextWalId - 1;
    if (walId === this.#manifest.replayAfter && this.#manifest.checkpoint !== null) return;
    // Synchronously after sealing: the snapshot is the state as of batch `walId`.
    const snapshot = source();
    const coveredBytes = this.#sealedBytesTotal;
    const last = this.#sealed.at(-1);
    if (last !== undefined) await last.done.promise;
    if (this.#failure !== null) throw this.#failure;

    const { clock } = this.#options;
    const name = checkpointName(walId, ulid(clock.now()));
    const body = encodeCheckpoint(walId, snapshot);
    await this.#storage.put(this.#keys.checkpoint(name), body);
    await this.#commitManifest({
      epoch: this.#epoch,
      checkpoint: name,
      replayAfter: walId,
      writer: this.#writerToken,
      createdAt: clock.now(),
    });
    this.#checkpointCoveredBytes = coveredBytes;
    this.#lastCheckpointBytes = body.byteLength;
    this.#lastCheckpointAt = clock.now();
    this.#checkpointsWritten++;
    try {
      await this.#collectGarbage();
    } catch (error) {
      // The checkpoint itself is committed; a failed cleanup is retried after the next one.
      if (error instanceof FencedError) throw error;
      this.#options.logger.warn("garbage collection failed", {
        log: this.#describe,
        error: String(error),
      });
    }
  }

  /** Creates the next manifest; a newer epoch in the way means we are fenced. */
  async #commitManifest(manifest: Manifest): Promise<void> {
    const body = encodeManifest(manifest);
    let id = this.#manifestId + 1;
    for (;;) {
      if (this.#failure !== null) throw this.#failure;
      const outcome = await this.#storage.create(this.#keys.manifest(id), body, (existing) =>
        Buffer.from(existing).equals(body),
      );
      if (outcome === "created") {
        this.#manifestId = id;
        this.#manifest = manifest;
        this.#manifests.remember(id, manifest);
        return;
      }
      const newest = await this.#manifests.newest();
      if (newest !== null && newest.manifest.epoch > this.#epoch) {
        throw new FencedError(
          `${this.#describe}: fenced by a writer with epoch ${newest.manifest.epoch} (ours is ${this.#epoch})`,
        );
      }
      id = Math.max(id, newest?.id ?? 0) + 1;
    }
  }

  async #collectGarbage(): Promise<void> {
    const result = await collectGarbage({
      storage: this.#storage,
      keys: this.#keys,
      manifests: this.#manifests,
      clock: this.#options.clock,
      minAgeMs: this.#options.gcMinAgeMs,
      manifestHistory: this.#options.manifestHistory,
      ownManifestId: this.#manifestId,
      epoch: this.#epoch,
      describeLog: this.#describe,
    });
    this.#options.logger.debug?.("log garbage collected", { log: this.#describe, ...result });
  }
}

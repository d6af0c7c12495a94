/**
 * The log engine's public shapes: the {@link Log} a writer gets, what opening
 * recovers, its counters, and what the read-only tools report. (Options are
 * declared in `options.ts`.)
 */

import type { Manifest } from "./manifest.js";
import type { WalTail } from "./tail.js";

/** What a `recoverCorruption: "skip"` open could not recover. */
export interface RecoveryReport {
  /**
   * Damaged or missing objects, with what was wrong with each. A damaged WAL
   * batch whose header still reads right (its checksum failed, or it was cut
   * short after its header) also says how many `records` the header gives;
   * a missing batch, or one whose header is damaged, has no `records`.
   */
  damaged: Array<{ key: string; reason: string; records?: number }>;
  /** Intact WAL batches skipped because they come after the damage, with their record counts. */
  skipped: Array<{ key: string; records: number }>;
  /**
   * Records in `skipped` batches and in `damaged` batches that give
   * `records`. Records of a missing batch, or of one whose header is
   * damaged, cannot be counted and are not included: look for `damaged`
   * entries without `records`.
   */
  lostRecords: number;
  /** The checkpoint the recovered state starts from (`null`: from an empty state). */
  checkpoint: string | null;
  /** Records replayed on top of that checkpoint. */
  recoveredRecords: number;
  /** The new writer's fence: the next checkpoint covers everything up to it, so later opens skip the damage. */
  resumeAfter: number;
}

/**
 * A snapshot being encoded slice by slice from the consistent view of the
 * caller's state taken when its {@link SnapshotSource} was called. The log
 * gives the event loop a turn between slices, so a large state is checkpointed
 * without blocking the process for long.
 */
export interface SnapshotEncoder {
  /**
   * Encodes the next slice (a few milliseconds of work). Returns the finished
   * bytes once the snapshot is complete, else `null`. The finished buffer
   * starts with the `reserve` bytes the source was asked to leave free (the
   * log writes its checkpoint header there); the snapshot proper follows.
   */
  step(): Uint8Array | null;
  /** Drops the consistent view before the end (the checkpoint was abandoned). Idempotent. */
  abandon(): void;
}

/**
 * Supplies the caller's state as of every record appended so far. Called
 * synchronously at the cut the checkpoint covers. Returns the serialised state
 * at once (a plain `Uint8Array`), or a {@link SnapshotEncoder} that produces it
 * in slices, leaving `reserve` free bytes in front of it.
 */
export type SnapshotSource = (reserve: number) => Uint8Array | SnapshotEncoder;

/** The result of opening a log as its writer. */
export interface RecoveredLog {
  log: Log;
  /** The newest checkpoint's caller bytes, or `null` for a new or never-checkpointed log. */
  checkpoint: Uint8Array | null;
  /** The key of the checkpoint object `checkpoint` was read from (`null` with none). */
  checkpointKey: string | null;
  /**
   * Every record appended after that checkpoint, in append order, read with
   * `tail.cursor()` (no object per record).
   */
  tail: WalTail;
  /** The same records as an array of views, made on each read (for tests and small logs). */
  readonly records: Uint8Array[];
  /**
   * Set only when `recoverCorruption: "skip"` had to skip damage: what was lost.
   * The caller should write a checkpoint (`log.checkpoint()`) once its state is
   * rebuilt, so that later opens start past the damaged objects.
   */
  recovery?: RecoveryReport;
}

/** Counters for diagnostics, benchmarks and the CLI. */
export interface LogStats {
  epoch: number;
  /** WAL id of the newest durable batch. */
  durableWalId: number;
  batchesWritten: number;
  recordsWritten: number;
  bytesWritten: number;
  walBytesSinceCheckpoint: number;
  /** Records written (or replayed at open) since the newest checkpoint's cut. */
  walRecordsSinceCheckpoint: number;
  /** Checkpoints this writer wrote (not counting the one it opened from). */
  checkpointsWritten: number;
  /**
   * When the store's newest checkpoint was written (wall time, ms since the
   * UNIX epoch): the one the writer opened from until it writes its own,
   * so its age is the store's, as a reader sees it. `null` while the store
   * has none.
   */
  lastCheckpointAt: number | null;
  unflushedBytes: number;
}

/**
 * A durable, fenced, group-committed write-ahead log in an object store.
 * It persists opaque records and knows nothing about what they mean.
 */
export interface Log {
  /**
   * Append records as one atomic unit: they land in the same WAL batch, so after
   * a crash either all or none are replayed. The records join the log
   * synchronously (call order is log order); the promise resolves once they
   * and everything appended before them are durable. Rejects with
   * `FencedError`, `StorageError` (retries exhausted) or `ClosedError`.
   */
  append(records: Uint8Array | readonly Uint8Array[]): Promise<void>;
  /**
   * Whether an append may go ahead now without waiting: the log works,
   * holds at most `maxUnflushedBytes` not yet durable, and (while a
   * checkpoint is being written) the WAL since the newest committed
   * checkpoint is within twice the checkpoint's record bound. A checkpoint
   * holds producers for at most twice the last one's duration (1–10 s), and
   * not at all after a failed checkpoint (until one commits) or once one took
   * 10 s or more. When `false`, await {@link whenWritable} (which also
   * reports a failed log).
   */
  isWritable(): boolean;
  /**
   * The error an {@link append} made now would reject with (the log's
   * failure, or `ClosedError` once close began), or `null` when it would
   * take it. A caller that changes state along with an append asks first,
   * so that nothing it refuses is kept.
   */
  refusal(): Error | null;
  /**
   * Resolves immediately when writable, else once enough is durable and the
   * checkpoint being written (if the WAL since the last one is past its
   * bound) has ended or has held producers for as long as it may.
   */
  whenWritable(): Promise<void>;
  /** Seal the open batch now and resolve once everything appended so far is durable. */
  flush(): Promise<void>;
  /**
   * Resolve once everything appended so far is durable, without sealing the
   * open batch (it goes out when it would have): for an answer decided from
   * state that a write still in flight may have changed. Costs nothing when
   * nothing is in flight. Rejects with the log's failure; unlike
   * {@link append}, not with `ClosedError` once close began (close writes
   * what was appended).
   */
  whenDurable(): Promise<void>;
  /**
   * Looks for a newer writer's epoch now (one manifest listing, and a read
   * only of a manifest not seen before), for a writer that is not writing and
   * so would not meet the fence: if there is one, the log fails with
   * `FencedError` as a write meeting the fence would (later calls reject with
   * it, failure listeners hear of it) and this resolves. Rejects with the
   * store's error when the look itself failed (the log is not failed by it).
   * A look already out is shared, unless `options.fresh`: then the answer
   * comes from a look that starts after this call, for a caller that must
   * know no newer writer had opened before something it just saw (such as
   * the end of a listing).
   */
  checkFence(options?: {
    /**
     * Never answer with a look that started before this call.
     * @default false
     */
    fresh?: boolean;
  }): Promise<void>;
  /**
   * Calls `callback` once, right after the log next sends a batch to the
   * store (its request made, not yet answered). Work that need not delay the
   * next write (such as bookkeeping for a batch just made durable) runs
   * there, while that write is in flight, rather than between one write's
   * end and the next one's start. Callbacks run in the order asked, inside
   * whichever log call sends (an append, a flush, a timer), so they must not
   * call back into the log; one that throws is logged and the others still
   * run. When the log fails or stops, what waits runs then, and what is asked
   * afterwards runs in a microtask. Nothing is sent while nothing is
   * appended: work that must not wait for the next append does not belong
   * here.
   */
  afterSend(callback: () => void): void;
  /** Register the state snapshot used by checkpoints. */
  setSnapshotSource(source: SnapshotSource): void;
  /** Write a checkpoint now (no-op without a snapshot source). */
  checkpoint(): Promise<void>;
  /** Run one garbage-collection pass now. */
  collectGarbage(): Promise<void>;
  /**
   * Called once if the log fails for good (fenced, or storage retries
   * exhausted). The log logs the failure itself unless a listener registered
   * with `logsIt: true` says it does (one line per failure).
   */
  onFailure(listener: (error: Error) => void, options?: FailureListenerOptions): void;
  stats(): LogStats;
  /**
   * Flush, write a final checkpoint (when a snapshot source is set), stop
   * timers. Idempotent. After close, `append` rejects with `ClosedError`.
   */
  close(): Promise<void>;
}

/** What a log holds, as seen by one read-only pass over its objects. */
export interface LogInspection {
  /** The log's normalised key prefix (`""` for the store's root). */
  prefix: string;
  /** Objects (and their bytes) under `manifest/`, `wal/` and `checkpoint/`. */
  objects: number;
  /** The total size of those objects, in bytes. */
  bytes: number;
  /** Number of manifest objects (the newest plus its history). */
  manifests: number;
  /** The newest manifest, or `null` for a log nobody opened yet. */
  manifest: {
    id: number;
    key: string;
    /** Writer epoch: how many writers have opened this log. */
    epoch: number;
    /** Last WAL id covered by the checkpoint. */
    replayAfter: number;
    checkpoint: string | null;
    createdAt: number;
    /** Written by a writer's clean close: nobody has opened the log as writer since. */
    closed: boolean;
  } | null;
  /** The WAL objects under `wal/`. */
  wal: {
    /** WAL objects, fences included. */
    objects: number;
    bytes: number;
    /** Fence objects, one per writer that opened the log (kept forever). */
    fences: number;
    firstId: number | null;
    lastId: number | null;
    /** Batches after `replayAfter`: what opening the log would replay. */
    pendingObjects: number;
    pendingBytes: number;
  };
  /** Number of checkpoint objects (referenced or not yet collected). */
  checkpoints: number;
  /** The checkpoint the newest manifest references, or `null`. */
  checkpoint: {
    name: string;
    key: string;
    bytes: number;
    /** When it was written (from its name), or `null` if the name carries no time. */
    createdAt: number | null;
    ageMs: number | null;
  } | null;
}

/** Everything a read-only reader recovers from a log (what a writer would replay). */
export interface LogContents {
  checkpoint: Uint8Array | null;
  /** The records after the checkpoint (see {@link RecoveredLog.tail}). */
  tail: WalTail;
  /** The same records as an array of views, made on each read. */
  readonly records: Uint8Array[];
  info: LogInspection;
  /** Where the read ended, for `readLogAfter`; `null` for a log with no manifest. */
  position: LogPosition | null;
}

/**
 * Where a read-only read of a log ended: what `readLogAfter` goes on from.
 * Every record of the WAL objects before slot `next` was read.
 */
export interface LogPosition {
  /** The newest manifest when it was read (manifests are never overwritten). */
  manifestId: number;
  manifest: Manifest;
  /** The first WAL slot not read. */
  next: number;
  /** The highest writer epoch of the fences and batches read (what tells dead batches after them). */
  walEpoch: number;
}

/** What `readLogAfter` read: the records after a position, and where it ended. */
export interface LogUpdate {
  /** The records of the WAL objects after the position, in append order (often none). */
  tail: WalTail;
  /** The log's objects as listed for this read. */
  info: LogInspection;
  position: LogPosition;
}

/** Why `readLogAfter` cannot go on from a position: what a full `readLog` is needed for. */
export interface FullReadNeeded {
  /** The reason, for a log line ("another writer opened the log (…)"). */
  fullRead: string;
}

/** How a failure listener of a log takes part in reporting the failure. */
export interface FailureListenerOptions {
  /** This listener writes the failure's log line, so the log writes none. */
  logsIt?: boolean;
}

/**
 * Checkpoints and garbage collection of an open log.
 *
 * Owns: the policy that decides when a checkpoint is due (WAL bytes,
 * records or batches since the last one, or time), writing one (snapshot at a cut of the
 * WAL, checkpoint object, manifest commit through the {@link WriterFence}),
 * the serialisation of every maintenance task (checkpoints and GC run one at
 * a time), and GC after each checkpoint.
 *
 * A checkpoint never blocks the write path, nor the event loop for long: the
 * snapshot's consistent view is taken synchronously at the cut; encoding it
 * (when the source hands back a {@link SnapshotEncoder}) and checksumming it
 * run in slices with a turn of the event loop between them; the writes run in
 * the background.
 * Being fenced fails the log; a store outage here does not, since no
 * acknowledged record depends on a checkpoint (the WAL still holds everything).
 */
import { ulid } from "ulid";
import { startTimer, type TimerHandle } from "../clock.js";
import { FencedError } from "../errors.js";
import { nextTurn } from "../util/slices.js";
import { CHECKPOINT_HEADER_BYTES, sealCheckpoint } from "./codec.js";
import { type Deferred, deferred } from "./deferred.js";
import type { WriterFence } from "./fencing.js";
import { collectGarbage } from "./gc.js";
import { checkpointName, type LogKeys } from "./keys.js";
import type { ManifestReader } from "./manifest.js";
import type { ResolvedLogOptions } from "./options.js";
import type { LogStorage } from "./storage.js";
import type { SnapshotEncoder, SnapshotSource } from "./types.js";
import type { LogWriter } from "./writer.js";

/**
 * The WAL tail allowed to grow with the state: records since the last
 * checkpoint may reach its size in bytes ÷ this. Loading a checkpoint costs
 * about 3–4 ns per byte (~0.45 µs per 64-byte job) and replaying a record
 * about 1.3–1.7 µs, so a tail of this many records replays in about half the
 * checkpoint's load time (at ÷ 512 it took as long as the load itself).
 */
const CHECKPOINT_BYTES_PER_RECORD = 1024;

/**
 * While a checkpoint is being written, the WAL since the newest committed
 * one may reach this many times the record bound; producers waiting on
 * `whenWritable` are held past it until the checkpoint ends. Without it, a
 * crash during a checkpoint of a large state under a bulk load left the
 * bound plus everything appended while the checkpoint was encoded and
 * written (288,000–408,000 records at a million live jobs, against a bound
 * of 125,000) for the next open to replay.
 */
const LAG_BOUNDS = 2;

/**
 * How long one checkpoint may hold producers: twice the newest committed
 * checkpoint's duration (encode, seal, put, commit), within these limits. A
 * checkpoint that takes longer than that is late (a slow or retrying store,
 * whose retry window is up to two minutes by default), and holding producers
 * for it would stop the write path for no durability gain: producers then go
 * ahead and the tail grows past the bound until it ends. The floor covers
 * the first checkpoint of a process (no duration known) and noise at small
 * states; the ceiling keeps one slow checkpoint from raising the next hold.
 * Once a committed checkpoint took the ceiling or longer, producers are not
 * held at all until one is faster: a hold could not cover such a checkpoint.
 */
const MIN_HOLD_MS = 1_000;
const MAX_HOLD_MS = 10_000;

export interface CheckpointerInit {
  storage: LogStorage;
  keys: LogKeys;
  manifests: ManifestReader;
  options: ResolvedLogOptions;
  fence: WriterFence;
  writer: LogWriter;
  /** Size of the checkpoint object loaded at open (0 when none). */
  checkpointBytes: number;
  describeLog: string;
}

/** Checkpoint counters, for {@link LogStats}. */
export interface CheckpointStats {
  walBytesSinceCheckpoint: number;
  walRecordsSinceCheckpoint: number;
  checkpointsWritten: number;
  lastCheckpointAt: number | null;
}

export class Checkpointer {
  readonly #storage: LogStorage;
  readonly #keys: LogKeys;
  readonly #manifests: ManifestReader;
  readonly #options: ResolvedLogOptions;
  readonly #fence: WriterFence;
  readonly #writer: LogWriter;
  readonly #describe: string;

  #source: SnapshotSource | null = null;
  /** Checkpoints and GC run one at a time, chained here. */
  #maintenance: Promise<void> = Promise.resolve();
  #backgroundCheckpoint = false;

  /** WAL bytes (cumulative, as the writer counts them) the newest checkpoint covers. */
  #coveredBytes = 0;
  /** WAL records (cumulative, as the writer counts them) the newest checkpoint covers. */
  #coveredRecords = 0;
  #lastCheckpointBytes: number;
  /** Monotonic time of the newest checkpoint (of the open, before the first). */
  #lastCheckpointMono: number;
  /** Wall time of the newest checkpoint, for stats. */
  #lastCheckpointAt: number | null = null;
  #checkpointsWritten = 0;
  /** A checkpoint is being written: the WAL since the committed one is what a crash would leave. */
  #writing = false;
  /** Producers held back by {@link lagAllows} until the checkpoint being written ends. */
  #lagWaiters: Deferred<void>[] = [];
  /**
   * A checkpoint failed and none committed since: producers are not held
   * (the coverage does not move, so every attempt would hold them for the
   * store's retry window).
   */
  #holdSuspended = false;
  /** Ends the current hold after its longest allowed duration (null: not holding). */
  #holdTimer: TimerHandle | null = null;
  /** The checkpoint being written held producers for as long as one may: they go ahead. */
  #holdExpired = false;
  /** How long (ms) the newest committed checkpoint took, or null before the first. */
  #lastCheckpointMs: number | null = null;
  /** A "late" warning was logged and no checkpoint has since ended within its hold limit. */
  #lateWarned = false;
  /** A background attempt's failure was logged and no checkpoint has committed since. */
  #failureWarned = false;
  /** Fences (and unnamed probes) → when (monotonic) this process first knew of them (GC's ages). */
  readonly #firstSeen = new Map<string, number>();

  constructor(init: CheckpointerInit) {
    this.#storage = init.storage;
    this.#keys = init.keys;
    this.#manifests = init.manifests;
    this.#options = init.options;
    this.#fence = init.fence;
    this.#writer = init.writer;
    this.#describe = init.describeLog;
    this.#lastCheckpointBytes = init.checkpointBytes;
    this.#lastCheckpointMono = init.options.clock.monotonicNow();
    // Our own fences were written during the open, so they are at least this old.
    for (const slot of init.fence.ownFences)
      this.#firstSeen.set(init.keys.wal(slot), this.#lastCheckpointMono);
    init.writer.onFailure((error) => {
      for (const waiter of this.#lagWaiters.splice(0)) waiter.reject(error);
    });
  }

  /**
   * Whether a producer may append now as far as the checkpoint lag goes:
   * always, unless a checkpoint is being written and the records appended
   * since the newest committed one exceed {@link LAG_BOUNDS} times the
   * record bound. Not after a failed checkpoint until one commits, nor once
   * the checkpoint being written has held producers for as long as one may
   * (see {@link MIN_HOLD_MS}). Claims and settlements are not held (they do
   * not ask).
   */
  lagAllows(): boolean {
    if (!this.#writing || this.#writer.closing || this.#holdSuspended || this.#holdExpired)
      return true;
    // Checkpoints that take longer than any hold may last: holding for one buys no bound.
    if (this.#lastCheckpointMs !== null && this.#lastCheckpointMs >= MAX_HOLD_MS) return true;
    const lag = this.#writer.appendedRecords - this.#coveredRecords;
    if (lag <= LAG_BOUNDS * this.#recordBound()) return true;
    if (this.#holdTimer === null) {
      const limit = this.#holdLimitMs();
      this.#holdTimer = startTimer(this.#options.clock, limit, () => {
        this.#holdTimer = null;
        this.#holdExpired = true;
        // One line per run of late checkpoints, not one per checkpoint.
        if (!this.#lateWarned) {
          this.#lateWarned = true;
          this.#options.logger.warn("checkpoint is late: producers are no longer held for it", {
            log: this.#describe,
            heldMs: limit,
          });
        }
        this.#releaseHeld();
      });
    }
    return false;
  }

  /** The longest a checkpoint may hold producers (see {@link MIN_HOLD_MS}). */
  #holdLimitMs(): number {
    const last = this.#lastCheckpointMs ?? 0;
    return Math.min(MAX_HOLD_MS, Math.max(MIN_HOLD_MS, 2 * last));
  }

  /** Ends the current hold: producers held go ahead. */
  #releaseHeld(): void {
    for (const waiter of this.#lagWaiters.splice(0)) waiter.resolve();
  }

  /** Resolves once {@link lagAllows} (the checkpoint being written ended); rejects if the log fails. */
  whenLagAllows(): Promise<void> {
    if (this.#writer.failure !== null) return Promise.reject(this.#writer.failure);
    if (this.lagAllows()) return Promise.resolve();
    const waiter = deferred<void>();
    this.#lagWaiters.push(waiter);
    return waiter.promise;
  }

  /** Registers the state snapshot that checkpoints serialise. */
  setSource(source: SnapshotSource): void {
    this.#source = source;
  }

  /** Writes a checkpoint now (after any running maintenance); no-op without a source. */
  checkpoint(): Promise<void> {
    if (this.#source === null) return Promise.resolve();
    return this.#exclusive(() => this.#write());
  }

  /** Runs one GC pass now (after any running maintenance). */
  collectGarbage(): Promise<void> {
    return this.#exclusive(() => this.#collectGarbage());
  }

  /**
   * At close, after the final flush: the final checkpoint (with a source),
   * committed in a manifest that says this writer closed cleanly, so the
   * next opener need not fence it out.
   */
  finish(): Promise<void> {
    return this.#exclusive(() => this.#write(true));
  }

  /** The checkpoint policy, asked after every durable batch: starts one in the background when due. */
  maybeCheckpoint(): void {
    if (this.#source === null || this.#backgroundCheckpoint || this.#writer.closing) return;
    const o = this.#options;
    const { durableBytes, durableRecords, durableWalId } = this.#writer.stats();
    const walBytes = durableBytes - this.#coveredBytes;
    const walRecords = durableRecords - this.#coveredRecords;
    const sinceLast = o.clock.monotonicNow() - this.#lastCheckpointMono;
    const walBatches = durableWalId - this.#fence.manifest.replayAfter;
    const due =
      walBytes > Math.max(o.checkpointWalBytes, this.#lastCheckpointBytes) ||
      walRecords > this.#recordBound() ||
      walBatches > o.checkpointWalBatches ||
      sinceLast >= o.checkpointIntervalMs;
    if (!due) return;
    this.#backgroundCheckpoint = true;
    this.#exclusive(() => this.#write()).then(
      () => {
        this.#backgroundCheckpoint = false;
        // Batches that became durable while it ran asked while it ran, and were
        // told no; if they made the next one due, it starts now rather than after
        // a further batch that may never come. (A failure is retried only after
        // the next batch, so that a refusing store is not asked in a loop.)
        this.maybeCheckpoint();
      },
      (error: unknown) => {
        this.#backgroundCheckpoint = false;
        // One line per run of failures: a refusing store fails every attempt.
        if (this.#writer.failure === null && !this.#failureWarned) {
          this.#failureWarned = true;
          this.#options.logger.warn(
            "background checkpoint failed; retried after later batches, logged again once one commits",
            { log: this.#describe, error: String(error) },
          );
        }
      },
    );
  }

  /** WAL records since the last checkpoint past which the next one is due. */
  #recordBound(): number {
    return Math.max(
      this.#options.checkpointWalRecords,
      this.#lastCheckpointBytes / CHECKPOINT_BYTES_PER_RECORD,
    );
  }

  stats(): CheckpointStats {
    return {
      walBytesSinceCheckpoint: this.#writer.stats().durableBytes - this.#coveredBytes,
      walRecordsSinceCheckpoint: this.#writer.stats().durableRecords - this.#coveredRecords,
      checkpointsWritten: this.#checkpointsWritten,
      lastCheckpointAt: this.#lastCheckpointAt,
    };
  }

  /**
   * Runs `task` after every earlier maintenance task. Being fenced fails the
   * log; any other error goes to the caller only.
   */
  #exclusive(task: () => Promise<void>): Promise<void> {
    const run = this.#maintenance.then(async () => {
      if (this.#writer.failure !== null) throw this.#writer.failure;
      try {
        await task();
      } catch (error) {
        if (error instanceof FencedError) this.#writer.fail(error);
        throw this.#writer.failure ?? error;
      }
    });
    this.#maintenance = run.catch(() => {});
    return run;
  }

  async #write(closing = false): Promise<void> {
    const source = this.#source;
    const cut = this.#writer.cut();
    const { manifest } = this.#fence;
    if (source === null || (cut.walId === manifest.replayAfter && manifest.checkpoint !== null)) {
      if (!closing || manifest.closed) return;
      await cut.durable;
      if (this.#writer.failure !== null) throw this.#writer.failure;
      const { checkpoint, replayAfter } = manifest;
      return this.#fence.commit({ checkpoint, replayAfter, closed: true });
    }
    this.#writing = true;
    const started = this.#options.clock.monotonicNow();
    let body: Uint8Array;
    let committed = false;
    let fenced = false;
    try {
      // Synchronously after the cut: the snapshot is the state as of batch `cut.walId`.
      const snapshot = source(CHECKPOINT_HEADER_BYTES);
      const encoded = await this.#finishSnapshot(snapshot);
      await cut.durable;
      if (this.#writer.failure !== null) throw this.#writer.failure;

      const name = checkpointName(cut.walId, ulid(this.#options.clock.now()));
      body = await sealCheckpoint(cut.walId, encoded, nextTurn);
      await this.#storage.put(this.#keys.checkpoint(name), body);
      await this.#fence.commit({ checkpoint: name, replayAfter: cut.walId, closed: closing });
      this.#coveredBytes = cut.sealedBytes;
      this.#coveredRecords = cut.sealedRecords;
      committed = true;
    } catch (error) {
      fenced = error instanceof FencedError;
      throw error;
    } finally {
      this.#endWrite(committed, fenced, started);
    }
    const { clock } = this.#options;
    this.#lastCheckpointBytes = body.byteLength;
    this.#lastCheckpointAt = clock.now();
    this.#lastCheckpointMono = clock.monotonicNow();
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

  /**
   * A checkpoint being written ended: producers held by the lag go ahead,
   * committed or not. A failed one is retried after the next durable batch,
   * which they are needed to write, and would hold them again for as long as
   * the store keeps refusing: so after a failure producers are not held
   * until a checkpoint commits.
   */
  #endWrite(committed: boolean, fenced: boolean, started: number): void {
    this.#writing = false;
    this.#holdTimer?.cancel();
    this.#holdTimer = null;
    if (committed) {
      this.#lastCheckpointMs = this.#options.clock.monotonicNow() - started;
      this.#holdSuspended = false;
      this.#failureWarned = false;
      if (!this.#holdExpired) this.#lateWarned = false;
    } else if (!fenced && !this.#holdSuspended && this.#writer.failure === null) {
      this.#holdSuspended = true;
      this.#options.logger.warn(
        "checkpoint failed: producers are not held for checkpoints until one commits",
        { log: this.#describe },
      );
    }
    this.#holdExpired = false;
    this.#releaseHeld();
  }

  /**
   * The snapshot's bytes behind {@link CHECKPOINT_HEADER_BYTES} free ones:
   * an encoder runs slice by slice with a turn of the event loop between
   * slices (and is abandoned if the log fails meanwhile); plain bytes are
   * copied behind the room for the header.
   */
  async #finishSnapshot(snapshot: Uint8Array | SnapshotEncoder): Promise<Uint8Array> {
    if (snapshot instanceof Uint8Array) {
      const body = new Uint8Array(CHECKPOINT_HEADER_BYTES + snapshot.byteLength);
      body.set(snapshot, CHECKPOINT_HEADER_BYTES);
      return body;
    }
    try {
      for (;;) {
        const done = snapshot.step();
        if (done !== null) return done;
        await nextTurn();
        if (this.#writer.failure !== null) throw this.#writer.failure;
      }
    } catch (error) {
      snapshot.abandon();
      throw error;
    }
  }

  async #collectGarbage(): Promise<void> {
    const result = await collectGarbage({
      storage: this.#storage,
      keys: this.#keys,
      manifests: this.#manifests,
      fence: this.#fence,
      clock: this.#options.clock,
      minAgeMs: this.#options.gcMinAgeMs,
      manifestHistory: this.#options.manifestHistory,
      fenceMinAgeMs: this.#options.fenceMinAgeMs,
      firstSeen: this.#firstSeen,
    });
    this.#options.logger.debug?.("log garbage collected", { log: this.#describe, ...result });
  }
}

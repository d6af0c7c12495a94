/**
 * Checkpoints and garbage collection of an open log.
 *
 * Owns: asking the policy (`checkpoint-policy.ts`) after every durable batch
 * whether a checkpoint is due, writing one (snapshot at a cut of the
 * WAL, checkpoint object, manifest commit through the {@link WriterFence}),
 * the serialisation of every maintenance task (checkpoints and GC run one at
 * a time), and GC after checkpoints (spaced out after background ones, see
 * {@link GC_PASSES_PER_MIN_AGE}). Background checkpoints that fail
 * are retried after a {@link CheckpointBackoff}. It tells the {@link ProducerHold}
 * when a checkpoint starts, commits or fails; the hold decides whether
 * producers wait for it.
 *
 * A checkpoint never blocks the write path, nor the event loop for long: the
 * snapshot's consistent view is taken synchronously at the cut; encoding it
 * (when the source hands back a {@link SnapshotEncoder}) and checksumming it
 * run in slices with a turn of the event loop between them; the writes run in
 * the background.
 * Being fenced fails the log; a store outage here does not, since no
 * acknowledged record depends on a checkpoint (the WAL still holds everything).
 */

import { types } from "node:util";
import { FencedError } from "../errors.js";
import {
  type MonotonicNow,
  nextTurn,
  processNow,
  SliceBudget,
  type TurnWindow,
} from "../util/slices.js";
import { CheckpointBackoff } from "./checkpoint-backoff.js";
import { checkpointDue, recordBound } from "./checkpoint-policy.js";
import { CHECKPOINT_HEADER_BYTES, sealCheckpoint } from "./codec.js";
import type { WriterFence } from "./fencing.js";
import { collectGarbage } from "./gc.js";
import { checkpointName, type LogKeys } from "./keys.js";
import type { ManifestReader } from "./manifest.js";
import type { ResolvedLogOptions } from "./options.js";
import { ProducerHold } from "./producer-hold.js";
import type { LogStorage } from "./storage.js";
import type { SnapshotEncoder, SnapshotSource } from "./types.js";
import type { LogWriter } from "./writer.js";

/**
 * After a background checkpoint, GC runs only once this fraction of
 * `gcMinAgeMs` has passed since the last pass started: nothing younger than
 * `gcMinAgeMs` is deleted anyway, and with a small state checkpoints come every
 * few hundred batches, each pass listing the whole WAL kept (a minute of it).
 * The queue's passes over orphaned payload objects are spaced by the same rule.
 */
export const GC_PASSES_PER_MIN_AGE = 4;

export interface CheckpointerInit {
  storage: LogStorage;
  keys: LogKeys;
  manifests: ManifestReader;
  options: ResolvedLogOptions;
  fence: WriterFence;
  writer: LogWriter;
  /** Size of the checkpoint object loaded at open (0 when none). */
  checkpointBytes: number;
  /** When the checkpoint loaded at open was written (wall time), or `null` when none was. */
  checkpointAt: number | null;
  /**
   * Whether the state was recovered from something other than the
   * manifest's checkpoint (recovery skipped a damaged or missing one): the
   * manifest does not describe the state even when no batch was written since.
   */
  recoveredElsewhere: boolean;
  describeLog: string;
  /** The clock slices of GC passes run on (a test's, see `SLICE_CLOCK`); `performance.now()` by default. */
  sliceNow?: MonotonicNow;
  /** The window the slices of its checksums and GC passes share with the owner's other work in a turn. */
  turnWindow?: TurnWindow;
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
  readonly #sliceNow: MonotonicNow;
  readonly #turnWindow: TurnWindow | undefined;

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
  /** Wall time of the newest checkpoint (of the open's until this writer writes one), for stats. */
  #lastCheckpointAt: number | null;
  #checkpointsWritten = 0;
  /** Monotonic time the newest GC pass started, or `null` before the first. */
  #lastGcMono: number | null = null;
  /** The manifest's checkpoint is not the state (see {@link CheckpointerInit.recoveredElsewhere}) until one is written. */
  #manifestStale: boolean;
  /** Holds producers while a checkpoint is written and the WAL is far past the last one. */
  readonly #hold: ProducerHold;
  /** Spaces out background attempts while they fail. */
  readonly #backoff: CheckpointBackoff;
  /** Fences (and unnamed probes) → when (monotonic) this process first knew of them (GC's ages). */
  readonly #firstSeen = new Map<string, number>();
  readonly #reportedDamage = new Set<number>();

  constructor(init: CheckpointerInit) {
    this.#storage = init.storage;
    this.#keys = init.keys;
    this.#manifests = init.manifests;
    this.#options = init.options;
    this.#fence = init.fence;
    this.#writer = init.writer;
    this.#describe = init.describeLog;
    this.#sliceNow = init.sliceNow ?? processNow;
    this.#turnWindow = init.turnWindow;
    this.#lastCheckpointBytes = init.checkpointBytes;
    this.#lastCheckpointAt = init.checkpointAt;
    this.#manifestStale = init.recoveredElsewhere;
    this.#lastCheckpointMono = init.options.clock.monotonicNow();
    // Our own fences were written during the open, so they are at least this old.
    for (const slot of init.fence.ownFences)
      this.#firstSeen.set(init.keys.wal(slot), this.#lastCheckpointMono);
    const writer = init.writer;
    this.#backoff = new CheckpointBackoff({
      clock: init.options.clock,
      logger: init.options.logger,
      describeLog: init.describeLog,
    });
    this.#hold = new ProducerHold({
      clock: init.options.clock,
      logger: init.options.logger,
      describeLog: init.describeLog,
      log: {
        recordsPastCheckpoint: () => writer.appendedRecords - this.#coveredRecords,
        recordBound: () => this.#recordBound(),
        closing: () => writer.closing,
      },
    });
    writer.onFailure((error) => this.#hold.fail(error));
  }

  /**
   * Whether a producer may append now as far as the checkpoint lag goes
   * (see {@link ProducerHold.allows}). Claims and settlements are not held
   * (they do not ask).
   */
  lagAllows(): boolean {
    return this.#hold.allows();
  }

  /** Resolves once {@link lagAllows} (the checkpoint being written ended); rejects if the log fails. */
  whenLagAllows(): Promise<void> {
    if (this.#writer.failure !== null) return Promise.reject(this.#writer.failure);
    return this.#hold.whenAllows();
  }

  /** Registers the state snapshot that checkpoints serialise. */
  setSource(source: SnapshotSource): void {
    this.#source = source;
  }

  /** Writes a checkpoint now (after any running maintenance); no-op without a source. */
  checkpoint(): Promise<void> {
    if (this.#source === null) return Promise.resolve();
    return this.#exclusive(async () => {
      await this.#write("always");
    });
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
    return this.#exclusive(async () => {
      await this.#write("always", true);
    });
  }

  /**
   * The checkpoint policy, asked after every durable batch: starts one in the
   * background when due, unless one failed and its backoff (a wait, or the
   * records since, see {@link CheckpointBackoff}) has not run out.
   */
  maybeCheckpoint(): void {
    if (this.#source === null || this.#backgroundCheckpoint || this.#writer.closing) return;
    const { durableBytes, durableRecords, durableWalId, walCreateMs } = this.#writer.stats();
    if (!this.#backoff.allows(durableRecords)) return;
    const walBytes = durableBytes - this.#coveredBytes;
    const walRecords = durableRecords - this.#coveredRecords;
    const sinceLast = this.#options.clock.monotonicNow() - this.#lastCheckpointMono;
    const walBatches = durableWalId - this.#fence.manifest.replayAfter;
    // Nothing written since the last checkpoint: none is due, however long ago
    // it was ("at least this often while records are written").
    if (walBatches <= 0) return;
    const tail = { walBytes, walRecords, walBatches, sinceLast, walCreateMs };
    if (!checkpointDue(this.#options, this.#lastCheckpointBytes, tail)) return;
    this.#backgroundCheckpoint = true;
    this.#exclusive(() => this.#write("spaced")).then(
      (wrote) => {
        this.#backgroundCheckpoint = false;
        // Batches that became durable while it ran asked while it ran, and were
        // told no; if they made the next one due, it starts now rather than after
        // a further batch that may never come. Only after a checkpoint was
        // written: one that found nothing to write asks again at the next batch,
        // never in a loop of promises that starves the event loop. (A failure is
        // retried at a batch after its backoff, so that a refusing store is not
        // asked in a loop either.)
        if (wrote) this.maybeCheckpoint();
      },
      (error: unknown) => {
        this.#backgroundCheckpoint = false;
        if (this.#writer.failure === null)
          this.#backoff.failed(error, this.#writer.stats().durableRecords, this.#recordBound());
      },
    );
  }

  /** WAL records since the last checkpoint past which the next one is due (see `checkpoint-policy.ts`). */
  #recordBound(): number {
    return recordBound(this.#options, this.#lastCheckpointBytes);
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
  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#maintenance.then(async () => {
      if (this.#writer.failure !== null) throw this.#writer.failure;
      try {
        return await task();
      } catch (error) {
        if (error instanceof FencedError) this.#writer.fail(error);
        throw this.#writer.failure ?? error;
      }
    });
    this.#maintenance = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  /**
   * Writes a checkpoint of everything appended so far; false when there was
   * nothing new to write. `gc`: whether GC follows always, or (for background
   * checkpoints) only when the last pass is old enough ({@link GC_PASSES_PER_MIN_AGE}).
   */
  async #write(gc: "always" | "spaced", closing = false): Promise<boolean> {
    const source = this.#source;
    const cut = this.#writer.cut();
    const { manifest } = this.#fence;
    const upToDate =
      cut.walId === manifest.replayAfter && manifest.checkpoint !== null && !this.#manifestStale;
    if (source === null || upToDate) {
      if (!closing || manifest.closed) return false;
      await cut.durable;
      if (this.#writer.failure !== null) throw this.#writer.failure;
      const { checkpoint, replayAfter } = manifest;
      await this.#fence.commit({ checkpoint, replayAfter, closed: true });
      return false;
    }
    this.#hold.checkpointStarted();
    let body: Uint8Array;
    let committed = false;
    let fenced = false;
    try {
      // Synchronously after the cut: the snapshot is the state as of batch `cut.walId`.
      const snapshot = source(CHECKPOINT_HEADER_BYTES);
      const encoded = await this.#finishSnapshot(snapshot);
      await cut.durable;
      if (this.#writer.failure !== null) throw this.#writer.failure;

      const name = checkpointName(cut.walId, this.#storage.random.ulid(this.#options.clock.now()));
      body = await sealCheckpoint(
        cut.walId,
        encoded,
        new SliceBudget(undefined, this.#sliceNow, this.#turnWindow),
      );
      await this.#storage.put(this.#keys.checkpoint(name), body);
      await this.#fence.commit({ checkpoint: name, replayAfter: cut.walId, closed: closing });
      this.#manifestStale = false;
      this.#coveredBytes = cut.sealedBytes;
      this.#coveredRecords = cut.sealedRecords;
      committed = true;
    } catch (error) {
      fenced = error instanceof FencedError;
      throw error;
    } finally {
      this.#endWrite(committed, fenced);
    }
    const { clock } = this.#options;
    this.#lastCheckpointBytes = body.byteLength;
    this.#lastCheckpointAt = clock.now();
    this.#lastCheckpointMono = clock.monotonicNow();
    this.#checkpointsWritten++;
    if (gc === "spaced" && !this.#gcDue()) return true;
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
    return true;
  }

  /**
   * A checkpoint being written ended: the hold is told how. A failure of a
   * log that goes on makes the hold give way until one commits; being
   * fenced, or the log failing, ends the log's writes anyway.
   */
  #endWrite(committed: boolean, fenced: boolean): void {
    if (committed) {
      this.#backoff.committed();
      this.#hold.checkpointCommitted();
    } else if (fenced || this.#writer.failure !== null) this.#hold.checkpointAbandoned();
    else this.#hold.checkpointFailed();
  }

  /**
   * The snapshot's bytes behind {@link CHECKPOINT_HEADER_BYTES} free ones:
   * an encoder runs slice by slice with a turn of the event loop between
   * slices (and is abandoned if the log fails meanwhile); plain bytes are
   * copied behind the room for the header.
   */
  async #finishSnapshot(snapshot: Uint8Array | SnapshotEncoder): Promise<Uint8Array> {
    if (types.isUint8Array(snapshot)) {
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

  /** Whether a background checkpoint's GC pass is due (see {@link GC_PASSES_PER_MIN_AGE}). */
  #gcDue(): boolean {
    if (this.#lastGcMono === null) return true;
    const since = this.#options.clock.monotonicNow() - this.#lastGcMono;
    return since >= this.#options.gcMinAgeMs / GC_PASSES_PER_MIN_AGE;
  }

  async #collectGarbage(): Promise<void> {
    this.#lastGcMono = this.#options.clock.monotonicNow();
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
      logger: this.#options.logger,
      describeLog: this.#describe,
      reportedDamage: this.#reportedDamage,
      sliceNow: this.#sliceNow,
      turnWindow: this.#turnWindow,
    });
    this.#options.logger.debug?.("log garbage collected", { log: this.#describe, ...result });
  }
}

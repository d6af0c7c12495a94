/**
 * The group-commit writer's shapes: what recovery hands it, what a cut of
 * the log is, and its counters.
 */
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
  /** The first WAL slot this writer will fill (past its fences). */
  nextWalId: number;
  /** Encoded bytes of the WAL replayed at open (they count towards the next checkpoint). */
  replayedWalBytes: number;
  /** Records of the WAL replayed at open (they count towards the next checkpoint too). */
  replayedWalRecords: number;
  describeLog: string;
}

/** A consistent cut of the log: what a checkpoint taken right now covers. */
export interface Cut {
  /** The newest sealed batch: everything appended so far is in it or before it. */
  walId: number;
  /** Encoded bytes of every batch up to `walId` (replayed ones included). */
  sealedBytes: number;
  /** Records of every batch up to `walId` (replayed ones included). */
  sealedRecords: number;
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
  /** Records of every durable batch, replayed ones included. */
  durableRecords: number;
  unflushedBytes: number;
  /**
   * How long a WAL create takes to succeed: the median of the latest creates
   * (ms; see `create-times.ts`); null before the first.
   */
  walCreateMs: number | null;
}

/**
 * Opt-in recovery from a damaged log (`recoverCorruption: "skip"`). Instead of
 * refusing to open, fall back to the last state that can be rebuilt
 * consistently — the newest intact checkpoint plus the unbroken run of intact
 * WAL batches after it — and report exactly which objects were damaged or
 * skipped and how many records they held. Nothing is deleted here; the
 * caller checkpoints the salvaged state so later opens start past the damage.
 */
import { CorruptionError } from "../errors.js";
import { type MonotonicNow, nextSlice, processNow, SliceBudget } from "../util/slices.js";
import {
  damagedWalBatchCount,
  isFenceSize,
  type VerifiedWalBatch,
  verifyWalBatch,
} from "./codec.js";
import type { LogKeys } from "./keys.js";
import type { ManifestEntry, ManifestReader } from "./manifest.js";
import { type Replayed, readCheckpoint } from "./replay.js";
import type { LogStorage } from "./storage.js";
import { WalTail } from "./tail.js";
import type { RecoveryReport } from "./types.js";
import { WalScan } from "./wal-scan.js";

export interface Salvaged extends Replayed {
  report: RecoveryReport;
}

interface Start {
  name: string | null;
  replayAfter: number;
}

/**
 * Rebuilds what can be rebuilt of the log below the fence at `fenceId`. Its
 * reads of the WAL go in slices of the event loop: a store that answers
 * without I/O (the memory store) would read and verify a long WAL in one turn.
 */
export async function salvage(
  storage: LogStorage,
  keys: LogKeys,
  manifests: ManifestReader,
  own: ManifestEntry,
  fenceId: number,
  sliceNow: MonotonicNow = processNow,
): Promise<Salvaged> {
  const budget = new SliceBudget(undefined, sliceNow);
  const damaged: RecoveryReport["damaged"] = [];
  let checkpoint: Uint8Array | null = null;
  let checkpointBytes = 0;
  let start: Start = { name: null, replayAfter: 0 };
  for (const candidate of await checkpointCandidates(manifests, own)) {
    if (candidate.name === null) {
      start = candidate;
      break;
    }
    const key = keys.checkpoint(candidate.name);
    try {
      const loaded = await readCheckpoint(
        storage,
        keys,
        candidate.name,
        candidate.replayAfter,
        sliceNow,
      );
      if (loaded === null) {
        damaged.push({ key, reason: "checkpoint is missing" });
        continue;
      }
      checkpoint = loaded.snapshot;
      checkpointBytes = loaded.bytes;
      start = candidate;
      break;
    } catch (error) {
      damaged.push({ key, reason: reasonOf(error) });
    }
  }

  const batches: VerifiedWalBatch[] = [];
  let id = start.replayAfter + 1;
  const scan = new WalScan();
  budget.start();
  for (; id < fenceId; id++) {
    if (budget.spent()) await nextSlice(budget);
    const key = keys.wal(id);
    const body = await storage.get(key);
    if (body === null) {
      damaged.push({ key, reason: "WAL batch is missing" });
      break;
    }
    try {
      const batch = scan.read(keys, id, body);
      if (batch !== null) batches.push(batch);
    } catch (error) {
      damaged.push(damagedBatch(key, id, body, error));
      break;
    }
  }

  // Everything after the break is unreachable from a consistent state: skipped, counted.
  const skipped: RecoveryReport["skipped"] = [];
  for (id++; id < fenceId; id++) {
    if (budget.spent()) await nextSlice(budget);
    const key = keys.wal(id);
    const body = await storage.get(key);
    if (body === null || isFenceSize(body.byteLength)) continue;
    try {
      const { count } = verifyWalBatch(key, id, body);
      skipped.push({ key, records: count });
    } catch (error) {
      damaged.push(damagedBatch(key, id, body, error));
    }
  }
  // A damaged batch's records are lost with it: counted where its header still tells how many.
  let lostRecords = 0;
  for (const { records } of [...skipped, ...damaged]) lostRecords += records ?? 0;
  const tail = new WalTail(batches);
  return {
    checkpoint,
    checkpointBytes,
    checkpointName: checkpoint === null ? null : start.name,
    tail,
    walEpoch: scan.epoch,
    report: {
      damaged,
      skipped,
      lostRecords,
      checkpoint: start.name,
      recoveredRecords: tail.count,
      resumeAfter: fenceId,
    },
  };
}

/** Checkpoints to try, newest first: the manifest's own, then older retained ones, then none. */
async function checkpointCandidates(
  manifests: ManifestReader,
  own: ManifestEntry,
): Promise<Start[]> {
  const candidates: Start[] = [
    { name: own.manifest.checkpoint, replayAfter: own.manifest.replayAfter },
  ];
  const ids = (await manifests.listIds()).filter((id) => id < own.id).reverse();
  for (const id of ids) {
    try {
      const m = await manifests.read(id);
      if (!candidates.some((c) => c.name === m.checkpoint))
        candidates.push({ name: m.checkpoint, replayAfter: m.replayAfter });
    } catch (error) {
      if (!(error instanceof CorruptionError)) throw error;
    }
  }
  if (!candidates.some((c) => c.name === null)) candidates.push({ name: null, replayAfter: 0 });
  return candidates;
}

/** The report of damaged WAL object `key`, with the records it held when that can be told. */
function damagedBatch(
  key: string,
  id: number,
  body: Uint8Array,
  error: unknown,
): RecoveryReport["damaged"][number] {
  const reason = reasonOf(error);
  // A fence holds no records; an object of a fence's size that is not one is not a batch either.
  const records = isFenceSize(body.byteLength) ? null : damagedWalBatchCount(id, body);
  return records === null ? { key, reason } : { key, reason, records };
}

function reasonOf(error: unknown): string {
  if (error instanceof CorruptionError) return error.message;
  throw error;
}

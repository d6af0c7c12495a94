/**
 * Which WAL objects' records count, read in slot order: fences hold none,
 * and neither do the dead batches a crashed or fenced writer's creates in
 * flight left past its last slot, told apart by their epoch. Shared by
 * replay, salvage and the read-only tools.
 */
import { type MonotonicNow, nextTurn, processNow, SliceBudget } from "../util/slices.js";
import { decodeFence, isFenceSize, type VerifiedWalBatch, verifyWalBatch } from "./codec.js";
import type { LogKeys } from "./keys.js";

/**
 * Reads WAL objects in slot order and tells which records count.
 *
 * Fences hold none. Neither do dead batches: a writer keeps several creates
 * in flight, so when it crashes or is fenced some of them can land after a
 * slot it never filled, and the next writer fences that slot (and the few
 * after it, where the rest could still land). Such a batch was never
 * acknowledged (batches are acknowledged strictly in WAL order) and must
 * never be replayed. It is recognised by its epoch: lower than the epoch of
 * a fence (or batch) before it. Version 1 batches carry no epoch and were
 * never written with creates in flight, so they always count.
 */
export class WalScan {
  /** The highest epoch of any fence or batch read so far. */
  #epoch: number;

  /** @param epoch The {@link epoch} of a scan of the slots before the first this one reads. */
  constructor(epoch = 0) {
    this.#epoch = epoch;
  }

  /** The highest epoch of any fence or batch read so far. */
  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Verifies the WAL object in slot `id`: the batch whose records count, or
   * `null` for a fence or a dead batch. Throws {@link CorruptionError} when
   * it is neither an intact batch nor a fence.
   */
  read(keys: LogKeys, id: number, body: Uint8Array): VerifiedWalBatch | null {
    const key = keys.wal(id);
    if (isFenceSize(body.byteLength)) {
      this.#epoch = Math.max(this.#epoch, decodeFence(key, body));
      return null;
    }
    const batch = verifyWalBatch(key, id, body);
    const { header } = batch;
    if (header === null) return batch;
    if (header.epoch < this.#epoch) return null;
    this.#epoch = header.epoch;
    return batch;
  }
}

/**
 * Verifies the WAL objects read from slot `from` on, in order, with `scan`
 * (which may have read the slots before), adding the batches whose records
 * count to `batches`.
 */
export async function scanWal(
  keys: LogKeys,
  from: number,
  bodies: Uint8Array[],
  scan: WalScan,
  batches: VerifiedWalBatch[] = [],
  sliceNow: MonotonicNow = processNow,
): Promise<{ batches: VerifiedWalBatch[] }> {
  // Verifying a long WAL is many checksums: give the event loop a turn between slices.
  const budget = new SliceBudget(undefined, sliceNow);
  budget.start();
  for (const [index, body] of bodies.entries()) {
    if (budget.spent()) {
      await nextTurn();
      budget.start();
    }
    const batch = scan.read(keys, from + index, body);
    if (batch !== null) batches.push(batch);
  }
  return { batches };
}

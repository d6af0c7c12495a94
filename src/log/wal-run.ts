/**
 * The WAL as a listing shows it: the unbroken run of objects after a slot
 * (a slot the listing skipped looked up before it counts as missing), the
 * objects past the run's end, and whether those are a crashed writer's tail
 * or damage. Reads only; shared by replay, the fence's placement and the
 * read-only tools.
 */
import { CorruptionError } from "../errors.js";
import type { ObjectInfo } from "../store/types.js";
import { type MonotonicNow, nextSlice, processNow, SliceBudget, spentAt } from "../util/slices.js";
import { isFenceSize, verifyWalBatch, WAL_WINDOW } from "./codec.js";
import type { LogKeys } from "./keys.js";
import type { LogStorage } from "./storage.js";

/** The WAL after a slot as a listing showed it, with the gaps in it checked. */
export interface WalRun {
  /** The first free slot after the unbroken run of objects that follows the slot. */
  next: number;
  /** Ids of the objects listed past `next`, ascending (see {@link tailDamage}). */
  tail: number[];
  /** The objects of the run, in slot order (those the listing missed included). */
  run: ObjectInfo[];
}

/**
 * The unbroken run of WAL objects after slot `after` and the objects past
 * its end, from `listed` (a listing of the WAL after `after`, in key order).
 *
 * A listing of several pages is no snapshot: an object created behind its
 * cursor while it pages on is missing from it, though later slots are in
 * it. A live writer's pipelined create that lands at a page boundary then
 * looks like a gap, and batches that writer sealed meanwhile like damage
 * behind it. So a slot the listing skips is looked up directly before it
 * counts as missing: only a slot still missing after the listing showed the
 * objects past it ends the run. Such a slot stays missing for the reasons
 * {@link tailDamage} tells apart (a writer's creates land within
 * {@link WAL_WINDOW} of its last acknowledged batch). With `budget`, the
 * event loop has a turn whenever its slice is spent (a listing of tens of
 * thousands of objects).
 */
export async function walRun(
  storage: LogStorage,
  keys: LogKeys,
  after: number,
  listed: readonly ObjectInfo[],
  budget?: SliceBudget,
): Promise<WalRun> {
  let next = after + 1;
  const tail: number[] = [];
  const run: ObjectInfo[] = [];
  for (let i = 0; i < listed.length; i++) {
    if (budget !== undefined && spentAt(budget, i)) await nextSlice(budget);
    const object = listed[i]!;
    const id = keys.idOf(keys.walDir, object.key);
    if (id === null || id <= after) continue;
    if (tail.length === 0) {
      while (next < id) {
        const key = keys.wal(next);
        const found = await storage.stat(key);
        if (found === null) break;
        run.push({ key, size: found.size });
        next++;
      }
      if (id === next) {
        run.push(object);
        next++;
        continue;
      }
    }
    tail.push(id);
  }
  return { next, tail, run };
}

/**
 * {@link walRun} of a listing of the WAL after slot `after`, both in slices of
 * the event loop: a store that answers without I/O (the memory store) would
 * list a long WAL, and parse its keys, in one turn.
 */
export async function listWalRun(
  storage: LogStorage,
  keys: LogKeys,
  after: number,
  sliceNow: MonotonicNow = processNow,
): Promise<WalRun> {
  const budget = new SliceBudget(undefined, sliceNow);
  budget.start();
  const listed = await storage.list(keys.walDir, keys.wal(after), budget);
  return walRun(storage, keys, after, listed, budget);
}

/**
 * WAL objects past the first missing slot `gap` (all within
 * {@link WAL_WINDOW} of it) are the tail of a writer that died or was fenced
 * with creates in flight: never acknowledged, never replayed. Unless one of
 * them was sealed after the batch in `gap` was acknowledged: then that batch
 * was durable and is missing now, which is damage. Returns the
 * {@link CorruptionError} to report, or null for a plain crashed tail.
 */
export async function tailDamage(
  storage: LogStorage,
  keys: LogKeys,
  gap: number,
  tail: readonly number[],
): Promise<CorruptionError | null> {
  for (const id of tail) {
    if (id >= gap + WAL_WINDOW) {
      return new CorruptionError(
        keys.wal(gap),
        `WAL batch is missing while "${keys.wal(id)}" exists (a gap of more than ${WAL_WINDOW} slots)`,
      );
    }
  }
  const bodies = await Promise.all(tail.map((id) => storage.get(keys.wal(id))));
  for (const [index, body] of bodies.entries()) {
    const id = tail[index]!;
    if (body === null || isFenceSize(body.byteLength)) continue;
    const { header } = verifyWalBatch(keys.wal(id), id, body);
    if (header === null || header.acknowledgedThrough >= gap) {
      return new CorruptionError(
        keys.wal(gap),
        `WAL batch is missing while "${keys.wal(id)}", written after it was acknowledged, exists`,
      );
    }
  }
  return null;
}

/**
 * Placing a new writer's fence in the WAL (`fencing.ts` claims the epoch
 * first): the first free slot after `replayAfter`, found from listings, and
 * the other free slots of the window that starts there, each filled with a
 * zero-record fence so that an older writer's create in flight lands on
 * none of this writer's slots.
 */
import type { MonotonicNow } from "../util/slices.js";
import { encodeFence, WAL_WINDOW } from "./codec.js";
import type { LogKeys } from "./keys.js";
import type { LogStorage } from "./storage.js";
import { listWalRun, tailDamage } from "./wal-run.js";

/** What placing a fence reads and writes through. */
export interface FenceSlotsContext {
  storage: LogStorage;
  keys: LogKeys;
  /** The clock slices of its WAL listings run on (a test's, see `SLICE_CLOCK`); `performance.now()` by default. */
  sliceNow?: MonotonicNow;
}

/** Where the fence went: replay stops before `fenceId`; the writer's first batch is `nextWalId`. */
export interface PlacedFence {
  fenceId: number;
  nextWalId: number;
}

interface FreeSlot {
  slot: number;
  /** Objects past `slot` (within the window). */
  after: Set<number>;
  /** The highest id listed (at least `slot - 1`). */
  last: number;
}

/**
 * Writes a zero-record fence of `epoch` at the first free WAL slot after
 * `from` (`replayAfter`, or a later slot known to be taken), so a zombie
 * writer's next create fails on it, and fences every other free slot of the
 * {@link WAL_WINDOW} (`width` slots) that starts there: the previous writer
 * may still have creates in flight for those, and must not land one where
 * this writer will write. Replay goes up to `fenceId`; this writer's
 * batches start at `nextWalId`, after the window. `ownFences`: the slots
 * fenced (none when there was nobody to fence out).
 *
 * Objects past the first free slot but within the window are the tail of a
 * writer that crashed (or is being fenced) with creates in flight: dead
 * batches, which replay skips by their epoch. Anything further out is
 * damage: {@link CorruptionError}, unless `skipDamage` (then the fence goes
 * after everything that exists and recovery reports the gap).
 *
 * An older writer that is still busy fills slots as fast as the store
 * allows (until it sees our epoch, within its `checkIntervalMs`). So when a
 * slot is taken, the next try goes to the end of the WAL as a fresh listing
 * shows it, not to the next slot, after `throwIfSuperseded` found this
 * writer still the newest: a takeover costs a few round trips after the old
 * writer stops, however many batches it wrote meanwhile.
 *
 * Every slot from `replayAfter + 1` up to `from` is known to hold an object
 * (the opener read them ahead, under the manifest this writer's follows),
 * so the look for a free slot lists only the WAL after it. Those slots stay
 * taken: objects are only ever created there, and GC deletes WAL objects
 * only up to the `replayAfter` of a newer manifest than this writer's.
 */
export async function placeFence(
  ctx: FenceSlotsContext,
  epoch: number,
  from: number,
  /** Slots to fence: 0 after a clean close, else the previous writers' window. */
  fenceWidth: number,
  skipDamage: boolean,
  throwIfSuperseded: () => Promise<void>,
): Promise<{ placed: PlacedFence; ownFences: readonly number[] }> {
  const { storage, keys } = ctx;
  const fence = encodeFence(epoch);
  let free = await firstFreeSlot(ctx, from, skipDamage);
  if (fenceWidth === 0 && free.after.size === 0) {
    // The previous writer closed cleanly (or there was none): nobody to fence out.
    return { placed: { fenceId: free.slot, nextWalId: free.slot }, ownFences: [] };
  }
  const width = Math.max(1, fenceWidth);
  for (;;) {
    // A fence carries no token, so a taken slot is not read back: it is some other
    // writer's, or our own earlier attempt's (a fence, which replay skips like any other).
    const outcome = await storage.create(keys.wal(free.slot), fence, null);
    if (outcome === "created") break;
    const [, next] = await Promise.all([
      throwIfSuperseded(),
      firstFreeSlot(ctx, free.slot, skipDamage),
    ]);
    free = next;
  }
  const fenceId = free.slot;
  const pads: Promise<unknown>[] = [];
  for (let slot = fenceId + 1; slot < fenceId + width; slot++) {
    // Taken: a dead batch of the previous writer, or a newer opener's fence.
    if (!free.after.has(slot)) pads.push(storage.create(keys.wal(slot), fence, null));
  }
  await Promise.all(pads);
  return {
    placed: { fenceId, nextWalId: Math.max(fenceId + width, free.last + 1) },
    ownFences: Array.from({ length: width }, (_, i) => fenceId + i),
  };
}

/**
 * The first free slot after the run of WAL objects that follows slot
 * `after` (which is taken, or `replayAfter`), from one listing; with the
 * ids of the objects past it (a crashed writer's tail, see
 * {@link tailDamage}) and the last id.
 */
async function firstFreeSlot(
  ctx: FenceSlotsContext,
  after: number,
  skipDamage: boolean,
): Promise<FreeSlot> {
  const { storage, keys, sliceNow } = ctx;
  const { next: slot, tail } = await listWalRun(storage, keys, after, sliceNow);
  const last = Math.max(slot - 1, tail.at(-1) ?? after);
  const damage = tail.length === 0 ? null : await tailDamage(storage, keys, slot, tail);
  if (damage !== null) {
    if (!skipDamage) throw damage;
    // Put the fence after everything; salvage reports what it skipped.
    return { slot: last + 1, after: new Set(), last };
  }
  return { slot, after: new Set(tail), last };
}

/**
 * Read-only access to a log, for tools that must not disturb a running
 * writer: never fences, never writes, never deletes. Reads the contents
 * through `replay.ts`, the WAL as listed through `wal-run.ts` and which
 * batches count through `wal-scan.ts`; depends on nothing that opens a writer.
 */
import { CorruptionError } from "../errors.js";
import { compareKeys } from "../store/key-order.js";
import type { ObjectInfo, ObjectStore } from "../store/types.js";
import {
  type MonotonicNow,
  nextSlice,
  SliceBudget,
  sliceClockOf,
  sortInSlices,
  spentAt,
} from "../util/slices.js";
import { isFenceSize } from "./codec.js";
import { checkedLogPrefix, checkpointCreatedAt, LogKeys, pathRefusal } from "./keys.js";
import { type OwnedDir, refuseLostManifests } from "./lost-manifests.js";
import { type ManifestEntry, ManifestReader } from "./manifest.js";
import { type ReadLogOptions, resolveReadOptions } from "./options.js";
import { readCheckpoint, replay, replayWal } from "./replay.js";
import { LogStorage } from "./storage.js";
import { WalTail, withRecords } from "./tail.js";
import type {
  FullReadNeeded,
  LogContents,
  LogInspection,
  LogPosition,
  LogUpdate,
} from "./types.js";
import { tailDamage, walRun } from "./wal-run.js";
import { WalScan } from "./wal-scan.js";

/** A running writer may checkpoint and collect garbage under us; retry a pass that raced it. */
const READ_ATTEMPTS = 3;

interface Reader {
  storage: LogStorage;
  keys: LogKeys;
  manifests: ManifestReader;
  now: () => number;
  /** The clock slices run on: a test's (see `SLICE_CLOCK`), else `performance.now()`. */
  sliceNow: MonotonicNow;
  ownedDirs: readonly OwnedDir[];
}

/** What the layer above tells the read-only tools about itself. */
export interface ReadLogContext {
  /** Folders it writes under the log's prefix (see `OpenLogContext.ownedDirs`). */
  ownedDirs?: readonly OwnedDir[];
}

function reader(
  store: ObjectStore,
  path: string,
  options: ReadLogOptions = {},
  context: ReadLogContext = {},
): Reader {
  const prefix = checkedLogPrefix(path, "path", store);
  const resolved = resolveReadOptions(options);
  const keys = new LogKeys(prefix);
  const storage = LogStorage.create(store, resolved);
  return {
    storage,
    keys,
    manifests: new ManifestReader(storage, keys),
    now: () => resolved.clock.now(),
    sliceNow: sliceClockOf(options),
    ownedDirs: context.ownedDirs ?? [],
  };
}

/**
 * Describes the log's objects: manifest epoch, WAL size, checkpoint
 * name/size/age. `path` as for `openLog`: a store's refusal of a key under it
 * rejects as a bad `path`. A log with no manifest describes as one nobody
 * opened, unless other objects of the log remain (its WAL, checkpoints or
 * `context.ownedDirs`): then its manifests were lost, and this rejects with
 * the {@link CorruptionError} `openLog` refuses it with.
 */
export async function inspectLog(
  store: ObjectStore,
  path: string,
  options?: ReadLogOptions,
  context?: ReadLogContext,
): Promise<LogInspection> {
  const r = reader(store, path, options, context);
  return consistently(r, () => inspectWith(r)).catch((error: unknown) => {
    throw pathRefusal(error, store, path, "path");
  });
}

/**
 * Reads what opening the log as writer would recover — the newest checkpoint
 * and the records after it — without fencing the current writer. Rejects
 * with {@link CorruptionError} where {@link inspectLog} does, and on damage
 * in what it reads.
 */
export async function readLog(
  store: ObjectStore,
  path: string,
  options?: ReadLogOptions,
  context?: ReadLogContext,
): Promise<LogContents> {
  const r = reader(store, path, options, context);
  return consistently(r, async () => readContents(r, await survey(r))).catch((error: unknown) => {
    throw pathRefusal(error, store, path, "path");
  });
}

/**
 * Runs a read-only pass, again if it met a missing object while the newest
 * manifest changed: the running writer checkpointed and collected what the
 * pass was about to read. Damage under an unchanged manifest is real.
 */
async function consistently<T>(r: Reader, pass: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const before = (await r.manifests.listIds()).at(-1);
    try {
      return await pass();
    } catch (error) {
      if (!(error instanceof CorruptionError) || attempt >= READ_ATTEMPTS) throw error;
      const after = (await r.manifests.listIds()).at(-1);
      if (after === before) throw error;
    }
  }
}

/**
 * Reads what came after a {@link readLog} (or an earlier `readLogAfter`)
 * that ended at `position`: only the newest manifest, the WAL objects after
 * `position`, and listings, never the checkpoint. It goes on only within
 * the tenure of the writer `position` was read under (the newest manifest
 * has its epoch and its writer token): anything another writer did can drop
 * records this reader already read (a takeover that salvaged damage keeps
 * less than the WAL it covers), and a store replaced by another log can hold
 * the same WAL slots. Resolves `{ fullRead: reason }` when a full
 * {@link readLog} is needed: another writer opened the log, or the log was
 * replaced; a newer checkpoint's garbage collection deleted WAL objects
 * after `position`; or anything read is missing, damaged or inconsistent (a
 * full read then reports real damage).
 */
export async function readLogAfter(
  store: ObjectStore,
  path: string,
  position: LogPosition,
  options?: ReadLogOptions,
  context?: ReadLogContext,
): Promise<LogUpdate | FullReadNeeded> {
  const r = reader(store, path, options, context);
  try {
    return await readUpdate(r, position);
  } catch (error) {
    if (error instanceof CorruptionError)
      return { fullRead: `reading what came after it failed: ${error.message}` };
    throw pathRefusal(error, store, path, "path");
  }
}

async function readUpdate(r: Reader, position: LogPosition): Promise<LogUpdate | FullReadNeeded> {
  const { info, newest, walIds } = await survey(r);
  if (newest === null) return { fullRead: "the log has no manifest any more" };
  const { manifest } = newest;
  const was = position.manifest;
  if (manifest.epoch !== was.epoch)
    return {
      fullRead: `another writer opened the log (writer epoch ${was.epoch}, now ${manifest.epoch})`,
    };
  if (manifest.writer !== was.writer)
    return { fullRead: "the newest manifest is another writer's (the log was replaced)" };
  if (newest.id < position.manifestId || manifest.replayAfter < was.replayAfter)
    return {
      fullRead: `the newest manifest (${newest.id}) is older than the one read before (${position.manifestId}): the log was replaced`,
    };
  const to = manifest.replayAfter + 1 + info.wal.pendingObjects;
  // Past the end of what a full read would replay now: objects it read are gone.
  if (position.next > to)
    return {
      fullRead: `WAL objects it read are gone (it read up to ${position.next}, the log ends at ${to})`,
    };
  // Slots up to the newest checkpoint's `replayAfter` are not in the run `survey` checked: each
  // must still be listed (ids are unique and sorted, so counting them is enough).
  if (position.next <= manifest.replayAfter) {
    const first = lowerBound(walIds, position.next);
    const last = lowerBound(walIds, manifest.replayAfter + 1);
    if (last - first !== manifest.replayAfter + 1 - position.next)
      return {
        fullRead: `a newer checkpoint's garbage collection deleted WAL objects after ${position.next - 1}`,
      };
  }
  const scan = new WalScan(position.walEpoch);
  const tail = await replayWal(r.storage, r.keys, position.next, to, scan, r.sliceNow);
  // The WAL was listed after the manifest was read: a writer that opened in between (a fence
  // or batch of a newer epoch) may have salvaged, dropping batches this reader applied.
  if (scan.epoch > was.epoch)
    return {
      fullRead: `another writer opened the log while it was read (WAL epoch ${scan.epoch})`,
    };
  return {
    tail,
    info,
    position: { manifestId: newest.id, manifest, next: to, walEpoch: scan.epoch },
  };
}

/**
 * The snapshot bytes of checkpoint `name` (which covers the WAL up to
 * `replayAfter`), read and verified as a full {@link readLog} returns them
 * in `checkpoint`; `null` when the object is gone (garbage collection after
 * a newer checkpoint). Rejects with {@link CorruptionError} when it is
 * damaged.
 */
export async function readLogCheckpoint(
  store: ObjectStore,
  path: string,
  name: string,
  replayAfter: number,
  options?: ReadLogOptions,
): Promise<Uint8Array | null> {
  const r = reader(store, path, options);
  try {
    return (
      (await readCheckpoint(r.storage, r.keys, name, replayAfter, r.sliceNow))?.snapshot ?? null
    );
  } catch (error) {
    throw pathRefusal(error, store, path, "path");
  }
}

/** The first index of `sorted` (ascending) whose value is at least `value`. */
function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

async function readContents(
  r: Reader,
  { info, newest }: { info: LogInspection; newest: ManifestEntry | null },
): Promise<LogContents> {
  const manifest = info.manifest;
  if (manifest === null || newest === null)
    return withRecords({ checkpoint: null, tail: new WalTail([]), info, position: null });
  const to = manifest.replayAfter + 1 + info.wal.pendingObjects;
  const { checkpoint, tail, walEpoch } = await replay(
    r.storage,
    r.keys,
    { manifestKey: manifest.key, ...manifest },
    to,
    undefined,
    r.sliceNow,
  );
  const position: LogPosition = {
    manifestId: newest.id,
    manifest: newest.manifest,
    next: to,
    walEpoch,
  };
  return withRecords({ checkpoint, tail, info, position });
}

async function inspectWith(r: Reader): Promise<LogInspection> {
  return (await survey(r)).info;
}

/**
 * The log's objects as {@link inspectLog} describes them, with the newest
 * manifest and the ids of the WAL objects seen (ascending).
 */
async function survey(
  r: Reader,
): Promise<{ info: LogInspection; newest: ManifestEntry | null; walIds: number[] }> {
  const { keys, storage } = r;
  // In slices of the event loop: a store that answers without I/O (the memory store) would
  // list, check and sort a long WAL (tens of thousands of objects) in one turn.
  const budget = new SliceBudget(undefined, r.sliceNow);
  budget.start();
  // One listing of the manifests both finds the newest and describes them.
  const manifestObjects = await storage.list(keys.manifestDir, undefined, budget);
  let newestId: number | null = null;
  for (const { key } of manifestObjects) {
    const id = keys.idOf(keys.manifestDir, key);
    if (id !== null && (newestId === null || id > newestId)) newestId = id;
  }
  const newest: ManifestEntry | null =
    newestId === null ? null : { id: newestId, manifest: await r.manifests.read(newestId) };
  // Objects of a log without manifests: its manifests were lost, it is not a new log.
  if (newest === null) await refuseLostManifests(storage, keys, r.manifests, r.ownedDirs);
  // Listings come in key order (sorted if the store breaks its contract), as the WAL run,
  // the first and last ids and the check for collected slots need them.
  const [listedWal, checkpointObjects] = await Promise.all([
    storage.list(keys.walDir, undefined, budget),
    storage.list(keys.checkpointDir, undefined, budget),
  ]);
  const replayAfter = newest?.manifest.replayAfter ?? 0;
  // Only the unbroken run after replayAfter is what a writer would replay; objects past a
  // gap are the tail of a writer that died with creates in flight, or damage.
  const { next, tail, run } = await walRun(storage, keys, replayAfter, listedWal, budget);
  if (tail.length > 0) {
    const damage = await tailDamage(storage, keys, next, tail);
    if (damage !== null) throw damage;
  }
  // With the objects the listing missed (a live writer's creates behind its cursor).
  const missed: ObjectInfo[] = [];
  if (run.length > 0) {
    const listedKeys = new Set<string>();
    for (let i = 0; i < listedWal.length; i++) {
      if (spentAt(budget, i)) await nextSlice(budget);
      listedKeys.add(listedWal[i]!.key);
    }
    for (let i = 0; i < run.length; i++) {
      if (spentAt(budget, i)) await nextSlice(budget);
      if (!listedKeys.has(run[i]!.key)) missed.push(run[i]!);
    }
  }
  // The listing is in key order now: only objects it missed need sorting in.
  const walObjects =
    missed.length === 0
      ? listedWal
      : await sortInSlices([...listedWal, ...missed], (a, b) => compareKeys(a.key, b.key), budget);
  const all = [...manifestObjects, ...walObjects, ...checkpointObjects];

  const walIds: number[] = [];
  let walBytes = 0;
  let fences = 0;
  for (let i = 0; i < walObjects.length; i++) {
    if (spentAt(budget, i)) await nextSlice(budget);
    const { key, size } = walObjects[i]!;
    const id = keys.idOf(keys.walDir, key);
    if (id === null) continue;
    walIds.push(id);
    walBytes += size;
    if (isFenceSize(size)) fences++;
  }
  const pendingObjects = run.length;
  const pendingBytes = run.reduce((sum, o) => sum + o.size, 0);

  const checkpointName = newest?.manifest.checkpoint ?? null;
  let checkpoint: LogInspection["checkpoint"] = null;
  if (checkpointName !== null) {
    const key = keys.checkpoint(checkpointName);
    const object: ObjectInfo | undefined = checkpointObjects.find((o) => o.key === key);
    const createdAt = checkpointCreatedAt(checkpointName);
    checkpoint = {
      name: checkpointName,
      key,
      bytes: object?.size ?? 0,
      createdAt,
      ageMs: createdAt === null ? null : Math.max(0, r.now() - createdAt),
    };
  }

  const info: LogInspection = {
    prefix: keys.prefix,
    objects: all.length,
    bytes: all.reduce((sum, o) => sum + o.size, 0),
    manifests: manifestObjects.length,
    manifest:
      newest === null
        ? null
        : {
            id: newest.id,
            key: keys.manifest(newest.id),
            epoch: newest.manifest.epoch,
            replayAfter: newest.manifest.replayAfter,
            checkpoint: newest.manifest.checkpoint,
            createdAt: newest.manifest.createdAt,
            closed: newest.manifest.closed,
          },
    wal: {
      objects: walIds.length,
      bytes: walBytes,
      fences,
      firstId: walIds[0] ?? null,
      lastId: walIds.at(-1) ?? null,
      pendingObjects,
      pendingBytes,
    },
    checkpoints: checkpointObjects.length,
    checkpoint,
  };
  return { info, newest, walIds };
}

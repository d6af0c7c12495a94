/**
 * Read-only access to a log, for tools that must not disturb a running
 * writer: never fences, never writes, never deletes. Reads the contents
 * through `replay.ts`; depends on nothing that opens a writer.
 */
import { CorruptionError } from "../errors.js";
import { compareKeys } from "../store/key-order.js";
import type { ObjectInfo, ObjectStore } from "../store/types.js";
import { isFenceSize } from "./codec.js";
import { checkedLogPrefix, checkpointCreatedAt, LogKeys, pathRefusal } from "./keys.js";
import { type OwnedDir, refuseLostManifests } from "./lost-manifests.js";
import { ManifestReader } from "./manifest.js";
import { type ReadLogOptions, resolveReadOptions } from "./options.js";
import { replay, tailDamage, walRun } from "./replay.js";
import { LogStorage } from "./storage.js";
import { WalTail, withRecords } from "./tail.js";
import type { LogContents, LogInspection } from "./types.js";

/** A running writer may checkpoint and collect garbage under us; retry a pass that raced it. */
const READ_ATTEMPTS = 3;

interface Reader {
  storage: LogStorage;
  keys: LogKeys;
  manifests: ManifestReader;
  now: () => number;
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
  const prefix = checkedLogPrefix(path, "path");
  const resolved = resolveReadOptions(options);
  const keys = new LogKeys(prefix);
  const storage = LogStorage.create(store, resolved);
  return {
    storage,
    keys,
    manifests: new ManifestReader(storage, keys),
    now: () => resolved.clock.now(),
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
  return consistently(r, async () => readContents(r, await inspectWith(r))).catch(
    (error: unknown) => {
      throw pathRefusal(error, store, path, "path");
    },
  );
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

async function readContents(r: Reader, info: LogInspection): Promise<LogContents> {
  const manifest = info.manifest;
  if (manifest === null) return withRecords({ checkpoint: null, tail: new WalTail([]), info });
  const to = manifest.replayAfter + 1 + info.wal.pendingObjects;
  const { checkpoint, tail } = await replay(
    r.storage,
    r.keys,
    { manifestKey: manifest.key, ...manifest },
    to,
  );
  return withRecords({ checkpoint, tail, info });
}

async function inspectWith(r: Reader): Promise<LogInspection> {
  const { keys, storage } = r;
  const newest = await r.manifests.newest();
  // Objects of a log without manifests: its manifests were lost, it is not a new log.
  if (newest === null) await refuseLostManifests(storage, keys, r.manifests, r.ownedDirs);
  const [manifestObjects, listedWal, checkpointObjects] = await Promise.all([
    storage.list(keys.manifestDir),
    storage.list(keys.walDir),
    storage.list(keys.checkpointDir),
  ]);
  const replayAfter = newest?.manifest.replayAfter ?? 0;
  // Only the unbroken run after replayAfter is what a writer would replay; objects past a
  // gap are the tail of a writer that died with creates in flight, or damage.
  const { next, tail, run } = await walRun(storage, keys, replayAfter, listedWal);
  if (tail.length > 0) {
    const damage = await tailDamage(storage, keys, next, tail);
    if (damage !== null) throw damage;
  }
  // With the objects the listing missed (a live writer's creates behind its cursor).
  const listedKeys = new Set(listedWal.map((o) => o.key));
  const walObjects = [...listedWal, ...run.filter((o) => !listedKeys.has(o.key))].sort((a, b) =>
    compareKeys(a.key, b.key),
  );
  const all = [...manifestObjects, ...walObjects, ...checkpointObjects];

  const walIds: number[] = [];
  let walBytes = 0;
  let fences = 0;
  for (const { key, size } of walObjects) {
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

  return {
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
}

/**
 * Read-only access to a log, for tools that must not disturb a running
 * writer: never fences, never writes, never deletes.
 */
import { decodeTime } from "ulid";
import { systemClock } from "../clock.js";
import { CorruptionError, InvalidArgumentError } from "../errors.js";
import { consoleLogger } from "../logger.js";
import type { ObjectInfo, ObjectStore } from "../store/types.js";
import { decodeCheckpoint, isFenceSize } from "./codec.js";
import { LogKeys, normalizePrefix, parseCheckpointName } from "./keys.js";
import { ManifestReader } from "./manifest.js";
import { replayWal } from "./open.js";
import { resolveLogOptions } from "./options.js";
import { Sleeper } from "./retry.js";
import { LogStorage } from "./storage.js";
import type { LogContents, LogInspection, ReadLogOptions } from "./types.js";

/** A running writer may checkpoint and collect garbage under us; retry a pass that raced it. */
const READ_ATTEMPTS = 3;

interface Reader {
  storage: LogStorage;
  keys: LogKeys;
  manifests: ManifestReader;
  now: () => number;
}

function reader(store: ObjectStore, path: string, options: ReadLogOptions = {}): Reader {
  if (typeof path !== "string") {
    throw new InvalidArgumentError(`path: expected a string, got ${typeof path}`);
  }
  const resolved = resolveLogOptions({
    clock: options.clock ?? systemClock,
    logger: options.logger ?? consoleLogger,
    ...(options.retry === undefined ? {} : { retry: options.retry }),
  });
  const keys = new LogKeys(normalizePrefix(path));
  const storage = new LogStorage(store, {
    clock: resolved.clock,
    policy: resolved.retry,
    logger: resolved.logger,
    sleeper: new Sleeper(resolved.clock),
    stopReason: () => null,
  });
  return {
    storage,
    keys,
    manifests: new ManifestReader(storage, keys),
    now: () => resolved.clock.now(),
  };
}

/** Describes the log's objects: manifest epoch, WAL size, checkpoint name/size/age. */
export async function inspectLog(
  store: ObjectStore,
  path: string,
  options?: ReadLogOptions,
): Promise<LogInspection> {
  const r = reader(store, path, options);
  return consistently(r, () => inspectWith(r));
}

/**
 * Reads what opening the log as writer would recover — the newest checkpoint
 * and the records after it — without fencing the current writer.
 */
export async function readLog(
  store: ObjectStore,
  path: string,
  options?: ReadLogOptions,
): Promise<LogContents> {
  const r = reader(store, path, options);
  return consistently(r, async () => readContents(r, await inspectWith(r)));
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
  if (manifest === null) return { checkpoint: null, records: [], info };
  let checkpoint: Uint8Array | null = null;
  if (manifest.checkpoint !== null) {
    const key = r.keys.checkpoint(manifest.checkpoint);
    const body = await r.storage.get(key);
    if (body === null) {
      throw new CorruptionError(key, `checkpoint referenced by ${manifest.key} is missing`);
    }
    checkpoint = decodeCheckpoint(key, manifest.replayAfter, body);
  }
  const from = manifest.replayAfter + 1;
  const to = from + info.wal.pendingObjects;
  const { records } = await replayWal(r.storage, r.keys, from, to, new Set());
  return { checkpoint, records, info };
}

async function inspectWith(r: Reader): Promise<LogInspection> {
  const { keys, storage } = r;
  const newest = await r.manifests.newest();
  const [manifestObjects, walObjects, checkpointObjects] = await Promise.all([
    storage.list(keys.manifestDir),
    storage.list(keys.walDir),
    storage.list(keys.checkpointDir),
  ]);
  const all = [...manifestObjects, ...walObjects, ...checkpointObjects];
  const replayAfter = newest?.manifest.replayAfter ?? 0;

  const walIds: number[] = [];
  let walBytes = 0;
  let fences = 0;
  let pendingObjects = 0;
  let pendingBytes = 0;
  for (const { key, size } of walObjects) {
    const id = keys.idOf(keys.walDir, key);
    if (id === null) continue;
    walIds.push(id);
    walBytes += size;
    if (isFenceSize(size)) fences++;
    // Only the contiguous run after replayAfter is what a writer would replay.
    if (id === replayAfter + 1 + pendingObjects) {
      pendingObjects++;
      pendingBytes += size;
    } else if (id > replayAfter + pendingObjects) {
      throw new CorruptionError(
        keys.wal(replayAfter + 1 + pendingObjects),
        `WAL batch is missing while "${key}" exists (a gap after replayAfter ${replayAfter})`,
      );
    }
  }

  const checkpointName = newest?.manifest.checkpoint ?? null;
  let checkpoint: LogInspection["checkpoint"] = null;
  if (checkpointName !== null) {
    const key = keys.checkpoint(checkpointName);
    const object: ObjectInfo | undefined = checkpointObjects.find((o) => o.key === key);
    const createdAt = checkpointTime(checkpointName);
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

function checkpointTime(name: string): number | null {
  const parsed = parseCheckpointName(name);
  if (parsed === null) return null;
  try {
    return decodeTime(parsed.unique);
  } catch {
    return null;
  }
}

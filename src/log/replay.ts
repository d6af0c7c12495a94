/**
 * Reading a log's contents back: loading the checkpoint a manifest
 * references and the WAL batches after it, verified, in order. Written once
 * and shared by the writer's open, the read-only tools (`readLog`) and the
 * salvage of a damaged log. Reads only; never writes or fences.
 */
import { CorruptionError } from "../errors.js";
import { nextTurn } from "../util/slices.js";
import { decodeCheckpointInSlices, decodeFence, decodeWalBatch, isFenceSize } from "./codec.js";
import type { LogKeys } from "./keys.js";
import type { LogStorage } from "./storage.js";

/** WAL batches fetched in parallel during replay. */
const REPLAY_CONCURRENCY = 16;

/** Where a replay starts: a manifest's checkpoint and the last WAL id it covers. */
export interface ReplayStart {
  /** Key of the manifest that references the checkpoint (named when it is missing). */
  manifestKey: string;
  checkpoint: string | null;
  replayAfter: number;
}

/** A log's contents as of one replay. */
export interface Replayed {
  /** The checkpoint's caller bytes, or `null` when the manifest references none. */
  checkpoint: Uint8Array | null;
  /** Size of the checkpoint object (0 when none). */
  checkpointBytes: number;
  /** Every record after the checkpoint, in append order. */
  records: Uint8Array[];
  /** Encoded size of the WAL batches replayed (fences excluded). */
  bytes: number;
}

/**
 * Loads the checkpoint of `start` and the WAL batches `replayAfter+1 .. to-1`
 * after it. Every object must exist and be intact ({@link CorruptionError}
 * otherwise); `knownFences` are skipped without being fetched.
 */
export async function replay(
  storage: LogStorage,
  keys: LogKeys,
  start: ReplayStart,
  to: number,
  knownFences: ReadonlySet<number> = new Set(),
): Promise<Replayed> {
  let checkpoint: Uint8Array | null = null;
  let checkpointBytes = 0;
  if (start.checkpoint !== null) {
    const loaded = await readCheckpoint(storage, keys, start.checkpoint, start.replayAfter);
    if (loaded === null) {
      throw new CorruptionError(
        keys.checkpoint(start.checkpoint),
        `checkpoint referenced by ${start.manifestKey} is missing`,
      );
    }
    checkpoint = loaded.snapshot;
    checkpointBytes = loaded.bytes;
  }
  const { records, bytes } = await replayWal(storage, keys, start.replayAfter + 1, to, knownFences);
  return { checkpoint, checkpointBytes, records, bytes };
}

/**
 * Reads and verifies checkpoint `name`, which must cover WAL ids up to
 * `replayAfter`. `null` when the object is missing; {@link CorruptionError}
 * when it is damaged.
 */
export async function readCheckpoint(
  storage: LogStorage,
  keys: LogKeys,
  name: string,
  replayAfter: number,
): Promise<{ snapshot: Uint8Array; bytes: number } | null> {
  const key = keys.checkpoint(name);
  const body = await storage.get(key);
  if (body === null) return null;
  const snapshot = await decodeCheckpointInSlices(key, replayAfter, body, nextTurn);
  return { snapshot, bytes: body.byteLength };
}

/**
 * Verifies the WAL object in slot `id`: its records, or `null` for a fence.
 * Throws {@link CorruptionError} when it is neither an intact batch nor a fence.
 */
export function decodeWalObject(keys: LogKeys, id: number, body: Uint8Array): Uint8Array[] | null {
  const key = keys.wal(id);
  if (isFenceSize(body.byteLength)) {
    decodeFence(key, body);
    return null;
  }
  return decodeWalBatch(key, id, body);
}

/**
 * Reads WAL batches `from..to-1` in order, skipping fences (`knownFences` are
 * not even fetched). Every slot must exist.
 */
export async function replayWal(
  storage: LogStorage,
  keys: LogKeys,
  from: number,
  to: number,
  knownFences: ReadonlySet<number>,
): Promise<{ records: Uint8Array[]; bytes: number }> {
  const ids: number[] = [];
  for (let id = from; id < to; id++) if (!knownFences.has(id)) ids.push(id);
  const bodies: Uint8Array[] = new Array(ids.length);
  let next = 0;
  const fetchNext = async (): Promise<void> => {
    while (next < ids.length) {
      const index = next++;
      const key = keys.wal(ids[index]!);
      const body = await storage.get(key);
      if (body === null) throw new CorruptionError(key, "WAL batch listed for replay is missing");
      bodies[index] = body;
    }
  };
  await Promise.all(Array.from({ length: Math.min(REPLAY_CONCURRENCY, ids.length) }, fetchNext));
  const records: Uint8Array[] = [];
  let bytes = 0;
  for (const [index, body] of bodies.entries()) {
    const batch = decodeWalObject(keys, ids[index]!, body);
    if (batch === null) continue;
    for (const record of batch) records.push(record);
    bytes += body.byteLength;
  }
  return { records, bytes };
}

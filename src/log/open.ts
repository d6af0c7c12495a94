/**
 * Opening a log as its writer: claim the next epoch, fence the WAL, recover
 * the checkpoint and the WAL after it, and prove nobody fenced us meanwhile.
 */
import { randomBytes } from "node:crypto";
import { CorruptionError, FencedError, InvalidArgumentError } from "../errors.js";
import { probeConditionalWrites } from "../store/probe.js";
import type { ObjectStore } from "../store/types.js";
import {
  decodeCheckpoint,
  decodeFence,
  decodeWalBatch,
  encodeFence,
  isFenceSize,
} from "./codec.js";
import { LogKeys, normalizePrefix } from "./keys.js";
import { encodeManifest, type Manifest, type ManifestEntry, ManifestReader } from "./manifest.js";
import { type ResolvedLogOptions, resolveLogOptions } from "./options.js";
import { Sleeper, withRetry } from "./retry.js";
import { salvage } from "./salvage.js";
import { LogStorage } from "./storage.js";
import type { LogOptions, RecoveredLog, RecoveryReport } from "./types.js";
import { LogWriter } from "./writer.js";

/** WAL batches fetched in parallel during recovery. */
const REPLAY_CONCURRENCY = 16;

/** Opens (and fences) the log under `path` as its only writer, recovering its contents. */
export async function openLog(
  store: ObjectStore,
  path: string,
  options?: LogOptions,
): Promise<RecoveredLog> {
  if (typeof path !== "string") {
    throw new InvalidArgumentError(`openLog(path): expected a string, got ${typeof path}`);
  }
  const resolved = resolveLogOptions(options);
  const keys = new LogKeys(normalizePrefix(path));
  const describeLog = `log "${keys.prefix}" in ${store.describe()}`;
  let writer: LogWriter | null = null;
  const sleeper = new Sleeper(resolved.clock);
  const storage = new LogStorage(store, {
    clock: resolved.clock,
    policy: resolved.retry,
    logger: resolved.logger,
    sleeper,
    stopReason: () => writer?.failure ?? null,
  });
  const manifests = new ManifestReader(storage, keys);

  // The probe's requests overlap with reading the newest manifest; nothing is written before it passed.
  const probed = resolved.allowUnsafeStore
    ? Promise.resolve()
    : // Its StorageError is transient like any other store failure: retry it, don't fail the open.
      withRetry(storage.retry, `probe ${keys.prefix}probe/`, () =>
        probeConditionalWrites(store, keys.prefix),
      );
  probed.catch(() => {}); // awaited in claimEpoch; a rejection meanwhile is not unhandled
  const own = await claimEpoch(storage, keys, manifests, resolved, probed);
  const { epoch } = own.manifest;
  const fenced = (newestEpoch: number): FencedError =>
    new FencedError(
      `${describeLog}: another writer (epoch ${newestEpoch}) opened it while this one (epoch ${epoch}) was opening`,
    );

  const skipDamage = resolved.recoverCorruption === "skip";
  const { fenceId, fences } = await writeFence(
    storage,
    keys,
    manifests,
    own.manifest,
    fenced,
    skipDamage,
  );

  let recovered: Recovered;
  let recovery: RecoveryReport | undefined;
  try {
    recovered = await recover(storage, keys, own, fenceId, fences);
  } catch (error) {
    // A newer writer may have checkpointed and collected what we were reading: that is
    // being fenced, not damage.
    if (!(error instanceof CorruptionError)) throw error;
    const newest = await manifests.newest();
    if (newest !== null && newest.manifest.epoch > epoch) throw fenced(newest.manifest.epoch);
    if (!skipDamage) throw error;
    const salvaged = await salvage(storage, keys, manifests, own, fenceId);
    recovered = salvaged;
    recovery = salvaged.report;
    resolved.logger.warn("recovered a damaged log by skipping objects", {
      log: describeLog,
      ...salvaged.report,
    });
  }
  const { checkpoint, checkpointBytes, records, bytes } = recovered;

  const newest = await manifests.newest();
  if (newest === null || newest.id !== own.id) throw fenced(newest?.manifest.epoch ?? epoch);

  writer = new LogWriter({
    storage,
    keys,
    manifests,
    options: resolved,
    sleeper,
    manifestId: own.id,
    manifest: own.manifest,
    nextWalId: fenceId + 1,
    replayedWalBytes: bytes,
    checkpointBytes,
    describeLog,
  });
  return recovery === undefined
    ? { log: writer, checkpoint, records }
    : { log: writer, checkpoint, records, recovery };
}

interface Recovered {
  checkpoint: Uint8Array | null;
  checkpointBytes: number;
  records: Uint8Array[];
  bytes: number;
}

/** Loads the manifest's checkpoint and the WAL batches after it, up to the fence. */
async function recover(
  storage: LogStorage,
  keys: LogKeys,
  own: ManifestEntry,
  fenceId: number,
  fences: ReadonlySet<number>,
): Promise<Recovered> {
  const { checkpoint: name, replayAfter } = own.manifest;
  let checkpoint: Uint8Array | null = null;
  let checkpointBytes = 0;
  if (name !== null) {
    const key = keys.checkpoint(name);
    const body = await storage.get(key);
    if (body === null) {
      throw new CorruptionError(
        key,
        `checkpoint referenced by ${keys.manifest(own.id)} is missing`,
      );
    }
    checkpoint = decodeCheckpoint(key, replayAfter, body);
    checkpointBytes = body.byteLength;
  }
  const { records, bytes } = await replayWal(storage, keys, replayAfter + 1, fenceId, fences);
  return { checkpoint, checkpointBytes, records, bytes };
}

/** Creates manifest N+1 with the next epoch; a lost race re-reads and tries again. */
async function claimEpoch(
  storage: LogStorage,
  keys: LogKeys,
  manifests: ManifestReader,
  options: ResolvedLogOptions,
  probed: Promise<void>,
): Promise<ManifestEntry> {
  const writer = randomBytes(16).toString("hex");
  for (;;) {
    const newest = await manifests.newest();
    await probed;
    const base = newest?.manifest;
    const manifest: Manifest = {
      epoch: (base?.epoch ?? 0) + 1,
      checkpoint: base?.checkpoint ?? null,
      replayAfter: base?.replayAfter ?? 0,
      writer,
      createdAt: options.clock.now(),
    };
    const id = (newest?.id ?? 0) + 1;
    const body = encodeManifest(manifest);
    const outcome = await storage.create(keys.manifest(id), body, (existing) =>
      Buffer.from(existing).equals(body),
    );
    if (outcome === "created") {
      manifests.remember(id, manifest);
      return { id, manifest };
    }
  }
}

/**
 * Writes a fence at the first free WAL slot after `replayAfter`. A
 * zombie writer's next create then fails on it. Returns the fence's id and
 * the ids of older fences seen in the listing (replay need not fetch them).
 */
async function writeFence(
  storage: LogStorage,
  keys: LogKeys,
  manifests: ManifestReader,
  own: Manifest,
  fenced: (newestEpoch: number) => FencedError,
  skipDamage: boolean,
): Promise<{ fenceId: number; fences: Set<number> }> {
  const listed = await storage.list(keys.walDir, keys.wal(own.replayAfter));
  const fences = new Set<number>();
  let slot = own.replayAfter + 1;
  for (const { key, size } of listed) {
    const id = keys.idOf(keys.walDir, key);
    if (id === null) continue;
    if (id !== slot && skipDamage) {
      slot = id; // recovery reports the gap; the fence goes after everything that exists
    } else if (id !== slot) {
      throw new CorruptionError(
        keys.wal(slot),
        `WAL batch is missing while "${key}" exists (a gap after replayAfter ${own.replayAfter})`,
      );
    }
    if (isFenceSize(size)) fences.add(id);
    slot++;
  }
  for (;;) {
    // A fence carries no token: a "taken" slot is some other writer's, even our own earlier attempt's.
    const outcome = await storage.create(keys.wal(slot), encodeFence(own.epoch), () => false);
    if (outcome === "created") return { fenceId: slot, fences };
    const newest = await manifests.newest();
    if (newest !== null && newest.manifest.epoch > own.epoch) throw fenced(newest.manifest.epoch);
    slot++; // an older writer got there first; its batch is replayed, we fence the next slot
  }
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
    const id = ids[index]!;
    if (isFenceSize(body.byteLength)) {
      decodeFence(keys.wal(id), body);
      continue;
    }
    for (const record of decodeWalBatch(keys.wal(id), id, body)) records.push(record);
    bytes += body.byteLength;
  }
  return { records, bytes };
}

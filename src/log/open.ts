/**
 * Opening a log as its writer, step by step: probe the store, claim the next
 * epoch and fence the WAL ({@link WriterFence}), recover the checkpoint and
 * the WAL after it (`replay.ts`, or `salvage.ts` when asked to skip damage),
 * prove nobody fenced us meanwhile, then hand over a running {@link LogHandle}.
 */
import { CorruptionError } from "../errors.js";
import { probeConditionalWrites } from "../store/probe.js";
import type { ObjectStore } from "../store/types.js";
import { Checkpointer } from "./checkpointer.js";
import { WriterFence } from "./fencing.js";
import { LogHandle } from "./handle.js";
import { checkedLogPrefix, checkpointCreatedAt, LogKeys, pathRefusal } from "./keys.js";
import { ManifestReader } from "./manifest.js";
import { type LogOptions, type ResolvedLogOptions, resolveLogOptions } from "./options.js";
import { type Replayed, replay } from "./replay.js";
import { withRetry } from "./retry.js";
import { salvage } from "./salvage.js";
import { LogStorage } from "./storage.js";
import { withRecords } from "./tail.js";
import type { RecoveredLog, RecoveryReport } from "./types.js";
import { LogWriter } from "./writer.js";

/**
 * Opens (and fences) the log under `path` as its only writer, recovering its
 * contents. `path` may be any string the store takes in its object keys; a
 * store's refusal of a key under it rejects as a bad `path` with the store's
 * reason (see `Queue.open`).
 */
export async function openLog(
  store: ObjectStore,
  path: string,
  options?: LogOptions,
  /** How `options` is named in error messages (the queue passes `options.log`). */
  optionsArg = "options",
  /** Called once this writer's fence is placed, before replay: from then on it owns the log. */
  onOwned?: () => void,
): Promise<RecoveredLog> {
  const prefix = checkedLogPrefix(path, "path");
  const resolved = resolveLogOptions(options, optionsArg);
  try {
    return await openResolved(store, new LogKeys(prefix), resolved, optionsArg, onOwned);
  } catch (error) {
    throw pathRefusal(error, store, path, "path");
  }
}

async function openResolved(
  store: ObjectStore,
  keys: LogKeys,
  resolved: ResolvedLogOptions,
  optionsArg: string,
  onOwned: (() => void) | undefined,
): Promise<RecoveredLog> {
  const describeLog = `log "${keys.prefix}" in ${store.describe()}`;
  let writer: LogWriter | null = null;
  const storage = LogStorage.create(store, resolved, () => writer?.failure ?? null);
  const manifests = new ManifestReader(storage, keys);

  // The probe's requests overlap with reading the newest manifest; nothing is written before it passed.
  const probed = resolved.allowUnsafeStore
    ? Promise.resolve()
    : // Its StorageError is transient like any other store failure: retry it, don't fail the open.
      withRetry(storage.retry, `probe ${keys.prefix}probe/`, () =>
        probeConditionalWrites(
          store,
          keys.prefix,
          resolved.clock.now(),
          `${optionsArg}.allowUnsafeStore`,
        ),
      );
  probed.catch(() => {}); // awaited in claim; a rejection meanwhile is not unhandled
  const fence = await WriterFence.claim(
    {
      storage,
      keys,
      manifests,
      clock: resolved.clock,
      checkIntervalMs: resolved.fenceCheckIntervalMs,
      epochValidityMs: resolved.epochValidityMs,
      walWindow: resolved.maxWritesInFlight,
      describeLog,
    },
    probed,
  );

  const skipDamage = resolved.recoverCorruption === "skip";
  const { fenceId, nextWalId } = await fence.placeFence(skipDamage);
  onOwned?.();
  const own = { id: fence.manifestId, manifest: fence.manifest };

  let recovered: Replayed;
  let recovery: RecoveryReport | undefined;
  try {
    recovered = await replay(
      storage,
      keys,
      { manifestKey: keys.manifest(own.id), ...own.manifest },
      fenceId,
    );
  } catch (error) {
    // A newer writer may have checkpointed and collected what we were reading: that is
    // being fenced, not damage.
    if (!(error instanceof CorruptionError)) throw error;
    await fence.throwIfSuperseded();
    if (!skipDamage) throw error;
    const salvaged = await salvage(storage, keys, manifests, own, fenceId);
    recovered = salvaged;
    recovery = salvaged.report;
    resolved.logger.warn("recovered a damaged log by skipping objects", {
      log: describeLog,
      ...salvaged.report,
    });
  }
  await fence.confirmNewest();

  writer = new LogWriter({
    storage,
    keys,
    options: resolved,
    fence,
    nextWalId,
    replayedWalBytes: recovered.tail.bytes,
    replayedWalRecords: recovered.tail.count,
    describeLog,
  });
  const checkpointer = new Checkpointer({
    storage,
    keys,
    manifests,
    options: resolved,
    fence,
    writer,
    checkpointBytes: recovered.checkpointBytes,
    checkpointAt:
      recovered.checkpointName === null ? null : checkpointCreatedAt(recovered.checkpointName),
    describeLog,
  });
  const log = new LogHandle(writer, fence, checkpointer);
  const { checkpoint, tail } = recovered;
  return withRecords({
    log,
    checkpoint,
    tail,
    ...(recovery === undefined ? {} : { recovery }),
  });
}

/**
 * Opening a log as its writer, step by step: probe the store while reading
 * and verifying what recovery will need (nothing is written if that finds
 * damage), claim the next epoch and fence the WAL ({@link WriterFence}),
 * recover the checkpoint and the WAL after it (`replay.ts`, or `salvage.ts`
 * when asked to skip damage), prove nobody fenced us meanwhile, then hand
 * over a running {@link LogHandle}.
 */
import { CorruptionError } from "../errors.js";
import { probeConditionalWrites } from "../store/probe.js";
import type { ObjectStore } from "../store/types.js";
import { type RandomSource, systemRandom } from "../util/random.js";
import { type MonotonicNow, processNow, type TurnWindow } from "../util/slices.js";
import { Checkpointer } from "./checkpointer.js";
import { WriterFence } from "./fencing.js";
import { LogHandle } from "./handle.js";
import { checkedLogPrefix, checkpointCreatedAt, LogKeys, pathRefusal } from "./keys.js";
import { type OwnedDir, refuseLostManifests } from "./lost-manifests.js";
import { type ManifestEntry, ManifestReader } from "./manifest.js";
import { type LogOptions, type ResolvedLogOptions, resolveLogOptions } from "./options.js";
import { type Preread, preread, type Replayed, readCheckpoint, replay } from "./replay.js";
import { RetryEpisode, withRetry } from "./retry.js";
import { salvage } from "./salvage.js";
import { LogStorage } from "./storage.js";
import { withRecords } from "./tail.js";
import type { RecoveredLog, RecoveryReport } from "./types.js";
import { LogWriter } from "./writer.js";

export type { OwnedDir } from "./lost-manifests.js";

/** What the layer above tells {@link openLog} about itself. */
export interface OpenLogContext {
  /** How `options` is named in error messages (the queue passes `options.log`). */
  optionsArg?: string;
  /** Called once this writer's fence is placed, before replay: from then on it owns the log. */
  onOwned?: () => void;
  /**
   * Folders under the log's prefix (`"payload/"`) that the layer above only
   * writes once the log exists, each with how its objects are named: such an
   * object in a log without manifests is damage, as a WAL batch or a
   * checkpoint is. Other keys there (another log nested under this prefix)
   * are not.
   */
  ownedDirs?: readonly OwnedDir[];
  /** The clock that slices of the replay run on (a test's, see `SLICE_CLOCK`); `performance.now()` by default. */
  sliceNow?: MonotonicNow;
  /** Where the log draws its randomness (a test's, see `RANDOM_SOURCE`); the system's by default. */
  random?: RandomSource;
  /** The window the slices of its checkpoints and GC passes share with the owner's other work in a turn. */
  turnWindow?: TurnWindow;
  /**
   * Called with the caller bytes of the checkpoint the claim builds on, before
   * the log is taken over: an error it throws fails the open with nothing
   * written (the layer above refuses a format it cannot read). A checkpoint
   * that cannot be read (damage) is left to recovery. `key` is the checkpoint
   * object's, for the error to name.
   */
  checkCheckpoint?: (snapshot: Uint8Array, key: string) => void;
}

/**
 * Opens (and fences) the log under `path` as its only writer, recovering its
 * contents. `path` may be any string the store takes in its object keys; a
 * store's refusal of a key under it rejects as a bad `path` with the store's
 * reason (see `Queue.open`).
 *
 * Damage that can be seen before the log is taken over (a damaged newest
 * manifest, the checkpoint it names, the WAL after it as listed then, or a
 * log whose manifests are gone while its other objects remain) fails the
 * open with {@link CorruptionError} having written nothing. Damage found
 * after (in WAL batches a live writer wrote meanwhile) fails it once this
 * opener has created its manifest and fenced the WAL: the previous writer is
 * fenced out, nothing else changed.
 */
export async function openLog(
  store: ObjectStore,
  path: string,
  options?: LogOptions,
  context: OpenLogContext = {},
): Promise<RecoveredLog> {
  const prefix = checkedLogPrefix(path, "path", store);
  const resolved = resolveLogOptions(options, context.optionsArg ?? "options");
  // The probe and the first reads retry one outage side by side: one warning between them.
  // Closed when the open is over, at the latest: later requests warn each on their own.
  const episode = new RetryEpisode();
  try {
    return await openResolved(store, new LogKeys(prefix), resolved, context, episode);
  } catch (error) {
    throw pathRefusal(error, store, path, "path");
  } finally {
    episode.close();
  }
}

async function openResolved(
  store: ObjectStore,
  keys: LogKeys,
  resolved: ResolvedLogOptions,
  context: OpenLogContext,
  episode: RetryEpisode,
): Promise<RecoveredLog> {
  const {
    optionsArg = "options",
    onOwned,
    ownedDirs = [],
    sliceNow = processNow,
    random = systemRandom,
    turnWindow,
  } = context;
  const describeLog = `log "${keys.prefix}" in ${store.describe()}`;
  let writer: LogWriter | null = null;
  const storage = LogStorage.create(
    store,
    resolved,
    () => writer?.failure ?? null,
    random,
    episode,
  );
  const manifests = new ManifestReader(storage, keys);

  // The probe's requests overlap with reading ahead; nothing is written before it passed.
  const probed = resolved.allowUnsafeStore
    ? Promise.resolve()
    : // Its StorageError is transient like any other store failure: retry it, don't fail the open.
      withRetry(storage.retry, `probe ${keys.prefix}probe/`, () =>
        probeConditionalWrites(
          store,
          keys.prefix,
          resolved.clock.now(),
          `${optionsArg}.allowUnsafeStore`,
          random,
        ),
      );
  probed.catch(() => {}); // awaited in claim; a rejection meanwhile is not unhandled

  const skipDamage = resolved.recoverCorruption === "skip";
  const checked = await checkBeforeClaim(storage, keys, manifests, {
    skipDamage,
    ownedDirs,
    sliceNow,
  })
    .then((read) => {
      const snapshot = read.ahead?.checkpoint?.snapshot;
      const name = read.ahead?.start.checkpoint;
      if (snapshot !== undefined && typeof name === "string")
        context.checkCheckpoint?.(snapshot, keys.checkpoint(name));
      return read;
    })
    .catch(async (error: unknown) => {
      await probed.catch(() => {}); // it deletes its object: a refused open leaves the store as it was
      throw error;
    });
  // The claim writes nothing before the probe passed; from there on, each request warns alone.
  const closeEpisode = (): void => episode.close();
  void probed.then(closeEpisode, closeEpisode);
  let first: Promise<ManifestEntry | null> | null = checked.read
    ? Promise.resolve(checked.newest)
    : null;
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
      sliceNow,
    },
    probed,
    () => {
      const read = first ?? manifests.newest();
      first = null;
      return read;
    },
    context.checkCheckpoint === undefined
      ? undefined
      : baseChecker(storage, keys, manifests, context.checkCheckpoint, checked.ahead, sliceNow),
  );

  // What was read ahead holds while the manifest this writer's follows is the one it read:
  // the slots it read stay taken, so the fence is looked for after them.
  const { ahead } = checked;
  const aheadFollowed = ahead !== null && fence.manifestId === (checked.newest?.id ?? 0) + 1;
  const { fenceId, nextWalId } = await fence
    .placeFence(skipDamage, aheadFollowed ? ahead.next - 1 : undefined)
    .catch(async (error: unknown) => {
      // Objects missing behind a writer that went on are its garbage collection, not damage.
      if (error instanceof CorruptionError) await fence.throwIfSuperseded();
      throw error;
    });
  onOwned?.();
  const own = { id: fence.manifestId, manifest: fence.manifest };
  const aheadHolds = aheadFollowed && ahead.next <= fenceId;

  let recovered: Replayed;
  let recovery: RecoveryReport | undefined;
  try {
    recovered = await replay(
      storage,
      keys,
      { manifestKey: keys.manifest(own.id), ...own.manifest },
      fenceId,
      aheadHolds ? ahead : undefined,
      sliceNow,
    );
  } catch (error) {
    // A newer writer (or one that went on while we opened) may have checkpointed and
    // collected what we were reading: that is being fenced, not damage.
    if (!(error instanceof CorruptionError)) throw error;
    await fence.throwIfSuperseded();
    if (!skipDamage) throw error;
    const salvaged = await salvage(storage, keys, manifests, own, fenceId, sliceNow);
    recovered = salvaged;
    recovery = salvaged.report;
    resolved.logger.warn("recovered a damaged log by skipping objects", {
      log: describeLog,
      ...recovery,
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
    recoveredElsewhere: recovered.checkpointName !== own.manifest.checkpoint,
    describeLog,
    sliceNow,
    ...(turnWindow === undefined ? {} : { turnWindow }),
  });
  const log = new LogHandle(writer, fence, checkpointer);
  const { checkpoint, checkpointName, tail } = recovered;
  return withRecords({
    log,
    checkpoint,
    checkpointKey:
      checkpoint === null || checkpointName === null ? null : keys.checkpoint(checkpointName),
    tail,
    ...(recovery === undefined ? {} : { recovery }),
  });
}

/**
 * What an opener reads before it takes the log over: the newest manifest
 * (`read`: this is the one the claim starts from) and, read ahead and
 * verified, what its replay needs (`ahead`, null when not read).
 */
interface CheckedBeforeClaim {
  read: boolean;
  newest: ManifestEntry | null;
  ahead: Preread | null;
}

/**
 * Verifies what can be verified before this opener writes anything, so that
 * damage fails the open with the store unchanged (a supervisor that restarts
 * a failing process then neither fences a live writer nor adds objects each
 * time): the newest manifest, its checkpoint and the WAL after it as far as
 * it is listed now ({@link preread}), or, in a log without manifests, that
 * nothing else is there. With `skipDamage`, damage is left for recovery to
 * report. Damage seen while another writer moved the log on (a checkpoint
 * and GC of what was being read) is not damage: the claim reads afresh.
 */
async function checkBeforeClaim(
  storage: LogStorage,
  keys: LogKeys,
  manifests: ManifestReader,
  options: { skipDamage: boolean; ownedDirs: readonly OwnedDir[]; sliceNow: MonotonicNow },
): Promise<CheckedBeforeClaim> {
  // A damaged newest manifest fails the open, with "skip" too: what it named is unknown, so
  // an older manifest cannot stand in for it without silently rolling the log back.
  const newest = await manifests.newest();
  if (newest === null) {
    await refuseLostManifests(storage, keys, manifests, options.ownedDirs);
    return { read: true, newest, ahead: null };
  }
  const start = {
    manifestKey: keys.manifest(newest.id),
    checkpoint: newest.manifest.checkpoint,
    replayAfter: newest.manifest.replayAfter,
  };
  try {
    return { read: true, newest, ahead: await preread(storage, keys, start, options.sliceNow) };
  } catch (error) {
    if (!(error instanceof CorruptionError)) throw error;
    if ((await manifests.listIds()).at(-1) !== newest.id)
      return { read: false, newest: null, ahead: null };
    if (options.skipDamage) return { read: true, newest, ahead: null };
    throw error;
  }
}

/**
 * Asks `check` about the checkpoint of the manifest a claim is about to build
 * on, unless it is the one read ahead (checked already): the read-ahead met a
 * busy writer's GC or damage, or a claim lost its race and read a newer
 * manifest. A checkpoint gone while a newer manifest is listed was collected
 * behind a writer that went on: read the newest manifest again (false). Gone
 * or damaged under the newest manifest, it is damage, which recovery reports.
 */
function baseChecker(
  storage: LogStorage,
  keys: LogKeys,
  manifests: ManifestReader,
  check: (snapshot: Uint8Array, key: string) => void,
  ahead: Preread | null,
  sliceNow: MonotonicNow,
): (base: ManifestEntry | null) => Promise<boolean> {
  let checked = ahead?.checkpoint == null ? null : ahead.start.checkpoint;
  return async (base) => {
    const name = base?.manifest.checkpoint ?? null;
    if (base === null || name === null || name === checked) return true;
    const loaded = await readCheckpoint(
      storage,
      keys,
      name,
      base.manifest.replayAfter,
      sliceNow,
    ).catch((error: unknown) => {
      if (error instanceof CorruptionError) return null;
      throw error;
    });
    if (loaded === null) return ((await manifests.listIds()).at(-1) ?? 0) <= base.id;
    check(loaded.snapshot, keys.checkpoint(name));
    checked = name;
    return true;
  };
}

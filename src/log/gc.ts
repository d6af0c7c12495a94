/**
 * Garbage collection of one log, run by the checkpointer. Deletes, only once
 * they are older than the minimum age and only after a listing proves our
 * manifest is the newest (a newer epoch there: the fence's FencedError):
 * - WAL batches at or below the newest manifest's `replayAfter`;
 * - fences at or below it too, once this process has seen them for
 *   `fenceMinAgeMs` (monotonic time, so no wall-clock step can rush it). A
 *   stalled zombie may then re-create such a slot, but never acknowledge
 *   what it wrote there: see {@link WriterFence.mayAcknowledge};
 * - store-probe objects (`probe/`) older than {@link PROBE_MIN_AGE_MS}, left
 *   by a crash or by a probe create whose outcome was lost (by the time in
 *   their names; names without one, once this process has seen them that long);
 * - checkpoints no manifest left listed references (an earlier writer's stay
 *   while its manifests do, whatever its clock said), once old enough by name;
 * - manifests older than the retained history, each once its successor is
 *   older than the minimum age (a reader that took it for the newest did so
 *   before its successor existed).
 *
 * Object stores give no reliable creation time, so ages come from names and
 * manifests: a checkpoint's name carries a ULID minted at creation; a WAL
 * batch is no younger than the first listed manifest whose `replayAfter`
 * covers it, expired ones included (were only the retained ones consulted, a
 * writer checkpointing more often than `manifestHistory + 1` times per minimum
 * age would never delete a batch). A manifest of an earlier writer counts as
 * created when this writer claimed the log, its age the lesser of the wall and
 * the monotonic time since (no clock step rushes it): it existed by then, and
 * so did its successor. Its own `createdAt` comes from another clock, which
 * may run ahead (holding collection up for as long) or behind (eating into the
 * minimum age). Each estimate errs towards "younger", i.e. towards keeping,
 * with one exception that can cost only a reader a retry: a manifest created
 * late (a stalled writer or opener) in a slot already collected counts as
 * created at the claim.
 *
 * The listing that proves our manifest the newest is repeated after the pass
 * has read manifests from the store (up to {@link MAX_MANIFEST_READS_PER_PASS}
 * GETs, seconds on a cloud store): a writer that took over meanwhile must not
 * lose what it wrote to a pass that began before it.
 */
import type { MonotonicClock } from "../clock.js";
import { CorruptionError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { ObjectInfo } from "../store/types.js";
import {
  ITEMS_PER_CHECK,
  type MonotonicNow,
  nextTurn,
  processNow,
  SliceBudget,
  type TurnWindow,
} from "../util/slices.js";
import { isFenceSize, MIN_WAL_BATCH_BYTES } from "./codec.js";
import type { WriterFence } from "./fencing.js";
import { checkpointCreatedAt, type LogKeys, probeCreatedAt } from "./keys.js";
import type { Manifest, ManifestReader } from "./manifest.js";
import type { LogStorage } from "./storage.js";

export interface GcContext {
  storage: LogStorage;
  keys: LogKeys;
  manifests: ManifestReader;
  /** This writer's fence: GC only runs while its manifest is the newest in the store. */
  fence: WriterFence;
  clock: MonotonicClock;
  minAgeMs: number;
  manifestHistory: number;
  fenceMinAgeMs: number;
  /** Keys of fences (and unnamed probes) → when (monotonic) this process first knew of them; kept across passes. */
  firstSeen: Map<string, number>;
  logger: Logger;
  describeLog: string;
  /** Ids of damaged manifests already reported (one warning each); kept across passes. */
  reportedDamage: Set<number>;
  /** The clock slices of the pass run on (a test's, see `SLICE_CLOCK`); `performance.now()` by default. */
  sliceNow?: MonotonicNow;
  /** The window its slices share with the owner's other work in a turn (see `TurnWindow`). */
  turnWindow?: TurnWindow | undefined;
}

export interface GcResult {
  deletedWal: number;
  deletedCheckpoints: number;
  deletedManifests: number;
  deletedFences: number;
  deletedProbes: number;
}

/** A probe runs for seconds; one this old was left behind. */
export const PROBE_MIN_AGE_MS = 600_000;

const DELETE_CONCURRENCY = 8;

/**
 * At most this many expired manifests not in the reader's cache (an earlier
 * writer's) are read in one pass, so a long backlog is worked off over several
 * passes instead of holding up the checkpoint that runs this one.
 */
export const MAX_MANIFEST_READS_PER_PASS = 256;

export async function collectGarbage(ctx: GcContext): Promise<GcResult> {
  const result: GcResult = {
    deletedWal: 0,
    deletedCheckpoints: 0,
    deletedManifests: 0,
    deletedFences: 0,
    deletedProbes: 0,
  };
  const ownId = ctx.fence.manifestId;
  const ids = await ctx.manifests.listIds();
  if (!(await isNewest(ctx, ids))) return result; // not provably the newest: delete nothing

  let reads = 0;
  const read = async (id: number): Promise<Manifest | null> => {
    if (!ctx.manifests.isCached(id)) reads++;
    try {
      return await ctx.manifests.read(id);
    } catch (error) {
      // A damaged manifest older than ours (recovery read past it, or it was damaged since):
      // the state no longer depends on it, and it protects nothing anyone could read. Failing
      // here would stop collection until it left the history.
      if (!(error instanceof CorruptionError) || id === ownId) throw error;
      if (!ctx.reportedDamage.has(id)) {
        ctx.reportedDamage.add(id);
        ctx.logger.warn("garbage collection skips a damaged manifest older than the newest", {
          log: ctx.describeLog,
          manifest: ctx.keys.manifest(id),
          error: error.message,
        });
      }
      return null;
    }
  };

  const retainedIds = ids.slice(-(ctx.manifestHistory + 1));
  const retained: Array<{ id: number; manifest: Manifest }> = [];
  for (const id of retainedIds) {
    const manifest = await read(id);
    if (manifest !== null) retained.push({ id, manifest });
  }
  const newest = retained.at(-1)!.manifest;
  const now = ctx.clock.now();
  const oldEnough = (createdAt: number): boolean => now - createdAt >= ctx.minAgeMs;
  const ownWriter = ctx.fence.manifest.writer;
  // Since the claim, by the wall clock and by the monotonic one, whichever says less: a
  // wall-clock step of this host since the claim must not age an earlier writer's objects.
  const sinceClaim = Math.min(
    now - ctx.fence.claimedAt,
    ctx.clock.monotonicNow() - ctx.fence.claimedMonotonic,
  );
  // Our claim manifest too: it covers the earlier writer's WAL. It is told by its id, not by
  // its `createdAt`: after a backward wall step the manifests we wrote since the claim may
  // carry earlier times, yet each was written after it, on this clock, and is aged by it.
  const manifestOldEnough = (id: number, manifest: Manifest): boolean =>
    manifest.writer === ownWriter && id !== ctx.fence.claimId
      ? oldEnough(manifest.createdAt)
      : sinceClaim >= ctx.minAgeMs;

  // The oldest listed manifests, read in order up to the first one younger than the minimum
  // age: they age the WAL batches they cover and their predecessors. A damaged one is
  // skipped (it ages nothing, so what it covers is aged by a later, younger one).
  const expiredIds = ids.slice(0, ids.length - retainedIds.length);
  const oldest: Array<{ id: number; manifest: Manifest | null }> = [];
  let uncachedReads = 0;
  for (const id of ids) {
    if (!ctx.manifests.isCached(id) && ++uncachedReads > MAX_MANIFEST_READS_PER_PASS) break;
    const manifest = await read(id);
    oldest.push({ id, manifest });
    if (manifest !== null && !manifestOldEnough(id, manifest)) break;
  }
  // The listed manifests between those and the retained ones (cached, when they are ours):
  // a checkpoint goes only once no listed manifest refers to it, since a reader may have
  // taken any of them for the newest. Unread ones (read budget spent) hold checkpoints back.
  const between: Manifest[] = [];
  let allRead = true;
  for (const id of expiredIds.slice(oldest.length)) {
    if (!ctx.manifests.isCached(id) && ++uncachedReads > MAX_MANIFEST_READS_PER_PASS) {
      allRead = false;
      break;
    }
    const manifest = await read(id);
    if (manifest !== null) between.push(manifest);
  }
  // Those reads may have taken seconds, in which another writer may have taken over and
  // checkpointed: prove again that ours is the newest before deleting on that proof.
  if (reads > 0 && !(await isNewest(ctx, await ctx.manifests.listIds()))) return result;

  // Manifests beyond the history, oldest first, each once the next intact one is old enough.
  const expiredManifests: number[] = [];
  for (let i = 0; i < oldest.length && i < expiredIds.length; i++) {
    const successor = oldest.slice(i + 1).find((entry) => entry.manifest !== null);
    if (successor === undefined || !manifestOldEnough(successor.id, successor.manifest!)) break;
    expiredManifests.push(oldest[i]!.id);
  }
  const slices = new Slices(ctx.sliceNow, ctx.turnWindow);
  await slices.forEachLimit(expiredManifests, async (id) => {
    await ctx.storage.delete(ctx.keys.manifest(id));
    ctx.manifests.forget(id);
    ctx.reportedDamage.delete(id);
  });
  result.deletedManifests = expiredManifests.length;
  const coverers = [
    ...oldest.flatMap(({ id, manifest }) => (manifest === null ? [] : [{ id, manifest }])),
    ...retained,
  ];

  // Checkpoints no manifest left listed refers to, whatever clock named them. Those of the
  // manifests deleted above go too: each was superseded at least the minimum age ago.
  const deleted = new Set(expiredManifests);
  const stillListed = [
    ...oldest.flatMap(({ id, manifest }) =>
      manifest === null || deleted.has(id) ? [] : [manifest],
    ),
    ...between,
    ...retained.map((entry) => entry.manifest),
  ];
  const referenced = new Set(stillListed.map((m) => m.checkpoint).filter((name) => name !== null));
  const checkpoints = allRead ? await ctx.storage.list(ctx.keys.checkpointDir) : [];
  const staleCheckpoints = checkpoints.filter(({ key }) => {
    const name = key.slice(ctx.keys.checkpointDir.length);
    if (referenced.has(name)) return false;
    const createdAt = checkpointCreatedAt(name);
    return createdAt !== null && oldEnough(createdAt);
  });
  await slices.forEachLimit(staleCheckpoints, ({ key }) => ctx.storage.delete(key));
  result.deletedCheckpoints = staleCheckpoints.length;

  // WAL batches and fences the newest checkpoint covers.
  const wal = await slices.list(ctx, ctx.keys.walDir);
  const monotonicNow = ctx.clock.monotonicNow();
  const listed = new Set<string>();
  const seenFor = (key: string): number => {
    listed.add(key);
    const seen = ctx.firstSeen.get(key) ?? monotonicNow;
    ctx.firstSeen.set(key, seen);
    return monotonicNow - seen;
  };
  const staleFences: string[] = [];
  const staleWal = await slices.filter(wal, ({ key, size }) => {
    const id = ctx.keys.idOf(ctx.keys.walDir, key);
    if (id === null) return false;
    if (isFenceSize(size)) {
      const age = seenFor(key);
      if (id <= newest.replayAfter && age >= ctx.fenceMinAgeMs) staleFences.push(key);
      return false;
    }
    if (id > newest.replayAfter) return false;
    // Anything else too small to be a batch stays: it may once have been one.
    if (size < MIN_WAL_BATCH_BYTES) return false;
    const coveredBy = coverers.find((entry) => entry.manifest.replayAfter >= id)!;
    return manifestOldEnough(coveredBy.id, coveredBy.manifest);
  });
  await slices.forEachLimit(staleWal, ({ key }) => ctx.storage.delete(key));
  result.deletedWal = staleWal.length;
  await slices.forEachLimit(staleFences, (key) => ctx.storage.delete(key));
  result.deletedFences = staleFences.length;

  // Probe objects left behind.
  const probes = await ctx.storage.list(ctx.keys.probeDir);
  const staleProbes = probes.filter(({ key }) => {
    const createdAt = probeCreatedAt(key.slice(ctx.keys.probeDir.length));
    return createdAt !== null
      ? now - createdAt >= PROBE_MIN_AGE_MS
      : seenFor(key) >= PROBE_MIN_AGE_MS;
  });
  await slices.forEachLimit(staleProbes, ({ key }) => ctx.storage.delete(key));
  result.deletedProbes = staleProbes.length;
  for (const key of [...ctx.firstSeen.keys()])
    if (!listed.has(key) || staleFences.includes(key)) ctx.firstSeen.delete(key);
  return result;
}

/**
 * Whether `ids` (a fresh listing) shows our manifest as the newest. A newer
 * epoch there is the fence's FencedError.
 */
async function isNewest(ctx: GcContext, ids: readonly number[]): Promise<boolean> {
  const newestId = ids.at(-1);
  const ownId = ctx.fence.manifestId;
  if (newestId === ownId) return true;
  if (newestId !== undefined && newestId > ownId) {
    const fenced = ctx.fence.supersededBy(await ctx.manifests.read(newestId));
    if (fenced !== null) throw fenced;
  }
  return false;
}

/**
 * The pass's listings and deletes, with a turn of the event loop whenever a
 * slice's budget is spent. A store whose requests complete without I/O (the
 * memory store) resolves them in microtasks: a minute of a busy writer's WAL
 * would otherwise be listed and deleted in one turn (a pass over 50,000 WAL
 * objects held the event loop for 185 ms). On other stores a slice ends
 * during a request's wait, and the pass gives a turn every few milliseconds,
 * which costs nothing.
 */
class Slices {
  readonly #budget: SliceBudget;
  /** One turn shared by every delete lane once the budget is spent. */
  #turn: Promise<void> | null = null;
  /** Deletes started in the current slice: its first starts whatever the clock says (progress). */
  #startedInSlice = 0;

  constructor(sliceNow: MonotonicNow = processNow, window?: TurnWindow) {
    this.#budget = new SliceBudget(undefined, sliceNow, window);
    this.#budget.start();
  }

  /** Resolves at once while the slice lasts; after a turn of the event loop once it is spent. */
  #yield(): Promise<void> | null {
    if (this.#turn === null && !this.#budget.spent()) return null;
    this.#turn ??= nextTurn().then(() => {
      this.#turn = null;
      this.#budget.start();
      this.#startedInSlice = 0;
    });
    return this.#turn;
  }

  /** Every key under `prefix`, in key order, page by page. */
  async list(ctx: GcContext, prefix: string): Promise<ObjectInfo[]> {
    const all: ObjectInfo[] = [];
    let startAfter: string | undefined;
    for (;;) {
      await this.#yield();
      const page = await ctx.storage.page(prefix, startAfter);
      for (const object of page.objects) all.push(object);
      if (page.nextStartAfter === undefined) return all;
      startAfter = page.nextStartAfter;
    }
  }

  /** The items `keep` keeps, in order (`keep` runs a few hundred items per check of the budget). */
  async filter<T>(items: readonly T[], keep: (item: T) => boolean): Promise<T[]> {
    const kept: T[] = [];
    for (let i = 0; i < items.length; i++) {
      if (i % ITEMS_PER_CHECK === ITEMS_PER_CHECK - 1) await this.#yield();
      const item = items[i]!;
      if (keep(item)) kept.push(item);
    }
    return kept;
  }

  async forEachLimit<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const turn = this.#startedInSlice === 0 && this.#turn === null ? null : this.#yield();
        if (turn !== null) {
          await turn;
          continue;
        }
        this.#startedInSlice++;
        await fn(items[next++]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, items.length) }, worker));
  }
}

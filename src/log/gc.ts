/**
 * Garbage collection of one log. Deletes, only once they are older than the
 * minimum age and only after a listing proves our manifest is the newest:
 * - WAL batches at or below the newest manifest's `replayAfter` — never
 *   fences, since a deleted fence would let a stalled zombie
 *   re-create its slot and "commit" a batch nobody replays;
 * - checkpoints no retained manifest references;
 * - manifests older than the retained history.
 *
 * Object stores give no reliable creation time, so ages come from names and
 * manifests: a checkpoint's name carries a ULID minted at creation; a WAL
 * batch is no younger than the first manifest whose `replayAfter` covers it;
 * an old manifest is no younger than the oldest retained one. Each estimate
 * errs towards "younger", i.e. towards keeping.
 */
import { decodeTime } from "ulid";
import type { Clock } from "../clock.js";
import { FencedError } from "../errors.js";
import { MIN_WAL_BATCH_BYTES } from "./codec.js";
import { type LogKeys, parseCheckpointName } from "./keys.js";
import type { Manifest, ManifestReader } from "./manifest.js";
import type { LogStorage } from "./storage.js";

export interface GcContext {
  storage: LogStorage;
  keys: LogKeys;
  manifests: ManifestReader;
  clock: Clock;
  minAgeMs: number;
  manifestHistory: number;
  /** Our newest manifest: GC only runs while it is the newest in the store. */
  ownManifestId: number;
  epoch: number;
  describeLog: string;
}

export interface GcResult {
  deletedWal: number;
  deletedCheckpoints: number;
  deletedManifests: number;
}

const DELETE_CONCURRENCY = 8;

export async function collectGarbage(ctx: GcContext): Promise<GcResult> {
  const result: GcResult = { deletedWal: 0, deletedCheckpoints: 0, deletedManifests: 0 };
  const ids = await ctx.manifests.listIds();
  const newestId = ids.at(-1);
  if (newestId !== ctx.ownManifestId) {
    if (newestId !== undefined && newestId > ctx.ownManifestId) {
      const newest = await ctx.manifests.read(newestId);
      if (newest.epoch > ctx.epoch) {
        throw new FencedError(
          `${ctx.describeLog}: fenced by a writer with epoch ${newest.epoch} (ours is ${ctx.epoch})`,
        );
      }
    }
    return result; // not provably the newest: delete nothing
  }

  const retainedIds = ids.slice(-(ctx.manifestHistory + 1));
  const retained: Manifest[] = [];
  for (const id of retainedIds) retained.push(await ctx.manifests.read(id));
  const newest = retained.at(-1)!;
  const now = ctx.clock.now();
  const oldEnough = (createdAt: number): boolean => now - createdAt >= ctx.minAgeMs;

  // Manifests beyond the history.
  const expiredManifests = ids.slice(0, ids.length - retainedIds.length);
  if (expiredManifests.length > 0 && oldEnough(retained[0]!.createdAt)) {
    await forEachLimit(expiredManifests, async (id) => {
      await ctx.storage.delete(ctx.keys.manifest(id));
      ctx.manifests.forget(id);
    });
    result.deletedManifests = expiredManifests.length;
  }

  // Checkpoints nothing retained refers to.
  const referenced = new Set(retained.map((m) => m.checkpoint).filter((name) => name !== null));
  const checkpoints = await ctx.storage.list(ctx.keys.checkpointDir);
  const staleCheckpoints = checkpoints.filter(({ key }) => {
    const name = key.slice(ctx.keys.checkpointDir.length);
    const parsed = parseCheckpointName(name);
    if (parsed === null || referenced.has(name)) return false;
    const createdAt = ulidTime(parsed.unique);
    return createdAt !== null && oldEnough(createdAt);
  });
  await forEachLimit(staleCheckpoints, ({ key }) => ctx.storage.delete(key));
  result.deletedCheckpoints = staleCheckpoints.length;

  // WAL batches the newest checkpoint covers (fences stay forever).
  const wal = await ctx.storage.list(ctx.keys.walDir);
  const staleWal = wal.filter(({ key, size }) => {
    const id = ctx.keys.idOf(ctx.keys.walDir, key);
    // Anything too small to be a batch stays too: a fence, or what may once have been one.
    if (id === null || id > newest.replayAfter || size < MIN_WAL_BATCH_BYTES) return false;
    const coveredBy = retained.find((m) => m.replayAfter >= id)!;
    return oldEnough(coveredBy.createdAt);
  });
  await forEachLimit(staleWal, ({ key }) => ctx.storage.delete(key));
  result.deletedWal = staleWal.length;
  return result;
}

function ulidTime(text: string): number | null {
  try {
    return decodeTime(text);
  } catch {
    return null;
  }
}

async function forEachLimit<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, items.length) }, worker));
}

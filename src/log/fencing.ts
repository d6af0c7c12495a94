/**
 * Writer fencing, after SlateDB's `FenceableManifest`: the one place that
 * decides whether this process is still the log's writer.
 *
 * Owns: claiming the next epoch (creating manifest N+1), putting the fence in
 * the first free WAL slot, committing later manifests, confirming that no
 * newer epoch exists (at the end of open, before GC deletes anything, and
 * periodically while writing), and the one {@link FencedError} message all of
 * them raise. The rule: a manifest with a higher epoch than ours, or a WAL
 * slot we meant to fill taken by someone else, means another writer opened the
 * log; this one is fenced for good.
 */
import { randomBytes } from "node:crypto";
import type { MonotonicClock } from "../clock.js";
import { CorruptionError, FencedError } from "../errors.js";
import { encodeFence, isFenceSize } from "./codec.js";
import type { LogKeys } from "./keys.js";
import {
  encodeManifest,
  type Manifest,
  type ManifestEntry,
  type ManifestReader,
} from "./manifest.js";
import type { LogStorage } from "./storage.js";

/** What the fence reads and writes through. */
export interface FenceContext {
  storage: LogStorage;
  keys: LogKeys;
  manifests: ManifestReader;
  /** Wall time for manifests' `createdAt`; monotonic time for the check interval. */
  clock: MonotonicClock;
  /** How often a busy writer looks for a newer epoch (see {@link WriterFence.checkWhileBusy}). */
  checkIntervalMs: number;
  describeLog: string;
}

/** How this writer learnt that it was fenced. */
export type FencedBy = { epoch: number } | { walKey: string };

/** Where the fence went, and the older fences seen on the way (replay need not fetch them). */
export interface PlacedFence {
  fenceId: number;
  fences: Set<number>;
}

export class WriterFence {
  readonly #ctx: FenceContext;
  /** This writer's epoch; every manifest it commits carries it. */
  readonly epoch: number;
  #manifestId: number;
  #manifest: Manifest;
  /** When (monotonic) this writer last confirmed that no newer epoch exists. */
  #checkedAt: number;
  #checkRunning = false;

  private constructor(ctx: FenceContext, own: ManifestEntry) {
    this.#ctx = ctx;
    this.epoch = own.manifest.epoch;
    this.#manifestId = own.id;
    this.#manifest = own.manifest;
    this.#checkedAt = ctx.clock.monotonicNow();
  }

  /**
   * Claims the next epoch: creates manifest N+1 from the newest one with the
   * epoch bumped; a lost race re-reads and tries again. Nothing is written
   * before `ready` (the store probe) resolves.
   */
  static async claim(ctx: FenceContext, ready: Promise<void>): Promise<WriterFence> {
    const writer = randomBytes(16).toString("hex");
    for (;;) {
      const newest = await ctx.manifests.newest();
      await ready;
      const base = newest?.manifest;
      const manifest: Manifest = {
        epoch: (base?.epoch ?? 0) + 1,
        checkpoint: base?.checkpoint ?? null,
        replayAfter: base?.replayAfter ?? 0,
        writer,
        createdAt: ctx.clock.now(),
      };
      const id = (newest?.id ?? 0) + 1;
      if (await createManifest(ctx, id, manifest)) return new WriterFence(ctx, { id, manifest });
    }
  }

  /** Id of this writer's newest manifest. */
  get manifestId(): number {
    return this.#manifestId;
  }

  /** This writer's newest manifest: which checkpoint recovery starts from, and `replayAfter`. */
  get manifest(): Manifest {
    return this.#manifest;
  }

  /** The one error of a fenced writer. */
  fenced(by: FencedBy): FencedError {
    const evidence =
      "epoch" in by
        ? `a writer with epoch ${by.epoch} took over`
        : `another writer took WAL slot "${by.walKey}"`;
    return new FencedError(
      `${this.#ctx.describeLog} is fenced (${evidence}); this writer (epoch ${this.epoch}) ` +
        "has stopped for good and rejects every call. Open the log again if this process should be its writer.",
    );
  }

  /** The error to stop with when `newest` shows a newer epoch, else null. */
  supersededBy(newest: Manifest | undefined): FencedError | null {
    return newest !== undefined && newest.epoch > this.epoch
      ? this.fenced({ epoch: newest.epoch })
      : null;
  }

  /** Reads the newest manifest and throws {@link FencedError} if its epoch is newer than ours. */
  async throwIfSuperseded(): Promise<void> {
    const error = this.supersededBy((await this.#ctx.manifests.newest())?.manifest);
    if (error !== null) throw error;
  }

  /**
   * Writes a zero-record fence at the first free WAL slot after
   * `replayAfter`, so a zombie writer's next create fails on it. A gap in the
   * WAL is damage: {@link CorruptionError}, unless `skipDamage` (then the fence
   * goes after everything that exists and recovery reports the gap).
   *
   * An older writer that is still busy fills slots as fast as the store
   * allows (until it sees our epoch, within its `checkIntervalMs`). So when a
   * slot is taken, the next try goes to the end of the WAL as a fresh listing
   * shows it, not to the next slot: a takeover costs a few round trips after
   * the old writer stops, however many batches it wrote meanwhile.
   */
  async placeFence(skipDamage: boolean): Promise<PlacedFence> {
    const { storage, keys } = this.#ctx;
    const fences = new Set<number>();
    let slot = await this.#firstFreeSlot(this.#manifest.replayAfter, fences, skipDamage);
    for (;;) {
      // A fence carries no token, so a taken slot is not read back: it is some other
      // writer's, or our own earlier attempt's (a fence, which replay skips like any other).
      const outcome = await storage.create(keys.wal(slot), encodeFence(this.epoch), null);
      if (outcome === "created") return { fenceId: slot, fences };
      const [, next] = await Promise.all([
        this.throwIfSuperseded(),
        this.#firstFreeSlot(slot, fences, skipDamage),
      ]);
      slot = next;
    }
  }

  /**
   * The slot after the run of WAL objects that follows slot `after` (which is
   * taken, or `replayAfter`), from one listing; fences seen go into `fences`.
   */
  async #firstFreeSlot(after: number, fences: Set<number>, skipDamage: boolean): Promise<number> {
    const { storage, keys } = this.#ctx;
    const listed = await storage.list(keys.walDir, keys.wal(after));
    let slot = after + 1;
    for (const { key, size } of listed) {
      const id = keys.idOf(keys.walDir, key);
      if (id === null) continue;
      if (id !== slot && skipDamage) {
        slot = id;
      } else if (id !== slot) {
        throw new CorruptionError(
          keys.wal(slot),
          `WAL batch is missing while "${key}" exists (a gap after ${after === this.#manifest.replayAfter ? "replayAfter" : "WAL"} ${after})`,
        );
      }
      if (isFenceSize(size)) fences.add(id);
      slot++;
    }
    return slot;
  }

  /**
   * The last step of opening: the newest manifest must still be ours, or
   * someone opened the log while we were recovering it.
   */
  async confirmNewest(): Promise<void> {
    const newest = await this.#ctx.manifests.newest();
    if (newest === null || newest.id !== this.#manifestId)
      throw this.fenced({ epoch: newest?.manifest.epoch ?? this.epoch });
    this.#checkedAt = this.#ctx.clock.monotonicNow();
  }

  /**
   * Commits a manifest change (a new checkpoint) by creating the next
   * manifest; a newer epoch in the way means we are fenced.
   */
  async commit(change: Pick<Manifest, "checkpoint" | "replayAfter">): Promise<void> {
    const manifest: Manifest = {
      epoch: this.epoch,
      checkpoint: change.checkpoint,
      replayAfter: change.replayAfter,
      writer: this.#manifest.writer,
      createdAt: this.#ctx.clock.now(),
    };
    let id = this.#manifestId + 1;
    for (;;) {
      if (await createManifest(this.#ctx, id, manifest)) {
        this.#manifestId = id;
        this.#manifest = manifest;
        return;
      }
      const newest = await this.#ctx.manifests.newest();
      const fenced = this.supersededBy(newest?.manifest);
      if (fenced !== null) throw fenced;
      id = Math.max(id, newest?.id ?? 0) + 1;
    }
  }

  /**
   * A busy writer only meets a newer writer's fence when its next WAL slot is
   * the fenced one, and an opener placing its fence behind a writer that keeps
   * filling slots can chase it for a long time. So while writing, at most once
   * per `checkIntervalMs`, look for a newer epoch in the background and report
   * it to `onFenced`. Only ever stops the writer early, which is safe: a newer
   * epoch means another writer has taken over.
   */
  checkWhileBusy(onFenced: (error: FencedError) => void): void {
    const { clock, checkIntervalMs, manifests } = this.#ctx;
    const now = clock.monotonicNow();
    if (this.#checkRunning || now - this.#checkedAt < checkIntervalMs) return;
    this.#checkRunning = true;
    this.#checkedAt = now;
    manifests
      .newest()
      .then((newest) => {
        const fenced = this.supersededBy(newest?.manifest);
        if (fenced !== null) onFenced(fenced);
      })
      .catch(() => {}) // a failed look is retried at the next interval; writes are unaffected
      .finally(() => {
        this.#checkRunning = false;
      });
  }
}

/** Creates manifest `id`; false when another manifest already holds the id. */
async function createManifest(ctx: FenceContext, id: number, manifest: Manifest): Promise<boolean> {
  const body = encodeManifest(manifest);
  const outcome = await ctx.storage.create(ctx.keys.manifest(id), body, (existing) =>
    Buffer.from(existing).equals(body),
  );
  if (outcome === "taken") return false;
  ctx.manifests.remember(id, manifest);
  return true;
}

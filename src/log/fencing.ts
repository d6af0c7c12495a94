/**
 * Writer fencing, after SlateDB's `FenceableManifest`: the one place that
 * decides whether this process is still the log's writer.
 *
 * Owns: claiming the next epoch (creating manifest N+1), having the fence put
 * in the first free WAL slot (`fence-slots.ts`), committing later manifests, confirming that no
 * newer epoch exists (at the end of open, before GC deletes anything, and
 * periodically while writing), and raising the one {@link FencedError} (its
 * wording is in `fence-errors.ts`). The rule: a manifest with a higher epoch than ours, or a WAL
 * slot we meant to fill taken by someone else, means another writer opened the
 * log; this one is fenced for good.
 */
import type { MonotonicClock } from "../clock.js";
import { CorruptionError, FencedError } from "../errors.js";
import type { MonotonicNow } from "../util/slices.js";
import { awaitListing, type FencedBy, fencedError } from "./fence-errors.js";
import { type PlacedFence, placeFence } from "./fence-slots.js";
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
  /** `V` of the acknowledgement rule (see {@link WriterFence.mayAcknowledge}). */
  epochValidityMs: number;
  /** How many WAL creates this writer keeps in flight (recorded in its manifests). */
  walWindow: number;
  describeLog: string;
  /** The clock slices of its WAL listings run on (a test's, see `SLICE_CLOCK`); `performance.now()` by default. */
  sliceNow?: MonotonicNow;
}

export class WriterFence {
  readonly #ctx: FenceContext;
  /** This writer's epoch; every manifest it commits carries it. */
  readonly epoch: number;
  #manifestId: number;
  #manifest: Manifest;
  /** When (monotonic) this writer last started a look for a newer epoch. */
  #checkedAt: number;
  #checkRunning = false;
  /** Start (monotonic) of the newest look that found no newer epoch. */
  #confirmedFrom: number;
  #validating: Promise<void> | null = null;
  #ownFences: readonly number[] = [];
  /** Slots to fence at open: 0 after a clean close, else the previous writers' window. */
  readonly #fenceWidth: number;
  /**
   * This writer's wall-clock time when it claimed the log (its claim manifest's
   * `createdAt`). Every earlier writer's manifest listed then existed by then,
   * and was superseded by then (one a stalled writer creates later, in a slot
   * GC has emptied, did not). A wall-clock step of this host since then shifts
   * it as much: see {@link claimedMonotonic}.
   */
  readonly claimedAt: number;
  /**
   * This writer's monotonic time when it claimed the log (just after stamping
   * {@link claimedAt}): the age of an earlier writer's objects, immune to
   * wall-clock steps.
   */
  readonly claimedMonotonic: number;
  /**
   * Id of the manifest this writer's claim created: GC ages it by the time
   * since the claim, like an earlier writer's, since it covers their WAL.
   */
  readonly claimId: number;

  private constructor(
    ctx: FenceContext,
    own: ManifestEntry,
    confirmedFrom: number,
    fenceWidth: number,
  ) {
    this.#ctx = ctx;
    this.#fenceWidth = fenceWidth;
    this.epoch = own.manifest.epoch;
    this.#manifestId = own.id;
    this.#manifest = own.manifest;
    this.claimedAt = own.manifest.createdAt;
    this.claimId = own.id;
    this.claimedMonotonic = confirmedFrom; // the claim's start: the only caller passes that
    this.#checkedAt = confirmedFrom;
    this.#confirmedFrom = confirmedFrom;
  }

  /**
   * Claims the next epoch: creates manifest N+1 from the newest one with the
   * epoch bumped; a lost race re-reads and tries again. Nothing is written
   * before `ready` (the store probe) resolves, and each attempt first asks
   * `mayBuildOn` about the manifest it builds on (false: read the newest again).
   */
  static async claim(
    ctx: FenceContext,
    ready: Promise<void>,
    /** Reads the newest manifest (the opener passes the one it has just read first). */
    readNewest: () => Promise<ManifestEntry | null> = () => ctx.manifests.newest(),
    mayBuildOn: (base: ManifestEntry | null) => Promise<boolean> = async () => true,
  ): Promise<WriterFence> {
    const writer = ctx.storage.random.bytes(16).toString("hex");
    // A lost race means the next listing shows the winner's manifest. One that does not
    // (the store lists a stale view, or another key took the id's place) would send this
    // loop round for ever: wait with backoff a few times, then give up.
    let taken = 0;
    let unlisted = 0;
    for (;;) {
      const newest = await readNewest();
      if ((newest?.id ?? 0) < taken) {
        await awaitListing(ctx, taken, unlisted++, "taken");
        continue;
      }
      unlisted = 0;
      await ready;
      if (!(await mayBuildOn(newest))) continue;
      const base = newest?.manifest;
      const manifest: Manifest = {
        epoch: (base?.epoch ?? 0) + 1,
        checkpoint: base?.checkpoint ?? null,
        replayAfter: base?.replayAfter ?? 0,
        writer,
        createdAt: ctx.clock.now(),
        walWindow: Math.max(ctx.walWindow, base?.walWindow ?? 1),
        closed: false,
      };
      const id = (newest?.id ?? 0) + 1;
      const started = ctx.clock.monotonicNow();
      if (await createManifest(ctx, id, manifest)) {
        // Nothing to fence out after a clean close (or in a new log); else as many
        // slots as the previous writers kept in flight.
        const fenceWidth = base === undefined || base.closed ? 0 : base.walWindow;
        return new WriterFence(ctx, { id, manifest }, started, fenceWidth);
      }
      taken = id;
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
    return fencedError(this.#ctx, this.epoch, by);
  }

  /** The error to stop with when `newest` shows a newer epoch, else null. */
  supersededBy(newest: Manifest | undefined): FencedError | null {
    return newest !== undefined && newest.epoch > this.epoch
      ? this.fenced({ epoch: newest.epoch })
      : null;
  }

  /**
   * Reads the newest manifest and throws {@link FencedError} if another
   * writer is ahead of this one: its epoch is newer, or (a writer that went on
   * while this one opened, whose GC emptied the slot this opener's claim, made
   * on an older read, took) its id is above this writer's newest. A listing
   * that does not show this writer's manifest yet, or none, proves neither
   * way, as it may hide a newer writer's manifest too: it is waited out as
   * the claim's is (a few listings, then `UnsupportedStoreError`).
   */
  async throwIfSuperseded(): Promise<void> {
    for (let unlisted = 0; ; unlisted++) {
      const newest = await this.#ctx.manifests.newest();
      const error = this.#aheadOfUs(newest);
      if (error !== null) throw error;
      if (newest !== null && newest.id >= this.#manifestId) return;
      await awaitListing(this.#ctx, this.#manifestId, unlisted, "own");
    }
  }

  #aheadOfUs(newest: ManifestEntry | null): FencedError | null {
    if (newest === null || newest.id <= this.#manifestId)
      return this.supersededBy(newest?.manifest);
    return (
      this.supersededBy(newest.manifest) ??
      this.fenced({ manifestKey: this.#ctx.keys.manifest(newest.id), epoch: newest.manifest.epoch })
    );
  }

  /**
   * Writes the fences at the first free WAL slot after `replayAfter` (see
   * {@link placeFence} in `fence-slots.ts`, which says where and why).
   * `knownTaken`: every slot up to it is known to hold an object.
   */
  async placeFence(skipDamage: boolean, knownTaken?: number): Promise<PlacedFence> {
    const { placed, ownFences } = await placeFence(
      this.#ctx,
      this.epoch,
      Math.max(this.#manifest.replayAfter, knownTaken ?? 0),
      this.#fenceWidth,
      skipDamage,
      () => this.throwIfSuperseded(),
    );
    this.#ownFences = ownFences;
    return placed;
  }

  /** WAL slots this writer fenced when it opened (GC ages them from then). */
  get ownFences(): readonly number[] {
    return this.#ownFences;
  }

  /**
   * The last step of opening: the newest manifest must still be ours, or
   * someone opened the log while we were recovering it. A listing that does
   * not show ours yet (or any) lags its writes: waited out a few times, as
   * in {@link claim}.
   */
  async confirmNewest(): Promise<void> {
    for (let unlisted = 0; ; unlisted++) {
      const started = this.#ctx.clock.monotonicNow();
      const newest = await this.#ctx.manifests.newest();
      if (newest?.id === this.#manifestId) {
        this.#confirmed(started);
        return;
      }
      const error = this.#aheadOfUs(newest);
      if (error !== null) throw error;
      await awaitListing(this.#ctx, this.#manifestId, unlisted, "own");
    }
  }

  /**
   * Commits a manifest change (a new checkpoint) by creating the next
   * manifest; a newer epoch in the way means we are fenced.
   */
  async commit(change: Pick<Manifest, "checkpoint" | "replayAfter" | "closed">): Promise<void> {
    const manifest: Manifest = {
      epoch: this.epoch,
      checkpoint: change.checkpoint,
      replayAfter: change.replayAfter,
      writer: this.#manifest.writer,
      createdAt: this.#ctx.clock.now(),
      walWindow: this.#manifest.walWindow,
      closed: change.closed,
    };
    let id = this.#manifestId + 1;
    for (;;) {
      const started = this.#ctx.clock.monotonicNow();
      if (await createManifest(this.#ctx, id, manifest)) {
        this.#manifestId = id;
        this.#manifest = manifest;
        this.#confirmed(started); // creating the next manifest proves no newer epoch existed
        return;
      }
      // The manifest that took the id is read by its key: a listing that lags its writes
      // may not show it yet, and a commit past it would be a fenced writer's write.
      const [taken, newest] = await Promise.all([
        // Gone again (collected) or damaged: the listing decides alone.
        this.#ctx.manifests.read(id).catch((error: unknown) => {
          if (error instanceof CorruptionError) return undefined;
          throw error;
        }),
        this.#ctx.manifests.newest(),
      ]);
      const fenced = this.supersededBy(taken) ?? this.supersededBy(newest?.manifest);
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
   * epoch means another writer has taken over. Each look that finds none also
   * keeps {@link mayAcknowledge} true.
   */
  checkWhileBusy(onFenced: (error: FencedError) => void): void {
    const { clock, checkIntervalMs } = this.#ctx;
    if (this.#checkRunning || clock.monotonicNow() - this.#checkedAt < checkIntervalMs) return;
    this.#checkRunning = true;
    this.validate()
      .catch((error: unknown) => {
        if (error instanceof FencedError) onFenced(error);
        // any other failure is retried at the next interval; writes are unaffected
      })
      .finally(() => {
        this.#checkRunning = false;
      });
  }

  /**
   * Looks for a newer epoch now (one look at a time: callers share it).
   * Rejects with {@link FencedError} when there is one.
   */
  validate(): Promise<void> {
    this.#validating ??= (async () => {
      const started = this.#ctx.clock.monotonicNow();
      this.#checkedAt = started;
      try {
        const error = this.supersededBy((await this.#ctx.manifests.newest())?.manifest);
        if (error !== null) throw error;
        this.#confirmed(started);
      } finally {
        this.#validating = null;
      }
    })();
    return this.#validating;
  }

  /**
   * As {@link validate}, with a look that starts after this call: one
   * already out may have listed the manifests before something the caller
   * saw (a takeover's objects in a listing that ended since), so it is
   * waited for, whatever it finds, and not taken as the answer.
   */
  async validateFresh(): Promise<void> {
    await this.#validating?.catch(() => {});
    return this.validate();
  }

  /**
   * The acknowledgement rule that makes collecting fences safe (DESIGN §7,
   * with `V` = `epochValidityMs`): a batch whose create completed at
   * `completedAt` (monotonic) may be acknowledged only if a look that found
   * no newer epoch started less than `2V` before.
   *
   * Why it suffices: if that look found our epoch newest, no newer writer had
   * opened when it started, so none of its fences (placed after its opening)
   * can have been collected — GC waits until a fence is older than
   * `fenceMinAgeMs`, which is above `2V` — before `completedAt`, which is
   * when our create took effect at the latest. So the create did not land in
   * a collected slot that nobody will replay. (§7's form, "validated less
   * than `V` before issuing the create and completed within `V`", implies
   * this one; a look that starts after the create was issued counts too.)
   */
  mayAcknowledge(completedAt: number): boolean {
    return completedAt - this.#confirmedFrom < 2 * this.#ctx.epochValidityMs;
  }

  /** Whether the newest confirmation is older than `V` (a write issued now should start a look). */
  get confirmationAging(): boolean {
    return this.#ctx.clock.monotonicNow() - this.#confirmedFrom >= this.#ctx.epochValidityMs;
  }

  #confirmed(startedAt: number): void {
    this.#confirmedFrom = Math.max(this.#confirmedFrom, startedAt);
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

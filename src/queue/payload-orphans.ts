/**
 * The writer's side of collecting orphaned payload objects, for
 * `PayloadObjects`: which of its objects no pass may take for an orphan
 * (those written for calls in flight, those of removals not durable yet,
 * those the running pass spares), starting the passes
 * (`orphan-passes.ts`) and telling them what may have left an orphan
 * behind.
 */
import { decodeTime } from "ulid";
import type { MonotonicClock } from "../clock.js";
import type { Logger } from "../logger.js";
import type { SliceBudget } from "../util/slices.js";
import {
  collectOrphans,
  ORPHAN_MIN_AGE_MS,
  OrphanPasses,
  type OrphanSource,
} from "./orphan-passes.js";
import { PassSparing } from "./orphan-sparing.js";
import { RefusedOrphans } from "./refused-orphans.js";
import type { State } from "./state.js";

/** What the passes ask of `PayloadObjects` itself: its store and folder, its stop, its deletes. */
export type PayloadOrphanSource = Pick<OrphanSource, "store" | "dir" | "stopped" | "deleteOrphan">;

export class PayloadOrphans {
  readonly #dir: string;
  /** Objects of removals whose log write is not durable (or failed): see `PayloadObjects.deleteWhenDurable`. */
  readonly #removing = new Set<string>();
  /** What the running pass over orphans spares: objects in flight when it began and written since. */
  readonly #sparing = new PassSparing();
  /**
   * Objects written (or being written) for calls that have not committed or
   * dropped them yet ({@link released}): never orphans, however long the
   * call takes (a transaction waits for a writable log after its writes).
   */
  readonly #inFlight = new Set<string>();
  /** When orphans are collected (see {@link collectWhileRunning}). */
  #passes: OrphanPasses | null = null;

  /** `dir`: the folder of payload objects (`{path}/payload/`). */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** How many keys the running pass over orphans holds to spare. */
  get passSparedKeys(): number {
    return this.#sparing.size;
  }

  /** Object `key`, named by wall time `namedAt`, is being written for a call. */
  writing(key: string, namedAt: number): void {
    this.#sparing.wrote(namedAt);
    this.#inFlight.add(key);
  }

  /** The calls that wrote `keys` committed them, dropped them, or are deleting them. */
  released(keys: readonly string[]): void {
    for (const key of keys) this.#inFlight.delete(key);
  }

  /** `keys` are objects of removals whose log write is not durable yet. */
  removing(keys: readonly string[]): void {
    for (const key of keys) this.#removing.add(key);
  }

  /** The removals of `keys` are durable. */
  removed(keys: readonly string[]): void {
    for (const key of keys) this.#removing.delete(key);
  }

  /** An object may be left that nothing references: a later pass collects it (see {@link OrphanPasses}). */
  left(key: string): void {
    try {
      this.#passes?.left(decodeTime(key.slice(this.#dir.length)) + ORPHAN_MIN_AGE_MS);
    } catch {
      // not a name of ours
    }
  }

  /** The queue stopped: no pass starts any more. */
  stop(): void {
    this.#passes?.stop();
  }

  /**
   * Starts the passes over the objects of `source` (once; later calls do
   * nothing): see `PayloadObjects.collectOrphansWhileRunning`.
   */
  collectWhileRunning(
    source: PayloadOrphanSource,
    logger: Logger,
    state: State,
    clock: MonotonicClock,
    now: () => number,
    checkFence: () => Promise<void>,
    slice: () => SliceBudget,
  ): void {
    if (this.#passes !== null) return;
    // Orphans the store refused to delete for good, which later passes skip for a while.
    const orphans = this.#orphanSource(source, new RefusedOrphans(clock));
    const passes = new OrphanPasses(
      clock,
      now,
      () => collectOrphans(orphans, state, now(), checkFence, slice),
      (error) =>
        logger.warn(`collecting orphaned payload objects failed: ${String(error)}`, {
          error,
        }),
    );
    this.#passes = passes;
    passes.start();
  }

  /** What a pass over orphans asks of these objects (see {@link collectOrphans}). */
  #orphanSource(source: PayloadOrphanSource, refused: RefusedOrphans): OrphanSource {
    return {
      store: source.store,
      dir: source.dir,
      refused,
      stopped: source.stopped,
      beginPass: () => {
        const pass = this.#sparing.begin(this.#inFlight);
        return {
          holds: (key) => pass.holds(key) || this.#removing.has(key),
          namedSince: pass.namedSince,
          end: pass.end,
        };
      },
      deleteOrphan: source.deleteOrphan,
    };
  }
}

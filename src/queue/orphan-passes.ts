/**
 * Collecting orphaned payload objects (objects no job references, left by a
 * crash between the write and the record, or between the record and the
 * delete; by a delete given up on; by a write that failed after it may have
 * stored its object): a pass ({@link collectOrphans}), and when passes run
 * ({@link OrphanPasses}): once at the open, and then, while the writer runs,
 * only when something may have left an orphan since (or a pass left some
 * untried), no sooner than that object is old enough to collect, and no
 * more often than every {@link ORPHAN_PASS_SPACING_MS}. A writer whose
 * deletes and writes all succeed never lists its payload folder again after
 * the open; one that runs for months still collects what it left behind. Passes never overlap,
 * and none starts once the queue stopped.
 */
import { decodeTime } from "ulid";
import { type MonotonicClock, startTimer, type TimerHandle } from "../clock.js";
import { GC_PASSES_PER_MIN_AGE } from "../log/checkpointer.js";
import type { ObjectStore } from "../store/types.js";
import { nextSlice, type SliceBudget } from "../util/slices.js";
import type { Spared } from "./orphan-sparing.js";
import type { RefusedOrphans } from "./refused-orphans.js";
import type { State } from "./state.js";
import { forEachExtras, type JobExtras, PAGE_SLOTS } from "./table.js";

/**
 * An unreferenced payload object younger than this is left alone: its
 * enqueue may still be about to commit, or it is another writer's (one that
 * took the store over, or a zombie). Far above any write's time limit.
 */
export const ORPHAN_MIN_AGE_MS = 10 * 60_000;

/**
 * Background passes start at least this long apart, and this long after
 * what left an orphan behind (a store that just failed a delete past its
 * retry budget is given time to recover). Spaced as the log's garbage
 * collection is (`GC_PASSES_PER_MIN_AGE`): a quarter of the minimum age.
 */
export const ORPHAN_PASS_SPACING_MS = ORPHAN_MIN_AGE_MS / GC_PASSES_PER_MIN_AGE;

/**
 * The spacing doubles after each pass that deleted nothing (every delete
 * refused or failed, or the listing failed), up to this; a pass that deletes
 * something sets it back to {@link ORPHAN_PASS_SPACING_MS}. On a store that
 * refuses every delete, each removed job leaves a reason, and each pass
 * lists the whole payload folder, which only grows.
 */
export const ORPHAN_PASS_MAX_SPACING_MS = 60 * 60_000;

/**
 * How many orphan deletes in a row, with no success between them, the store
 * may refuse for good (a permanent error, such as `AccessDenied` when the
 * credentials may not delete) before the collection ends; the rest wait for
 * the next collection, set a spacing later as after a pass cut short if one
 * of the rest would be tried, not only referenced or too young (the
 * spacing backs off while passes delete nothing: a store that refuses every
 * delete costs this many refusals per pass, one pass every
 * {@link ORPHAN_PASS_MAX_SPACING_MS} at most once backed off). One refused
 * object is skipped and the others are still tried, but a store that
 * refuses every delete would otherwise cost one request (and one line) per
 * orphan at every collection, and such a store turns every removed job's
 * object into an orphan, so their number only grows.
 * A few in a row tell that apart from objects refused one by one. Each
 * refused object is remembered and skipped by later collections for a while
 * (`RefusedOrphans`): those go on past it, and the refusals in a row that end
 * one are of objects not refused in the last six hours (or forgotten since,
 * past the most it remembers).
 */
export const ORPHAN_REFUSALS_IN_A_ROW = 5;

/**
 * How a pass ended: `"cut short"` when a delete failed past its retry
 * budget, `"refused"` when {@link ORPHAN_REFUSALS_IN_A_ROW} deletes in a row
 * were refused for good and an object listed after them would be tried (the
 * rest are left either way, for a later pass).
 */
export type PassEnd = "done" | "cut short" | "refused";

/**
 * What a pass did: how it ended, how many deletes it tried and how many
 * succeeded, and how many orphans old enough it spared only for the time in
 * their names (the wall clock went back during it: see `PassSparing`).
 */
export interface PassResult {
  end: PassEnd;
  tried: number;
  deleted: number;
  spared: number;
}

export class OrphanPasses {
  /** Monotonic time, for the spacing, the timers and when reasons are due. */
  readonly #clock: MonotonicClock;
  /** Wall time, which object names carry (read when a reason is reported). */
  readonly #now: () => number;
  /** Runs one pass; rejects only with what {@link #failed} logs. */
  readonly #run: () => Promise<PassResult>;
  readonly #failed: (error: unknown) => void;
  #timer: TimerHandle | null = null;
  /** Monotonic time {@link #timer} fires at. */
  #timerAt = Number.POSITIVE_INFINITY;
  #running = false;
  #stopped = false;
  /** Monotonic time the newest pass started, or null before the first. */
  #lastStart: number | null = null;
  /**
   * The soonest monotonic time a reason not yet covered by a pass may have
   * its pass by its own rule (its orphan old enough, a spacing after it was
   * reported), or infinity when there is none; the spacing after the
   * previous pass is applied when the timer is set. Monotonic, so that a
   * wall clock set back or ahead after a reason was reported does not move
   * its pass.
   */
  #soonest = Number.POSITIVE_INFINITY;
  /** The latest monotonic time from which an orphan known of is old enough. */
  #dueBy = Number.NEGATIVE_INFINITY;
  /** The earliest such time of the reasons reported while a pass runs (applied once it ends). */
  #dueWhileRunning = Number.POSITIVE_INFINITY;
  /** How far apart passes start (backs off while passes delete nothing). */
  #spacing = ORPHAN_PASS_SPACING_MS;

  constructor(
    clock: MonotonicClock,
    now: () => number,
    run: () => Promise<PassResult>,
    failed: (error: unknown) => void,
  ) {
    this.#clock = clock;
    this.#now = now;
    this.#run = run;
    this.#failed = failed;
  }

  /** Runs the open's pass now. */
  start(): void {
    void this.#pass();
  }

  /**
   * An object may have been left unreferenced; it is old enough to collect
   * from wall time `oldEnoughAt`. That is due on the monotonic clock, and
   * no later than {@link ORPHAN_MIN_AGE_MS} from now: a name ahead of this
   * wall clock (written while it was ahead) does not hold the passes back;
   * each pass still checks every object's age on wall time.
   */
  left(oldEnoughAt: number): void {
    if (this.#stopped) return;
    const monotonicNow = this.#clock.monotonicNow();
    const due = monotonicNow + Math.min(Math.max(oldEnoughAt - this.#now(), 0), ORPHAN_MIN_AGE_MS);
    this.#dueBy = Math.max(this.#dueBy, due);
    // While a pass runs, its outcome may change the spacing: counted from its end (see #pass).
    if (this.#running) this.#dueWhileRunning = Math.min(this.#dueWhileRunning, due);
    else this.#soonest = Math.min(this.#soonest, Math.max(monotonicNow + this.#spacing, due));
    this.#arm();
  }

  /** The queue stopped: no pass starts any more (a running one sees the stop itself). */
  stop(): void {
    this.#stopped = true;
    this.#cancel();
  }

  #cancel(): void {
    this.#timer?.cancel();
    this.#timer = null;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  /**
   * Sets the timer for the soonest reason, no sooner than the spacing after
   * the previous pass; a timer already set for later is set anew (a reason
   * due sooner, reported after one whose orphan is not old enough yet).
   */
  #arm(): void {
    if (this.#stopped || this.#running || this.#soonest === Number.POSITIVE_INFINITY) return;
    const at = Math.max(
      this.#soonest,
      (this.#lastStart ?? Number.NEGATIVE_INFINITY) + this.#spacing,
    );
    if (this.#timer !== null && this.#timerAt <= at) return;
    this.#cancel();
    this.#timerAt = at;
    this.#timer = startTimer(this.#clock, Math.max(at - this.#clock.monotonicNow(), 0), () => {
      this.#timer = null;
      this.#timerAt = Number.POSITIVE_INFINITY;
      void this.#pass();
    });
  }

  #backOff(): void {
    this.#spacing = Math.min(2 * this.#spacing, ORPHAN_PASS_MAX_SPACING_MS);
  }

  async #pass(): Promise<void> {
    if (this.#stopped) return;
    this.#running = true;
    const now = this.#now();
    this.#lastStart = this.#clock.monotonicNow();
    // What this pass covers: every orphan known of that is old enough by now. Those that are
    // not yet stay a reason, old enough by the latest such time at the latest.
    if (this.#dueBy <= this.#lastStart) {
      this.#soonest = Number.POSITIVE_INFINITY;
      this.#dueBy = Number.NEGATIVE_INFINITY;
    } else this.#soonest = this.#dueBy;
    try {
      const result = await this.#run();
      if (result.deleted > 0) this.#spacing = ORPHAN_PASS_SPACING_MS;
      else if (result.tried > 0) this.#backOff();
      // Failed past the retry budget or refused in a row (the rest of the orphans are left), or
      // orphans spared for the time in their names: a later pass tries them again. That pass
      // skips the objects refused (RefusedOrphans), so it reaches those after them.
      if (result.end !== "done" || result.spared > 0) this.left(now);
    } catch (error) {
      // A failed listing or fence check: like a pass cut short, the orphans are tried again later.
      if (!this.#stopped) {
        this.#failed(error);
        this.#backOff();
        this.left(now);
      }
    } finally {
      this.#running = false;
      // Reasons reported during the pass: a spacing (as it is now) after its end.
      const end = this.#clock.monotonicNow();
      if (this.#dueWhileRunning !== Number.POSITIVE_INFINITY)
        this.#soonest = Math.min(
          this.#soonest,
          Math.max(end + this.#spacing, this.#dueWhileRunning),
        );
      this.#dueWhileRunning = Number.POSITIVE_INFINITY;
    }
    this.#arm();
  }
}

/**
 * Every payload object key the jobs of `state` reference, gathered in
 * slices: `yieldNow` is asked every few hundred jobs and, when it resolves,
 * gives the event loop a turn. Rows never move and a job's reference never
 * changes (a new payload is a new object): a job removed before its row is
 * read has its object among the removals (see `PayloadObjects`), and one
 * added meanwhile references an object written meanwhile.
 */
export async function referencedKeysInSlices(
  state: State,
  yieldNow: () => Promise<void> | null,
): Promise<Set<string>> {
  const keys = new Set<string>();
  let seen = 0;
  for (let h = 0; h < state.table.capacity; h += PAGE_SLOTS) {
    const extras = state.table.read(h).extras;
    if (extras === null) continue;
    // A copy of the page's extras as they are now: the walk yields, and rows change meanwhile.
    const held: JobExtras[] = [];
    forEachExtras(extras, (_, extra) => {
      held.push(extra);
    });
    for (const extra of held) {
      if (extra.payloadRef !== undefined) keys.add(extra.payloadRef.key);
      if (++seen % 256 === 0) await yieldNow();
    }
  }
  return keys;
}

/** What a pass asks of the payload objects (`PayloadObjects`). */
export interface OrphanSource {
  readonly store: ObjectStore;
  /** The folder of payload objects (`{path}/payload/`). */
  readonly dir: string;
  /** Whether the queue stopped (closed, failed or fenced). */
  stopped(): boolean;
  /** The objects the store refused to delete for good: skipped, and each one refused is added. */
  readonly refused: RefusedOrphans;
  /**
   * The pass begins: what it leaves alone whatever their age (`holds`:
   * objects of calls in flight when it began and of removals not durable
   * yet; `namedSince`: by the time in an object's name, those written since
   * it began); `end` when it is over.
   */
  beginPass(): Spared;
  /** Deletes `key` as other payload deletes are (retried, given up on with one warning per problem). */
  deleteOrphan(key: string): Promise<"deleted" | "refused" | "failed" | "stopped">;
}

/**
 * One pass: deletes payload objects that no job of `state` references and
 * that are older than {@link ORPHAN_MIN_AGE_MS} at wall time `now` (by the
 * time in their names), but those `source` spares (counted in `spared`
 * when spared only for the time in their names). One listing; the
 * listing, the references and the objects are gone through in slices of the
 * event loop. A delete given up on leaves its object for a later pass, and
 * ends the pass when it failed past its retry budget (`"cut short"`: the
 * rest wait too) but not when it was refused for good, unless
 * {@link ORPHAN_REFUSALS_IN_A_ROW} were refused in a row (`"refused"` when
 * an object listed after them would be tried; those it would spare before
 * that are counted in `spared`). An object refused
 * for good is added to `source.refused`, and those it holds are skipped
 * (neither tried nor counted). Only a failed
 * listing or fence check rejects (a later pass tries again). Once the queue stopped, it ends at its
 * next step.
 *
 * `checkFence` looks for a newer writer (`Log.checkFence` with `fresh`:
 * one manifest listing that starts after the call; a newer one fails the
 * log, which stops this). It is asked after the listing, before anything
 * is deleted, as the log's garbage collection
 * proves it is still the writer before it deletes: a writer that took the
 * store over meanwhile references objects this state does not know, some
 * named with times its host's clock put earlier than this one's.
 */
export async function collectOrphans(
  source: OrphanSource,
  state: State,
  now: number,
  checkFence: () => Promise<void>,
  /**
   * A slice of the owner's work starting now (the queue's `sliceBudget`: its
   * slice clock and length, on the turn window its other work shares).
   */
  slice: () => SliceBudget,
): Promise<PassResult> {
  const pass = source.beginPass();
  source.refused.expire();
  const budget = slice();
  const yieldNow = () => (budget.spent() ? nextSlice(budget) : null);
  let tried = 0;
  let deleted = 0;
  let spared = 0;
  const ended = (end: PassEnd): PassResult => ({ end, tried, deleted, spared });
  try {
    const objects: string[] = [];
    let startAfter: string | undefined;
    do {
      await yieldNow();
      if (source.stopped()) return ended("done");
      const page = await source.store.list(
        source.dir,
        startAfter === undefined ? {} : { startAfter },
      );
      for (const { key } of page.objects) objects.push(key);
      startAfter = page.nextStartAfter;
    } while (startAfter !== undefined);
    if (objects.length === 0 || source.stopped()) return ended("done");
    await checkFence();
    const referenced = await referencedKeysInSlices(state, yieldNow);
    /** What this pass does with `key`: skips it, spares it for the time in its name, or tries it. */
    const verdict = (key: string): "skip" | "spare" | "try" => {
      if (referenced.has(key) || source.refused.skips(key)) return "skip";
      let writtenAt: number;
      try {
        writtenAt = decodeTime(key.slice(source.dir.length));
      } catch {
        return "skip"; // not one of ours
      }
      if (now - writtenAt < ORPHAN_MIN_AGE_MS || pass.holds(key)) return "skip";
      return pass.namedSince(writtenAt) ? "spare" : "try";
    };
    let refusedInARow = 0;
    for (const [i, key] of objects.entries()) {
      if (i % 256 === 255) await yieldNow();
      // A removal not durable yet is not in `referenced`, but the log may still reference its
      // object (spared, checked at each delete: removals go on meanwhile). Once the queue
      // stopped, a failed removal's record may be replayed: nothing more is deleted.
      if (source.stopped()) break;
      const what = verdict(key);
      if (what === "skip") continue;
      if (what === "spare") {
        spared++;
        continue;
      }
      const outcome = await source.deleteOrphan(key);
      if (outcome !== "stopped") tried++;
      // Failing past the retry budget: the store is down for deletes, and each next one would
      // take as long. Refused for good: that one object, and the others are tried still,
      // unless the store refuses them all (see ORPHAN_REFUSALS_IN_A_ROW).
      if (outcome === "stopped") break;
      if (outcome === "failed") return ended("cut short");
      if (outcome === "deleted") {
        deleted++;
        refusedInARow = 0;
        continue;
      }
      // Skipped by later passes: those after it are reached even if it is refused forever.
      source.refused.refused(key);
      if (++refusedInARow < ORPHAN_REFUSALS_IN_A_ROW) continue;
      // "refused" (another pass follows) only if one left would be tried: the objects listed
      // after are mostly live jobs' payloads, and a pass that would try none lists for nothing.
      // Those it would spare are counted, so a pass follows for them as it does otherwise.
      let left = false;
      for (let j = i + 1; j < objects.length && !source.stopped(); j++) {
        if (j % 256 === 255) await yieldNow();
        const later = verdict(objects[j]!);
        if (later === "spare") spared++;
        if (later === "try") {
          left = true;
          break;
        }
      }
      return ended(left ? "refused" : "done");
    }
    return ended("done");
  } finally {
    pass.end();
  }
}

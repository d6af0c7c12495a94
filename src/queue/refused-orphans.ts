/**
 * The orphaned payload objects the store refused to delete for good (a
 * permanent error: `AccessDenied`, a retention rule), which later passes
 * over orphans skip. A pass goes through the objects oldest first and ends
 * after `ORPHAN_REFUSALS_IN_A_ROW` refusals in a row; without this
 * memory, five objects the store always refuses, older than every other,
 * would end every later pass at the same five, and the orphans after them
 * would never be collected.
 */
import type { MonotonicClock } from "../clock.js";

/**
 * How long a refused object is skipped (monotonic time from its refusal);
 * the next open's collection, whose writer remembers nothing, tries them all
 * again too. A refusal for good is a setting (a permission, a retention
 * rule), changed by hand over hours, not an outage over minutes; the
 * objects cost only storage meanwhile. Six times the longest spacing of the
 * passes (`ORPHAN_PASS_MAX_SPACING_MS`): objects always refused, older
 * than every other, end at most one pass in six when passes are an hour
 * apart, and one in 144 at their shortest spacing. A store that refuses
 * every delete costs no more for it: an object tried again counts as a new
 * refusal, and a pass still ends after five in a row.
 */
export const REFUSED_ORPHAN_RETRY_MS = 6 * 60 * 60_000;

/**
 * How many refused objects are remembered at most; past that, the earliest
 * refused is forgotten first (tried again at a later pass: one request, and
 * remembered again). About 150 bytes each (the key, its time, the map's
 * entry): 600 KB at most, whatever the folder holds. A store that refuses
 * every delete adds at most five per pass, so at most 720 within
 * {@link REFUSED_ORPHAN_RETRY_MS} even at the shortest spacing (passes that
 * delete nothing back off, so far fewer); more are only remembered when a
 * store refuses thousands of objects one by one between deletes it allows.
 */
export const REFUSED_ORPHANS_REMEMBERED = 4_096;

export class RefusedOrphans {
  readonly #clock: MonotonicClock;
  /** Key → monotonic time of its refusal, in that order. */
  readonly #refusedAt = new Map<string, number>();

  constructor(clock: MonotonicClock) {
    this.#clock = clock;
  }

  /** How many objects are remembered. */
  get size(): number {
    return this.#refusedAt.size;
  }

  /**
   * A pass begins: objects refused {@link REFUSED_ORPHAN_RETRY_MS} ago or
   * more are forgotten (they are at the front: refusals are kept in order).
   */
  expire(): void {
    const oldest = this.#clock.monotonicNow() - REFUSED_ORPHAN_RETRY_MS;
    for (const [key, at] of this.#refusedAt) {
      if (at > oldest) break;
      this.#refusedAt.delete(key);
    }
  }

  /** Whether `key` was refused and is still to be skipped. */
  skips(key: string): boolean {
    return this.#refusedAt.has(key);
  }

  /**
   * The store refused to delete `key` for good. `key` is not remembered
   * (a pass skips those; one forgotten is tried again and remembered anew).
   */
  refused(key: string): void {
    if (this.#refusedAt.size >= REFUSED_ORPHANS_REMEMBERED)
      this.#refusedAt.delete(this.#refusedAt.keys().next().value as string);
    this.#refusedAt.set(key, this.#clock.monotonicNow());
  }
}

/**
 * The index region of a version-2 snapshot (see `snapshot-layout.ts`): the
 * length of each stored list, then its entries as dense positions, written
 * in slices from the index views frozen at the cut. A stored list that a
 * queue keeps in two indexes is their merge: the done list, of the two done
 * indexes (see `done-order.ts`, completion order); the claimed and the dead
 * list, of the jobs with generated ids and those with their own (see
 * `jobs-by-id.ts`, enqueue order).
 */
import type { SliceBudget } from "../util/slices.js";
import type { HandleIndex, IndexPosition, IndexView } from "./handle-index.js";
import type { QueueState } from "./queue-state.js";
import { INDEXES_PER_QUEUE } from "./snapshot-layout.js";
import { PAGE_BITS, type Page, slot } from "./table.js";

/**
 * The stored lists that merge two views, each with where its second view
 * sits in a queue's views (see {@link liveIndexes}) and whether the merge
 * is by completion time (else by enqueue order).
 */
const MERGED: ReadonlyMap<number, { second: number; byTime: boolean }> = new Map([
  [2, { second: INDEXES_PER_QUEUE + 1, byTime: false }],
  [3, { second: INDEXES_PER_QUEUE, byTime: true }],
  [5, { second: INDEXES_PER_QUEUE + 2, byTime: false }],
]);
/** Index entries written between two budget checks. */
const ENTRIES_PER_CHECK = 4_096;

/**
 * The indexes of `qs` in the order a snapshot stores them: pending,
 * scheduled, claimed (with generated ids), done without a result,
 * deadByTime, dead (with generated ids); then the second index of each
 * merged list: done with a result, claimed and dead with their own ids.
 */
export function liveIndexes(qs: QueueState): HandleIndex[] {
  return [
    qs.pending,
    qs.scheduled,
    qs.claimed.generated,
    qs.doneNoResult,
    qs.deadByTime,
    qs.deadById.generated,
    qs.doneWithResult,
    qs.claimed.ownBySeq,
    qs.deadById.ownBySeq,
  ];
}

/** The 32-bit words of the index region for `queues` (each one's views, in {@link liveIndexes} order). */
export function indexRegionWords(queues: readonly (readonly IndexView[])[]): number {
  let indexEntries = 0;
  for (const views of queues) for (const view of views) indexEntries += view.size;
  return queues.length * INDEXES_PER_QUEUE + indexEntries;
}

export class IndexRegionWriter {
  readonly #queues: readonly (readonly IndexView[])[];
  readonly #pages: readonly Page[];
  /** Dense position (in the snapshot) of each live row. */
  readonly #rank: Int32Array;
  /** The region, as words. */
  readonly #entries: Uint32Array;
  /** Queue, index within it, chunk, next entry's position in the region. */
  #queue = 0;
  #index = 0;
  #chunk = 0;
  #entryAt: number;
  /** Merging two views into a list: where each of the two is (chunk, offset). */
  readonly #merge = [
    { chunk: 0, offset: 0 },
    { chunk: 0, offset: 0 },
  ];

  /**
   * Writes the counts of the index lists of `queues` (each one's views, in
   * {@link liveIndexes} order) into `entries`, in front of their entries.
   * `pages` are the table's frozen pages, `rank` each live row's dense position.
   */
  constructor(
    queues: readonly (readonly IndexView[])[],
    pages: readonly Page[],
    rank: Int32Array,
    entries: Uint32Array,
  ) {
    this.#queues = queues;
    this.#pages = pages;
    this.#rank = rank;
    this.#entries = entries;
    let c = 0;
    for (const views of queues)
      for (let l = 0; l < INDEXES_PER_QUEUE; l++)
        entries[c++] = views[l]!.size + (views[MERGED.get(l)?.second ?? -1]?.size ?? 0);
    this.#entryAt = queues.length * INDEXES_PER_QUEUE;
  }

  /** The order of every index, as dense positions. True when done. */
  step(budget: SliceBudget): boolean {
    const entries = this.#entries;
    let since = 0;
    while (this.#queue < this.#queues.length) {
      const views = this.#queues[this.#queue]!;
      while (this.#index < INDEXES_PER_QUEUE) {
        const merged = MERGED.get(this.#index);
        // A list whose second view is empty is the first view as it is (a plain copy).
        if (merged !== undefined && views[merged.second]!.size > 0) {
          const first = views[this.#index]!;
          if (!this.#writeMerged(entries, first, views[merged.second]!, merged.byTime, budget))
            return false;
          since = 0;
        } else {
          const chunks = views[this.#index]!.chunks;
          while (this.#chunk < chunks.length) {
            const chunk = chunks[this.#chunk++]!;
            for (let k = 0; k < chunk.length; k++)
              entries[this.#entryAt++] = this.#rank[chunk[k]!]!;
            since += chunk.length;
            if (since >= ENTRIES_PER_CHECK) {
              since = 0;
              if (budget.spent()) return false;
            }
          }
        }
        this.#index++;
        this.#chunk = 0;
      }
      this.#queue++;
      this.#index = 0;
    }
    return true;
  }

  /**
   * A list of two views merged into one order (`byTime`: completion order,
   * `at` then `seq`; else enqueue order, `seq`; as of the cut), resuming
   * where the last slice stopped. True when both are written.
   */
  #writeMerged(
    entries: Uint32Array,
    a: IndexView,
    b: IndexView,
    byTime: boolean,
    budget: SliceBudget,
  ): boolean {
    const pages = this.#pages;
    const [pa, pb] = this.#merge as [IndexPosition, IndexPosition];
    const head = (view: IndexView, p: IndexPosition): number => {
      const chunk = view.chunks[p.chunk];
      return chunk === undefined ? -1 : chunk[p.offset]!;
    };
    const advance = (view: IndexView, p: IndexPosition): void => {
      if (++p.offset === view.chunks[p.chunk]!.length) {
        p.chunk++;
        p.offset = 0;
      }
    };
    let since = 0;
    for (;;) {
      const ha = head(a, pa);
      const hb = head(b, pb);
      if (ha === -1 && hb === -1) break;
      let takeA = hb === -1;
      if (ha !== -1 && hb !== -1) {
        const rowA = pages[ha >>> PAGE_BITS]!;
        const rowB = pages[hb >>> PAGE_BITS]!;
        const ia = slot(ha);
        const ib = slot(hb);
        const byAt = byTime ? rowA.at[ia]! - rowB.at[ib]! : 0;
        takeA = (byAt || rowA.seq[ia]! - rowB.seq[ib]!) < 0;
      }
      if (takeA) advance(a, pa);
      else advance(b, pb);
      entries[this.#entryAt++] = this.#rank[takeA ? ha : hb]!;
      if (++since >= ENTRIES_PER_CHECK) {
        since = 0;
        if (budget.spent()) return false;
      }
    }
    for (const p of this.#merge) {
      p.chunk = 0;
      p.offset = 0;
    }
    return true;
  }
}

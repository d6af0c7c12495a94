/**
 * The index region of a version-2 snapshot (see `snapshot-layout.ts`): the
 * length of each stored list, then its entries as dense positions, written
 * in slices from the index views frozen at the cut. The stored done list is
 * the merge of the two done indexes (see `done-order.ts`).
 */
import type { SliceBudget } from "../util/slices.js";
import type { HandleIndex, IndexPosition, IndexView } from "./handle-index.js";
import { INDEXES_PER_QUEUE } from "./snapshot-layout.js";
import type { QueueState } from "./state.js";
import { PAGE_BITS, type Page, slot } from "./table.js";

/** The stored list that merges the two done indexes (see `done-order.ts`). */
const DONE_LIST = 3;
/** Where the view of done jobs holding a result sits in a queue's views (see {@link liveIndexes}). */
const DONE_WITH_RESULT = INDEXES_PER_QUEUE;
/** Index entries written between two budget checks. */
const ENTRIES_PER_CHECK = 4_096;

/**
 * The indexes of `qs` in the order a snapshot stores them: pending,
 * scheduled, claimed, done without a result, deadByTime, deadBySeq, then
 * done with a result, which the stored done list merges in.
 */
export function liveIndexes(qs: QueueState): HandleIndex[] {
  return [
    qs.pending,
    qs.scheduled,
    qs.claimed,
    qs.doneNoResult,
    qs.deadByTime,
    qs.deadBySeq,
    qs.doneWithResult,
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
  /** Merging the done lists: where each of the two views is (chunk, offset). */
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
        entries[c++] = views[l]!.size + (l === DONE_LIST ? views[DONE_WITH_RESULT]!.size : 0);
    this.#entryAt = queues.length * INDEXES_PER_QUEUE;
  }

  /** The order of every index, as dense positions. True when done. */
  step(budget: SliceBudget): boolean {
    const entries = this.#entries;
    let since = 0;
    while (this.#queue < this.#queues.length) {
      const views = this.#queues[this.#queue]!;
      while (this.#index < INDEXES_PER_QUEUE) {
        if (this.#index === DONE_LIST) {
          if (!this.#writeMerged(entries, views[DONE_LIST]!, views[DONE_WITH_RESULT]!, budget))
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
   * The done list: the two done views merged into one completion order
   * (`at`, then `seq`, as of the cut), resuming where the last slice stopped.
   * True when both are written.
   */
  #writeMerged(entries: Uint32Array, a: IndexView, b: IndexView, budget: SliceBudget): boolean {
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
        takeA = (rowA.at[ia]! - rowB.at[ib]! || rowA.seq[ia]! - rowB.seq[ib]!) < 0;
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

/**
 * A flow parent's children as its children end: one child's end costs O(1)
 * (amortized), not a copy of the whole list, while every checkpoint still
 * reads the list as it was when the checkpoint cut the table.
 *
 * A checkpoint's view of the job table shares the jobs' extras with the live
 * table (`JobTable.freeze`), so a list that a view may hold must not change.
 * Each {@link FlowList} remembers the table generation it was made in (the
 * table counts its freezes): a list made since the last freeze is seen by no
 * view and is written in place; an older one is copied once, and the copy
 * is written in place from then on. The position of each child by id is
 * kept in a map that only grows (a child's position never changes), shared
 * by a list and its copies.
 */
import type { FlowChild, FlowChildren, JobTable } from "./table.js";

export class FlowList implements FlowChildren {
  waiting: number;
  readonly children: FlowChild[];
  readonly #generation: number;
  /** Position of a child by its log id (shared by copies; may know children a list does not hold). */
  #index: Map<string, number> | null;
  /**
   * The row of each child when it was added, by position (-1: not known), or
   * null. Only a guess: a child that ended may have left its row to another
   * job (`State.findGuessed` checks the row's id; `unlinkChildren` needs no
   * check, see there). Noted in the process that applied the enqueues, never
   * written to a checkpoint: a decoded list has none. Shared by copies.
   */
  readonly #rows: Int32Array | null;

  constructor(
    waiting: number,
    children: FlowChild[],
    generation: number,
    index: Map<string, number> | null = null,
    rows: Int32Array | null = null,
  ) {
    this.waiting = waiting;
    this.children = children;
    this.#generation = generation;
    this.#index = index;
    this.#rows = rows;
  }

  /** The row child `i` had when it was added, or -1 (a guess: see {@link #rows}). */
  rowGuess(i: number): number {
    const rows = this.#rows;
    return rows !== null && i < rows.length ? rows[i]! : -1;
  }

  /** The position of child `id` in {@link children}, or -1. */
  indexOf(id: string): number {
    if (this.#index === null) {
      const index = new Map<string, number>();
      for (let i = 0; i < this.children.length; i++) index.set(this.children[i]!.id, i);
      this.#index = index;
    }
    const i = this.#index.get(id);
    return i !== undefined && i < this.children.length && this.children[i]!.id === id ? i : -1;
  }

  /** Whether no view of `table` can hold this list, so it may be written in place. */
  ownedBy(table: JobTable): boolean {
    return this.#generation === table.generation;
  }

  /** A copy of this list, made now in `table` (so written in place until the next freeze). */
  copyIn(table: JobTable): FlowList {
    return new FlowList(
      this.waiting,
      this.children.slice(),
      table.generation,
      this.#index,
      this.#rows,
    );
  }
}

/**
 * `flow` as a {@link FlowList}: itself, or, the first time (a list decoded
 * from a checkpoint, or made when children were added), a copy to install in
 * the parent's extras, so later lookups by id cost O(1).
 */
export function asFlowList(table: JobTable, flow: FlowChildren): FlowList {
  return flow instanceof FlowList
    ? flow
    : new FlowList(flow.waiting, flow.children.slice(), table.generation);
}

/** `list`, when no view of `table` holds it, else its copy to install in the parent's extras. */
export function writable(table: JobTable, list: FlowList): FlowList {
  return list.ownedBy(table) ? list : list.copyIn(table);
}

/**
 * The flow children a run of enqueues (a transaction's) adds, gathered by
 * parent log id while the run is applied and then registered with each
 * parent in one step (`addNewChildren` in `flow-state.ts`): a flow of n
 * children costs O(n), not the O(n²) of copying the parent's list per child.
 * Children of one parent whose extras name only it share one frozen extras
 * object (as `groupOnlyExtras` does for groups), and a parent added by the
 * same run is found by its row, without the id index.
 */
import type { FlowChild, JobExtras } from "./table.js";

/** The children a run of enqueues adds to one parent, with their rows. */
export interface ChildrenOf {
  readonly children: FlowChild[];
  readonly rows: number[];
}

export class NewChildren {
  /** Children by parent log id, in the order they were added. */
  readonly byParent = new Map<string, ChildrenOf>();
  /** Rows of parents the run added (checked by `State.findGuessed` before use). */
  readonly parentRows = new Map<string, number>();
  /** Extras `{ flowParent }` per parent log id. */
  readonly #extras = new Map<string, JobExtras>();

  /** New job `h`, of log id `id`, is a parent waiting for children. */
  parentAdded(id: string, h: number): void {
    this.parentRows.set(id, h);
  }

  /** The extras of a new child of `parentId` that has no other extras. */
  extrasNaming(parentId: string): JobExtras {
    let extras = this.#extras.get(parentId);
    if (extras === undefined) {
      extras = Object.freeze({ flowParent: parentId });
      this.#extras.set(parentId, extras);
    }
    return extras;
  }

  /** New job `h` (log id `id`, public id `publicId`) is a child of `parentId`. */
  add(parentId: string, h: number, id: string, publicId: string): void {
    const of = this.listOf(parentId);
    of.children.push({ id, publicId, ended: false });
    of.rows.push(h);
  }

  /** The new children of `parentId` so far, to push more onto (in order, with their rows). */
  listOf(parentId: string): ChildrenOf {
    let of = this.byParent.get(parentId);
    if (of === undefined) {
      of = { children: [], rows: [] };
      this.byParent.set(parentId, of);
    }
    return of;
  }

  /** Forgets everything (at the end of a transaction). */
  clear(): void {
    this.byParent.clear();
    this.parentRows.clear();
    this.#extras.clear();
  }
}

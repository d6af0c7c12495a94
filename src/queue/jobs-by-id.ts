/**
 * The claimed, or the dead, jobs of one queue, listed by public id: the
 * caller's `jobId` when it chose one, else the generated id. Ids are
 * compared as JavaScript compares strings (UTF-16 code units); every job id
 * is ASCII (a generated ULID, or a `jobId` of `A–Z a–z 0–9 _ -`), where
 * that is also byte order.
 *
 * Generated ids grow in enqueue order, across restarts too, so jobs that
 * have one are kept by `seq`: the same comparison as before, and nothing
 * more on the claim and ack path than a look at whether the job has a
 * `jobId`. Only jobs with their own id pay for a second index: they are
 * kept by that id (listings merge the two by id) and by `seq` (a checkpoint
 * stores one enqueue-ordered list of each status, as it always did, so the
 * format is unchanged and the by-id index is rebuilt by a restore).
 */
import { HandleIndex, type IndexPosition } from "./handle-index.js";
import type { Orders } from "./state.js";

export class JobsById {
  /** Jobs with a generated id, in enqueue order (= the order of their ids). */
  readonly generated: HandleIndex;
  /** Jobs with their own id (`jobId`), in enqueue order: for checkpoints. */
  readonly ownBySeq: HandleIndex;
  /** Jobs with their own id, by that id: for listings. */
  readonly ownById: HandleIndex;
  readonly #ownIdOf: (h: number) => string | undefined;

  constructor(
    orders: Orders,
    parts?: { generated: HandleIndex; ownBySeq: HandleIndex; ownById: HandleIndex },
  ) {
    this.#ownIdOf = orders.ownIdOf;
    this.generated = parts?.generated ?? new HandleIndex(orders.bySeq);
    this.ownBySeq = parts?.ownBySeq ?? new HandleIndex(orders.bySeq);
    this.ownById = parts?.ownById ?? new HandleIndex(orders.byOwnId);
  }

  get size(): number {
    return this.generated.size + this.ownBySeq.size;
  }

  insert(h: number): void {
    if (this.#ownIdOf(h) === undefined) this.generated.insert(h);
    else {
      this.ownBySeq.insert(h);
      this.ownById.insert(h);
    }
  }

  delete(h: number): boolean {
    if (this.#ownIdOf(h) === undefined) return this.generated.delete(h);
    this.ownById.delete(h);
    return this.ownBySeq.delete(h);
  }

  /** Up to `limit` of the jobs (those with generated ids first), without building a list of all. */
  first(limit: number): number[] {
    const out: number[] = [];
    for (const index of [this.generated, this.ownBySeq]) {
      const position: IndexPosition = { chunk: 0, offset: 0 };
      for (let h = index.next(position); h !== -1 && out.length < limit; h = index.next(position))
        out.push(h);
    }
    return out;
  }

  /** Every job: those with generated ids, then those with their own (tests and audits, rebuilds). */
  toArray(): number[] {
    return [...this.generated.toArray(), ...this.ownBySeq.toArray()];
  }

  /** The first problem of the three indexes and their split, or null (tests and audits). */
  problems(): string | null {
    const problem =
      this.generated.problems() ?? this.ownBySeq.problems() ?? this.ownById.problems();
    if (problem !== null) return problem;
    for (const h of this.generated.toArray())
      if (this.#ownIdOf(h) !== undefined) return `job ${h} has its own id but is kept by seq`;
    const bySeq = this.ownBySeq.toArray();
    if (bySeq.length !== this.ownById.size || bySeq.some((h) => !this.ownById.has(h)))
      return "the indexes of jobs with their own ids hold different jobs";
    if (bySeq.some((h) => this.#ownIdOf(h) === undefined))
      return "a job without an id of its own is kept by its own id";
    return null;
  }
}

/** Jobs with their own ids sorted by them: ids and handles side by side. */
interface Run {
  ids: string[];
  handles: number[];
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `a` and `b` merged by id. */
function mergeRuns(a: Run, b: Run): Run {
  const ids: string[] = [];
  const handles: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.ids.length || j < b.ids.length) {
    const takeA = j === b.ids.length || (i < a.ids.length && a.ids[i]! < b.ids[j]!);
    if (takeA) {
      ids.push(a.ids[i]!);
      handles.push(a.handles[i++]!);
    } else {
      ids.push(b.ids[j]!);
      handles.push(b.handles[j++]!);
    }
  }
  return { ids, handles };
}

/**
 * A {@link JobsById} filled from a list of jobs in enqueue order (a
 * restore), a piece per call so that a long list is split over slices.
 * The by-id order of the jobs with their own ids is made by sorting each
 * piece and merging the sorted runs as a binary counter does (two runs are
 * merged once they are as long as each other), with their ids read once:
 * about a third of the cost of inserting each job into the index, and no
 * piece's step does more than one merge pass over the jobs so far.
 */
export class JobsByIdBuilder {
  readonly #orders: Orders;
  readonly #generated: HandleIndex;
  readonly #ownBySeq: HandleIndex;
  /** Sorted runs, longest first. */
  readonly #runs: Run[] = [];

  constructor(orders: Orders) {
    this.#orders = orders;
    this.#generated = new HandleIndex(orders.bySeq);
    this.#ownBySeq = new HandleIndex(orders.bySeq);
  }

  /** Adds `handles[from..to)`, in enqueue order and after every job added so far. */
  append(handles: ArrayLike<number>, from = 0, to = handles.length): void {
    const generated: number[] = [];
    const own: number[] = [];
    const ids: string[] = [];
    for (let k = from; k < to; k++) {
      const h = handles[k]!;
      const id = this.#orders.ownIdOf(h);
      if (id === undefined) generated.push(h);
      else {
        own.push(h);
        ids.push(id);
      }
    }
    this.#generated.appendSorted(generated);
    this.#ownBySeq.appendSorted(own);
    if (own.length === 0) return;
    const order = own.map((_, k) => k).sort((x, y) => compareStrings(ids[x]!, ids[y]!));
    this.#runs.push({ ids: order.map((k) => ids[k]!), handles: order.map((k) => own[k]!) });
    const runs = this.#runs;
    while (runs.length >= 2 && runs.at(-2)!.ids.length <= runs.at(-1)!.ids.length)
      runs.push(mergeRuns(runs.splice(-2, 1)[0]!, runs.pop()!));
  }

  finish(): JobsById {
    let all: Run = { ids: [], handles: [] };
    while (this.#runs.length > 0) all = mergeRuns(this.#runs.pop()!, all);
    return new JobsById(this.#orders, {
      generated: this.#generated,
      ownBySeq: this.#ownBySeq,
      ownById: HandleIndex.fromSorted(this.#orders.byOwnId, all.handles),
    });
  }
}

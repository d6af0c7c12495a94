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

import type { SliceBudget } from "../util/slices.js";
import { HandleIndex, type IndexPosition } from "./handle-index.js";
import { KeyedIndex } from "./keyed-index.js";
import type { Orders } from "./orders.js";

export class JobsById {
  /** Jobs with a generated id, in enqueue order (= the order of their ids). */
  readonly generated: HandleIndex;
  /** Jobs with their own id (`jobId`), in enqueue order: for checkpoints. */
  readonly ownBySeq: HandleIndex;
  /** Jobs with their own id, by that id: for listings. */
  readonly ownById: KeyedIndex;
  readonly #ownIdOf: (h: number) => string | undefined;

  constructor(
    orders: Orders,
    parts?: { generated: HandleIndex; ownBySeq: HandleIndex; ownById: KeyedIndex },
  ) {
    this.#ownIdOf = orders.ownIdOf;
    this.generated = parts?.generated ?? new HandleIndex(orders.bySeq);
    this.ownBySeq = parts?.ownBySeq ?? new HandleIndex(orders.bySeq);
    this.ownById = parts?.ownById ?? new KeyedIndex(orders.ownIdKey);
  }

  get size(): number {
    return this.generated.size + this.ownBySeq.size;
  }

  insert(h: number): void {
    const id = this.#ownIdOf(h);
    if (id === undefined) this.generated.insert(h);
    else {
      this.ownBySeq.insert(h);
      this.ownById.insert(h, id);
    }
  }

  delete(h: number): boolean {
    const id = this.#ownIdOf(h);
    if (id === undefined) return this.generated.delete(h);
    this.ownById.delete(h, id);
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

/** Elements a run keeps per chunk: a power of two. */
const RUN_CHUNK_BITS = 12;
const RUN_CHUNK = 1 << RUN_CHUNK_BITS;
const RUN_CHUNK_MASK = RUN_CHUNK - 1;

/**
 * Jobs with their own ids sorted by them: ids and handles side by side, in
 * chunks of {@link RUN_CHUNK} (every chunk but the last full). A merged run
 * grows to half a million entries and more: as one array, each growth
 * copied all of it in one step (18 ms at 872,448 ids in isolation, more on a
 * loaded core); chunks never copy.
 */
interface Run {
  readonly ids: string[][];
  readonly handles: number[][];
  length: number;
}

function emptyRun(): Run {
  return { ids: [], handles: [], length: 0 };
}

function pushToRun(run: Run, id: string, h: number): void {
  if ((run.length & RUN_CHUNK_MASK) === 0) {
    run.ids.push([]);
    run.handles.push([]);
  }
  run.ids.at(-1)!.push(id);
  run.handles.at(-1)!.push(h);
  run.length++;
}

function idAt(run: Run, k: number): string {
  return run.ids[k >>> RUN_CHUNK_BITS]![k & RUN_CHUNK_MASK]!;
}

function handleAt(run: Run, k: number): number {
  return run.handles[k >>> RUN_CHUNK_BITS]![k & RUN_CHUNK_MASK]!;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Elements a merge, or the build of the by-id index, advances between two budget checks. */
const PER_CHECK = RUN_CHUNK;

/** A merge by id of two adjacent runs, `a` before `b`, under way: `i` and `j` taken so far. */
interface Merge {
  readonly a: Run;
  readonly b: Run;
  i: number;
  j: number;
  readonly out: Run;
}

/** Advances `m` by up to `steps` elements; true when it is done. Ties go to `b`. */
function advanceMerge(m: Merge, steps: number): boolean {
  const { a, b, out } = m;
  let { i, j } = m;
  const end = Math.min(a.length + b.length, i + j + steps);
  while (i + j < end) {
    if (j === b.length || (i < a.length && idAt(a, i) < idAt(b, j))) {
      pushToRun(out, idAt(a, i), handleAt(a, i));
      i++;
    } else {
      pushToRun(out, idAt(b, j), handleAt(b, j));
      j++;
    }
  }
  m.i = i;
  m.j = j;
  return i === a.length && j === b.length;
}

/**
 * A {@link JobsById} filled from a list of jobs in enqueue order (a
 * restore), a piece per call so that a long list is split over slices.
 * The by-id order of the jobs with their own ids is made by sorting each
 * piece and merging the sorted runs as a binary counter does (two runs are
 * merged once they are as long as each other), with their ids read once:
 * about a third of the cost of inserting each job into the index.
 *
 * A merge is O(jobs so far) and the last ones O(all jobs), a stall of
 * hundreds of milliseconds at a million jobs in one step, so the merges
 * and the build of the index are resumable: {@link settle} and
 * {@link complete} advance them a bounded number of elements between checks
 * of a slice budget. The runs are merged in the same order however the
 * work is sliced, so the result is too.
 */
export class JobsByIdBuilder {
  readonly #orders: Orders;
  readonly #generated: HandleIndex;
  readonly #ownBySeq: HandleIndex;
  /** Sorted runs, longest first. */
  readonly #runs: Run[] = [];
  /** The merge of the last two runs, taken off `#runs`, under way. */
  #merge: Merge | null = null;
  /** Once {@link complete} merged every run: the by-id index, and how much of the run it holds. */
  #ownById: KeyedIndex | null = null;
  #indexed = 0;
  #done = false;

  constructor(orders: Orders) {
    this.#orders = orders;
    this.#generated = new HandleIndex(orders.bySeq);
    this.#ownBySeq = new HandleIndex(orders.bySeq);
  }

  /**
   * Adds `handles[from..to)`, in enqueue order and after every job added so
   * far. Sorts the piece; merging is left to {@link settle}, which must
   * have returned true since the last append (else the runs would be merged
   * in another order).
   */
  append(handles: ArrayLike<number>, from = 0, to = handles.length): void {
    if (this.#merge !== null || this.#ownById !== null)
      throw new Error("JobsByIdBuilder.append before its merges settled");
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
    const run = emptyRun();
    for (const k of order) pushToRun(run, ids[k]!, own[k]!);
    this.#runs.push(run);
  }

  /**
   * Merges the runs that are as long as each other (the binary counter),
   * until `budget` is spent (never, without one). True when none is left:
   * then the next piece may be appended.
   */
  settle(budget?: SliceBudget): boolean {
    return this.#work(false, budget);
  }

  /**
   * Merges every run and builds the by-id index, until `budget` is spent
   * (never, without one). True when done: then {@link result} gives it.
   */
  complete(budget?: SliceBudget): boolean {
    return this.#work(true, budget);
  }

  /** The jobs, once {@link complete} returned true. */
  result(): JobsById {
    if (!this.#done) throw new Error("JobsByIdBuilder.result before complete");
    return new JobsById(this.#orders, {
      generated: this.#generated,
      ownBySeq: this.#ownBySeq,
      ownById: this.#ownById!,
    });
  }

  /** {@link complete} in one step: for lists read in one go. */
  finish(): JobsById {
    this.complete();
    return this.result();
  }

  /** Merges (all of them, or those the binary counter calls for), then builds the index if `all`. */
  #work(all: boolean, budget: SliceBudget | undefined): boolean {
    const runs = this.#runs;
    while (!this.#done) {
      if (this.#merge !== null) {
        if (advanceMerge(this.#merge, PER_CHECK)) {
          runs.push(this.#merge.out);
          this.#merge = null;
        }
      } else if (runs.length >= 2 && (all || runs.at(-2)!.length <= runs.at(-1)!.length)) {
        const b = runs.pop()!;
        const a = runs.pop()!;
        this.#merge = { a, b, i: 0, j: 0, out: emptyRun() };
        continue;
      } else if (!all) return true;
      else {
        this.#ownById ??= new KeyedIndex(this.#orders.ownIdKey);
        // A chunk of the one run left per step (PER_CHECK is a chunk's size).
        const run = runs[0] ?? emptyRun();
        const chunk = this.#indexed >>> RUN_CHUNK_BITS;
        if (chunk < run.handles.length) {
          const handles = run.handles[chunk]!;
          this.#ownById.appendSorted(handles, 0, handles.length, run.ids[chunk]!);
          this.#indexed += handles.length;
        }
        if (this.#indexed === run.length) {
          this.#done = true;
          runs.length = 0;
          return true;
        }
      }
      if (budget?.spent()) return false;
    }
    return true;
  }
}

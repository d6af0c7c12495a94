/**
 * The index region of a version-2 snapshot (see `snapshot-layout.ts`), read
 * in slices: every stored list is checked — each entry a job of the list's
 * queue and status, listed once, in the index's order, as many as the table
 * holds — and loaded into its queue's indexes, the stored done list split
 * into the two done indexes (see `done-order.ts`), the claimed and dead
 * lists (enqueue order) into the jobs with generated ids and those with
 * their own, which are also indexed by that id (see `jobs-by-id.ts`).
 */
import type { SliceBudget } from "../util/slices.js";
import { DecodeError } from "./binary.js";
import { holdsResult } from "./done-order.js";
import { HandleIndex, type HandleOrder } from "./handle-index.js";
import { JobsByIdBuilder } from "./jobs-by-id.js";
import {
  INDEXES_PER_QUEUE,
  LITTLE_ENDIAN,
  QueueFlag,
  type QueueHead,
  swapBytes,
} from "./snapshot-layout.js";
import { type State, Status } from "./state.js";
import { PAGE_SLOTS } from "./table.js";

/** Entries checked between two budget checks. */
const PER_CHECK = 4_096;

export class IndexRegionReader {
  readonly #state: State;
  readonly #queues: readonly QueueHead[];
  /** Jobs per queue and status, from the columns (checked against the stored index lengths). */
  readonly #counts: readonly number[];
  readonly #jobs: number;
  /** Index pass: the list being checked, and how far. */
  #queue = 0;
  #list = 0;
  #entry = 0;
  readonly #entries: Uint32Array;
  /** Where each stored list starts in `#entries` (queue-major). */
  readonly #listStarts: number[] = [];
  readonly #seen: Uint8Array;
  /**
   * The current queue's indexes, built a piece per check as their lists are
   * checked (a queue of a million jobs in one go was a 6–24 ms step): one per
   * stored list but the done list, which is split by whether each job holds
   * a result into the two done indexes (`done-order.ts`), in completion order.
   */
  #built: HandleIndex[] = [];
  /**
   * The current queue's claimed (list 2) and dead (list 5) jobs, as built so
   * far: their by-id merges and index go in budgeted steps too (see `jobs-by-id.ts`).
   */
  #byId = new Map<number, JobsByIdBuilder>();
  #doneNoResult: number[] = [];
  #doneWithResult: number[] = [];

  /**
   * Checks the shape of `region` (the index region's bytes) for `queues`
   * and the `jobs` of `state`'s table; `counts` are its jobs per queue and
   * status (queue-major, five statuses).
   */
  constructor(
    region: Uint8Array,
    state: State,
    queues: readonly QueueHead[],
    counts: readonly number[],
    jobs: number,
  ) {
    this.#state = state;
    this.#queues = queues;
    this.#counts = counts;
    this.#jobs = jobs;
    const lists = this.#queues.length * INDEXES_PER_QUEUE;
    if (region.byteLength % 4 !== 0 || region.byteLength < lists * 4)
      throw new DecodeError("snapshot index region is malformed");
    const words = region.byteLength / 4;
    const entries = new Uint32Array(words);
    new Uint8Array(entries.buffer).set(region);
    if (!LITTLE_ENDIAN) swapBytes(new Uint8Array(entries.buffer), 4);
    let total = 0;
    for (let l = 0; l < lists; l++) total += entries[l]!;
    if (lists + total !== words)
      throw new DecodeError(
        `snapshot index lists hold ${words - lists} entries, counts say ${total}`,
      );
    this.#entries = entries;
    this.#entry = lists;
    this.#seen = new Uint8Array(this.#jobs);
    let at = lists;
    for (let l = 0; l < lists; l++) {
      this.#listStarts.push(at);
      at += entries[l]!;
    }
  }

  /** Checks every stored index order and loads the queues' indexes from it. True when done. */
  step(budget: SliceBudget): boolean {
    const entries = this.#entries;
    const { orders, table } = this.#state;
    const listOrders: HandleOrder[] = [
      orders.byPriority,
      orders.byTime,
      orders.bySeq,
      orders.byTime,
      orders.byTime,
      orders.bySeq,
    ];
    const listStatus = [
      Status.Pending,
      Status.Scheduled,
      Status.Claimed,
      Status.Done,
      Status.Dead,
      Status.Dead,
    ];
    while (this.#queue < this.#queues.length) {
      const q = this.#queue;
      const count = entries[q * INDEXES_PER_QUEUE + this.#list]!;
      const start = this.#listStarts[q * INDEXES_PER_QUEUE + this.#list]!;
      const status = listStatus[this.#list]!;
      if (count !== this.#counts[q * 5 + status])
        throw new DecodeError(
          `snapshot queue ${this.#queues[q]!.name}: index ${this.#list} holds ${count} jobs, the table ${this.#counts[q * 5 + status]}`,
        );
      const order = listOrders[this.#list]!;
      // The second dead list covers the same jobs as the first: marks alternate.
      const mark = this.#list === 5 ? 2 : 1;
      const byId = this.#list === 2 || this.#list === 5 ? this.#byIdBuilder(this.#list) : null;
      const built = status === Status.Done || byId !== null ? null : this.#index(this.#list, order);
      while (this.#entry < start + count) {
        // The merges of the pieces so far go in slices of their own (one is O(jobs so far)).
        if (byId !== null && !byId.settle(budget)) return false;
        const end = Math.min(start + count, this.#entry + PER_CHECK);
        for (let e = this.#entry; e < end; e++) {
          const h = entries[e]!;
          if (h >= this.#jobs) throw new DecodeError(`snapshot index entry ${h} out of range`);
          const page = table.read(h);
          const i = h % PAGE_SLOTS;
          if (page.status[i] !== status || page.queue[i] !== q || (this.#seen[h]! & mark) !== 0)
            throw new DecodeError(
              `snapshot index of queue ${this.#queues[q]!.name} lists job ${h} wrongly`,
            );
          this.#seen[h]! |= mark;
          if (e > start && order(entries[e - 1]!, h) >= 0)
            throw new DecodeError(
              `snapshot index of queue ${this.#queues[q]!.name} is out of order`,
            );
          if (status === Status.Done)
            (holdsResult(this.#state, h) ? this.#doneWithResult : this.#doneNoResult).push(h);
        }
        if (built !== null) built.appendSorted(entries, this.#entry, end);
        else if (byId !== null) byId.append(entries, this.#entry, end);
        else {
          this.#doneIndex(0).appendSorted(this.#doneNoResult);
          this.#doneIndex(1).appendSorted(this.#doneWithResult);
          this.#doneNoResult = [];
          this.#doneWithResult = [];
        }
        this.#entry = end;
        if (budget.spent()) return false;
      }
      if (byId !== null && !byId.complete(budget)) return false;
      this.#list++;
      if (this.#list === INDEXES_PER_QUEUE) {
        this.#addQueue(q);
        this.#queue++;
        this.#list = 0;
      }
    }
    return true;
  }

  /** The current queue's index `at` (a stored list, or 6 + 0/1 for the done ones), as built so far. */
  #index(at: number, order: HandleOrder): HandleIndex {
    let index = this.#built[at];
    if (index === undefined) {
      index = new HandleIndex(order);
      this.#built[at] = index;
    }
    return index;
  }

  /** The current queue's claimed (2) or dead (5) jobs by id, as built so far. */
  #byIdBuilder(list: number): JobsByIdBuilder {
    let builder = this.#byId.get(list);
    if (builder === undefined) {
      builder = new JobsByIdBuilder(this.#state.orders);
      this.#byId.set(list, builder);
    }
    return builder;
  }

  /** The current queue's done index without (0) or with (1) results, as built so far. */
  #doneIndex(which: 0 | 1): HandleIndex {
    return this.#index(INDEXES_PER_QUEUE + which, this.#state.orders.byTime);
  }

  #addQueue(q: number): void {
    const built = this.#built;
    const qs = this.#state.restoreQueue(this.#queues[q]!.name, {
      pending: built[0]!,
      scheduled: built[1]!,
      claimed: this.#byIdBuilder(2).result(),
      doneNoResult: this.#doneIndex(0),
      doneWithResult: this.#doneIndex(1),
      deadByTime: built[4]!,
      deadById: this.#byIdBuilder(5).result(),
    });
    this.#built = [];
    this.#byId = new Map();
    qs.doneCount = this.#queues[q]!.doneCount;
    qs.paused = (this.#queues[q]!.flags & QueueFlag.Paused) !== 0;
    qs.heldJob = (this.#queues[q]!.flags & QueueFlag.NoJobYet) === 0;
  }
}

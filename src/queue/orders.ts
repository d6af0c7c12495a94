/**
 * The orders the per-queue indexes keep their jobs in: comparisons over the
 * job table's columns, made once per state and shared by all its queues'
 * indexes (`queue-state.ts`, `jobs-by-id.ts`).
 */
import type { HandleOrder } from "./handle-index.js";
import { type JobTable, slot } from "./table.js";

/**
 * The orders of the per-queue indexes, over the table's columns. Every order
 * ends on `seq` (enqueue order, unique), or is by a unique key, so it is total.
 */
export interface Orders {
  /** Claim order: priority, then enqueue order. */
  readonly byPriority: HandleOrder;
  /** Promotion and retention order: `at`, then enqueue order. */
  readonly byTime: HandleOrder;
  /** Enqueue order (= id order for generated ids): claimed and dead jobs (`jobs-by-id.ts`). */
  readonly bySeq: HandleOrder;
  /** The caller's `jobId` of job `h`, or undefined (its public id is its generated id). */
  readonly ownIdOf: (h: number) => string | undefined;
  /** The caller's `jobId` of job `h`, which has one: the key of the by-id indexes (`keyed-index.ts`). */
  readonly ownIdKey: (h: number) => string;
}

/** The orders of the indexes over `table`'s columns (one set per state, shared by its queues). */
export function ordersOf(table: JobTable): Orders {
  return {
    byPriority(a, b) {
      const pa = table.read(a);
      const pb = table.read(b);
      const ia = slot(a);
      const ib = slot(b);
      return pa.priority[ia]! - pb.priority[ib]! || pa.seq[ia]! - pb.seq[ib]!;
    },
    byTime(a, b) {
      const pa = table.read(a);
      const pb = table.read(b);
      const ia = slot(a);
      const ib = slot(b);
      return pa.at[ia]! - pb.at[ib]! || pa.seq[ia]! - pb.seq[ib]!;
    },
    bySeq(a, b) {
      return table.read(a).seq[slot(a)]! - table.read(b).seq[slot(b)]!;
    },
    ownIdOf(h) {
      return table.read(h).extras?.[slot(h)]?.jobId;
    },
    ownIdKey(h) {
      return table.extras(h)!.jobId!;
    },
  };
}

/**
 * The in-memory state of a queue store: jobs and, per queue, the ordered
 * indexes a job sits in by status, the dedup index and the done counter.
 * Changed only by `apply` (and bulk-loaded by a restore).
 */
import { bulkLoad } from "sorted-btree/extended/bulkLoad.js";
import { BTree } from "../util/btree.js";

/** Job status as stored: small integers keep job objects compact. */
export const Status = {
  Pending: 0,
  Scheduled: 1,
  Claimed: 2,
  Done: 3,
  Dead: 4,
} as const;
export type StatusCode = (typeof Status)[keyof typeof Status];

/** Header map as stored; `undefined` on a job means "no headers". */
export type Headers = Readonly<Record<string, string>>;

/**
 * One job as held in memory. Deliberately flat and small: the payload is a
 * latin1 string (one char per byte) rather than a Uint8Array, and a single
 * `at` timestamp means claimedAt / runAt / completedAt / failedAt depending on
 * the status (each of those exists only in its status).
 */
export class Job {
  constructor(
    readonly id: string,
    readonly queue: QueueState,
    readonly payload: string,
    readonly headers: Headers | undefined,
    public status: StatusCode,
    public attempts: number,
    readonly maxAttempts: number,
    readonly priority: number,
    readonly enqueuedAt: number,
    /** Pending: 0; claimed: claimedAt; scheduled: runAt; done: completedAt; dead: failedAt. */
    public at: number,
    public lastError: string | undefined,
    public dedupKey: string | undefined,
    /** A cancel arrived while the job was claimed: a failed delivery removes it instead of retrying. */
    public cancelRequested: boolean,
  ) {}
}

export function byPriorityThenId(a: Job, b: Job): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function byTimeThenId(a: Job, b: Job): number {
  if (a.at !== b.at) return a.at - b.at;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Jobs of one queue grouped by status, used to bulk-load its indexes on restore. */
export interface QueueContents {
  pending: Job[];
  scheduled: Job[];
  claimed: Job[];
  done: Job[];
  dead: Job[];
}

const MAX_NODE_SIZE = 64;

function jobTree(jobs: Job[], compare: (a: Job, b: Job) => number): BTree<Job, undefined> {
  if (jobs.length === 0) return new BTree<Job, undefined>(undefined, compare, MAX_NODE_SIZE);
  // TimSort is linear on the (nearly) sorted input a snapshot produces.
  jobs.sort(compare);
  return bulkLoad<Job, undefined>(jobs, new Array(jobs.length), MAX_NODE_SIZE, compare);
}

/**
 * Everything known about one queue name. A job sits in exactly one of the
 * indexes that match its status; the live counters are the index sizes.
 * (Index fields are assigned only by the constructor and {@link QueueState.restore}.)
 */
export class QueueState {
  /** Claim order. */
  pending = new BTree<Job, undefined>(undefined, byPriorityThenId, MAX_NODE_SIZE);
  /** Promotion order (`at` = runAt). */
  scheduled = new BTree<Job, undefined>(undefined, byTimeThenId, MAX_NODE_SIZE);
  readonly claimed = new Set<Job>();
  /** Listing order. */
  deadById = new BTree<string, Job>(undefined, byString, MAX_NODE_SIZE);
  /** Retention order (`at` = failedAt). */
  deadByTime = new BTree<Job, undefined>(undefined, byTimeThenId, MAX_NODE_SIZE);
  /** Kept done jobs in retention order (`at` = completedAt). */
  done = new BTree<Job, undefined>(undefined, byTimeThenId, MAX_NODE_SIZE);
  /** dedupKey → the pending or scheduled job holding it. */
  readonly dedup = new Map<string, Job>();
  /** Cumulative acks. */
  doneCount = 0;

  constructor(readonly name: string) {}

  /** Fill the (empty) indexes from a restored snapshot in O(n) rather than n inserts. */
  restore(contents: QueueContents): void {
    this.pending = jobTree(contents.pending, byPriorityThenId);
    this.scheduled = jobTree(contents.scheduled, byTimeThenId);
    for (const job of contents.claimed) this.claimed.add(job);
    this.done = jobTree(contents.done, byTimeThenId);
    const dead = contents.dead.sort((a, b) => byString(a.id, b.id));
    this.deadById =
      dead.length === 0
        ? new BTree<string, Job>(undefined, byString, MAX_NODE_SIZE)
        : bulkLoad(
            dead.map((j) => j.id),
            dead,
            MAX_NODE_SIZE,
            byString,
          );
    this.deadByTime = jobTree([...dead], byTimeThenId);
    for (const job of [...contents.pending, ...contents.scheduled])
      if (job.dedupKey !== undefined) this.dedup.set(job.dedupKey, job);
  }
}

/** The whole in-memory state of a queue store. Changed only by `apply`. */
export class State {
  readonly jobs = new Map<string, Job>();
  readonly queues = new Map<string, QueueState>();
  /** Newest id ever issued (seeds the id generator after a restart). */
  lastId: string | null = null;

  queue(name: string): QueueState {
    let qs = this.queues.get(name);
    if (qs === undefined) {
      qs = new QueueState(name);
      this.queues.set(name, qs);
    }
    return qs;
  }
}

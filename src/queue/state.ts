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

function byPriorityThenId(a: Job, b: Job): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function byTimeThenId(a: Job, b: Job): number {
  if (a.at !== b.at) return a.at - b.at;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Everything known about one queue name. A job sits in exactly one of the
 * indexes that match its status; the live counters are the index sizes.
 */
export class QueueState {
  /** Claim order. */
  readonly pending = new BTree<Job, undefined>(undefined, byPriorityThenId);
  /** Promotion order (`at` = runAt). */
  readonly scheduled = new BTree<Job, undefined>(undefined, byTimeThenId);
  readonly claimed = new Set<Job>();
  /** Listing order. */
  readonly deadById = new BTree<string, Job>(undefined, byString);
  /** Retention order (`at` = failedAt). */
  readonly deadByTime = new BTree<Job, undefined>(undefined, byTimeThenId);
  /** Kept done jobs in retention order (`at` = completedAt). */
  readonly done = new BTree<Job, undefined>(undefined, byTimeThenId);
  /** dedupKey → the pending or scheduled job holding it. */
  readonly dedup = new Map<string, Job>();
  /** Cumulative acks. */
  doneCount = 0;

  constructor(readonly name: string) {}
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

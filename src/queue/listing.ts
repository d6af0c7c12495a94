/**
 * Walking the jobs of one queue in one status, in that status's documented
 * order, from a position that survives changes to the state: `listJobs`
 * pages (shared by `Queue` and `QueueReader`) and the bulk operations'
 * resumable scans. Owns the orders' keys and the cursor format.
 *
 * Orders: pending in claim order (priority, then enqueue order), scheduled by
 * `runAt`, claimed and dead by public id (see `jobs-by-id.ts`), done by
 * completion time; ties in time fall back to enqueue order. The bulk
 * operations walk claimed and dead jobs in enqueue order instead ({@link walk}).
 * A position is the key of the last job seen (for an id order, the id), not a
 * place in an index, so a walk resumed after changes goes on exactly after
 * that key: no job is returned twice, and none is skipped, while it keeps its
 * key. A job whose key changes within its status (a scheduled job that
 * `dedupReplace` gives a new `runAt`) is listed where it is when the walk
 * gets there: again if it moved past the walk's position, not at all if it
 * moved before it unseen.
 */
import {
  checkBoolean,
  checkInteger,
  checkOptionsObject,
  checkString,
  describeValue,
  invalidArgument,
  invalidArgumentGot,
} from "../validate.js";
import type { JobsById } from "./jobs-by-id.js";
import type { QueueState } from "./queue-state.js";
import type { State } from "./state.js";
import { slot } from "./table.js";
import type { JobStatus } from "./types.js";

/**
 * Options of `listJobs`. A key not declared here is refused
 * (`InvalidArgumentError`): a misspelt cursor would list from the first job.
 */
export interface ListJobsOptions {
  /**
   * Where to go on: the `nextCursor` of the previous page (same queue and
   * status). For claimed and dead jobs it holds the last job's id; one of
   * an earlier release, which listed them in enqueue order, is refused
   * (`InvalidArgumentError`): list again from the first page.
   * @default none (from the first job)
   * @example { cursor: page.nextCursor }
   */
  cursor?: string;
  /**
   * Page size, an integer from 1 to {@link MAX_LIST_LIMIT}.
   * @default 100
   * @example { limit: 500 }
   */
  limit?: number;
  /**
   * Read offloaded payloads back from their objects. With `false` an
   * offloaded job's `payload` is empty and `payloadRef` and `payloadSize` say
   * where it is and how large: a listing costs no store read. A
   * `QueueReader`'s `listJobs` never reads them and refuses `true`
   * (`InvalidArgumentError`); its `listJobsLoaded` always does.
   * @default true (`Queue.listJobs`); false, the only value taken (`QueueReader.listJobs`)
   * @example
   * ```ts
   * const { jobs } = await queue.listJobs("reports", "dead", { loadPayloads: false });
   * for (const job of jobs) console.log(job.id, job.payloadSize ?? job.payload.byteLength);
   * ```
   */
  loadPayloads?: boolean;
}

/** The keys of {@link ListJobsOptions}: any other is refused. */
const LIST_JOBS_KEYS = [
  "cursor",
  "limit",
  "loadPayloads",
] as const satisfies readonly (keyof ListJobsOptions)[];

/** A page of `listJobs`. */
export interface JobPage<J> {
  /** The jobs of the page, in the status's listing order. */
  jobs: J[];
  /** Present when more jobs may follow: pass it as `cursor` for the next page. */
  nextCursor?: string;
}

/** Page size of `listJobs` when `options.limit` is left out. */
export const DEFAULT_LIST_LIMIT = 100;
/** Largest page `listJobs` returns (`options.limit`). */
export const MAX_LIST_LIMIT = 1_000;

export const JOB_STATUSES: readonly JobStatus[] = [
  "pending",
  "scheduled",
  "claimed",
  "done",
  "dead",
];

/** A position in a walk: the key of the last job seen (two numbers; the second is `seq`). */
export type WalkKey = readonly [number, number];

/**
 * Where a `listJobs` page starts: after a key of {@link walk}, or (claimed
 * and dead jobs) after an id; `null` from the first job.
 */
export type ListPosition = WalkKey | string | null;

/** The statuses `listJobs` lists by public id. */
const BY_ID: ReadonlySet<JobStatus> = new Set<JobStatus>(["claimed", "dead"]);

type Index = QueueState["pending"];

/**
 * The indexes a status is walked on (more than one are merged by key), and
 * each job's key in them.
 */
interface StatusOrder {
  indexes(qs: QueueState): readonly Index[];
  key(state: State, h: number): WalkKey;
}

const bySeq = (state: State, h: number): WalkKey => [0, state.table.read(h).seq[slot(h)]!];
const byAt = (state: State, h: number): WalkKey => {
  const page = state.table.read(h);
  return [page.at[slot(h)]!, page.seq[slot(h)]!];
};

const ORDERS: Record<JobStatus, StatusOrder> = {
  pending: {
    indexes: (qs) => [qs.pending],
    key: (state, h) => {
      const page = state.table.read(h);
      return [page.priority[slot(h)]!, page.seq[slot(h)]!];
    },
  },
  scheduled: { indexes: (qs) => [qs.scheduled], key: byAt },
  // Enqueue order: the jobs with generated ids and those with their own (`jobs-by-id.ts`).
  claimed: { indexes: (qs) => [qs.claimed.generated, qs.claimed.ownBySeq], key: bySeq },
  // Done jobs with a result and without are kept apart (`done-order.ts`); both by completion.
  done: { indexes: (qs) => [qs.doneNoResult, qs.doneWithResult], key: byAt },
  dead: { indexes: (qs) => [qs.deadById.generated, qs.deadById.ownBySeq], key: bySeq },
};

function compareKeys(a: WalkKey, b: WalkKey): number {
  return a[0] - b[0] || a[1] - b[1];
}

/**
 * Calls `visit(h, key)` for the jobs of `qs` in `status` after `from` (from
 * the first when `null`), in order, while it returns true. Claimed and dead
 * jobs come in enqueue order here (the bulk operations' scans); listings
 * take them by id ({@link walkById}).
 */
export function walk(
  state: State,
  qs: QueueState,
  status: JobStatus,
  from: WalkKey | null,
  visit: (h: number, key: WalkKey) => boolean,
): void {
  const order = ORDERS[status];
  const indexes = order.indexes(qs);
  const positions = indexes.map((index) =>
    from === null
      ? { chunk: 0, offset: 0 }
      : index.seek((h) => compareKeys(order.key(state, h), from) <= 0),
  );
  // The next job of each index and its key (-1 once that index is walked to its end).
  const heads = indexes.map((index, k) => index.next(positions[k]!));
  const keys = heads.map((h) => (h === -1 ? null : order.key(state, h)));
  for (;;) {
    let k = -1;
    for (let j = 0; j < heads.length; j++)
      if (keys[j] !== null && (k === -1 || compareKeys(keys[j]!, keys[k]!) < 0)) k = j;
    if (k === -1) return;
    const h = heads[k]!;
    const key = keys[k]!;
    const next = indexes[k]!.next(positions[k]!);
    heads[k] = next;
    keys[k] = next === -1 ? null : order.key(state, next);
    if (!visit(h, key)) return;
  }
}

/**
 * Calls `visit(h, id)` for the jobs of `jobs` whose public id sorts after
 * `after` (all when `null`), in id order, while it returns true. `after` is
 * a plain exclusive bound: any string, the id of a job or not. The jobs with
 * generated ids are in enqueue order, which is the order of those ids, so
 * both of its indexes are sought by id and merged by id.
 */
export function walkById(
  state: State,
  jobs: JobsById,
  after: string | null,
  visit: (h: number, id: string) => boolean,
): void {
  const ownIdOf = state.orders.ownIdOf;
  const generated = jobs.generated;
  const own = jobs.ownById;
  const atGenerated =
    after === null ? { chunk: 0, offset: 0 } : generated.seek((h) => state.idOf(h) <= after);
  const atOwn = after === null ? { chunk: 0, offset: 0 } : own.seekAfter(after);
  let g = generated.next(atGenerated);
  let gid = g === -1 ? "" : state.idOf(g);
  let o = own.next(atOwn);
  let oid = o === -1 ? "" : ownIdOf(o)!;
  for (;;) {
    if (g === -1 && o === -1) return;
    // Ties (a `jobId` spelt like another job's generated id) go to the generated one.
    if (o === -1 || (g !== -1 && gid <= oid)) {
      if (!visit(g, gid)) return;
      g = generated.next(atGenerated);
      gid = g === -1 ? "" : state.idOf(g);
    } else {
      if (!visit(o, oid)) return;
      o = own.next(atOwn);
      oid = o === -1 ? "" : ownIdOf(o)!;
    }
  }
}

/** The key of job `h` in `status`'s order. */
export function keyOf(state: State, h: number, status: JobStatus): WalkKey {
  return ORDERS[status].key(state, h);
}

/** A cursor of a status listed by key: `<status>:<number>.<number>` (the walk key). */
const CURSOR = /^(pending|scheduled|claimed|done|dead):(\d{1,16})\.(\d{1,16})$/;
/** A cursor of a status listed by id: `<status>:<id>` (the last job's public id). */
const ID_CURSOR = /^(claimed|dead):([A-Za-z0-9_-]{1,128})$/;

function encodeCursor(status: JobStatus, key: WalkKey | string): string {
  return typeof key === "string" ? `${status}:${key}` : `${status}:${key[0]}.${key[1]}`;
}

/**
 * Refuses the `loadPayloads` a reader's listing does not take: `true` on its
 * `listJobs` (`loaded` false: it answers at once and reads no payload
 * object), `false` on its `listJobsLoaded` (`loaded` true: that is `listJobs`).
 */
export function refuseReaderLoadPayloads(options: ListJobsOptions, loaded: boolean): void {
  const asked = (options as ListJobsOptions | null)?.loadPayloads;
  if (!loaded && asked === true)
    throw invalidArgumentGot(
      "options.loadPayloads",
      "false or absent on a QueueReader (its listJobs answers at once and reads no payload object)",
      "true; use `reader.listJobsLoaded(...)` to read offloaded payloads",
    );
  if (loaded && asked === false)
    throw invalidArgument(
      "options.loadPayloads",
      "true or absent on listJobsLoaded (use `reader.listJobs(...)` to leave payloads unread)",
      false,
    );
}

/** Checked `listJobs` arguments: the status, where to start, and the page size. */
export function checkListJobs(
  status: unknown,
  options: ListJobsOptions,
): { status: JobStatus; from: ListPosition; limit: number; loadPayloads: boolean } {
  if (typeof status !== "string" || !(JOB_STATUSES as readonly string[]).includes(status))
    throw invalidArgument(
      "status",
      `one of ${JOB_STATUSES.map((s) => `"${s}"`).join(", ")}`,
      status,
    );
  checkOptionsObject(options, "options", LIST_JOBS_KEYS);
  const limit =
    options.limit === undefined
      ? DEFAULT_LIST_LIMIT
      : checkInteger(options.limit, "options.limit", 1, MAX_LIST_LIMIT);
  const loadPayloads =
    options.loadPayloads === undefined
      ? true
      : checkBoolean(options.loadPayloads, "options.loadPayloads");
  if (options.cursor === undefined)
    return { status: status as JobStatus, from: null, limit, loadPayloads };
  const cursor = checkString(options.cursor, "options.cursor");
  const expected = `a nextCursor of listJobs for "${status}" jobs`;
  if (BY_ID.has(status as JobStatus)) {
    const byId = ID_CURSOR.exec(cursor);
    if (byId !== null && byId[1] === status)
      return { status: status as JobStatus, from: byId[2]!, limit, loadPayloads };
    // Earlier releases listed these jobs in enqueue order, and their cursors hold no id.
    if (CURSOR.exec(cursor)?.[1] === status)
      throw invalidArgumentGot(
        "options.cursor",
        expected,
        `${describeValue(cursor)} (a cursor of an earlier release, which listed ${status} jobs in enqueue order: list again from the first page)`,
      );
    throw invalidArgument("options.cursor", expected, cursor);
  }
  const match = CURSOR.exec(cursor);
  const key: WalkKey | null = match === null ? null : [Number(match[2]), Number(match[3])];
  if (
    match === null ||
    match[1] !== status ||
    !Number.isSafeInteger(key![0]) ||
    !Number.isSafeInteger(key![1])
  )
    throw invalidArgument("options.cursor", expected, cursor);
  return { status: status as JobStatus, from: key, limit, loadPayloads };
}

/** One page of `listJobs`: the handles, and the cursor of the next page when more follow. */
export function listJobsPage(
  state: State,
  queue: string,
  status: JobStatus,
  from: ListPosition,
  limit: number,
): JobPage<number> {
  const qs = state.queues.get(queue);
  const jobs: number[] = [];
  if (qs === undefined) return { jobs };
  let last: WalkKey | string | null = null;
  let more = false;
  const take = (h: number, key: WalkKey | string): boolean => {
    if (jobs.length === limit) {
      more = true;
      return false;
    }
    jobs.push(h);
    last = key;
    return true;
  };
  if (BY_ID.has(status)) {
    const byId = status === "claimed" ? qs.claimed : qs.deadById;
    walkById(state, byId, typeof from === "string" ? from : null, take);
  } else walk(state, qs, status, typeof from === "string" ? null : from, take);
  return more && last !== null ? { jobs, nextCursor: encodeCursor(status, last) } : { jobs };
}

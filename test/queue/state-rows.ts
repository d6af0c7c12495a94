/**
 * Test helper: the jobs of a queue `State` as plain objects (materialised
 * from the job table), for assertions, audits and canonical dumps.
 */
import { decodeHistory } from "../../src/queue/history.js";
import { type State, Status, type StatusCode } from "../../src/queue/state.js";
import { Flag, slot } from "../../src/queue/table.js";
import type { JobAttempt } from "../../src/queue/types.js";

export const STATUS_NAMES = ["pending", "scheduled", "claimed", "done", "dead"] as const;

/** One job as a plain object. */
export interface Row {
  h: number;
  id: string;
  queue: string;
  status: StatusCode;
  attempts: number;
  maxAttempts: number;
  priority: number;
  enqueuedAt: number;
  at: number;
  seq: number;
  lastError: string | undefined;
  dedupKey: string | undefined;
  /** The caller-chosen id, if any. */
  jobId: string | undefined;
  headers: Record<string, string> | undefined;
  cancelRequested: boolean;
  /** latin1, one char per byte. */
  payload: string;
  /** latin1 result bytes. */
  result: string | undefined;
  /** Fields in one order, absent ones as null, so digests compare equal. */
  history:
    | (Omit<JobAttempt, "claimedAt" | "error"> & {
        claimedAt: number | null;
        error: string | null;
      })[]
    | undefined;
  timeoutMs: number | undefined;
  payloadRef: { key: string; size: number } | undefined;
  /** A flow child's parent (log id); a flow parent's children (result bytes as latin1). */
  flowParent: string | undefined;
  waitingChildren: boolean;
  flow:
    | {
        waiting: number;
        children: {
          id: string;
          publicId: string;
          ended: boolean;
          removed: boolean;
          result: string | null;
        }[];
      }
    | undefined;
  groupKey: string | undefined;
  progress: string | undefined;
}

/** Job `h` as a plain object. */
export function rowOf(state: State, h: number): Row {
  const page = state.table.read(h);
  const i = slot(h);
  const extras = state.table.extras(h);
  return {
    h,
    id: state.idOf(h),
    queue: state.queueOf(h).name,
    status: page.status[i] as StatusCode,
    attempts: page.attempts[i]!,
    maxAttempts: page.maxAttempts[i]!,
    priority: page.priority[i]!,
    enqueuedAt: page.enqueuedAt[i]!,
    at: page.at[i]!,
    seq: page.seq[i]!,
    lastError: extras?.lastError,
    dedupKey: extras?.dedupKey,
    jobId: extras?.jobId,
    headers: extras?.headers === undefined ? undefined : { ...extras.headers },
    cancelRequested: (page.flags[i]! & Flag.CancelRequested) !== 0,
    payload: Buffer.from(state.payloadOf(h)).toString("latin1"),
    result:
      extras?.result === undefined ? undefined : Buffer.from(extras.result).toString("latin1"),
    history: (extras?.history === undefined ? undefined : decodeHistory(extras.history))?.map(
      (e) => ({
        attempt: e.attempt,
        claimedAt: e.claimedAt ?? null,
        recordedAt: e.recordedAt,
        outcome: e.outcome,
        error: e.error ?? null,
      }),
    ),
    timeoutMs: extras?.timeoutMs,
    payloadRef: extras?.payloadRef === undefined ? undefined : { ...extras.payloadRef },
    flowParent: extras?.flowParent,
    waitingChildren: (page.flags[i]! & Flag.WaitingChildren) !== 0,
    flow:
      extras?.flow === undefined
        ? undefined
        : {
            waiting: extras.flow.waiting,
            children: extras.flow.children.map((c) => ({
              id: c.id,
              publicId: c.publicId,
              ended: c.ended,
              removed: c.removed === true,
              result: c.result === undefined ? null : Buffer.from(c.result).toString("latin1"),
            })),
          },
    groupKey: extras?.groupKey,
    progress: extras?.progress,
  };
}

/** Every job, in id order. */
export function rows(state: State): Row[] {
  return state
    .handles()
    .map((h) => rowOf(state, h))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The job with id `id`, or undefined. */
export function row(state: State, id: string): Row | undefined {
  const h = state.find(id);
  return h === -1 ? undefined : rowOf(state, h);
}

export { Status };

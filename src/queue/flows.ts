/**
 * Flows (`enqueueFlow`, `childResults`): a parent job with children, nested
 * up to `MAX_FLOW_DEPTH` levels, added as one transaction record. A parent
 * becomes claimable only once each of its children ended (see
 * `flow-state.ts` for how `apply` keeps that); its handler reads their
 * results with `childResults`.
 * Cancelling a waiting parent cancels its children that have not ended
 * (`cancelTree` in `flow-state.ts`).
 */
import { DuplicateJobIdError } from "../errors.js";
import { nextTurn, type SliceBudget } from "../util/slices.js";
import { checkString, invalidArgument, invalidArgumentGot } from "../validate.js";
import type { QueueCore } from "./core.js";
import { type CheckedJob, checkJob } from "./enqueue.js";
import {
  checkLostJobIds,
  commitPrepared,
  type FlowOp,
  type PreparedFlow,
  prepareFlow,
  refuseTakenJobIds,
} from "./flow-commit.js";
import { copyFlow } from "./flow-copy.js";
import { JOB_HINTS, type OptionWarnings, type UnknownKeys } from "./option-warnings.js";
import { ENQUEUE_OPTION_KEYS, type EnqueueOptions } from "./options.js";
import { traced } from "./producers.js";
import { durableRead } from "./reads.js";
import type { State } from "./state.js";
import type { PayloadRef } from "./table.js";
import { offload } from "./transaction.js";
import type { Payload } from "./types.js";
import { checkQueueName } from "./validate.js";

/** Most jobs one flow may hold, parents and children at every depth together. */
export const MAX_FLOW_JOBS = 10_000;

/**
 * Most levels one flow may nest (the root is level 1). Checking a flow, and
 * `apply` following its links (a dead child's end up to the root, a requeue or
 * a cancel down to the leaves), take one stack frame per level: this keeps a
 * chain of them well inside the default stack, so a deeper one is refused with
 * a typed error rather than overflowing the stack.
 */
export const MAX_FLOW_DEPTH = 1_000;

/** A job of a flow, with the children it waits for. */
export interface FlowJob {
  /**
   * The queue the job goes to.
   * @example { queue: "render", payload: '{"page":1}' }
   */
  queue: string;
  /**
   * The job's payload, as for `enqueue`.
   * @example { queue: "render", payload: '{"page":1}' }
   */
  payload: Payload;
  /**
   * As for `enqueue`, but (each refused with `InvalidArgumentError`):
   * - a job with children takes no `runAt` or `delayMs`: it runs once its
   *   last child ended and has no time of its own (to hold it until a time
   *   too, give it a child with that `runAt`);
   * - no job of a flow takes a `dedupKey`: a flow is added whole, and a
   *   dedup hit adds nothing, which would leave a parent waiting on a job
   *   outside its flow (`jobId`s make a flow's enqueue idempotent instead:
   *   a taken one rejects the whole flow with `DuplicateJobIdError`).
   * @default the queue's config, as for `enqueue`
   * @example { queue: "publish", payload: "book-7", options: { jobId: "publish-book-7", priority: 1 } }
   */
  options?: EnqueueOptions;
  /**
   * Jobs to finish before this one becomes claimable.
   * @default none: the job is claimable at once (or at its `runAt`)
   * @example { queue: "publish", payload: "book-7", children: [{ queue: "render", payload: "ch-1" }] }
   */
  children?: FlowJob[];
}

/** Every key of {@link FlowJob}: `enqueueFlow` warns of others (a misspelt `children` would enqueue the parent alone). */
const FLOW_JOB_KEYS: readonly string[] = Object.keys({
  queue: true,
  payload: true,
  options: true,
  children: true,
} satisfies Record<keyof FlowJob, true>);

/** Flow jobs whose keys are looked at, at most: the first ones, breadth first (a misspelt key is in the first, or in all). */
const FLOW_JOBS_CHECKED = 64;

/** `object[key]` when it is a plain data property; a getter is not run (it is the caller's). */
function dataValue(object: object, key: string): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  return descriptor !== undefined && "value" in descriptor ? descriptor.value : undefined;
}

/**
 * The unknown keys of the first jobs of `flow` (the caller's objects, which
 * the flow's copy leaves behind, so they are looked at in the call's turn)
 * and of their options, to tell once the flow is enqueued. Reads data
 * properties only and never throws: a getter or a proxy of the caller's
 * runs no more often than without this look.
 */
function unknownFlowKeys(warnings: OptionWarnings, flow: unknown): UnknownKeys[] {
  const found: UnknownKeys[] = [];
  try {
    const nodes: unknown[] = [flow];
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i];
      if (typeof node !== "object" || node === null || Array.isArray(node)) continue;
      const own = warnings.find(node, "flow jobs", FLOW_JOB_KEYS);
      if (own !== undefined) found.push(own);
      const options = warnings.find(
        dataValue(node, "options"),
        "enqueue options",
        ENQUEUE_OPTION_KEYS,
      );
      if (options !== undefined) found.push(options);
      const children = dataValue(node, "children");
      if (!Array.isArray(children)) continue;
      for (let c = 0; c < children.length && nodes.length < FLOW_JOBS_CHECKED; c++)
        nodes.push(dataValue(children, String(c)));
    }
  } catch {
    // a proxy's trap that throws: the flow's own checks meet it
  }
  return found;
}

/** The ids a flow's jobs got, in the flow's shape. */
export interface FlowResult {
  /** The job's id. */
  id: string;
  /** The ids of its children, in the order they were given. */
  children: FlowResult[];
}

/** Flow jobs checked between two looks at the slice's budget. */
const JOBS_PER_CHECK = 64;

/**
 * Checks `flow` (the queue's private copy of the caller's, `flow-copy.ts`)
 * and lists its enqueues parent first (pre-order), with their links. The
 * checks here are of the arguments only (nothing of the state), so they run
 * in slices of the event loop, yielding whenever `budget` is spent: a
 * 10,000-job flow does not hold the loop while it is checked. What depends
 * on the state (a taken `jobId`, the time a `delayMs` runs to) is decided
 * after, in `prepareFlow` and the turn that commits (`flow-commit.ts`).
 */
async function flowOps(core: QueueCore, flow: unknown, budget: SliceBudget): Promise<FlowOp[]> {
  const ops: FlowOp[] = [];
  /**
   * The lists of children being walked, the innermost last (an explicit
   * stack, so the walk can yield), each with the next child to check.
   */
  const stack: {
    list: readonly unknown[];
    next: number;
    arg: string;
    parent: number;
    depth: number;
  }[] = [];
  let node: unknown = flow;
  let arg = "flow";
  let parent: number | undefined;
  let depth = 1;
  for (;;) {
    // Counted (and copied) only up to one job past the limit.
    if (ops.length === MAX_FLOW_JOBS)
      throw invalidArgumentGot(
        "flow",
        `a flow of at most ${MAX_FLOW_JOBS} jobs (MAX_FLOW_JOBS)`,
        `more than ${MAX_FLOW_JOBS} jobs`,
      );
    if (depth > MAX_FLOW_DEPTH)
      throw invalidArgumentGot(
        "flow",
        `a flow nested at most ${MAX_FLOW_DEPTH} levels deep (MAX_FLOW_DEPTH)`,
        `more than ${MAX_FLOW_DEPTH} levels`,
      );
    if (typeof node !== "object" || node === null || Array.isArray(node))
      throw invalidArgument(arg, "an object { queue, payload, options?, children? }", node);
    const { queue, payload, options, children } = node as Record<string, unknown>;
    if (children !== undefined && !Array.isArray(children))
      throw invalidArgument(`${arg}.children`, "an array of flow jobs", children);
    const name = checkQueueName(queue, `${arg}.queue`);
    const job: CheckedJob = checkJob(
      core.settings,
      name,
      payload,
      options,
      `${arg}.payload`,
      `${arg}.options`,
      false, // the copy's bytes are the queue's own already
    );
    if (job.options.dedupKey !== undefined)
      throw invalidArgument(
        `${arg}.options.dedupKey`,
        "absent (a flow is added whole; no job of it can be a dedup hit)",
        job.options.dedupKey,
      );
    const waits = Array.isArray(children) && children.length > 0;
    if (waits && (job.options.runAt !== undefined || job.options.delayMs !== undefined))
      throw invalidArgument(
        `${arg}.options.${job.options.runAt !== undefined ? "runAt" : "delayMs"}`,
        "absent on a job with children (it runs once they ended)",
        job.options.runAt ?? job.options.delayMs,
      );
    const index = ops.length;
    ops.push({ kind: "enqueue", queue: name, job, flow: { parent, waits } });
    if (waits) stack.push({ list: children as unknown[], next: 0, arg, parent: index, depth });
    if (ops.length % JOBS_PER_CHECK === 0 && budget.spent()) {
      await nextTurn();
      core.check(); // a queue closed meanwhile: stop here
      budget.start();
    }
    // The next job in pre-order: the next child of the innermost list not walked to its end.
    let top = stack[stack.length - 1];
    while (top !== undefined && top.next === top.list.length) {
      stack.pop();
      top = stack[stack.length - 1];
    }
    if (top === undefined) break;
    const i = top.next++;
    node = top.list[i];
    arg = `${top.arg}.children[${i}]`;
    parent = top.parent;
    depth = top.depth + 1;
  }
  return ops;
}

/**
 * `Queue.enqueueFlow`. In the call's own turn, the flow is copied (the
 * caller may change its objects once the call returns, while the flow is
 * still checked and encoded in later turns) and its `jobId`s are held, so a
 * later call with one of them waits for it to settle (`flow-job-ids.ts`).
 */
export async function enqueueFlow(core: QueueCore, flow: FlowJob): Promise<FlowResult> {
  core.check();
  // One budget from the copy to the commit: its slices run on from one step to the next.
  const budget = core.sliceBudget();
  const unknownKeys = unknownFlowKeys(core.settings.optionWarnings, flow);
  const copy = copyFlow(flow, MAX_FLOW_JOBS, MAX_FLOW_DEPTH);
  const { hold, taken, earlier } = core.flowJobIds.holdFlow(copy.jobIds, core.state);
  // From the call on, no job gets one of them as its generated id (see `IdGenerator`).
  for (const id of copy.jobIds) core.ids.reserve(id);
  let ids: string[];
  let ops: FlowOp[];
  try {
    ops = await flowOps(core, copy.root, budget);
    checkLostJobIds(ops, taken);
    if (earlier !== undefined) {
      // An earlier call (a flow, or a call waiting for one) holds some of its ids: whether
      // they are taken is known once it settled; `prepareFlow` decides them after that.
      await earlier;
      core.check();
      budget.start();
    }
    ids = await commitFlow(core, ops, budget);
  } catch (error) {
    // Taken (at the call or since) by a job that may be applied but not durable yet (its write
    // may still fail): answer once the log is durable up to it, or with the log's failure.
    if (error instanceof DuplicateJobIdError) {
      core.flowJobIds.release(hold);
      await core.log.whenDurable();
    }
    throw error;
  } finally {
    core.flowJobIds.release(hold);
  }
  for (const found of unknownKeys) core.settings.optionWarnings.tell(found, JOB_HINTS);
  const results: FlowResult[] = ids.map((id) => ({ id, children: [] }));
  ops.forEach((op, i) => {
    const parent = op.flow?.parent;
    if (parent !== undefined) results[parent]!.children.push(results[i]!);
  });
  return results[0]!;
}

/**
 * Commits a flow's enqueues; with tracing, under one producer span for the
 * whole flow (as `enqueueMany`), whose context every job of it carries, so
 * each handler's span links to it. Resolves with the jobs' ids.
 */
async function commitFlow(core: QueueCore, ops: FlowOp[], budget: SliceBudget): Promise<string[]> {
  const trace = core.instrumentation?.tracing?.enqueue(ops[0]!.queue, undefined, ops.length);
  if (trace === undefined) return commitFlowOps(core, ops, budget);
  try {
    const ids = await commitFlowOps(
      core,
      ops.map((op) => ({ ...op, job: traced({ ...op.job }, trace, true) })),
      budget,
    );
    trace.succeeded(ids, true);
    return ids;
  } catch (error) {
    trace.failed(error);
    throw error;
  }
}

/**
 * Commits a flow's enqueues as one transaction record, decided, encoded and
 * checked in slices before the turn that commits it (`flow-commit.ts`). The
 * payloads to be offloaded are written as their objects first, as for any
 * transaction (`commitOps`): deleted again when the flow is refused or the
 * queue closes before its commit, or when its record certainly failed; left
 * for the orphan collection when its write is in doubt.
 */
async function commitFlowOps(
  core: QueueCore,
  ops: readonly FlowOp[],
  budget: SliceBudget,
): Promise<string[]> {
  const wanted = ops.flatMap((op, n) => (core.payloads.offloads(op.job.payload) ? [n] : []));
  if (wanted.length === 0) return commitFlowRecord(core, ops, budget, NO_REFS, []);
  const refs = await offload(core, ops, wanted);
  const keys = [...refs.values()].map((ref) => ref.key);
  try {
    return await commitFlowRecord(core, ops, budget, refs, keys);
  } finally {
    // Committed (the state references them) or deleted: no longer in flight.
    core.payloads.release(keys);
  }
}

const NO_REFS: ReadonlyMap<number, PayloadRef> = new Map();

/** {@link commitFlowOps} once the objects of `refs` (their `keys`) are written. */
async function commitFlowRecord(
  core: QueueCore,
  ops: readonly FlowOp[],
  budget: SliceBudget,
  refs: ReadonlyMap<number, PayloadRef>,
  keys: readonly string[],
): Promise<string[]> {
  let prepared: PreparedFlow;
  try {
    if (keys.length > 0) {
      // The objects' writes took turns of their own: a closed queue stops here, and the
      // preparation starts a slice of its own.
      core.check();
      budget.start();
    }
    prepared = await prepareFlow(core, ops, budget, refs);
    while (!core.log.isWritable()) await core.log.whenWritable();
    core.check();
    refuseTakenJobIds(core, prepared);
  } catch (error) {
    // Nothing commits: every object written for it is unused.
    core.payloads.delete(keys);
    throw error;
  }
  // In the same synchronous step as the checks just above.
  const committed = commitPrepared(core, prepared);
  core.payloads.deleteIfNotCommitted(committed.written, keys);
  await committed.written;
  return committed.ids;
}

/** `Queue.childResults`. */
export async function childResults(
  core: QueueCore,
  parentId: string,
): Promise<Record<string, Uint8Array | undefined>> {
  core.check();
  return durableRead(core, childResultsOf(core.state, checkString(parentId, "parentId")));
}

/**
 * The results of the children of flow parent `id`, by child id: a child
 * acked with a result has it, one that has not ended, ended without a
 * result, was cancelled or went dead has `undefined`. Empty for an unknown
 * id or a job without children.
 */
export function childResultsOf(state: State, id: string): Record<string, Uint8Array | undefined> {
  const results: Record<string, Uint8Array | undefined> = {};
  const h = state.findPublic(id);
  const flow = h === -1 ? undefined : state.table.extras(h)?.flow;
  if (flow === undefined) return results;
  // Defined, not assigned: a `jobId` may be "__proto__", which an assignment takes as the
  // object's prototype, leaving the child out of the results.
  for (const child of flow.children)
    Object.defineProperty(results, child.publicId, {
      value: child.result === undefined ? undefined : Buffer.from(child.result),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return results;
}

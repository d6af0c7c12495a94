/**
 * `Queue.transaction`: operations collected by a synchronous `build`
 * function (enqueue, ack, nack, deadLetter, cancel, kvPut, kvDelete,
 * kvCheck), checked together against the state and committed as ONE log
 * record, or not at all.
 *
 * Arguments are checked as each operation is added; a bad one throws inside
 * `build` and rejects the whole call, even if `build` caught it. Then, in one
 * synchronous step with the commit, every operation is checked against the
 * state in order: a claim that is not live (`ClaimLostError`), a `kvCheck`
 * that does not hold (`ConflictError`; it sees the transaction's earlier KV
 * writes), two operations on one job (`InvalidArgumentError`, in either
 * order). As no job is acted on twice (but by enqueues, which share one as
 * a dedup hit), each job operation is decided against the state before the
 * transaction. Any failure rejects the call with nothing written; otherwise
 * `apply` applies the one record whole.
 *
 * An enqueue whose `jobId` a job of the store already has (or an earlier
 * enqueue of the same transaction) is not an error here: it adds nothing and
 * reports `created: false`, like a dedup hit. So a transaction that is run
 * again after it committed (a retried handler, a retry after an in-doubt
 * failure) does not add its jobs twice. A `jobId` that an earlier call not
 * settled yet holds (a flow, or a call that did not commit within its own
 * call) is decided once that call settled (`flow-job-ids.ts`).
 *
 * The builder is in `transaction-builder.ts`, the checks against the state in
 * `transaction-decide.ts`; this file offloads payloads and commits.
 */
import { ClaimLostError, ConflictError, InvalidArgumentError } from "../errors.js";
import { checkFunction } from "../validate.js";
import type { QueueCore } from "./core.js";
import type { CheckedJob } from "./enqueue.js";
import type { EnqueueTrace, Tracing } from "./instrument.js";
import { MAX_TRANSACTION_OPS } from "./options.js";
import { traced as withTrace } from "./producers.js";
import { Tag } from "./records/tags.js";
import type { PayloadRef } from "./table.js";
import {
  Builder,
  type Op,
  type Transaction,
  type TransactionResult,
} from "./transaction-builder.js";
import { type Decided, decide } from "./transaction-decide.js";

export type {
  FlowLink,
  Op,
  Transaction,
  TransactionAckOptions,
  TransactionResult,
} from "./transaction-builder.js";

/**
 * Writes the payloads of enqueues above the offload threshold as their own
 * objects; their references by operation index. If a write fails, the
 * objects already written are deleted and it throws.
 */
export async function offload(
  core: QueueCore,
  ops: readonly Op[],
  wanted: readonly number[],
): Promise<Map<number, PayloadRef>> {
  const refs = new Map<number, PayloadRef>();
  const payloads = core.payloads;
  const now = core.now();
  const limit = payloads.callLimit();
  const written = await Promise.allSettled(
    wanted.map((n) => payloads.write((ops[n] as { job: CheckedJob }).job.payload, now, limit)),
  );
  written.forEach((w, k) => {
    if (w.status === "fulfilled") refs.set(wanted[k]!, w.value);
  });
  const failed = written.find((w) => w.status === "rejected");
  if (failed !== undefined) {
    payloads.delete([...refs.values()].map((ref) => ref.key));
    throw failed.reason;
  }
  return refs;
}

/** Whether `ops` add to the state (an enqueue or a KV write), as a producer does. */
function produces(ops: readonly Op[]): boolean {
  return ops.some(producesOp);
}

/**
 * Whether `op` is a producer's. Every kind is listed, on one side or the
 * other: a kind added later does not compile until it is placed here.
 */
function producesOp(op: Op): boolean {
  switch (op.kind) {
    case "enqueue":
    case "kvPut":
    case "kvDelete":
      return true;
    case "ack":
    case "nack":
    case "deadLetter":
    case "cancel":
    case "kvCheck":
      return false;
    default:
      return unknownKind(op);
  }
}

function unknownKind(op: never): never {
  throw new Error(`Unknown transaction operation ${JSON.stringify(op)}`);
}

/**
 * Checks, decides and commits `ops` in one synchronous step (after writing
 * offloaded payloads, deleted again unless a committed record uses them);
 * resolves once durable. `decided` is called once the decision is applied
 * to the state (committed, or nothing to commit), before the wait for
 * durability; not when it throws first.
 */
export async function commitOps(
  core: QueueCore,
  ops: readonly Op[],
  decided?: () => void,
): Promise<TransactionResult> {
  const wanted = ops.flatMap((op, n) =>
    op.kind === "enqueue" && core.payloads.offloads(op.job.payload) ? [n] : [],
  );
  // Without objects to write, and with a writable log, the decision is made in
  // the caller's synchronous step.
  const refs =
    wanted.length === 0 ? new Map<number, PayloadRef>() : await offload(core, ops, wanted);
  try {
    return await decideAndCommit(core, ops, refs, decided);
  } finally {
    // Committed (the state references them) or deleted: no longer in flight.
    core.payloads.release([...refs.values()].map((ref) => ref.key));
  }
}

/** {@link commitOps} once the objects of `refs` are written. */
async function decideAndCommit(
  core: QueueCore,
  ops: readonly Op[],
  refs: Map<number, PayloadRef>,
  decided?: () => void,
): Promise<TransactionResult> {
  let outcome: Decided;
  try {
    // Producers wait while the log is not writable (backpressure, a checkpoint falling behind);
    // a transaction that only settles claims (a handler's ctx.transaction), cancels or checks
    // does not, like a plain ack: holding it could outlast its lease.
    // Like those, one that only settles or cancels passes in a close's steps
    // before its log closes (`checkSettle`); one that produces is new work.
    const producing = produces(ops);
    if (producing && !core.log.isWritable()) await core.log.whenWritable();
    if (producing) core.check();
    else core.checkSettle();
    outcome = decide(core, ops, refs);
  } catch (error) {
    // Nothing commits: every object written for it is unused.
    core.payloads.delete([...refs.values()].map((ref) => ref.key));
    // A `kvCheck` may have failed on a value applied but not durable yet (its write may still
    // fail), a claim may have been lost to a settlement or reaping in flight: answer once the
    // log is durable up to it, or with the log's failure, as a failed `kvCompareAndSet` does.
    if (error instanceof ConflictError || error instanceof ClaimLostError)
      await core.log.whenDurable();
    throw error;
  }
  // Objects no committed record uses: a dedup or job id hit's.
  core.payloads.delete(
    [...refs].flatMap(([n, ref]) => (outcome.offloaded.has(n) ? [] : [ref.key])),
  );
  let written: Promise<void> | undefined;
  if (outcome.ops.length > 0) {
    for (const lease of outcome.settled) core.leases.settle(lease);
    written = core.commit({ tag: Tag.Transaction, ops: outcome.ops });
    core.payloads.deleteIfNotCommitted(
      written,
      [...refs].flatMap(([n, ref]) => (outcome.offloaded.has(n) ? [ref.key] : [])),
    );
    for (const h of outcome.cancelRequested)
      core.leases.get(h)?.abort(new Error(`job ${core.state.idOf(h)} was cancelled`));
    if (outcome.earliestRunAt !== Number.POSITIVE_INFINITY)
      core.timers.scheduleAt(outcome.earliestRunAt);
    for (const queue of outcome.dispatch) core.dispatch(queue);
  }
  decided?.();
  // A dedup holder, a job id's job or a value checked may still be in flight: a commit
  // covers them (log writes are acknowledged in order); without one, answer once the log
  // is durable, leaving the open batch open.
  await (written ?? core.log.whenDurable());
  return outcome.result;
}

/** `Queue.transaction`. */
export async function runTransaction(
  core: QueueCore,
  build: (tx: Transaction) => void,
): Promise<TransactionResult> {
  // New work is refused once a close began; settling and cancelling pass until its log
  // closes (`checkSettle`), like a plain ack: checked again once the operations are known.
  core.checkSettle();
  checkFunction(build, "build", "a function (tx) => void");
  const builder = new Builder(core.settings);
  let returned: unknown;
  // Never set here: a transaction called from a build function is refused before.
  const outer = core.building;
  core.building = builder;
  try {
    returned = build(builder);
  } finally {
    builder.close();
    core.building = outer;
  }
  if (builder.error !== undefined) throw builder.error;
  if (builder.ops.length > MAX_TRANSACTION_OPS)
    throw new InvalidArgumentError(
      `Expected \`build\` to add at most ${MAX_TRANSACTION_OPS} operations (MAX_TRANSACTION_OPS; use enqueueMany for bulk enqueues), got ${builder.ops.length}; nothing was written`,
    );
  if (
    typeof returned === "object" &&
    returned !== null &&
    typeof (returned as { then?: unknown }).then === "function"
  ) {
    (returned as Promise<unknown>).then(undefined, () => {});
    throw new InvalidArgumentError(
      "Expected `build` to be a synchronous function (every operation known when it returns), got one that returned a promise",
    );
  }
  if (produces(builder.ops)) core.check();
  // Only enqueues with a `jobId` ever wait here: a transaction that only settles claims is
  // never held up by other calls.
  const ids = txJobIds(builder.ops);
  if (ids.length === 0) return commit(core, builder.ops);
  // From the call on, no job gets one of them as its generated id (see `IdGenerator`).
  for (const id of ids) core.ids.reserve(id);
  // A `jobId` an earlier call holds (a flow, or a call that did not commit within its own
  // call): decided once that call settled. Or this one does not commit within the call
  // (payloads are written first, or the log does not take writes): its ids are held till it
  // settled. Either way later calls with one of them wait for it.
  const held =
    core.flowJobIds.holdIfHeld(ids) ??
    (commitsAtOnce(core, builder.ops) ? undefined : core.flowJobIds.hold(ids));
  if (held === undefined) return commit(core, builder.ops);
  // Let go once the decision is in the state, not once it is durable: a later call with one
  // of the ids (waiting or not) then decides against that state, and every call finding an id
  // taken waits for the log to be durable before it answers (a hit here,
  // `DuplicateJobIdError` in producers and flows), so calls waiting on one id share their log
  // writes rather than queueing one write each behind the other. Log writes are acknowledged
  // in order: the later call's wait covers this one's record, or rejects with the log's
  // failure.
  const release = (): void => core.flowJobIds.release(held.hold);
  try {
    if (held.earlier !== undefined) await held.earlier;
    return await commit(core, builder.ops, release);
  } finally {
    release();
  }
}

/**
 * A rejection for `queue.<method>` called from a transaction's build function
 * on the same queue, else `undefined`. The call would commit at once, outside
 * the transaction (a caller would expect it to be part of it): it writes
 * nothing, and the transaction fails with the same `InvalidArgumentError`, so
 * a build that drops the call's promise still hears of it (and that promise
 * is marked handled: dropping it does not end the process). `instead` says
 * what to use inside the build. Only what `build` calls before it returns is
 * seen: an `async` build's code after its first `await` runs after the
 * transaction was refused (for returning a promise) and is not.
 */
export function refusedInBuild(
  core: QueueCore,
  method: string,
  instead: string,
): Promise<never> | undefined {
  const building = core.building;
  if (building === null) return undefined;
  const error = new InvalidArgumentError(
    `Expected \`queue.${method}\` to be called outside a transaction's build function, got a call inside one (it would commit at once, outside the transaction): ${instead}; nothing was written, and the transaction fails`,
  );
  building.refuse(error);
  const refused: Promise<never> = Promise.reject(error);
  refused.catch(() => {});
  return refused;
}

/** Whether {@link commitOps} of `ops` decides and commits within the call: nothing to wait for first. */
function commitsAtOnce(core: QueueCore, ops: readonly Op[]): boolean {
  if (produces(ops) && !core.log.isWritable()) return false;
  return !ops.some((op) => op.kind === "enqueue" && core.payloads.offloads(op.job.payload));
}

/** {@link commitOps}, traced when the queue traces. */
function commit(core: QueueCore, ops: Op[], decided?: () => void): Promise<TransactionResult> {
  const tracing = core.instrumentation?.tracing;
  if (tracing == null) return commitOps(core, ops, decided);
  return commitTraced(core, ops, tracing, decided);
}

/** The caller's `jobId`s of a transaction's enqueues. */
function txJobIds(ops: readonly Op[]): string[] {
  const ids: string[] = [];
  for (const op of ops)
    if (op.kind === "enqueue" && op.job.options.jobId !== undefined) ids.push(op.job.options.jobId);
  return ids;
}

/** {@link commitOps} with a producer span per enqueue, its context stored with the job. */
async function commitTraced(
  core: QueueCore,
  ops: Op[],
  tracing: Tracing,
  decided?: () => void,
): Promise<TransactionResult> {
  const traces: (EnqueueTrace | undefined)[] = [];
  const traced = ops.map((op): Op => {
    if (op.kind !== "enqueue") return op;
    const trace = tracing.enqueue(op.queue, op.job.options.headers, 1);
    traces.push(trace);
    if (trace === undefined) return op;
    return { ...op, job: withTrace({ ...op.job }, trace) };
  });
  try {
    const result = await commitOps(core, traced, decided);
    for (const [i, r] of result.enqueued.entries()) traces[i]?.succeeded([r.id], r.created);
    return result;
  } catch (error) {
    for (const trace of traces) trace?.failed(error);
    throw error;
  }
}

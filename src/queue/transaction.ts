/**
 * `Queue.transaction`: operations collected by a synchronous `build`
 * function (enqueue, ack, nack, deadLetter, cancel, kvPut, kvDelete,
 * kvCheck), checked together against the state and committed as ONE log
 * record, or not at all.
 *
 * Arguments are checked as each operation is added; a bad one throws inside
 * `build` and rejects the whole call, even if `build` caught it. Then, in one
 * synchronous step with the commit, every operation is checked against the
 * state in order, each seeing the ones before it: a claim that is not live
 * (`ClaimLostError`), a `kvCheck` that does not hold (`ConflictError`), two
 * operations on one job (`InvalidArgumentError`). Any failure rejects the
 * call with nothing written; otherwise `apply` applies the one record whole.
 *
 * An enqueue whose `jobId` a job of the store already has (or an earlier
 * enqueue of the same transaction) is not an error here: it adds nothing and
 * reports `created: false`, like a dedup hit. So a transaction that is run
 * again after it committed (a retried handler, a retry after an in-doubt
 * failure) does not add its jobs twice.
 */
import { ConflictError, DuplicateJobIdError, InvalidArgumentError } from "../errors.js";
import {
  checkFunction,
  checkOptionsObject,
  checkString,
  describeValue,
  invalidArgument,
} from "../validate.js";
import type { QueueSettings } from "./config.js";
import type { QueueCore } from "./core.js";
import { decideNack } from "./decisions.js";
import { type CheckedJob, checkJob, type EnqueueResult } from "./enqueue.js";
import { cancelTree, isWaitingParent } from "./flow-state.js";
import type { EnqueueTrace, Tracing } from "./instrument.js";
import { sameValue } from "./kv.js";
import type { Lease } from "./leases.js";
import { type EnqueueOptions, MAX_TRANSACTION_OPS } from "./options.js";
import { traced as withTrace } from "./producers.js";
import { Tag } from "./records/tags.js";
import type { TransactionOp } from "./records/transaction.js";
import { Status } from "./state.js";
import type { PayloadRef } from "./table.js";
import { Flag, slot } from "./table.js";
import type { CancelOutcome, Claim, Payload } from "./types.js";
import {
  checkKvExpected,
  checkKvKey,
  checkKvValue,
  checkMessage,
  checkPayload,
  checkQueueName,
  MAX_TIMESTAMP_MS,
} from "./validate.js";

/**
 * The operations of one transaction, collected by its `build` function. Each
 * call checks its arguments at once (throwing `InvalidArgumentError`); the
 * state checks and the write happen after `build` returns.
 */
export interface Transaction {
  /**
   * Add a job (as `Queue.enqueue`, without `dedupReplace`); a `jobId` that is
   * taken, or a dedup hit, adds nothing and reports `created: false`.
   */
  enqueue(queue: string, payload: Payload, options?: EnqueueOptions): void;
  /** Complete a claimed job (as `Queue.ack`). */
  ack(claim: Claim, options?: TransactionAckOptions): void;
  /** Fail a delivery (as `Queue.nack`: retry after backoff, or dead when out of attempts). */
  nack(claim: Claim, error: string): void;
  /** Dead-letter a claimed job (as `Queue.deadLetter`). */
  deadLetter(claim: Claim, reason: string): void;
  /** Cancel a job (as `Queue.cancel`; its outcome is in the result's `cancelled`). */
  cancel(id: string): void;
  /** Set a KV entry. */
  kvPut(key: string, value: Payload): void;
  /** Remove a KV entry (nothing happens if it is absent). */
  kvDelete(key: string): void;
  /**
   * Require the KV entry `key` to hold `expected` (`null`: to be absent) at
   * this point of the transaction, or the whole transaction fails with
   * `ConflictError`. Sees the transaction's own earlier `kvPut`s and `kvDelete`s.
   */
  kvCheck(key: string, expected: Payload | null): void;
}

/** Options of {@link Transaction.ack}. */
export interface TransactionAckOptions {
  /** The job's result, kept for the queue's `resultRetentionMs` (see `Queue.ack`). */
  result?: Payload;
}

/** What a committed transaction did. */
export interface TransactionResult {
  /** One result per `enqueue`, in order (`created: false`: dedup hit or taken `jobId`). */
  enqueued: EnqueueResult[];
  /** One outcome per `cancel`, in order. */
  cancelled: CancelOutcome[];
}

/** Where a flow's enqueue sits in its flow (`enqueueFlow`). */
export interface FlowLink {
  /** Index (in the same operation list) of its parent's enqueue; undefined for the root. */
  parent: number | undefined;
  /** It has children: it waits for them. */
  waits: boolean;
}

export type Op =
  | { kind: "enqueue"; queue: string; job: CheckedJob; flow?: FlowLink }
  | { kind: "ack"; claim: Claim; result: Uint8Array | undefined }
  | { kind: "nack"; claim: Claim; error: string }
  | { kind: "deadLetter"; claim: Claim; reason: string }
  | { kind: "cancel"; id: string }
  | { kind: "kvPut"; key: string; value: Uint8Array }
  | { kind: "kvDelete"; key: string }
  | { kind: "kvCheck"; key: string; expected: Uint8Array | null };

/** Collects and checks the operations `build` adds. */
class Builder implements Transaction {
  readonly ops: Op[] = [];
  /** The first error an operation threw (it fails the call even if `build` caught it). */
  error: unknown;
  #open = true;
  readonly #settings: QueueSettings;

  constructor(settings: QueueSettings) {
    this.#settings = settings;
  }

  close(): void {
    this.#open = false;
  }

  #add(make: () => Op): void {
    if (!this.#open)
      throw new InvalidArgumentError(
        "Expected `tx` to be used while its build function runs, got a call after it returned",
      );
    try {
      this.ops.push(make());
    } catch (error) {
      if (this.error === undefined) this.error = error;
      throw error;
    }
  }

  enqueue(queue: string, payload: Payload, options?: EnqueueOptions): void {
    this.#add(() => {
      const name = checkQueueName(queue, "tx.enqueue queue");
      const job = checkJob(
        this.#settings,
        name,
        payload,
        options,
        "tx.enqueue payload",
        "tx.enqueue options",
      );
      if (job.options.dedupReplace)
        throw invalidArgument(
          "tx.enqueue options.dedupReplace",
          "absent or false in a transaction (a dedup hit there adds nothing and replaces nothing)",
          true,
        );
      return { kind: "enqueue", queue: name, job };
    });
  }

  ack(claim: Claim, options?: TransactionAckOptions): void {
    this.#add(() => {
      checkOptionsObject(options, "tx.ack options");
      const result =
        options?.result === undefined
          ? undefined
          : checkPayload(options.result, this.#settings.maxPayloadBytes, "tx.ack options.result");
      return { kind: "ack", claim, result };
    });
  }

  nack(claim: Claim, error: string): void {
    this.#add(() => ({ kind: "nack", claim, error: checkMessage(error, "tx.nack error") }));
  }

  deadLetter(claim: Claim, reason: string): void {
    this.#add(() => ({
      kind: "deadLetter",
      claim,
      reason: checkMessage(reason, "tx.deadLetter reason"),
    }));
  }

  cancel(id: string): void {
    this.#add(() => ({ kind: "cancel", id: checkString(id, "tx.cancel id") }));
  }

  kvPut(key: string, value: Payload): void {
    this.#add(() => ({
      kind: "kvPut",
      key: checkKvKey(key, "tx.kvPut key"),
      value: checkKvValue(value, "tx.kvPut value"),
    }));
  }

  kvDelete(key: string): void {
    this.#add(() => ({ kind: "kvDelete", key: checkKvKey(key, "tx.kvDelete key") }));
  }

  kvCheck(key: string, expected: Payload | null): void {
    this.#add(() => ({
      kind: "kvCheck",
      key: checkKvKey(key, "tx.kvCheck key"),
      expected: checkKvExpected(expected, "tx.kvCheck expected"),
    }));
  }
}

/** The record and follow-up work a transaction's operations come to, decided against the state. */
interface Decided {
  ops: TransactionOp[];
  result: TransactionResult;
  /** Leases the transaction settles (removed when it commits). */
  settled: Lease[];
  /** Claimed jobs it requests cancellation of (their leases abort once it commits). */
  cancelRequested: number[];
  /** Queues that get pending jobs; the earliest `runAt` scheduled. */
  dispatch: Set<string>;
  earliestRunAt: number;
  /** A dedup key or job id hit: its holder may still be in flight. */
  hit: boolean;
  /** Operation indexes whose offloaded payload object a decided record references. */
  offloaded: Set<number>;
}

function jobName(core: QueueCore, h: number): string {
  return core.state.publicIdOf(h);
}

/**
 * Checks `ops` in order against the state and decides the records; throws
 * (deciding nothing that lasts) on the first that cannot be done.
 */
function decide(
  core: QueueCore,
  ops: readonly Op[],
  refs: ReadonlyMap<number, PayloadRef>,
): Decided {
  const state = core.state;
  const now = core.now();
  const decided: Decided = {
    ops: [],
    result: { enqueued: [], cancelled: [] },
    settled: [],
    cancelRequested: [],
    dispatch: new Set(),
    earliestRunAt: Number.POSITIVE_INFINITY,
    hit: false,
    offloaded: new Set(),
  };
  /** Jobs acted on so far → the operation that did. */
  const used = new Map<number, string>();
  const use = (h: number, what: string): void => {
    const earlier = used.get(h);
    if (earlier !== undefined)
      throw new InvalidArgumentError(
        `Expected each job to be acted on once per transaction, got job ${jobName(core, h)} in ${earlier} and ${what}`,
      );
    used.set(h, what);
  };
  /**
   * Waiting flow parents an earlier dead-letter of this transaction makes
   * dead (up the flow, as `apply` does): a later cancel finds them dead.
   */
  const deadParents = new Set<number>();
  const diedAt = (h: number): void => {
    for (let child = h; ; ) {
      const parentId = state.table.extras(child)?.flowParent;
      const parent = parentId === undefined ? -1 : state.find(parentId);
      if (parent === -1 || !isWaitingParent(state, parent) || used.has(parent)) return;
      deadParents.add(parent);
      child = parent;
    }
  };
  /** KV as the transaction's earlier operations left it (`null`: deleted). */
  const kv = new Map<string, Uint8Array | null>();
  const current = (key: string): Uint8Array | null =>
    kv.has(key) ? kv.get(key)! : (state.kv.get(key) ?? null);
  /** Caller ids and dedup keys (queue NUL key) taken by earlier enqueues → public id. */
  const jobIds = new Set<string>();
  const dedup = new Map<string, string>();
  /**
   * Jobs an earlier cancel of this transaction removes. Their caller id and
   * dedup key are taken until the transaction commits (a transaction record
   * is checked whole against the state before it), so an enqueue that would
   * reuse them is refused rather than answered with a job about to be gone.
   */
  const removed = new Set<number>();
  /** Log ids of the enqueues decided so far, by operation index (flow parents). */
  const logIds: string[] = [];
  for (let n = 0; n < ops.length; n++) {
    const op = ops[n]!;
    const what = `operation ${n} (tx.${op.kind})`;
    switch (op.kind) {
      case "enqueue": {
        const { payload, options, arg } = op.job;
        const { dedupKey, jobId, delayMs } = options;
        const idHolder = jobId === undefined ? -1 : state.findPublic(jobId);
        const keyHolder =
          dedupKey === undefined ? undefined : state.queues.get(op.queue)?.dedup.get(dedupKey);
        if (removed.has(idHolder) || (keyHolder !== undefined && removed.has(keyHolder)))
          throw new InvalidArgumentError(
            `Expected ${what} to use a ${removed.has(idHolder) ? "jobId" : "dedupKey"} no job of this transaction cancels, got ${JSON.stringify(removed.has(idHolder) ? jobId : dedupKey)} (cancel in one transaction, enqueue in the next)`,
          );
        if (jobId !== undefined && (jobIds.has(jobId) || state.findPublic(jobId) !== -1)) {
          // A flow is added whole or not at all: its jobs cannot be skipped.
          if (op.flow !== undefined)
            throw new DuplicateJobIdError(
              `Expected \`${arg}.jobId\` to be an id no job has, got ${JSON.stringify(jobId)} (taken${jobIds.has(jobId) ? " earlier in this flow" : ""})`,
            );
          decided.result.enqueued.push({ id: jobId, created: false });
          decided.hit = true;
          break;
        }
        if (dedupKey !== undefined) {
          const key = `${op.queue}\u0000${dedupKey}`;
          const holder = state.queues.get(op.queue)?.dedup.get(dedupKey);
          const earlier = dedup.get(key);
          if (holder !== undefined || earlier !== undefined) {
            decided.result.enqueued.push({
              id: earlier ?? state.publicIdOf(holder!),
              created: false,
            });
            decided.hit = true;
            break;
          }
        }
        if (delayMs !== undefined && now + delayMs > MAX_TIMESTAMP_MS)
          throw invalidArgument(
            `${arg}.delayMs`,
            `at most ${MAX_TIMESTAMP_MS - now} (the latest storable time, from now)`,
            delayMs,
          );
        const id = core.ids.next(now);
        const runAt = delayMs !== undefined ? now + delayMs : options.runAt;
        const scheduled = runAt !== undefined && runAt > now;
        const payloadRef = refs.get(n);
        // Used only if the whole transaction is decided: a later operation may still throw.
        if (payloadRef !== undefined) decided.offloaded.add(n);
        decided.ops.push({
          tag: Tag.Enqueue,
          id,
          queue: op.queue,
          payload: payloadRef === undefined ? payload : EMPTY,
          ...(payloadRef === undefined ? {} : { payloadRef }),
          timeoutMs: options.timeoutMs,
          headers: options.headers,
          trace: op.job.trace,
          priority: options.priority,
          maxAttempts: options.maxAttempts,
          enqueuedAt: now,
          runAt: scheduled ? runAt : undefined,
          dedupKey,
          ...(jobId === undefined ? {} : { jobId }),
          ...(op.flow?.parent === undefined ? {} : { flowParent: logIds[op.flow.parent]! }),
          ...(op.flow?.waits === true ? { waitsForChildren: true } : {}),
          ...(options.groupKey === undefined ? {} : { groupKey: options.groupKey }),
        });
        logIds[n] = id;
        const publicId = jobId ?? id;
        if (jobId !== undefined) jobIds.add(jobId);
        if (dedupKey !== undefined) dedup.set(`${op.queue}\u0000${dedupKey}`, publicId);
        decided.result.enqueued.push({ id: publicId, created: true });
        if (op.flow?.waits === true) break;
        if (scheduled) decided.earliestRunAt = Math.min(decided.earliestRunAt, runAt);
        else decided.dispatch.add(op.queue);
        break;
      }
      case "ack":
      case "nack":
      case "deadLetter": {
        const lease = core.liveLease(op.claim, `tx.${op.kind}`);
        use(lease.job, what);
        decided.settled.push(lease);
        // Its group may be under its claim cap again: claims waiting for that are served.
        decided.dispatch.add(lease.queue);
        if (op.kind === "ack") {
          const keep =
            op.result !== undefined ||
            core.settings.configs.get(lease.queue).keepDoneJobsMs !== null;
          decided.ops.push(
            op.result === undefined
              ? { tag: Tag.Ack, id: lease.id, keep, at: now }
              : { tag: Tag.Ack, id: lease.id, keep, at: now, result: op.result },
          );
        } else if (op.kind === "deadLetter") {
          decided.ops.push({ tag: Tag.Dead, id: lease.id, at: now, reason: op.reason });
          diedAt(lease.job);
        } else {
          const record = decideNack(
            state,
            lease.job,
            core.settings.configs.get(lease.queue),
            now,
            op.error,
          );
          decided.ops.push(record);
          if (record.tag === Tag.Dead) diedAt(lease.job);
          if (record.tag === Tag.Retry && record.runAt !== undefined)
            decided.earliestRunAt = Math.min(decided.earliestRunAt, record.runAt);
        }
        break;
      }
      case "cancel": {
        const h = core.findJob(op.id);
        const status = h === -1 ? null : state.statusOf(h);
        if (
          status === null ||
          status === Status.Done ||
          status === Status.Dead ||
          deadParents.has(h)
        ) {
          decided.result.cancelled.push("not_found");
          break;
        }
        use(h, what);
        const id = state.idOf(h);
        if (isWaitingParent(state, h)) {
          // A flow parent: its children that have not ended go with it (as `Queue.cancel`);
          // those this transaction settled already are left to that.
          const tree = cancelTree(state, h, now);
          for (const record of tree.records) {
            const c = state.find(record.id);
            if (c !== h && used.has(c)) continue;
            if (c !== h) use(c, what);
            decided.ops.push(record);
            if (record.tag === Tag.CancelRequest) decided.cancelRequested.push(c);
            else removed.add(c);
          }
          decided.result.cancelled.push("removed");
          break;
        }
        if (status !== Status.Claimed) {
          decided.ops.push({ tag: Tag.Cancel, id, at: now });
          removed.add(h);
          decided.result.cancelled.push("removed");
          break;
        }
        if ((state.table.read(h).flags[slot(h)]! & Flag.CancelRequested) === 0) {
          decided.ops.push({ tag: Tag.CancelRequest, id });
          decided.cancelRequested.push(h);
        }
        decided.result.cancelled.push("requested");
        break;
      }
      case "kvPut":
        kv.set(op.key, op.value);
        decided.ops.push({ tag: Tag.KvPut, key: op.key, value: op.value });
        break;
      case "kvDelete":
        if (current(op.key) !== null) decided.ops.push({ tag: Tag.KvDelete, key: op.key });
        kv.set(op.key, null);
        break;
      case "kvCheck": {
        const found = current(op.key);
        if (!sameValue(found, op.expected))
          throw new ConflictError(
            `transaction ${what}: key ${describeValue(op.key)} ${
              found === null ? "is absent" : `holds ${found.byteLength} bytes`
            }, expected ${op.expected === null ? "it absent" : `${op.expected.byteLength} bytes`}${
              found !== null && op.expected !== null && found.byteLength === op.expected.byteLength
                ? " (different bytes)"
                : ""
            }; nothing was written`,
          );
        break;
      }
    }
  }
  return decided;
}

/** The inline payload of a record whose payload is offloaded. */
const EMPTY = new Uint8Array(0);

/**
 * Writes the payloads of enqueues above the offload threshold as their own
 * objects; their references by operation index. If a write fails, the
 * objects already written are deleted and it throws.
 */
async function offload(
  core: QueueCore,
  ops: readonly Op[],
  wanted: readonly number[],
): Promise<Map<number, PayloadRef>> {
  const refs = new Map<number, PayloadRef>();
  const payloads = core.payloads;
  const now = core.now();
  const written = await Promise.allSettled(
    wanted.map((n) => payloads.write((ops[n] as { job: CheckedJob }).job.payload, now)),
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

/**
 * Checks, decides and commits `ops` in one synchronous step (after writing
 * offloaded payloads, deleted again unless a committed record uses them);
 * resolves once durable.
 */
export async function commitOps(core: QueueCore, ops: readonly Op[]): Promise<TransactionResult> {
  const wanted = ops.flatMap((op, n) =>
    op.kind === "enqueue" && core.payloads.offloads(op.job.payload) ? [n] : [],
  );
  // Without objects to write, and with a writable log, the decision is made in
  // the caller's synchronous step.
  const refs =
    wanted.length === 0 ? new Map<number, PayloadRef>() : await offload(core, ops, wanted);
  let decided: Decided;
  try {
    if (!core.log.isWritable()) await core.log.whenWritable();
    core.check();
    decided = decide(core, ops, refs);
  } catch (error) {
    // Nothing commits: every object written for it is unused.
    core.payloads.delete([...refs.values()].map((ref) => ref.key));
    throw error;
  }
  // Objects no committed record uses: a dedup or job id hit's.
  core.payloads.delete(
    [...refs].flatMap(([n, ref]) => (decided.offloaded.has(n) ? [] : [ref.key])),
  );
  if (decided.ops.length > 0) {
    for (const lease of decided.settled) core.leases.remove(lease);
    const written = core.commit({ tag: Tag.Transaction, ops: decided.ops });
    for (const h of decided.cancelRequested)
      core.leases.get(h)?.abort(new Error(`job ${core.state.idOf(h)} was cancelled`));
    if (decided.earliestRunAt !== Number.POSITIVE_INFINITY)
      core.timers.scheduleAt(decided.earliestRunAt);
    for (const queue of decided.dispatch) core.dispatch(queue);
    await written;
  }
  // A dedup holder, a job id's job or a value checked may still be in flight.
  if (decided.hit || decided.ops.length === 0) await core.log.flush();
  return decided.result;
}

/** `Queue.transaction`. */
export async function runTransaction(
  core: QueueCore,
  build: (tx: Transaction) => void,
): Promise<TransactionResult> {
  core.check();
  checkFunction(build, "build", "a function (tx) => void");
  const builder = new Builder(core.settings);
  let returned: unknown;
  try {
    returned = build(builder);
  } finally {
    builder.close();
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
  const tracing = core.instrumentation?.tracing;
  if (tracing == null) return commitOps(core, builder.ops);
  return commitTraced(core, builder.ops, tracing);
}

/** {@link commitOps} with a producer span per enqueue, its context stored with the job. */
async function commitTraced(
  core: QueueCore,
  ops: Op[],
  tracing: Tracing,
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
    const result = await commitOps(core, traced);
    for (const [i, r] of result.enqueued.entries()) traces[i]?.succeeded([r.id], r.created);
    return result;
  } catch (error) {
    for (const trace of traces) trace?.failed(error);
    throw error;
  }
}

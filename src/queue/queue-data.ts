/**
 * The transactions, flows and KV part of the public `Queue` API: the base
 * class `Queue` extends (through `QueueSchedules` and `QueueManagement`),
 * so these methods and their TSDoc stay on `Queue` while `queue.ts` keeps
 * to producers, consumers, events and the queue's life. Each method delegates
 * in one line to its feature module (`transaction.ts`, `flows.ts`, `kv.ts`).
 */
import type { QueueCore } from "./core.js";
import { childResults, enqueueFlow, type FlowJob, type FlowResult } from "./flows.js";
import * as kv from "./kv.js";
import { notReceiver } from "./receiver.js";
import {
  refusedInBuild,
  runTransaction,
  type Transaction,
  type TransactionResult,
} from "./transaction.js";
import type { Payload } from "./types.js";

/** Transactions, flows and the KV namespace of a `Queue` (see `Queue`). */
export class QueueData {
  /**
   * The core of `receiver` (the `this` of a method); a `TypeError` saying how
   * to call the method when it is not a queue (a detached `enqueue`).
   */
  static #coreOf(receiver: unknown): QueueCore {
    if (typeof receiver === "object" && receiver !== null && #core in receiver)
      return receiver.#core;
    throw notReceiver("Queue", receiver);
  }

  /** This queue's core, handed down by `Queue`'s constructor. */
  readonly #core: QueueCore;

  /**
   * Only `Queue` constructs this, with its core: typed `never` so that the
   * published declarations name no internal type.
   */
  protected constructor(core: never) {
    this.#core = core;
  }

  /**
   * Do several things atomically: `build` runs synchronously and adds
   * operations to `tx` (enqueue, ack, nack, deadLetter, cancel, kvPut,
   * kvDelete, kvCheck); they are checked together against the state and
   * committed as one log record, or none is. Claims and job statuses are
   * checked as they were before the transaction; a `kvCheck` sees the
   * transaction's own earlier KV writes. Resolves once durable with one
   * `{ id, created }` per enqueue and one outcome per cancel.
   *
   * Any invalid operation rejects the whole call and changes nothing: a bad
   * argument (`InvalidArgumentError`, also when `build` caught it), a claim
   * that is not live (`ClaimLostError`), a `kvCheck` that does not hold
   * (`ConflictError`), two operations on one job (`InvalidArgumentError`
   * naming both, whatever their order), more than
   * {@link MAX_TRANSACTION_OPS} (1,000) operations (`InvalidArgumentError`),
   * a write method of this queue that has a `tx` form (`kvPut`, `enqueue`,
   * `ack`, …), a nested `transaction` or `enqueueFlow`, called from `build`
   * (it would commit at once, outside the transaction; that call rejects
   * with the same `InvalidArgumentError`, naming the `tx` method to use;
   * other writes, such as `schedule` or `removeJob`, are not refused and do
   * commit at once: do not call them from `build`).
   * Two operations are on one job when they name the same id (a cancel's,
   * a claim's job, an enqueue's `jobId`; also an id no job has, so an id is
   * cancelled once, and never both enqueued and cancelled), when an
   * enqueue's `dedupKey` hits a job another operation acts on, or when a
   * cancel of a waiting flow parent would also cancel a child another
   * operation acts on. Only enqueues share a job: a later one with the same
   * `jobId` or `dedupKey` reports `created: false`.
   *
   * An enqueue whose `jobId` a job of this store already has does not fail
   * the transaction (unlike `Queue.enqueue`): it adds nothing and reports
   * `created: false`. So running a transaction again after it committed does
   * not add its jobs twice, as long as those jobs still exist; for a guard
   * that outlives them, `kvCheck` a marker key and `kvPut` it in the same
   * transaction (see the README, "Exactly-once effects").
   *
   * An enqueue whose `jobId` an earlier call not settled yet holds (an
   * {@link enqueueFlow}, or a call still writing its offloaded payloads)
   * makes the whole transaction wait for that call, then decide
   * (`created: false` if it committed). That wait has no bound against the
   * lease of a claim the transaction settles: if the lease ends meanwhile,
   * the transaction rejects with `ClaimLostError` and writes nothing. A
   * transaction with no such `jobId` never waits for another call.
   *
   * @example
   * ```ts
   * await queue.transaction((tx) => {
   *   tx.ack(claim);
   *   tx.enqueue("ship", order.id, { jobId: `ship-${order.id}` });
   *   tx.kvPut(`order/${order.id}/status`, "charged");
   * });
   * ```
   */
  transaction(build: (tx: Transaction) => void): Promise<TransactionResult> {
    const core = QueueData.#coreOf(this);
    return (
      refusedInBuild(core, "transaction", "add its operations to the outer `tx` instead") ??
      runTransaction(core, build)
    );
  }

  /**
   * Add a flow: a job with children (each may have children of its own), as
   * one atomic record. A job with children waits (it shows as `scheduled`
   * with `waitingChildren`, and nothing claims it) until each of its
   * children ended: acked, or cancelled; then it becomes pending, and its
   * handler reads the children's results with {@link childResults}. A child
   * that goes dead makes its waiting parent dead at once, its lastError
   * naming the child (and so on up the flow). Cancelling a waiting parent
   * cancels its children that have not ended.
   *
   * Resolves once durable with the ids in the flow's shape. A flow takes no
   * `dedupKey`, and a job with children no `runAt`/`delayMs`
   * (`InvalidArgumentError`); a `jobId` that is taken rejects the whole flow
   * with `DuplicateJobIdError`. Nothing is written then. The flow is read
   * (copied) during the call: changing its objects or reusing its payload
   * buffers once the call returned changes nothing enqueued. Its `jobId`s
   * are the flow's from the call on: an enqueue, transaction or flow made
   * afterwards with one of them, before the flow settled, waits for it,
   * then finds the id taken if the flow committed, or free if it failed.
   *
   * @example
   * ```ts
   * const flow = await queue.enqueueFlow({
   *   queue: "notify", payload: "order-1",
   *   children: [{ queue: "ship", payload: "order-1", children: [{ queue: "charge", payload: "order-1" }] }],
   * });
   * ```
   */
  enqueueFlow(flow: FlowJob): Promise<FlowResult> {
    const core = QueueData.#coreOf(this);
    return (
      refusedInBuild(
        core,
        "enqueueFlow",
        "a flow is an atomic call of its own: enqueue it before or after the transaction",
      ) ?? enqueueFlow(core, flow)
    );
  }

  /**
   * The results of the children of flow job `parentId`, by child id
   * (`undefined` for a child that has not ended, ended without a result,
   * was cancelled or went dead). Kept with the parent, however long the
   * children themselves are kept. Empty for an unknown id or a job without
   * children.
   */
  childResults(parentId: string): Promise<Record<string, Uint8Array | undefined>> {
    return childResults(QueueData.#coreOf(this), parentId);
  }

  /**
   * The value of the KV entry `key` (a copy), or `null`. Keys are strings of
   * 1 to 1 024 UTF-8 bytes; the KV namespace is separate from jobs and kept
   * in the store like them. Like every read, it answers only durable state:
   * a value written just before (by this process) is returned once its write
   * is durable, never before.
   */
  kvGet(key: string): Promise<Uint8Array | null> {
    return kv.kvGet(QueueData.#coreOf(this), key);
  }

  /**
   * Set the KV entry `key` to `value` (at most 256 KiB; a string is stored as
   * UTF-8); resolves once durable. A key or value over its limit, or a string
   * value with a lone surrogate, is an `InvalidArgumentError` and writes nothing.
   */
  kvPut(key: string, value: Payload): Promise<void> {
    const core = QueueData.#coreOf(this);
    return refusedInBuild(core, "kvPut", "use `tx.kvPut`") ?? kv.kvPut(core, key, value);
  }

  /** Remove the KV entry `key`; resolves (once durable) with whether it was there. */
  kvDelete(key: string): Promise<boolean> {
    const core = QueueData.#coreOf(this);
    return refusedInBuild(core, "kvDelete", "use `tx.kvDelete`") ?? kv.kvDelete(core, key);
  }

  /**
   * Set the KV entry `key` to `value` only if it holds `expected` now
   * (`null`: only if it is absent); resolves with whether it did, once that
   * is durable. A string `expected` or `value` with a lone surrogate is an
   * `InvalidArgumentError` (no stored value can equal such an `expected`).
   */
  kvCompareAndSet(key: string, expected: Payload | null, value: Payload): Promise<boolean> {
    const core = QueueData.#coreOf(this);
    return (
      refusedInBuild(core, "kvCompareAndSet", "use `tx.kvCheck` and `tx.kvPut`") ??
      kv.kvCompareAndSet(core, key, expected, value)
    );
  }

  /**
   * A page of the KV entries whose key starts with `prefix` (`""`: all), in
   * key order (JavaScript string order). Pass `nextCursor` as
   * `options.cursor` for the next page; it is absent on the last page.
   */
  kvScan(prefix: string, options: kv.KvScanOptions = {}): Promise<kv.KvPage> {
    return kv.kvScan(QueueData.#coreOf(this), prefix, options);
  }
}

/** The operations a `Queue.transaction` build function adds, each checked for its arguments as it is added. */
import { InvalidArgumentError } from "../errors.js";
import { checkOptionsObject, checkString, invalidArgument } from "../validate.js";
import type { QueueSettings } from "./config.js";
import { type CheckedJob, checkJob, type EnqueueResult } from "./enqueue.js";
import { ACK_OPTION_KEYS, type EnqueueOptions } from "./options.js";
import type { CancelOutcome, Claim, Payload } from "./types.js";
import {
  checkKvExpected,
  checkKvKey,
  checkKvValue,
  checkMessage,
  checkPayload,
  checkQueueName,
} from "./validate.js";

/**
 * The operations of one transaction, collected by its `build` function. Each
 * call checks its arguments at once (throwing `InvalidArgumentError`); the
 * state checks and the write happen after `build` returns.
 */
export interface Transaction {
  /**
   * Add a job (as `Queue.enqueue`, without `dedupReplace`); a `jobId` that is
   * taken, or a dedup hit, adds nothing and reports `created: false`. Its job
   * (by `jobId`, or the dedup hit's) may be another enqueue's, but no other
   * operation of the transaction may act on it (`InvalidArgumentError`).
   */
  enqueue(queue: string, payload: Payload, options?: EnqueueOptions): void;
  /** Complete a claimed job (as `Queue.ack`). */
  ack(claim: Claim, options?: TransactionAckOptions): void;
  /** Fail a delivery (as `Queue.nack`: retry after backoff, or dead when out of attempts). */
  nack(claim: Claim, error: string): void;
  /** Dead-letter a claimed job (as `Queue.deadLetter`). */
  deadLetter(claim: Claim, reason: string): void;
  /**
   * Cancel a job (as `Queue.cancel`; its outcome is in the result's
   * `cancelled`). The id is the cancel's alone in the transaction, whether a
   * job has it or not; a waiting flow parent's children that have not ended
   * are cancelled with it, and no other operation may act on them either.
   */
  cancel(id: string): void;
  /** Set a KV entry (a string value with a lone surrogate is an `InvalidArgumentError`). */
  kvPut(key: string, value: Payload): void;
  /** Remove a KV entry (nothing happens if it is absent). */
  kvDelete(key: string): void;
  /**
   * Require the KV entry `key` to hold `expected` (`null`: to be absent) at
   * this point of the transaction, or the whole transaction fails with
   * `ConflictError`. Sees the transaction's own earlier `kvPut`s and `kvDelete`s.
   * The `ConflictError` comes once every write made before the transaction
   * is durable, so a value still in flight is never the only reason for it
   * (if that write fails, the transaction rejects with its failure instead).
   * A string `expected` with a lone surrogate is an `InvalidArgumentError`
   * (no stored value can equal it), not a `ConflictError`.
   */
  kvCheck(key: string, expected: Payload | null): void;
}

/** Options of {@link Transaction.ack}. */
export interface TransactionAckOptions {
  /**
   * The job's result, kept for the queue's `resultRetentionMs` (see `Queue.ack`).
   * @default none
   * @example { result: "ok" }
   */
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
export class Builder implements Transaction {
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

  /** Fails the call with `error` (unless an earlier error already does): `build` did what it must not. */
  refuse(error: unknown): void {
    if (this.error === undefined) this.error = error;
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
      this.#settings.optionWarnings.check(options, "tx.ack options", ACK_OPTION_KEYS);
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

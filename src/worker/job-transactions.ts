/**
 * `ctx.transaction` of a handler: runs `Queue.transaction` and notes whether
 * the transaction settles the handler's own job (acks, nacks or
 * dead-letters its claim), so the worker does not settle it again.
 */
import type { Queue } from "../queue/queue.js";
import type { Transaction, TransactionResult } from "../queue/transaction.js";
import type { Claim } from "../queue/types.js";
import { checkFunction } from "../validate.js";

export class JobTransactions {
  readonly #queue: Queue;
  readonly #claim: Claim;
  /** Transactions that settle the claim (at most one can succeed). */
  readonly #settling: Promise<TransactionResult>[] = [];

  constructor(queue: Queue, claim: Claim) {
    this.#queue = queue;
    this.#claim = claim;
  }

  /** `ctx.transaction(build)`; a bad `build` rejects, as from `Queue.transaction`. */
  run(build: (tx: Transaction) => void): Promise<TransactionResult> {
    try {
      checkFunction(build, "build", "a function (tx) => void");
    } catch (error) {
      return Promise.reject(error);
    }
    const id = this.#claim.id;
    let settles = false;
    const note = (claim: Claim): void => {
      if ((claim as Partial<Claim> | null | undefined)?.id === id) settles = true;
    };
    // `build` runs inside this call, so `settles` is known when it returns.
    const written = this.#queue.transaction((tx) => {
      const tracked: Transaction = {
        enqueue: (queue, payload, options) => tx.enqueue(queue, payload, options),
        ack: (claim, options) => {
          note(claim);
          tx.ack(claim, options);
        },
        nack: (claim, error) => {
          note(claim);
          tx.nack(claim, error);
        },
        deadLetter: (claim, reason) => {
          note(claim);
          tx.deadLetter(claim, reason);
        },
        cancel: (jobId) => tx.cancel(jobId),
        kvPut: (key, value) => tx.kvPut(key, value),
        kvDelete: (key) => tx.kvDelete(key),
        kvCheck: (key, expected) => tx.kvCheck(key, expected),
      };
      // Handed back as is, so the queue can refuse a build that returns a promise.
      return build(tracked) as undefined;
    });
    if (settles) this.#settling.push(written);
    return written;
  }

  /** Whether a transaction that settles the claim was issued (see {@link settled}). */
  get settling(): boolean {
    return this.#settling.length > 0;
  }

  /** Whether a transaction settled the claim (waiting for those still in flight). */
  async settled(): Promise<boolean> {
    if (this.#settling.length === 0) return false;
    const outcomes = await Promise.allSettled(this.#settling);
    return outcomes.some((o) => o.status === "fulfilled");
  }
}

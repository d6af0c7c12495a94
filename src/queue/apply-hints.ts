/**
 * Hints the live path gives `apply` about the records it is about to apply
 * (see `State.expect`): not part of the state, dropped after each commit.
 * A hint saves a look-up or a parse in the commit's turn; it never changes
 * what `apply` does, which a replay (without hints) does the same.
 */
import type { TransactionRecord } from "./records/transaction.js";
import { ID_BYTES } from "./table.js";
import type { PrecheckedTransaction } from "./transaction-check.js";

export class ApplyHints {
  /** Rows the records name, in record order. */
  readonly #rows: number[] = [];
  /**
   * For each of {@link #rows}, the id the caller found in that row in the
   * state the record is applied to (so it needs no check), or null.
   */
  readonly #ids: (string | null)[] = [];
  #next = 0;
  /** The id bytes of the next transaction's enqueues, or null. */
  #enqueueIds: Uint8Array | null = null;
  /** The next transaction, checked before its commit's turn, or null. */
  #prechecked: PrecheckedTransaction | null = null;

  expect(h: number, verifiedId: string | null): void {
    this.#rows.push(h);
    this.#ids.push(verifiedId);
  }

  /** Whether the next row hinted is known to hold job `id`. */
  verifiedNext(id: string): boolean {
    const next = this.#next;
    return next < this.#ids.length && this.#ids[next] === id;
  }

  /** The next row hinted (used up when `use`), or -1. */
  row(use: boolean): number {
    const next = this.#next;
    if (next === this.#rows.length) return -1;
    if (use) this.#next = next + 1;
    return this.#rows[next]!;
  }

  expectEnqueueIds(ids: Uint8Array): void {
    this.#enqueueIds = ids;
  }

  /** The hint of {@link expectEnqueueIds} when it holds `count` ids (used up), else null. */
  takeEnqueueIds(count: number): Uint8Array | null {
    const ids = this.#enqueueIds;
    this.#enqueueIds = null;
    return ids !== null && ids.length === count * ID_BYTES ? ids : null;
  }

  expectPrechecked(pre: PrecheckedTransaction): void {
    this.#prechecked = pre;
  }

  /** The hint of {@link expectPrechecked} when it is for `record` (used up), else null. */
  takePrechecked(record: TransactionRecord): PrecheckedTransaction | null {
    const pre = this.#prechecked;
    this.#prechecked = null;
    return pre !== null && pre.record === record ? pre : null;
  }

  forget(): void {
    this.#enqueueIds = null;
    this.#prechecked = null;
    // Most commits have no hints (an enqueue): setting an empty array's length costs about 150
    // ns, a check of it a few.
    if (this.#rows.length === 0) return;
    this.#rows.length = 0;
    this.#ids.length = 0;
    this.#next = 0;
  }
}

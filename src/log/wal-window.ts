/**
 * The group-commit writer's window of WAL creates: issues the creates of
 * sealed batches in id order, times them, and settles them strictly in WAL
 * order. Separate from `writer.ts`, which gathers appends into batches and
 * decides when to seal them, so the ordering and acknowledgement rules read
 * in one place.
 *
 * Order. Batch ids are dense and creates are issued in id order, at most
 * `maxWritesInFlight` (≤ `WAL_WINDOW`, codec.ts) past the last acknowledged one.
 * They may complete in any order; acknowledgements go strictly in WAL order.
 * A create that fails (or finds its slot taken) fails the log: its batch and
 * every later one are rejected; creates still in flight are resolved first
 * (`failed-tail.ts`).
 */
import { FencedError } from "../errors.js";
import type { SealedBatch } from "./batch.js";
import { CreateTimes } from "./create-times.js";
import { FailedTail, withDoubt } from "./failed-tail.js";
import type { WriterFence } from "./fencing.js";
import type { LogKeys } from "./keys.js";
import type { ResolvedLogOptions } from "./options.js";
import type { LogStorage } from "./storage.js";
import { createWalObject } from "./wal-create.js";

/** What a {@link WalWindow} needs of its writer. */
export interface WalWindowInit {
  storage: LogStorage;
  keys: LogKeys;
  options: ResolvedLogOptions;
  fence: WriterFence;
  /** The error the log failed with, or null while it works. */
  failure: () => Error | null;
  /** Fails the log for good (see `LogWriter.fail`). */
  fail: (cause: unknown) => void;
  /** `batch` is durable and acknowledged: it has left the window, its callers are to be told. */
  durable: (batch: SealedBatch) => void;
  /** A settling pass ended; `acknowledged`: it acknowledged at least one batch. */
  settled: (acknowledged: boolean) => void;
}

/**
 * Sealed batches not yet settled, in WAL order, and the creates of the
 * first {@link issued} of them.
 */
export class WalWindow {
  readonly #storage: LogStorage;
  readonly #keys: LogKeys;
  readonly #options: ResolvedLogOptions;
  readonly #fence: WriterFence;
  readonly #failure: () => Error | null;
  readonly #fail: (cause: unknown) => void;
  readonly #durable: (batch: SealedBatch) => void;
  readonly #settled: (acknowledged: boolean) => void;

  /** Sealed, not yet settled, in WAL order; the first `#issued` have creates issued. */
  readonly #sealed: SealedBatch[] = [];
  #issued = 0;
  #revalidating = false;
  readonly #failedTail = new FailedTail();
  /** How long the latest WAL creates took to succeed (ms). */
  readonly #createTimes = new CreateTimes();

  constructor(init: WalWindowInit) {
    this.#storage = init.storage;
    this.#keys = init.keys;
    this.#options = init.options;
    this.#fence = init.fence;
    this.#failure = init.failure;
    this.#fail = init.fail;
    this.#durable = init.durable;
    this.#settled = init.settled;
  }

  /** Batches whose creates were issued and that are not settled yet. */
  get issued(): number {
    return this.#issued;
  }

  /** The newest sealed batch not yet settled, if any. */
  get newest(): SealedBatch | undefined {
    return this.#sealed.at(-1);
  }

  /** Whether no sealed batch waits to be settled. */
  get empty(): boolean {
    return this.#sealed.length === 0;
  }

  /** How long a WAL create took to succeed lately (ms; see `create-times.ts`), or null before the first. */
  get walCreateMs(): number | null {
    return this.#createTimes.median;
  }

  /** Whether every sealed batch is issued and one more create fits in flight. */
  hasRoom(): boolean {
    return this.#sealed.length === this.#issued && this.#issued < this.#options.maxWritesInFlight;
  }

  /** Adds the next batch in WAL order; {@link pump} issues its create. */
  push(batch: SealedBatch): void {
    this.#sealed.push(batch);
  }

  /** After the log failed: takes out the batches whose creates were never issued. */
  unissued(): SealedBatch[] {
    return this.#sealed.splice(this.#issued);
  }

  /** Issues creates, in id order, while there is room; true when it issued any. */
  pump(): boolean {
    let sent = false;
    while (this.#failure() === null && this.#issued < this.#options.maxWritesInFlight) {
      const batch = this.#sealed[this.#issued];
      if (batch === undefined) break;
      this.#issued++;
      // Keep the acknowledgement rule satisfied without waiting: look for a newer epoch
      // alongside the create when the last look is getting old.
      if (this.#fence.confirmationAging) this.#validate().catch(() => {});
      void this.#write(batch);
      sent = true;
    }
    return sent;
  }

  async #write(batch: SealedBatch): Promise<void> {
    batch.issuedAt = this.#options.clock.monotonicNow();
    try {
      batch.outcome = await createWalObject(
        this.#storage,
        this.#keys.wal(batch.id),
        batch.body,
        batch.token,
        () => this.#failure() !== null,
      );
    } catch (error) {
      // Not a store answer (a logger or sleeper threw): the create may have been sent.
      batch.outcome = { kind: "unknown", error };
    }
    batch.completedAt = this.#options.clock.monotonicNow();
    if (batch.outcome.kind === "created")
      this.#createTimes.record(batch.completedAt - batch.issuedAt);
    this.settle();
  }

  /** Looks for a newer epoch; fails the log if there is one. */
  #validate(): Promise<void> {
    return this.#fence.validate().catch((error: unknown) => {
      if (error instanceof FencedError) this.#fail(error);
      throw error;
    });
  }

  /** Acknowledges or rejects completed batches at the head, strictly in WAL order. */
  settle(): void {
    let acknowledged = false;
    for (;;) {
      const head = this.#sealed[0];
      if (head === undefined || head.outcome === null) break;
      if (this.#failure() !== null) {
        acknowledged = this.#settleAfterFailure(head) || acknowledged;
        continue;
      }
      const { kind } = head.outcome;
      if (kind === "created") {
        if (!this.#fence.mayAcknowledge(head.completedAt)) {
          this.#revalidate();
          break;
        }
        this.#acknowledge(head);
        acknowledged = true;
      } else if (kind === "taken") {
        this.#fail(this.#fence.fenced({ walKey: this.#keys.wal(head.id) }));
      } else {
        this.#fail(head.outcome.error);
      }
    }
    this.#settled(acknowledged);
  }

  /** The head landed, but too long after the last look at the epochs: look again first. */
  #revalidate(): void {
    if (this.#revalidating) return;
    this.#revalidating = true;
    this.#validate().then(
      () => {
        this.#revalidating = false;
        this.settle();
      },
      (error: unknown) => {
        this.#revalidating = false;
        this.#fail(error); // fenced (already failed), or the store kept failing
      },
    );
  }

  #acknowledge(batch: SealedBatch): void {
    this.#sealed.shift();
    this.#issued--;
    this.#durable(batch);
  }

  /** Settles the head after the log failed; true when it was acknowledged. */
  #settleAfterFailure(head: SealedBatch): boolean {
    const verdict = this.#failedTail.next(head.outcome!, () =>
      this.#fence.mayAcknowledge(head.completedAt),
    );
    if (verdict === "acknowledge") {
      this.#acknowledge(head);
      return true;
    }
    this.#sealed.shift();
    this.#issued--;
    const failure = this.#failure()!;
    head.done.reject(verdict === "rejectInDoubt" ? withDoubt(failure) : failure);
    return false;
  }
}

/**
 * The {@link Log} a writer gets from `openLog`: wires group commit
 * ({@link LogWriter}), the epoch fence ({@link WriterFence}) and the
 * {@link Checkpointer} together, and owns the close sequence. Holds no state
 * of its own beyond the close promise.
 */
import { FencedError } from "../errors.js";
import { invalidArgument } from "../validate.js";
import type { Checkpointer } from "./checkpointer.js";
import type { WriterFence } from "./fencing.js";
import type { FailureListenerOptions, Log, LogStats, SnapshotSource } from "./types.js";
import type { LogWriter } from "./writer.js";

export class LogHandle implements Log {
  readonly #writer: LogWriter;
  readonly #fence: WriterFence;
  readonly #checkpointer: Checkpointer;
  #closePromise: Promise<void> | null = null;

  constructor(writer: LogWriter, fence: WriterFence, checkpointer: Checkpointer) {
    this.#writer = writer;
    this.#fence = fence;
    this.#checkpointer = checkpointer;
    writer.afterDurable(() => {
      checkpointer.maybeCheckpoint();
      fence.checkWhileBusy((error) => writer.fail(error));
    });
  }

  append(records: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return this.#writer.append(records);
  }

  isWritable(): boolean {
    return this.#writer.isWritable() && this.#checkpointer.lagAllows();
  }

  refusal(): Error | null {
    return this.#writer.refusal();
  }

  async whenWritable(): Promise<void> {
    await this.#writer.whenWritable();
    await this.#checkpointer.whenLagAllows();
  }

  flush(): Promise<void> {
    return this.#writer.flush();
  }

  whenDurable(): Promise<void> {
    return this.#writer.whenDurable();
  }

  async checkFence(options?: { fresh?: boolean }): Promise<void> {
    if (this.#writer.refusal() !== null) return;
    try {
      await (options?.fresh === true ? this.#fence.validateFresh() : this.#fence.validate());
    } catch (error) {
      if (!(error instanceof FencedError)) throw error;
      // A look that ends after close has nothing left to stop.
      if (this.#writer.refusal() === null) this.#writer.fail(error);
    }
  }

  afterSend(callback: () => void): void {
    this.#writer.afterSend(callback);
  }

  setSnapshotSource(source: SnapshotSource): void {
    if (typeof source !== "function") throw invalidArgument("source", "a function", source);
    this.#checkpointer.setSource(source);
  }

  checkpoint(): Promise<void> {
    const refused = this.#writer.refusal();
    return refused !== null ? Promise.reject(refused) : this.#checkpointer.checkpoint();
  }

  collectGarbage(): Promise<void> {
    const refused = this.#writer.refusal();
    return refused !== null ? Promise.reject(refused) : this.#checkpointer.collectGarbage();
  }

  onFailure(listener: (error: Error) => void, options?: FailureListenerOptions): void {
    this.#writer.onFailure(listener, options);
  }

  stats(): LogStats {
    const { durableWalId, batchesWritten, recordsWritten, bytesWritten, unflushedBytes } =
      this.#writer.stats();
    return {
      epoch: this.#fence.epoch,
      durableWalId,
      batchesWritten,
      recordsWritten,
      bytesWritten,
      ...this.#checkpointer.stats(),
      unflushedBytes,
    };
  }

  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    const writer = this.#writer;
    writer.beginClose();
    try {
      if (writer.failure !== null) return;
      await writer.flush();
      await this.#checkpointer.finish();
    } finally {
      writer.stop();
    }
  }
}

/**
 * The writer's backpressure: how many appended bytes are not yet durable,
 * and the producers waiting for that to drop to `maxUnflushedBytes`.
 */
import { type Deferred, deferred } from "./deferred.js";

export class Backpressure {
  #unflushedBytes = 0;
  #waiters: Deferred<void>[] = [];

  constructor(readonly maxUnflushedBytes: number) {}

  /** Appended bytes not yet durable. */
  get unflushedBytes(): number {
    return this.#unflushedBytes;
  }

  /** Whether an append may go ahead now (a closing log lets everything through). */
  allows(closing: boolean): boolean {
    return this.#unflushedBytes <= this.maxUnflushedBytes || closing;
  }

  /** Resolves once {@link allows}; rejects with the log's failure (see {@link failAll}). */
  whenAllowed(closing: boolean): Promise<void> {
    if (this.allows(closing)) return Promise.resolve();
    const waiter = deferred<void>();
    this.#waiters.push(waiter);
    return waiter.promise;
  }

  appended(bytes: number): void {
    this.#unflushedBytes += bytes;
  }

  /** `bytes` became durable: waiters go ahead once the total is low enough. */
  durable(bytes: number): void {
    this.#unflushedBytes -= bytes;
    if (this.#unflushedBytes > this.maxUnflushedBytes) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /** The log failed: every waiter rejects with `error`. */
  failAll(error: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }
}

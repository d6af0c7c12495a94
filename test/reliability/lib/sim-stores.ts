/**
 * Store wrappers of the deterministic simulation: latency that follows the
 * simulated clock, and a per-process view of the store that can "die" (no
 * request from then on reaches the store, responses still in flight are
 * lost — what a SIGKILLed process looks like from the store's side).
 */
import { createTimer, type ManualClock } from "../../../src/clock.js";
import { ClosedError } from "../../../src/errors.js";
import type {
  ListOptions,
  ListPage,
  ObjectStore,
  PutOptions,
  StoredObject,
} from "../../../src/store/types.js";

/** Delays every request by a random number of simulated milliseconds; listings by more. */
export class ClockedLatencyStore implements ObjectStore {
  constructor(
    readonly inner: ObjectStore,
    readonly clock: ManualClock,
    readonly random: () => number,
    readonly maxLatencyMs: number,
    readonly maxListLatencyMs: number,
  ) {}

  async get(key: string): Promise<StoredObject | null> {
    await this.#delay(this.maxLatencyMs);
    return this.inner.get(key);
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    await this.#delay(this.maxLatencyMs);
    return this.inner.put(key, body, options);
  }

  async delete(key: string): Promise<void> {
    await this.#delay(this.maxLatencyMs);
    return this.inner.delete(key);
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    await this.#delay(this.maxListLatencyMs);
    return this.inner.list(prefix, options);
  }

  describe(): string {
    return `clocked-latency+${this.inner.describe()}`;
  }

  #delay(maxMs: number): Promise<void> {
    const ms = Math.floor(this.random() * (maxMs + 1));
    if (ms === 0) return Promise.resolve();
    return new Promise((resolve) => createTimer(this.clock, this.clock.now() + ms, resolve));
  }
}

/** What a dead process hears back; not retryable, so its log fails at once and lets go of its timers. */
function killed(): Promise<never> {
  return Promise.reject(new ClosedError("simulated process was killed"));
}

/**
 * One simulated process's connection to the shared store. After `kill()`
 * nothing it does reaches the store, and what was in flight may have taken
 * effect but is never reported as done. After `markFenced()`, any
 * create of a WAL or manifest object that succeeds is recorded as a write
 * after the newer writer's fence.
 */
export class ProcessStore implements ObjectStore {
  #dead = false;
  #fenced = false;
  readonly writesAfterFence: string[] = [];

  constructor(readonly inner: ObjectStore) {}

  kill(): void {
    this.#dead = true;
  }

  markFenced(): void {
    this.#fenced = true;
  }

  get(key: string): Promise<StoredObject | null> {
    return this.#call(() => this.inner.get(key));
  }

  put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    return this.#call(async () => {
      await this.inner.put(key, body, options);
      if (this.#fenced && options?.ifNoneMatch === "*" && /\/(wal|manifest)\//.test(key))
        this.writesAfterFence.push(key);
    });
  }

  delete(key: string): Promise<void> {
    return this.#call(() => this.inner.delete(key));
  }

  list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.#call(() => this.inner.list(prefix, options));
  }

  describe(): string {
    return `process+${this.inner.describe()}`;
  }

  async #call<T>(op: () => Promise<T>): Promise<T> {
    if (this.#dead) return killed();
    const result = await op();
    if (this.#dead) return killed();
    return result;
  }
}

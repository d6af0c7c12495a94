/**
 * Store wrappers of the deterministic simulation: latency that follows the
 * simulated clock, and a per-process view of the store that can "die" (no
 * request from then on reaches the store, responses still in flight are
 * lost — what a SIGKILLed process looks like from the store's side).
 */
import { type ManualClock, startTimer } from "../../../src/clock.js";
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

  /**
   * While set, reads go straight to this store, at once and without faults:
   * the auditor reads offloaded payloads through the queue's read API while
   * no simulated time passes.
   */
  readsDirect: ObjectStore | null = null;

  async get(key: string): Promise<StoredObject | null> {
    if (this.readsDirect !== null) return this.readsDirect.get(key);
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
    return new Promise((resolve) => startTimer(this.clock, ms, resolve));
  }
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.compare(a, b) === 0;
}

/** What a dead process hears back; not retryable, so its log fails at once and lets go of its timers. */
function killed(): Promise<never> {
  return Promise.reject(new ClosedError("simulated process was killed"));
}

/**
 * One simulated process's connection to the shared store. After `kill()`
 * nothing it does reaches the store, and what was in flight may have taken
 * effect but is never reported as done. After `markFenced()`, a successful
 * create of a WAL or manifest object is recorded as a write after the newer
 * writer's fence — unless it re-creates, byte for byte, an object this process
 * had already landed before the fence (a retry of an ambiguous create whose
 * first attempt the newer writer replayed and then collected: no new data).
 */
export class ProcessStore implements ObjectStore {
  #dead = false;
  #fenced = false;
  #stalled: Array<() => void> | null = null;
  /** Creates of this process that took effect before the fence, by key. */
  readonly #landed = new Map<string, Uint8Array>();
  readonly writesAfterFence: string[] = [];

  /** `truth` reads the underlying store without faults, to learn whether a failed create landed. */
  constructor(
    readonly inner: ObjectStore,
    readonly truth: ObjectStore,
  ) {}

  kill(): void {
    this.#dead = true;
    this.release();
  }

  /** Hold every later request before it reaches the store (a process stuck mid-request). */
  stall(): void {
    this.#stalled ??= [];
  }

  /** Let held requests go on, in order. */
  release(): void {
    const held = this.#stalled ?? [];
    this.#stalled = null;
    for (const resume of held) resume();
  }

  markFenced(): void {
    this.#fenced = true;
  }

  get(key: string): Promise<StoredObject | null> {
    return this.#call(() => this.inner.get(key));
  }

  put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    const tracked = options?.ifNoneMatch === "*" && /\/(wal|manifest)\//.test(key);
    return this.#call(async () => {
      try {
        await this.inner.put(key, body, options);
      } catch (error) {
        if (tracked && !this.#fenced) {
          const stored = await this.truth.get(key);
          if (stored !== null && Buffer.compare(stored.body, body) === 0)
            this.#landed.set(key, body);
        }
        throw error;
      }
      if (!tracked) return;
      if (!this.#fenced) this.#landed.set(key, body);
      else if (!sameBytes(this.#landed.get(key), body)) this.writesAfterFence.push(key);
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
    const stalled = this.#stalled;
    if (stalled !== null) await new Promise<void>((resume) => stalled.push(resume));
    if (this.#dead) return killed();
    const result = await op();
    if (this.#dead) return killed();
    return result;
  }
}

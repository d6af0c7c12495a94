/**
 * A store whose WAL creates wait for the test: each one is held (before or
 * after it takes effect, per `mode`) until the test releases it by slot, in
 * any order, or makes it fail. Everything else passes straight through.
 */
import { MemoryStore } from "../../src/store/memory.js";
import type {
  ListOptions,
  ListPage,
  ObjectStore,
  PutOptions,
  StoredObject,
} from "../../src/store/types.js";

interface Held {
  key: string;
  go: () => void;
  fail: (error: Error) => void;
}

export class GatedStore implements ObjectStore {
  readonly inner = new MemoryStore();
  /** "before": held before the create reaches the store; "after": it took effect, the reply is held. */
  mode: "before" | "after" = "before";
  gating = true;
  readonly #held = new Map<number, Held>();
  #waiters: Array<() => void> = [];

  get(key: string): Promise<StoredObject | null> {
    return this.inner.get(key);
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    const slot = /\/wal\/(\d{20})$/.exec(key);
    if (!this.gating || slot === null || options?.ifNoneMatch !== "*")
      return this.inner.put(key, body, options);
    const id = Number(slot[1]);
    if (this.mode === "after") await this.inner.put(key, body, options);
    await new Promise<void>((go, fail) => {
      this.#held.set(id, { key, go, fail });
      for (const wake of this.#waiters.splice(0)) wake();
    });
    if (this.mode === "before") await this.inner.put(key, body, options);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.inner.list(prefix, options);
  }

  describe(): string {
    return "gated";
  }

  /** Slots whose creates are held now, ascending. */
  held(): number[] {
    return [...this.#held.keys()].sort((a, b) => a - b);
  }

  /** Resolves once `count` creates are held. */
  async whenHeld(count: number): Promise<void> {
    while (this.#held.size < count) await new Promise<void>((wake) => this.#waiters.push(wake));
  }

  release(slot: number): void {
    const held = this.#take(slot);
    held.go();
  }

  /** Fails the held create of `slot` with `error` (after it took effect when mode is "after"). */
  fail(slot: number, error: Error): void {
    this.#take(slot).fail(error);
  }

  #take(slot: number): Held {
    const held = this.#held.get(slot);
    if (held === undefined)
      throw new Error(`no create of slot ${slot} is held (held: ${this.held()})`);
    this.#held.delete(slot);
    return held;
  }
}

/** Lets pending promise callbacks and immediates run. */
export async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise(setImmediate);
}

/** Tracks how a promise settled, without awaiting it. */
export function watch<T>(promise: Promise<T>): {
  state: () => "pending" | "resolved" | "rejected";
  error: () => unknown;
} {
  let state: "pending" | "resolved" | "rejected" = "pending";
  let error: unknown;
  promise.then(
    () => {
      state = "resolved";
    },
    (e: unknown) => {
      state = "rejected";
      error = e;
    },
  );
  return { state: () => state, error: () => error };
}

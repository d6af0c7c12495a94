/** `LatencyStore`: a wrapper that adds latency and jitter to requests (tests and benchmarks). */
import { setTimeout as sleep } from "node:timers/promises";
import { checkFunction, checkObjectStore, invalidArgument } from "../../validate.js";
import type {
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  StoredObject,
} from "../types.js";
import { copyWritesComing } from "../write-hint.js";
import { checkOps, checkOptionsBag } from "./check-options.js";
import { opMatches, type StoreOp } from "./ops.js";

/** Options of {@link LatencyStore}. */
export interface LatencyOptions {
  /**
   * Fixed delay added to every selected request, in milliseconds.
   * @example { latencyMs: 20 }
   */
  latencyMs: number;
  /**
   * Upper bound of the extra random delay (right-skewed: usually small, sometimes near the bound).
   * @default 0
   * @example { latencyMs: 20, jitterMs: 80 }
   */
  jitterMs?: number;
  /**
   * Source of randomness in [0, 1); pass `seededRandom(seed)` for reproducible runs.
   * @default Math.random
   * @example { latencyMs: 20, jitterMs: 80, random: seededRandom(42) }
   */
  random?: () => number;
  /**
   * Which requests are delayed.
   * @default every kind
   * @example { latencyMs: 50, ops: ["put"] }
   */
  ops?: StoreOp[];
}

function requireNonNegative(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0)
    throw invalidArgument(`options.${name}`, "a finite number ≥ 0", value, "LatencyStore");
}

/**
 * Delays requests to an inner store with real timers, to model a remote
 * object store (benchmarks, timing tests). The delay happens before the inner
 * request is issued.
 */
export class LatencyStore implements ObjectStore {
  readonly #inner: ObjectStore;
  readonly #latencyMs: number;
  readonly #jitterMs: number;
  readonly #random: () => number;
  readonly #ops: StoreOp[] | undefined;
  readonly head?: (key: string) => Promise<ObjectInfo | null>;

  constructor(inner: ObjectStore, options: LatencyOptions) {
    checkObjectStore(inner, "inner", "LatencyStore");
    checkOptionsBag(options, "options", "LatencyStore", false);
    if (options.random !== undefined)
      checkFunction(options.random, "options.random", "a function", "LatencyStore");
    checkOps(options.ops, "options.ops", "LatencyStore", false);
    requireNonNegative("latencyMs", options.latencyMs);
    requireNonNegative("jitterMs", options.jitterMs ?? 0);
    this.#inner = inner;
    copyWritesComing(inner, this);
    this.#latencyMs = options.latencyMs;
    this.#jitterMs = options.jitterMs ?? 0;
    this.#random = options.random ?? Math.random;
    this.#ops = options.ops === undefined ? undefined : [...options.ops];
    const innerHead = inner.head;
    if (innerHead !== undefined) {
      this.head = async (key) => {
        await this.#delay("head");
        return innerHead.call(inner, key);
      };
    }
  }

  async get(key: string): Promise<StoredObject | null> {
    await this.#delay("get");
    return this.#inner.get(key);
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    await this.#delay("put");
    return this.#inner.put(key, body, options);
  }

  async delete(key: string): Promise<void> {
    await this.#delay("delete");
    return this.#inner.delete(key);
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    await this.#delay("list");
    return this.#inner.list(prefix, options);
  }

  describe(): string {
    const jitter = this.#jitterMs > 0 ? `+0..${this.#jitterMs}` : "";
    return `latency(${this.#latencyMs}${jitter}ms)+${this.#inner.describe()}`;
  }

  async #delay(op: StoreOp): Promise<void> {
    if (!opMatches(this.#ops, op)) return;
    // Cubing a uniform sample skews it right: most requests get little jitter, a few get a lot.
    const ms = this.#latencyMs + this.#jitterMs * this.#random() ** 3;
    if (ms > 0) await sleep(ms);
  }
}

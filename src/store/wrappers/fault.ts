/** `FaultStore`: a wrapper that injects errors before or after a request takes effect, or holds requests (tests). */

import { types } from "node:util";
import { checkFunction, checkObjectStore, checkOneOf, invalidArgument } from "../../validate.js";
import type {
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  StoredObject,
} from "../types.js";
import { copyWritesComing } from "../write-hint.js";
import { checkOps, checkOptionalString, checkOptionsBag } from "./check-options.js";
import { opMatches, type StoreOp } from "./ops.js";

export type { StoreOp } from "./ops.js";

const MODES = ["before", "after"] as const;

/** Throws `InvalidArgumentError` naming the first option of `rule` that is not as documented. */
function checkRule(rule: FaultRule): void {
  const of = "FaultStore.addRule";
  checkOptionsBag(rule, "rule", of, false);
  checkOps(rule.op, "rule.op", of);
  checkOptionalString(rule.keyPrefix, "rule.keyPrefix", of);
  if (rule.keyPattern !== undefined && !types.isRegExp(rule.keyPattern))
    throw invalidArgument("rule.keyPattern", "a RegExp", rule.keyPattern, of);
  if (!MODES.includes(rule.mode))
    throw invalidArgument("rule.mode", '"before" or "after"', rule.mode, of);
  const { probability, times } = rule;
  if (
    probability !== undefined &&
    !(typeof probability === "number" && probability >= 0 && probability <= 1)
  )
    throw invalidArgument("rule.probability", "a number from 0 to 1", probability, of);
  if (
    times !== undefined &&
    times !== Number.POSITIVE_INFINITY &&
    !(Number.isSafeInteger(times) && times >= 1)
  )
    throw invalidArgument("rule.times", "a positive integer (or Infinity)", times, of);
  if (rule.error !== undefined) checkFunction(rule.error, "rule.error", "a function", of);
}

/** Throws `InvalidArgumentError` naming the first option of `match` that is not as documented. */
function checkPauseMatch(match: PauseMatch): void {
  const of = "FaultStore.pause";
  checkOptionsBag(match, "match", of, false);
  checkOps(match.op, "match.op", of);
  checkOptionalString(match.keyPrefix, "match.keyPrefix", of);
  if (match.mode !== undefined) checkOneOf(match.mode, "match.mode", MODES, of);
}

/** Which requests a {@link FaultStore} rule breaks, and how. */
export interface FaultRule {
  /**
   * Requests of these kinds.
   * @default every kind
   * @example { op: ["put", "delete"], mode: "before" }
   */
  op?: StoreOp | StoreOp[];
  /**
   * Only keys starting with this (for `list`, the listed prefix is the key).
   * @default every key
   * @example { keyPrefix: "jobs/wal/", mode: "after" }
   */
  keyPrefix?: string;
  /**
   * Only keys matching this pattern.
   * @default every key
   * @example { keyPattern: /checkpoint\//, mode: "before" }
   */
  keyPattern?: RegExp;
  /**
   * `"before"`: fail without performing the request. `"after"`: perform it,
   * then report failure — the caller cannot tell whether it took effect.
   * @example { op: "put", mode: "after" }
   */
  mode: "before" | "after";
  /**
   * Chance that a matching request fails, in [0, 1].
   * @default 1
   * @example { mode: "before", probability: 0.05 }
   */
  probability?: number;
  /**
   * How many times the rule fires before it retires. A request that an
   * `"after"` rule picked but that failed on its own (nothing was injected)
   * does not count.
   * @default unlimited
   * @example { op: "get", mode: "before", times: 2 }
   */
  times?: number;
  /**
   * The error to throw.
   * @default an {@link InjectedFaultError}
   * @example { mode: "before", error: () => new StorageError("no such bucket", { permanent: true }) }
   */
  error?: () => Error;
}

/** Selects requests to hold with {@link FaultStore.pause}. */
export interface PauseMatch {
  /**
   * Requests of these kinds.
   * @default every kind
   * @example { op: "put" }
   */
  op?: StoreOp | StoreOp[];
  /**
   * Only keys starting with this (for `list`, the listed prefix is the key).
   * @default every key
   * @example { keyPrefix: "jobs/wal/" }
   */
  keyPrefix?: string;
  /**
   * `"before"`: hold the request before it reaches the inner store.
   * `"after"`: perform it, then hold the response (a write that landed but
   * whose caller has not heard back — a zombie).
   * @default "before"
   * @example { op: "put", mode: "after" }
   */
  mode?: "before" | "after";
}

/** Handle of a {@link FaultStore.pause}. */
export interface PauseHandle {
  /** Let every held request continue and stop holding new ones. */
  release(): void;
  /** How many requests are held right now. */
  held(): number;
  /** Resolves once at least `count` (default 1) requests are held at the same time. */
  whenHeld(count?: number): Promise<void>;
}

/** The default error of a {@link FaultRule}. */
export class InjectedFaultError extends Error {
  /** Always `"INJECTED_FAULT"`. */
  readonly code = "INJECTED_FAULT" as const;
  /**
   * @param op - the kind of request that failed (kept as `error.op`)
   * @param key - its key, or the listed prefix (kept as `error.key`)
   * @param mode - whether it failed before or after taking effect (kept as `error.mode`)
   */
  constructor(
    readonly op: StoreOp,
    readonly key: string,
    readonly mode: "before" | "after",
  ) {
    super(
      `injected fault: ${op} "${key}" ${mode === "after" ? "failed after taking effect" : "failed"}`,
    );
    this.name = "InjectedFaultError";
  }
}

interface ActiveRule {
  rule: FaultRule;
  remaining: number;
}

interface ActivePause {
  match: PauseMatch;
  waiters: Array<() => void>;
  heldWatchers: Array<{ count: number; resolve: () => void }>;
}

/**
 * Injects failures and stalls into requests to an inner store, to test how
 * callers handle errors, ambiguous outcomes and zombie requests. Rules are
 * checked in the order they were added; the first that fires wins.
 */
export class FaultStore implements ObjectStore {
  readonly #inner: ObjectStore;
  readonly #random: () => number;
  readonly #rules: ActiveRule[] = [];
  readonly #pauses = new Set<ActivePause>();
  #injected = 0;
  readonly head?: (key: string) => Promise<ObjectInfo | null>;

  constructor(inner: ObjectStore, options: { random?: () => number } = {}) {
    checkObjectStore(inner, "inner", "FaultStore");
    checkOptionsBag(options, "options", "FaultStore", false);
    if (options.random !== undefined)
      checkFunction(options.random, "options.random", "a function", "FaultStore");
    this.#inner = inner;
    copyWritesComing(inner, this);
    this.#random = options.random ?? Math.random;
    const innerHead = inner.head;
    if (innerHead !== undefined) {
      this.head = (key) => this.#run("head", key, () => innerHead.call(inner, key));
    }
  }

  /** Number of faults injected so far. */
  get injectedCount(): number {
    return this.#injected;
  }

  /** Add a rule; returns a function that removes it. */
  addRule(rule: FaultRule): () => void {
    checkRule(rule);
    const active: ActiveRule = { rule, remaining: rule.times ?? Number.POSITIVE_INFINITY };
    this.#rules.push(active);
    return () => {
      const index = this.#rules.indexOf(active);
      if (index >= 0) this.#rules.splice(index, 1);
    };
  }

  /** Remove every rule (pauses stay). */
  clearRules(): void {
    this.#rules.length = 0;
  }

  /** Hold matching requests until released — a stalled request or a zombie writer. */
  pause(match: PauseMatch): PauseHandle {
    checkPauseMatch(match);
    const active: ActivePause = { match, waiters: [], heldWatchers: [] };
    this.#pauses.add(active);
    return {
      release: () => {
        this.#pauses.delete(active);
        const waiters = active.waiters.splice(0);
        for (const resume of waiters) resume();
      },
      held: () => active.waiters.length,
      whenHeld: (count = 1) => {
        if (!(Number.isSafeInteger(count) && count >= 1))
          return Promise.reject(
            invalidArgument("count", "a positive integer", count, "PauseHandle.whenHeld"),
          );
        return active.waiters.length >= count
          ? Promise.resolve()
          : new Promise<void>((resolve) => active.heldWatchers.push({ count, resolve }));
      },
    };
  }

  get(key: string): Promise<StoredObject | null> {
    return this.#run("get", key, () => this.#inner.get(key));
  }

  put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    return this.#run("put", key, () => this.#inner.put(key, body, options));
  }

  delete(key: string): Promise<void> {
    return this.#run("delete", key, () => this.#inner.delete(key));
  }

  list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.#run("list", prefix, () => this.#inner.list(prefix, options));
  }

  describe(): string {
    return `faults+${this.#inner.describe()}`;
  }

  async #run<T>(op: StoreOp, key: string, perform: () => Promise<T>): Promise<T> {
    await this.#hold(op, key, "before");
    const fired = this.#fire(op, key);
    if (fired?.rule.mode === "before") throw this.#error(fired.rule, op, key);
    let result: T;
    try {
      result = await perform();
    } catch (err) {
      // Failed on its own, so nothing was injected: an "after" rule is not spent on it.
      if (fired !== undefined) {
        fired.remaining++;
        this.#injected--;
      }
      throw err;
    }
    await this.#hold(op, key, "after");
    if (fired !== undefined) throw this.#error(fired.rule, op, key);
    return result;
  }

  async #hold(op: StoreOp, key: string, mode: "before" | "after"): Promise<void> {
    for (const pause of [...this.#pauses]) {
      const { match } = pause;
      if ((match.mode ?? "before") !== mode || !opMatches(match.op, op)) continue;
      if (match.keyPrefix !== undefined && !key.startsWith(match.keyPrefix)) continue;
      if (!this.#pauses.has(pause)) continue; // released while an earlier pause held us
      await new Promise<void>((resolve) => {
        pause.waiters.push(resolve);
        const ready = pause.heldWatchers.filter((w) => pause.waiters.length >= w.count);
        pause.heldWatchers = pause.heldWatchers.filter((w) => pause.waiters.length < w.count);
        for (const watcher of ready) watcher.resolve();
      });
    }
  }

  #fire(op: StoreOp, key: string): ActiveRule | undefined {
    for (const active of this.#rules) {
      const { rule } = active;
      if (active.remaining <= 0 || !opMatches(rule.op, op)) continue;
      if (rule.keyPrefix !== undefined && !key.startsWith(rule.keyPrefix)) continue;
      if (rule.keyPattern !== undefined && !testPattern(rule.keyPattern, key)) continue;
      const probability = rule.probability ?? 1;
      if (probability < 1 && this.#random() >= probability) continue;
      active.remaining--;
      this.#injected++;
      return active;
    }
    return undefined;
  }

  #error(rule: FaultRule, op: StoreOp, key: string): Error {
    return rule.error ? rule.error() : new InjectedFaultError(op, key, rule.mode);
  }
}

function testPattern(pattern: RegExp, key: string): boolean {
  // A global or sticky pattern keeps state in lastIndex between calls; reset it.
  pattern.lastIndex = 0;
  return pattern.test(key);
}

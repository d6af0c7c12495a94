/**
 * The log's view of its object store: every request is retried on transient
 * errors, and create-if-absent resolves ambiguous outcomes by reading back.
 */
import type { MonotonicClock } from "../clock.js";
import type { Logger } from "../logger.js";
import { compareKeys } from "../store/key-order.js";
import {
  isObjectExistsError,
  type ListPage,
  type ObjectInfo,
  type ObjectStore,
} from "../store/types.js";
import { type RandomSource, systemRandom } from "../util/random.js";
import { nextSlice, type SliceBudget, sortInSlices, spentAt } from "../util/slices.js";
import type { RetryPolicy } from "./options.js";
import { type RetryContext, type RetryEpisode, Sleeper, withRetry } from "./retry.js";
import { RetryWarnings } from "./retry-warnings.js";

export type CreateOutcome = "created" | "taken";

export class LogStorage {
  constructor(
    readonly store: ObjectStore,
    readonly retry: RetryContext,
  ) {}

  /**
   * Storage for one log with its own retry sleeper. `stopReason` is asked
   * before every attempt: an error there (the log failed) ends retrying.
   * Each retry sequence warns at its first failure, unless the same problem
   * failed an earlier one (see `retry-warnings.ts`) or `episode` is given:
   * then sequences failing at once warn once between them until it is
   * closed (the opener's, for its first reads).
   */
  static create(
    store: ObjectStore,
    options: { clock: MonotonicClock; logger: Logger; retry: RetryPolicy },
    stopReason: () => Error | null = () => null,
    random: RandomSource = systemRandom,
    episode?: RetryEpisode,
  ): LogStorage {
    return new LogStorage(store, {
      clock: options.clock,
      policy: options.retry,
      logger: options.logger,
      sleeper: new Sleeper(options.clock),
      warnings: new RetryWarnings(options.clock, options.logger),
      stopReason,
      random,
      ...(episode === undefined ? {} : { episode }),
    });
  }

  /** Where the log draws its randomness (write tokens, writer ids, names, jitter). */
  get random(): RandomSource {
    return this.retry.random ?? systemRandom;
  }

  async get(key: string): Promise<Uint8Array | null> {
    const object = await withRetry(this.retry, `GET ${key}`, () => this.store.get(key));
    return object === null ? null : object.body;
  }

  /**
   * Whether `key` exists, with its size: a HEAD where the store has one, else
   * a GET. `null` when it is missing.
   */
  async stat(key: string): Promise<ObjectInfo | null> {
    const { store } = this;
    if (store.head !== undefined) {
      const head = store.head;
      return withRetry(this.retry, `HEAD ${key}`, () => head.call(store, key));
    }
    const body = await this.get(key);
    return body === null ? null : { key, size: body.byteLength };
  }

  /** Plain overwrite, for objects with unique names nobody else writes. */
  async put(key: string, body: Uint8Array): Promise<void> {
    await withRetry(this.retry, `PUT ${key}`, () => this.store.put(key, body));
  }

  async delete(key: string): Promise<void> {
    await withRetry(this.retry, `DELETE ${key}`, () => this.store.delete(key));
  }

  /**
   * Every key under `prefix` (strictly after `startAfter`), in key order; each
   * page retried. With `budget`, the event loop has a turn between two pages
   * once its slice is spent: a store that answers without I/O (the memory
   * store) would otherwise list a long WAL in one turn. A store's listing is
   * in key order (the `ObjectStore` contract), so this only compares
   * neighbours; the listing of a store that breaks it is sorted, so that a run
   * of WAL slots or the newest manifest is not misread.
   */
  async list(prefix: string, startAfter?: string, budget?: SliceBudget): Promise<ObjectInfo[]> {
    const all: ObjectInfo[] = [];
    let cursor = startAfter;
    for (;;) {
      const page = await this.page(prefix, cursor);
      for (const object of page.objects) all.push(object);
      if (page.nextStartAfter === undefined) return inKeyOrder(all, budget);
      cursor = page.nextStartAfter;
      if (budget?.spent()) await nextSlice(budget);
    }
  }

  /** One page of the keys under `prefix` (strictly after `startAfter`), retried. */
  page(prefix: string, startAfter?: string): Promise<ListPage> {
    return withRetry(this.retry, `LIST ${prefix}`, () =>
      this.store.list(prefix, startAfter === undefined ? {} : { startAfter }),
    );
  }

  /**
   * Atomic create. A create that failed transiently may still have taken
   * effect, so when the key turns out to exist its content decides: `isOurs`
   * → "created", anything else → "taken" (someone else won the key). With
   * `isOurs` null (an object that carries no token, such as a fence) an
   * existing key is "taken" without reading it.
   */
  async create(
    key: string,
    body: Uint8Array,
    isOurs: ((existing: Uint8Array) => boolean) | null,
  ): Promise<CreateOutcome> {
    return withRetry(this.retry, `create ${key}`, async () => {
      try {
        await this.store.put(key, body, { ifNoneMatch: "*" });
        return "created";
      } catch (error) {
        if (!isObjectExistsError(error)) throw error;
        if (isOurs === null) return "taken";
        const existing = await this.store.get(key);
        // Vanished between the two calls: transient, try the create again.
        if (existing === null) throw new Error(`object "${key}" existed, then vanished`);
        return isOurs(existing.body) ? "created" : "taken";
      }
    });
  }
}

/** `objects`, sorted by key (in slices of `budget`) only if two neighbours are out of order. */
async function inKeyOrder(objects: ObjectInfo[], budget?: SliceBudget): Promise<ObjectInfo[]> {
  for (let i = 1; i < objects.length; i++) {
    if (budget !== undefined && spentAt(budget, i)) await nextSlice(budget);
    if (compareKeys(objects[i - 1]!.key, objects[i]!.key) > 0)
      return sortInSlices(objects, (a, b) => compareKeys(a.key, b.key), budget);
  }
  return objects;
}

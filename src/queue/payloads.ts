/**
 * Offloaded payloads (`OpenOptions.payloadOffloadBytes`): a payload above the
 * threshold is written once, create-if-absent, as its own object
 * `{path}/payload/<ulid>` before the job's record (an enqueue, a debounce's
 * replace, a transaction), which then carries only the object's key and
 * size; the state and checkpoints never hold the bytes. Owns those objects:
 * writing them and reading them back for claims and reads (a bounded number
 * at a time per call), deleting them once the record that removed their job (or
 * replaced its payload) is durable or once the record that would have
 * referenced them certainly failed, knowing which objects calls in flight
 * wrote, and starting the collection of orphans (`payload-orphans.ts`), which
 * it tells what may have left one behind.
 */
import type { MonotonicClock } from "../clock.js";
import { ClosedError, FencedError, StorageError } from "../errors.js";
import { normalizePrefix } from "../log/keys.js";
import type { OwnedDir } from "../log/lost-manifests.js";
import type { RetryPolicy } from "../log/options.js";
import { isTransient, type RetryContext, Sleeper, withRetry } from "../log/retry.js";
import { GiveUpWarnings, RetryWarnings } from "../log/retry-warnings.js";
import type { Logger } from "../logger.js";
import type { ObjectStore } from "../store/types.js";
import { isObjectExistsError } from "../store/types.js";
import { ConcurrencyLimit } from "../util/limited.js";
import { type RandomSource, systemRandom } from "../util/random.js";
import type { SliceBudget } from "../util/slices.js";
import type { OrphanPasses } from "./orphan-passes.js";
import {
  decodePayloadObject,
  encodePayloadObject,
  isUnreadable,
  MissingPayloadError,
  markUnreadable,
  warnUnreadable,
} from "./payload-object.js";
import { type PayloadOrphanSource, PayloadOrphans } from "./payload-orphans.js";
import type { State } from "./state.js";
import { forEachExtras, PAGE_SLOTS, type PayloadRef } from "./table.js";
import type { JobRecord } from "./types.js";

export {
  ORPHAN_MIN_AGE_MS,
  ORPHAN_PASS_MAX_SPACING_MS,
  ORPHAN_PASS_SPACING_MS,
  ORPHAN_REFUSALS_IN_A_ROW,
} from "./orphan-passes.js";

/** The folder of payload objects under the queue store's path. */
export const PAYLOAD_DIR = "payload/";

/** Whether a name under {@link PAYLOAD_DIR} is one a payload object is written as (a ULID). */
export function isPayloadName(name: string): boolean {
  return /^[0-9A-Z]{26}$/.test(name);
}

/**
 * The folders the queue writes under its log's prefix, for the log's check
 * that a store without manifests holds none of the queue's objects.
 */
export const QUEUE_OWNED_DIRS: readonly OwnedDir[] = Object.freeze([
  Object.freeze({ dir: PAYLOAD_DIR, isObject: isPayloadName }),
]);

/** Default of `OpenOptions.payloadOffloadBytes`. */
export const DEFAULT_PAYLOAD_OFFLOAD_BYTES = 262_144;

/**
 * How many payload object writes or reads one call (an `enqueueMany`, a
 * transaction, a `claimBatch`, a `getJob`…) has in flight at most; its
 * others wait their turn. Unbounded, an `enqueueMany` of 10,000 offloaded
 * jobs opened 10,000 files at once and a `FileStore` at the usual limit of
 * 1,024 descriptors answered thousands of them with `EMFILE` (each a retry
 * sequence and a warning). 64 stays far below that limit next to the log's
 * own files, and is about as many requests as a cloud SDK's connection pool
 * runs at once (50 sockets by default in the AWS SDK), so one call loses
 * little parallelism it had. A call with fewer payloads than this (the
 * common case) starts them all at once, as before. The bound is per call,
 * not per queue: a call never waits for another call's requests (a
 * handler's transaction or a `getJob` behind a large `enqueueMany` or
 * `claimBatch`), so only calls running together, each large, add up.
 */
export const PAYLOAD_REQUESTS_IN_FLIGHT = 64;

/** How payload requests retry transient store errors: the log's policy, on its clock. */
export interface PayloadRetry {
  clock: MonotonicClock;
  logger: Logger;
  retry: RetryPolicy;
  /** Where object names and retry jitter draw their randomness (the system's by default). */
  random?: RandomSource;
}

export class PayloadObjects {
  readonly #store: ObjectStore;
  readonly #dir: string;
  readonly #logger: Logger;
  readonly #retry: RetryContext;
  readonly #sleeper: Sleeper;
  /** Why retries stop (the queue closed or failed), or null while it runs. */
  #stopped: Error | null = null;
  /** Payloads larger than this many bytes are offloaded; `null`: never. */
  readonly threshold: number | null;
  /** Deletes given up on: one warning per problem, not one per object left. */
  readonly #deletesLeft: GiveUpWarnings;
  /**
   * Which objects the orphan collector leaves alone (those of calls in
   * flight, see {@link release}; of removals not durable yet, see
   * {@link deleteWhenDurable}), and its passes (see {@link collectOrphansWhileRunning}).
   */
  readonly #orphans: PayloadOrphans;

  constructor(store: ObjectStore, path: string, threshold: number | null, retry: PayloadRetry) {
    this.#store = store;
    this.#dir = normalizePrefix(path) + PAYLOAD_DIR;
    this.#orphans = new PayloadOrphans(this.#dir);
    this.threshold = threshold;
    this.#logger = retry.logger;
    this.#sleeper = new Sleeper(retry.clock);
    this.#deletesLeft = new GiveUpWarnings(retry.clock, retry.logger, "it is collected later");
    this.#retry = {
      clock: retry.clock,
      policy: retry.retry,
      logger: retry.logger,
      sleeper: this.#sleeper,
      stopReason: () => this.#stopped,
      random: retry.random ?? systemRandom,
      // One line per problem: a store failing every object's write once warns once, not per object.
      warnings: new RetryWarnings(retry.clock, retry.logger),
    };
  }

  /** @internal For tests: how many keys the running pass over orphans holds to spare. */
  get passSparedKeys(): number {
    return this.#orphans.passSparedKeys;
  }

  /** The queue closed or failed: requests retrying stop with `reason` (an unfinished delete leaves an orphan). */
  stop(reason: Error): void {
    this.#stopped ??= reason;
    this.#orphans.stop();
    this.#sleeper.wakeAll();
  }

  /** Whether a payload of `bytes` is stored as its own object. */
  offloads(bytes: Uint8Array): boolean {
    return this.threshold !== null && bytes.byteLength > this.threshold;
  }

  /**
   * The bound of one call's payload requests: at most
   * {@link PAYLOAD_REQUESTS_IN_FLIGHT} of the writes or reads given it run at once.
   */
  callLimit(): ConcurrencyLimit {
    return new ConcurrencyLimit(PAYLOAD_REQUESTS_IN_FLIGHT);
  }

  /**
   * Writes `bytes` as a new object; resolves with its reference once it is
   * stored. Transient store errors are retried with the log's policy; a
   * failure that outlasts it is a `StorageError`. Runs within `limit`, the
   * call's bound (see {@link callLimit}), or at once without one.
   */
  write(bytes: Uint8Array, now: number, limit?: ConcurrencyLimit): Promise<PayloadRef> {
    const key = this.#dir + (this.#retry.random ?? systemRandom).ulid(now);
    this.#orphans.writing(key, now);
    return limit === undefined ? this.#write(key, bytes) : limit.run(() => this.#write(key, bytes));
  }

  /**
   * The calls that wrote `keys` committed them (the state references them
   * now) or dropped them: the orphan collector no longer leaves them alone
   * for that.
   */
  release(keys: readonly string[]): void {
    this.#orphans.released(keys);
  }

  /** An object may be left that nothing references: a later pass collects it (see {@link OrphanPasses}). */
  #orphanLeft(key: string): void {
    if (this.#stopped === null) this.#orphans.left(key);
  }

  async #write(key: string, bytes: Uint8Array): Promise<PayloadRef> {
    try {
      return await this.#writeObject(key, bytes);
    } catch (error) {
      // A put that failed may still have stored the object.
      this.#orphans.released([key]);
      this.#orphanLeft(key);
      throw error;
    }
  }

  async #writeObject(key: string, bytes: Uint8Array): Promise<PayloadRef> {
    const body = encodePayloadObject(bytes);
    await withRetry(this.#retry, `writing payload object "${key}"`, async () => {
      try {
        await this.#store.put(key, body, { ifNoneMatch: "*" });
      } catch (error) {
        if (!isObjectExistsError(error)) throw error;
        // The key is new (a random id) and ours alone: an object found there was written by an
        // earlier attempt of ours, or, on the first attempt, by the store client's own retry of a
        // request whose reply was lost. It counts only once read back with our bytes.
        const object = await this.#store.get(key);
        // "Exists" of nothing (gone since, or a store's conflict that meant something else):
        // transient, try again; the key is still ours.
        if (object === null)
          throw new Error(`payload object "${key}" was said to exist but is not there`);
        const stored = object.body;
        if (Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).equals(body)) return;
        throw new StorageError(
          `payload object "${key}" already exists with other bytes: the enqueue is not stored (retry it; its new object gets a new key)`,
          { permanent: true, cause: error },
        );
      }
    });
    return { key, size: bytes.byteLength };
  }

  /**
   * The bytes of payload object `key`, checked against `size` (the size the
   * job's record knows) and the object's checksum: `CorruptionError`
   * naming the object when it is damaged. Transient failures are retried
   * with the log's policy. Runs within `limit`, the call's bound (see
   * {@link callLimit}), or at once without one.
   */
  async read(key: string, size: number | undefined, limit?: ConcurrencyLimit): Promise<Uint8Array> {
    const get = () =>
      withRetry(this.#retry, `reading payload object "${key}"`, () => this.#store.get(key));
    const object = await (limit === undefined ? get() : limit.run(get));
    if (object === null)
      throw new MissingPayloadError(
        `payload object "${key}" is missing: the job was removed meanwhile, or the object was deleted outside taquba`,
        { permanent: true },
      );
    const bytes = decodePayloadObject(key, object.body, size);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /**
   * Fills in the payload of every record whose payload is offloaded (in
   * place), reading within `limit` (see {@link read}); resolves with them.
   */
  async materialise<T extends JobRecord>(records: T[], limit?: ConcurrencyLimit): Promise<T[]> {
    await Promise.all(
      records.map(async (record) => {
        if (record.payloadRef !== undefined)
          record.payload = await this.read(record.payloadRef, record.payloadSize, limit);
      }),
    );
    return records;
  }

  /**
   * {@link materialise} for a listing of a reader's snapshot: a record whose
   * object is damaged (`CorruptionError`) or gone (`MissingPayloadError`, see
   * {@link isUnreadable}) is listed without its payload (see
   * {@link markUnreadable}; one warning for all of them) instead of failing
   * the others, as the writer's listings do. The snapshot is as of its
   * opening, so a job removed since is listed as it was then, its object
   * reported missing. A store that fails to answer still rejects.
   */
  async materialiseListing<T extends JobRecord>(
    records: T[],
    limit?: ConcurrencyLimit,
  ): Promise<T[]> {
    const read = await Promise.allSettled(
      records.map((record) => this.materialise([record], limit)),
    );
    const unreadable: T[] = [];
    for (const [i, outcome] of read.entries()) {
      if (outcome.status === "fulfilled") continue;
      if (!isUnreadable(outcome.reason)) throw outcome.reason;
      unreadable.push(markUnreadable(records[i]!, outcome.reason));
    }
    if (unreadable.length > 0) warnUnreadable(this.#logger, unreadable);
    return records;
  }

  /**
   * Deletes objects whose jobs are gone, or that no committed record
   * references (best-effort: a failure leaves an orphan for the collector,
   * and one warning per problem, see {@link GiveUpWarnings}).
   */
  delete(keys: readonly string[]): void {
    for (const key of keys) {
      const what = `deleting payload object "${key}"`;
      this.#orphans.released([key]);
      this.#deleteOne(key).then(
        () => this.#deletesLeft.succeeded(what),
        (error: unknown) => {
          this.#deletesLeft.gaveUp(what, error);
          this.#orphanLeft(key);
        },
      );
    }
  }

  /**
   * Deletes `keys`, the objects of jobs that records just removed (or whose
   * payloads they replaced), once `written`, their log write, is durable.
   * Until then the orphan collector leaves them alone, though the state no
   * longer references them; and for good if the write failed: it may still
   * be replayed, or the log still references them (an orphan at worst).
   */
  deleteWhenDurable(written: Promise<unknown>, keys: readonly string[]): void {
    this.#orphans.removing(keys);
    written.then(() => {
      this.#orphans.removed(keys);
      this.delete(keys);
    }, noop);
  }

  /**
   * Deletes `keys`, the objects of the records `written` commits, if that
   * commit certainly did not happen (a log failure not in doubt, or a
   * refused append); never when it may have been applied, since a replay
   * would then reference them.
   */
  deleteIfNotCommitted(written: Promise<unknown>, keys: readonly string[]): void {
    if (keys.length === 0) return;
    written.catch((error: unknown) => {
      if (notCommitted(error)) this.delete(keys);
    });
  }

  async #deleteOne(key: string): Promise<void> {
    // Stopped (closed, or the log failed): no retries, but one try. The objects of an
    // enqueue that failed with the log are deleted only after that failure stopped us.
    if (this.#stopped !== null) await this.#store.delete(key);
    else
      await withRetry(this.#retry, `deleting payload object "${key}"`, () =>
        this.#store.delete(key),
      );
  }

  /**
   * Collects orphans: a pass now, and later ones in the background while
   * the queue runs, each once something may have left an orphan since (see
   * {@link OrphanPasses}); a pass that fails (its listing, its fence check)
   * logs one line, none once the queue stopped. `now` reads wall time, and
   * the passes are spaced on `clock` (the queue's timers' clock).
   */
  collectOrphansWhileRunning(
    state: State,
    clock: MonotonicClock,
    now: () => number,
    checkFence: () => Promise<void>,
    /** A slice of the queue's work starting now (`QueueCore.sliceBudget`), for each pass. */
    slice: () => SliceBudget,
  ): void {
    if (this.#stopped !== null) return;
    this.#orphans.collectWhileRunning(
      this.#orphanSource(),
      this.#logger,
      state,
      clock,
      now,
      checkFence,
      slice,
    );
  }

  /** What a pass over orphans asks of these objects themselves (see `PayloadOrphanSource`). */
  #orphanSource(): PayloadOrphanSource {
    return {
      store: this.#store,
      dir: this.#dir,
      stopped: () => this.#stopped !== null,
      deleteOrphan: async (key) => {
        const what = `deleting payload object "${key}"`;
        try {
          await this.#deleteOne(key);
        } catch (error) {
          if (this.#stopped !== null) return "stopped";
          this.#deletesLeft.gaveUp(what, error);
          return isTransient(error) ? "failed" : "refused";
        }
        this.#deletesLeft.succeeded(what);
        return "deleted";
      },
    };
  }
}

/**
 * Whether `error`, from a commit, says its records were certainly not
 * written: a log failure with `inDoubt: false`, or an append refused
 * because the log was closed.
 */
function notCommitted(error: unknown): boolean {
  if (error instanceof StorageError || error instanceof FencedError) return !error.inDoubt;
  return error instanceof ClosedError;
}

/** Every payload object key the jobs of `state` reference. */
export function referencedKeys(state: State): Set<string> {
  const keys = new Set<string>();
  for (let h = 0; h < state.table.capacity; h += PAGE_SLOTS) {
    const extras = state.table.read(h).extras;
    if (extras !== null)
      forEachExtras(extras, (_, extra) => {
        if (extra.payloadRef !== undefined) keys.add(extra.payloadRef.key);
      });
  }
  return keys;
}

function noop(): void {}

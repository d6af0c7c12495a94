/**
 * The log's retries and the stores' error classification: a permanent
 * StorageError is never retried (the open or write fails at once with the
 * store's message), a transient one is retried with backoff, and each retry
 * sequence logs one warning, not one per attempt.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock, systemClock } from "../../src/clock.js";
import { InvalidArgumentError, StorageError } from "../../src/errors.js";
import { openLog } from "../../src/log/index.js";
import { type RetryContext, RetryEpisode, Sleeper, withRetry } from "../../src/log/retry.js";
import { LogStorage } from "../../src/log/storage.js";
import type { Logger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import {
  type ListOptions,
  type ListPage,
  ObjectExistsError,
  type ObjectStore,
  type PutOptions,
  type StoredObject,
} from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { FailedRequests } from "../failed-requests.js";
import { recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";
import { rec, rejection, settleOnClock, testOptions, texts } from "./helpers.js";

const RETRYING = "store request failed; retrying with backoff";
const slowDown = (): Error => new StorageError("503 SlowDown");
const refused = (): Error => new Error("connect ECONNREFUSED");

const permanent = (): Error =>
  new StorageError("the bucket is gone: create it", { cause: new Error("404"), permanent: true });

describe("log retries and error classification", { timeout: 30_000 }, () => {
  it("a permanent StorageError fails the open at once, unretried and unwrapped", async () => {
    const faults = new FaultStore(new MemoryStore());
    faults.addRule({ mode: "before", error: permanent });
    const store = new FailedRequests(faults);
    const logger = recordingLogger();
    const error = await rejection(
      openLog(store, "q", testOptions({ logger, retry: { maxElapsedMs: 60_000 } })),
    );
    assert.ok(error instanceof StorageError);
    assert.equal(error.permanent, true);
    assert.equal(error.message, "the bucket is gone: create it");
    // The open's first requests go out together; each is made once.
    assert.ok(store.failed.length > 0);
    assert.equal(new Set(store.failed).size, store.failed.length, `retried: ${store.failed}`);
    assert.deepEqual(logger.at("warn"), []);
  });

  it("Queue.open reports a permanent store error as it is, at once", async () => {
    const faults = new FaultStore(new MemoryStore());
    faults.addRule({ op: "list", mode: "before", error: permanent });
    const logger = recordingLogger();
    await assert.rejects(Queue.open(faults, "q", { logger }), {
      code: "STORAGE",
      permanent: true,
      message: "the bucket is gone: create it",
    });
    assert.equal(faults.injectedCount, 1, "one attempt only");
    assert.deepEqual(logger.at("warn"), []);
  });

  it("a permanent failure of a WAL write fails the log without retrying", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const { log } = await openLog(faults, "q", testOptions());
    await log.append(rec("kept"));
    faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "before", error: permanent, times: 1 });
    const error = await rejection(log.append(rec("refused")));
    assert.equal(error.code, "STORAGE");
    assert.equal(faults.injectedCount, 1, "one attempt only");
    assert.deepEqual(texts((await openLog(inner, "q", testOptions())).records), ["kept"]);
  });

  it("transient failures are retried with backoff and logged once per problem", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const logger = recordingLogger();
    const { log } = await openLog(faults, "q", testOptions({ logger }));
    faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "before", times: 6 });
    await log.append(rec("after six failures"));
    assert.equal(faults.injectedCount, 6);
    assert.equal(logger.at("warn").length, 1, logger.messages("warn").join("; "));
    assert.match(logger.at("warn")[0]!.message, /store request failed; retrying with backoff/);
    assert.match(String(logger.at("warn")[0]!.fields?.what), /^create q\/wal\//);
    // The same fault again right after is the same problem: a debug line, no second
    // warning (one after it healed: see retry-warnings.test.ts).
    faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "before", times: 3 });
    await log.append(rec("after three more"));
    assert.equal(logger.at("warn").length, 1);
    assert.equal(logger.at("debug").filter((line) => line.message === RETRYING).length, 1);
    await log.close();
    assert.deepEqual(texts((await openLog(inner, "q", testOptions())).records), [
      "after six failures",
      "after three more",
    ]);
  });
});

/**
 * An error as the package's other build (ESM or CommonJS; a process can load
 * both) throws it: the same name, code and fields, but another class, so
 * `instanceof` this build's classes is false.
 */
class OtherBuildError extends Error {
  readonly code: string;
  readonly permanent?: boolean;
  readonly key?: string;
  constructor(from: Error & { code?: string; permanent?: boolean; key?: string }) {
    super(from.message);
    this.name = from.name;
    this.code = from.code ?? "";
    if (from.permanent !== undefined) this.permanent = from.permanent;
    if (from.key !== undefined) this.key = from.key;
  }
}

/** A store built by the other build: every error it throws is an {@link OtherBuildError}. */
class OtherBuildStore implements ObjectStore {
  /** How many errors `failWith` injected. */
  injected = 0;
  /** Each request that failed, as `op key` (a retried request shows up more than once). */
  readonly failed: string[] = [];
  /**
   * While set, a create takes effect but answers that the key exists, as when the store's
   * client retried a create whose reply was lost and the retry found the object.
   */
  loseCreateReplies = false;
  constructor(
    readonly inner: ObjectStore,
    readonly failWith?: (op: string) => Error | undefined,
  ) {}
  async #run<T>(op: string, key: string, call: () => Promise<T>): Promise<T> {
    try {
      const injected = this.failWith?.(op);
      if (injected !== undefined) {
        this.injected++;
        throw injected;
      }
      return await call();
    } catch (error) {
      this.failed.push(`${op} ${key}`);
      throw new OtherBuildError(error as Error);
    }
  }
  get(key: string): Promise<StoredObject | null> {
    return this.#run("get", key, () => this.inner.get(key));
  }
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    return this.#run("put", key, async () => {
      await this.inner.put(key, body, options);
      if (this.loseCreateReplies && options?.ifNoneMatch === "*") throw new ObjectExistsError(key);
    });
  }
  delete(key: string): Promise<void> {
    return this.#run("delete", key, () => this.inner.delete(key));
  }
  list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.#run("list", prefix, () => this.inner.list(prefix, options));
  }
  describe(): string {
    return "a store of the other build";
  }
}

describe("errors of the package's other build (ESM and CommonJS in one process)", {
  timeout: 30_000,
}, () => {
  // A short retry budget: misread as transient, each case would fail after it rather than pass.
  const options = (logger: Logger) => ({ logger, log: { retry: { maxElapsedMs: 2_000 } } });

  it("a lost create (ObjectExistsError) is recognised: the probe and the log work, unretried", async () => {
    const inner = new MemoryStore();
    const logger = recordingLogger();
    const first = new OtherBuildStore(inner);
    const queue = await Queue.open(first, "q", options(logger));
    // The probe's second create must lose: that is the check.
    assert.match(first.failed.join(), /^put q\/probe\/\w+$/, "the probe's create lost");
    // Now the log's creates lose their replies: each must be read back, found ours, and
    // count as done. Misread as transient, each would be retried until the retry budget ends.
    first.loseCreateReplies = true;
    const id = await queue.enqueue("jobs", "kept");
    await queue.enqueue("jobs", "also kept");
    await queue.close();
    const lost = first.failed.filter((request) => request.startsWith("put q/wal/"));
    assert.ok(lost.length >= 2, `the WAL creates lost their replies: ${first.failed}`);
    assert.equal(new Set(first.failed).size, first.failed.length, `retried: ${first.failed}`);
    // A second writer takes over through the same store: its probe's create loses too.
    const second = new OtherBuildStore(inner);
    const reopened = await Queue.open(second, "q", options(logger));
    assert.equal((await reopened.getJob(id))?.status, "pending");
    assert.equal((await reopened.stats("jobs")).pending, 2);
    await reopened.close();
    assert.match(second.failed.join(), /^put q\/probe\/\w+$/, "the probe's create lost");
    assert.deepEqual(logger.at("warn"), [], "nothing was retried");
  });

  it("a permanent StorageError fails Queue.open at once, unretried", async () => {
    const logger = recordingLogger();
    const store = new OtherBuildStore(new MemoryStore(), (op) =>
      op === "list" ? permanent() : undefined,
    );
    await assert.rejects(Queue.open(store, "q", options(logger)), {
      code: "STORAGE",
      permanent: true,
      message: "the bucket is gone: create it",
    });
    assert.equal(store.injected, 1, "one attempt only");
    assert.deepEqual(logger.at("warn"), []);
  });

  it("a permanent StorageError on a WAL write fails the write at once, unretried, not in doubt", async () => {
    const logger = recordingLogger();
    let refuse = false;
    const store = new OtherBuildStore(new MemoryStore(), (op) =>
      refuse && op === "put" ? permanent() : undefined,
    );
    const queue = await Queue.open(store, "q", options(logger));
    refuse = true;
    await assert.rejects(queue.enqueue("jobs", "refused"), (err: unknown) => {
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.inDoubt, false, err.message);
      assert.match(err.message, /the bucket is gone: create it/);
      return true;
    });
    assert.equal(store.injected, 1, "one attempt only");
    assert.deepEqual(logger.at("warn"), []);
    await queue.close().catch(() => {});
  });

  it("an InvalidArgumentError (a key the store refuses) fails Queue.open at once, unretried", async () => {
    const logger = recordingLogger();
    const store = new OtherBuildStore(new MemoryStore(), (op) =>
      op === "put" ? new InvalidArgumentError('object key "x" is refused') : undefined,
    );
    // Reported as this build's refusal of the path, as a refusal by a store of this build is.
    await assert.rejects(Queue.open(store, "q", options(logger)), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, String(err));
      assert.match(
        err.message,
        /^Expected `path` to be a path .* takes in its object keys \(it refused one under it: object key "x" is refused\)/,
      );
      return true;
    });
    assert.equal(store.injected, 1, "one attempt only");
    assert.deepEqual(logger.at("warn"), []);
  });
});

describe("one outage, one warning", { timeout: 30_000 }, () => {
  it("retry sequences failing at once share one warning; a later outage warns again", async () => {
    const logger = recordingLogger();
    const ctx: RetryContext = {
      clock: systemClock,
      policy: { baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 10_000 },
      logger,
      sleeper: new Sleeper(systemClock),
      stopReason: () => null,
      episode: new RetryEpisode(),
    };
    /** An op that fails `times` times, then resolves. */
    const failing = (times: number) => async () => {
      if (times-- > 0) throw new Error("connection reset");
      return "ok";
    };
    const both = await Promise.all([
      withRetry(ctx, "probe", failing(3)),
      withRetry(ctx, "LIST q/manifest/", failing(5)),
    ]);
    assert.deepEqual(both, ["ok", "ok"]);
    assert.equal(logger.at("warn").length, 1, logger.messages("warn").join("; "));
    assert.equal(logger.at("warn")[0]!.fields?.what, "probe");
    // A sequence that gives up ends its part of the outage too.
    const gaveUp = { ...ctx, policy: { ...ctx.policy, maxElapsedMs: 20 } };
    await rejection(withRetry(gaveUp, "PUT x", failing(1_000)));
    assert.equal(logger.at("warn").length, 2, "a new outage: a new line");
    await withRetry(ctx, "GET y", failing(1));
    assert.equal(logger.at("warn").length, 3, "and once that one ended, another");
  });

  it("Queue.open through an outage that fails the probe and the listing logs one line", async () => {
    const faults = new FaultStore(new MemoryStore());
    faults.addRule({ mode: "before", times: 12 });
    const logger = recordingLogger();
    const { log } = await openLog(faults, "q", testOptions({ logger }));
    assert.equal(faults.injectedCount, 12);
    assert.deepEqual(logger.messages("warn"), ["store request failed; retrying with backoff"]);
    await log.close();
  });

  it("after open, a failure of another request warns while one is still retrying", async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    const faults = new FaultStore(new MemoryStore());
    const retry = { baseDelayMs: 100, maxDelayMs: 100, maxElapsedMs: 60_000 };
    const storage = LogStorage.create(faults, { clock, logger, retry });
    faults.addRule({
      op: "delete",
      keyPrefix: "q/wal/",
      mode: "before",
      times: 3,
      error: slowDown,
    });
    const deleted = storage.delete("q/wal/old");
    await until(() => logger.at("warn").length === 1, "the DELETE's warning");
    faults.addRule({ op: "put", mode: "before", times: 2, error: refused });
    const put = storage.put("q/wal/new", new Uint8Array([1]));
    await until(() => logger.at("warn").length === 2, "the PUT's warning");
    assert.deepEqual(
      logger.at("warn").map((w) => [w.fields?.what, w.fields?.error]),
      [
        ["DELETE q/wal/old", "503 SlowDown"],
        ["PUT q/wal/new", "connect ECONNREFUSED"],
      ],
    );
    await settleOnClock(clock, Promise.all([deleted, put]));
    assert.equal(faults.injectedCount, 5);
  });

  it("after open, a retry that never settles does not silence a later outage", async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    const faults = new FaultStore(new MemoryStore());
    const retry = { baseDelayMs: 100, maxDelayMs: 100, maxElapsedMs: 60_000 };
    const storage = LogStorage.create(faults, { clock, logger, retry });
    faults.addRule({ op: "get", keyPrefix: "hang/", mode: "before", times: 1, error: slowDown });
    const stuck = storage.get("hang/x");
    await until(() => logger.at("warn").length === 1, "the GET's warning");
    // Its retry is held for good: no deadline on this store.
    const held = faults.pause({ op: "get", keyPrefix: "hang/", mode: "before" });
    clock.advance(100);
    await held.whenHeld(1);
    faults.addRule({ op: "put", mode: "before", times: 1, error: refused });
    const put = storage.put("wal/1", new Uint8Array([1]));
    await until(() => logger.at("warn").length === 2, "the PUT's warning");
    assert.equal(logger.at("warn")[1]!.fields?.what, "PUT wal/1");
    await settleOnClock(clock, put);
    held.release();
    assert.equal(await stuck, null);
  });

  it("a sequence stuck in the open's episode does not silence failures after it closed", async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    const episode = new RetryEpisode();
    const ctx: RetryContext = {
      clock,
      policy: { baseDelayMs: 100, maxDelayMs: 100, maxElapsedMs: 60_000 },
      logger,
      sleeper: new Sleeper(clock),
      stopReason: () => null,
      episode,
    };
    let attempts = 0;
    // Fails once, then never settles.
    void withRetry(ctx, "probe q/probe/", () =>
      attempts++ === 0 ? Promise.reject(new Error("connection reset")) : new Promise(() => {}),
    );
    await until(() => logger.at("warn").length === 1, "the probe's warning");
    clock.advance(100);
    await until(() => attempts === 2, "the probe's retry");
    let listed = 0;
    const listing = withRetry(ctx, "LIST q/manifest/", async () => {
      if (listed++ === 0) throw new Error("connection reset");
      return "listed";
    });
    await until(() => listed === 1, "the listing's failure");
    await until(() => logger.at("debug").length === 1, "the listing's quiet note");
    assert.equal(logger.at("warn").length, 1, "the open's outage: one line");
    clock.advance(100);
    assert.equal(await listing, "listed");
    episode.close();
    let puts = 0;
    const later = withRetry(ctx, "PUT q/wal/1", async () => {
      if (puts++ === 0) throw new Error("503 SlowDown");
      return "put";
    });
    await until(() => logger.at("warn").length === 2, "the later warning");
    assert.equal(logger.at("warn")[1]!.fields?.what, "PUT q/wal/1");
    assert.equal(await settleOnClock(clock, later), "put");
  });

  it("a log opened through an outage (one line) warns again for a failed write after open", async () => {
    const faults = new FaultStore(new MemoryStore());
    faults.addRule({ mode: "before", times: 12 });
    const logger = recordingLogger();
    const { log } = await openLog(faults, "q", testOptions({ logger }));
    assert.equal(logger.at("warn").length, 1);
    faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "before", times: 2, error: refused });
    await log.append(rec("a"));
    assert.equal(logger.at("warn").length, 2, logger.messages("warn").join("; "));
    assert.match(String(logger.at("warn")[1]!.fields?.what), /q\/wal\//);
    await log.close();
  });
});

describe("retry outcomes of unusual thrown values", () => {
  it("a store failing with a value String() refuses still ends as a StorageError that says so", async () => {
    // An object without a prototype: String() of it throws a TypeError.
    const thrown = Object.create(null) as object;
    const logger = recordingLogger();
    const ctx: RetryContext = {
      clock: systemClock,
      policy: { baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 0 },
      logger,
      sleeper: new Sleeper(systemClock),
      stopReason: () => null,
    };
    const error = await rejection(withRetry(ctx, "put x", () => Promise.reject(thrown)));
    assert.ok(error instanceof StorageError, String(error?.constructor?.name));
    assert.match(
      error.message,
      /^put x failed after 1 attempt\(s\) over \d+ ms: \[object Object\]/,
    );
    assert.equal(error.cause, thrown);
  });
});

/**
 * A store whose calls throw synchronously, as a store of your own with a bug
 * does: `get`, `put` or `list` (those in `buggy`) throws `bug()`; the rest
 * go to a MemoryStore. Counts the calls that threw.
 */
class BuggyStore implements ObjectStore {
  readonly buggy = new Set<string>();
  threw = 0;
  constructor(
    readonly inner: ObjectStore,
    readonly bug: () => unknown,
  ) {}
  #check(op: string): void {
    if (!this.buggy.has(op)) return;
    this.threw++;
    throw this.bug();
  }
  get(key: string): Promise<StoredObject | null> {
    this.#check("get");
    return this.inner.get(key);
  }
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    this.#check("put");
    return this.inner.put(key, body, options);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  list(prefix: string, options?: ListOptions): Promise<ListPage> {
    this.#check("list");
    return this.inner.list(prefix, options);
  }
  describe(): string {
    return "a store of your own";
  }
}

/** How `promise` settled, or "still retrying" if it had not within `ms` of real time. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve("still retrying"), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => "resolved",
        (error: unknown) => error,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const textEncoderMissing = (): Error => new ReferenceError("TextEncoder is not defined");

/** The failure a bug in a store's call ends as: permanent, naming the bug, which is its cause. */
function assertNotAnOutage(error: unknown, bug: RegExp, cause: unknown): asserts error is Error {
  assert.ok(error instanceof StorageError, String(error));
  assert.equal(error.code, "STORAGE");
  assert.equal(error.permanent, true, error.message);
  assert.match(error.message, bug);
  assert.match(
    error.message,
    /This is not a store outage, so it is not retried: fix the store's code, or its runtime if that is what is wrong/,
  );
  // The bug is kept as a cause (a write in doubt wraps the failure once more).
  const causes: unknown[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) causes.push(e.cause);
  assert.ok(causes.includes(cause), "the bug is a cause");
}

/** The payloads of every job `store`'s queue "q" holds in "jobs", claimed after a reopen. */
async function payloadsAfterReopen(store: ObjectStore): Promise<string[]> {
  const queue = await Queue.open(store, "q", { logger: recordingLogger() });
  const payloads: string[] = [];
  for (let claim = await queue.claim("jobs"); claim !== null; claim = await queue.claim("jobs"))
    payloads.push(new TextDecoder().decode(claim.payload));
  await queue.close();
  return payloads.sort();
}

describe("a bug in the store's code is not an outage", { timeout: 30_000 }, () => {
  const ctx = (logger: Logger, clock: ManualClock): RetryContext => ({
    clock,
    policy: { baseDelayMs: 100, maxDelayMs: 100, maxElapsedMs: 10_000 },
    logger,
    sleeper: new Sleeper(clock),
    stopReason: () => null,
  });

  it("withRetry fails at once, as a permanent StorageError naming the bug as its cause", async () => {
    const logger = recordingLogger();
    const bug = new TypeError("store.client.send is not a function");
    let attempts = 0;
    // A clock that never moves: a retry would sleep for good.
    const error = await rejection(
      withRetry(ctx(logger, new ManualClock()), "GET q/manifest/1", async () => {
        attempts++;
        throw bug;
      }),
    );
    assert.equal(attempts, 1, "not retried");
    assert.ok(error instanceof StorageError);
    assert.equal(error.cause, bug);
    assert.equal(error.permanent, true);
    assert.match(
      error.message,
      /^GET q\/manifest\/1 failed with TypeError: store\.client\.send is not a function\. This is not a store outage/,
    );
    assert.deepEqual(logger.lines, [], "no warning: the caller reports it");
  });

  it("withRetry still retries fetch's TypeError of a dropped connection, a RangeError and a plain Error", async () => {
    for (const outage of [
      new TypeError("fetch failed", {
        cause: Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
      }),
      new RangeError("Array buffer allocation failed"),
      new Error("the store's own outage"),
    ]) {
      const logger = recordingLogger();
      const clock = new ManualClock();
      let attempts = 0;
      const result = await settleOnClock(
        clock,
        withRetry(ctx(logger, clock), "PUT q/wal/1", async () => {
          if (attempts++ < 2) throw outage;
          return "put";
        }),
      );
      assert.equal(result, "put");
      assert.equal(attempts, 3);
      assert.deepEqual(logger.messages("warn"), ["store request failed; retrying with backoff"]);
    }
  });

  it("the message masks a signed URL that fetch's parse error carries", async () => {
    const bug = new TypeError(
      "Failed to parse URL from https//acc.blob.core.windows.net/c/k?sv=2024&sig=SECRET",
      { cause: new TypeError("Invalid URL") },
    );
    const error = await rejection(
      withRetry(ctx(recordingLogger(), new ManualClock()), "GET q/manifest/1", () =>
        Promise.reject(bug),
      ),
    );
    assert.ok(error instanceof StorageError);
    assert.equal(error.permanent, true);
    assert.doesNotMatch(error.message, /SECRET|2024/);
    assert.match(
      error.message,
      /failed with TypeError: Failed to parse URL from https\/\/acc\.blob\.core\.windows\.net\/c\/k\?sv=…&sig=…\. /,
    );
  });

  for (const op of ["list", "get", "put"] as const) {
    it(`Queue.open on a store whose ${op} throws a ReferenceError fails at once, not after the retry budget`, async () => {
      const inner = new MemoryStore();
      // A queue to reopen, so the open reads a manifest (a get).
      await (await Queue.open(inner, "q", { logger: recordingLogger() })).close();
      const bug = textEncoderMissing();
      const store = new BuggyStore(inner, () => bug);
      store.buggy.add(op);
      const logger = recordingLogger();
      // The default retry budget (120 s) on a clock that never moves: a retry would sleep for good.
      const clock = new ManualClock();
      const started = performance.now();
      const error = await settledWithin(
        Queue.open(store, "q", { clock, logger, log: { clock } }),
        5_000,
      );
      assertNotAnOutage(error, /failed with ReferenceError: TextEncoder is not defined\./, bug);
      assert.ok(performance.now() - started < 5_000);
      assert.equal(store.threw, 1, "one attempt only");
      assert.deepEqual(logger.messages("warn"), [], "nothing was retried");
    });
  }

  it("a live write on a store whose put throws a ReferenceError fails the queue at once, in doubt", async () => {
    const bug = textEncoderMissing();
    const inner = new MemoryStore();
    const store = new BuggyStore(inner, () => bug);
    const logger = recordingLogger();
    const clock = new ManualClock();
    const queue = await Queue.open(store, "q", { clock, logger, log: { clock } });
    await queue.enqueue("jobs", "kept");
    store.buggy.add("put");
    const error = await settledWithin(queue.enqueue("jobs", "refused"), 5_000);
    assertNotAnOutage(
      error,
      /^create q\/wal\/\S+ failed with ReferenceError: TextEncoder is not defined\./,
      bug,
    );
    // The store's code threw, so its request may have gone out: not a refusal.
    assert.equal((error as StorageError).inDoubt, true);
    assert.equal(store.threw, 1, "one attempt only");
    assert.deepEqual(logger.messages("warn"), [], "nothing was retried");
    // The queue failed with it: later writes answer the same failure.
    await assert.rejects(queue.enqueue("jobs", "after"), { code: "STORAGE" });
    await queue.close().catch(() => {});
    assert.equal(logger.messages("error").length, 1, logger.messages("error").join("\n"));
    assert.match(logger.messages("error")[0]!, /^queue closed after a log failure: /);
    assert.deepEqual(await payloadsAfterReopen(inner), ["kept"]);
  });

  /**
   * A store of your own whose WAL create throws a bug while its request is on
   * its way: the write lands when the test calls `land()`, after the log has
   * read the slot back and given up. Its error is the bug itself (`raw`), or
   * the bug wrapped by the store in a permanent StorageError.
   */
  for (const wrapped of [false, true]) {
    it(`a WAL create that fails with a ${wrapped ? "store-wrapped" : "raw"} bug and lands late is in doubt, and applied once`, async () => {
      const inner = new MemoryStore();
      const bug = new TypeError("Cannot read properties of undefined (reading 'destroy')");
      let land: (() => Promise<void>) | undefined;
      let armed = false;
      const store: ObjectStore = {
        get: (key) => inner.get(key),
        delete: (key) => inner.delete(key),
        list: (prefix, options) => inner.list(prefix, options),
        describe: () => "a store of your own",
        put: async (key, body, options) => {
          if (armed && key.includes("/wal/")) {
            armed = false;
            land = () => inner.put(key, body, options);
            throw wrapped
              ? new StorageError(`my store: put ${key} failed`, { cause: bug, permanent: true })
              : bug;
          }
          return inner.put(key, body, options);
        },
      };
      const logger = recordingLogger();
      const clock = new ManualClock();
      const queue = await Queue.open(store, "q", { clock, logger, log: { clock } });
      await queue.enqueue("jobs", "kept");
      armed = true;
      const error = await settledWithin(queue.enqueue("jobs", "late"), 5_000);
      assert.ok(error instanceof StorageError, String(error));
      assert.equal(error.code, "STORAGE");
      assert.equal(error.inDoubt, true, error.message);
      assert.match(error.message, /TypeError|my store: put/);
      assert.match(error.message, /The write may have been applied anyway/);
      assert.deepEqual(logger.messages("warn"), [], "nothing was retried");
      await queue.close().catch(() => {});
      assert.equal(logger.messages("error").length, 1, logger.messages("error").join("\n"));
      assert.ok(land !== undefined, "the WAL create was made");
      await land();
      // The caller does not retry: the job it was told may have been applied is there once.
      assert.deepEqual(await payloadsAfterReopen(inner), ["kept", "late"]);
    });
  }
});

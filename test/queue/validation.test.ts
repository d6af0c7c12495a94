import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runInNewContext } from "node:vm";
import { ManualClock } from "../../src/clock.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { inspectLog } from "../../src/log/inspect.js";
import { silentLogger } from "../../src/logger.js";
import type { FlowJob } from "../../src/queue/flows.js";
import type { EnqueueOptions } from "../../src/queue/options.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import type { ScheduleSpec } from "../../src/queue/schedules/types.js";
import type { Claim } from "../../src/queue/types.js";
import { FileStore } from "../../src/store/file.js";
import { MemoryStore } from "../../src/store/memory.js";
import {
  type ListOptions,
  type ListPage,
  ObjectExistsError,
  type ObjectStore,
  type PutOptions,
  type StoredObject,
} from "../../src/store/types.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { recordingLogger } from "../recording-logger.js";
import { mustClaim, openTestQueue, rejection } from "./helpers.js";

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Takes any key, as S3Store and GcsStore do (MemoryStore and FileStore refuse some). */
class AnyKeyStore implements ObjectStore {
  readonly #objects = new Map<string, Uint8Array>();

  async get(key: string): Promise<StoredObject | null> {
    const body = this.#objects.get(key);
    return body === undefined ? null : { body: body.slice() };
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    if (options?.ifNoneMatch === "*" && this.#objects.has(key)) throw new ObjectExistsError(key);
    this.#objects.set(key, body.slice());
  }

  async delete(key: string): Promise<void> {
    this.#objects.delete(key);
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const after = options.startAfter;
    const keys = [...this.#objects.keys()]
      .filter((key) => key.startsWith(prefix) && (after === undefined || key > after))
      .sort();
    return { objects: keys.map((key) => ({ key, size: this.#objects.get(key)!.length })) };
  }

  describe(): string {
    return "AnyKeyStore";
  }
}

// Bad values typed loosely on purpose: callers from JavaScript can pass anything.
type Loose = Record<string, unknown>;

async function expectInvalid(promise: Promise<unknown>, argument: RegExp): Promise<void> {
  const error = await rejection(promise);
  assert.ok(
    error instanceof InvalidArgumentError,
    `expected INVALID_ARGUMENT, got ${String(error)}`,
  );
  assert.equal(error.code, "INVALID_ARGUMENT");
  assert.match(error.message, argument);
  assert.match(error.message, /^Expected `/);
}

describe("validation", { timeout: 60_000 }, () => {
  it("bad enqueue arguments reject INVALID_ARGUMENT naming the argument, writing nothing", async () => {
    const { queue } = await openTestQueue({ maxPayloadBytes: 16 });
    await queue.enqueue("q", "ok");
    const records = queue.logStats().recordsWritten;
    const cases: Array<[unknown, unknown, unknown, RegExp]> = [
      ["", "x", {}, /queue/],
      ["x".repeat(256), "x", {}, /queue.*255/],
      ["é".repeat(128), "x", {}, /queue/], // 256 UTF-8 bytes
      [42, "x", {}, /queue/],
      ["q", 42, {}, /payload/],
      ["q", "x".repeat(17), {}, /payload.*16/],
      ["q", "x", { priority: 1.5 }, /options\.priority/],
      ["q", "x", { priority: -1 }, /options\.priority/],
      ["q", "x", { priority: 2 ** 32 }, /options\.priority/],
      ["q", "x", { maxAttempts: 0 }, /options\.maxAttempts/],
      ["q", "x", { maxAttempts: 2.5 }, /options\.maxAttempts/],
      ["q", "x", { runAt: new Date("nope") }, /options\.runAt/],
      ["q", "x", { runAt: Number.NaN }, /options\.runAt/],
      ["q", "x", { runAt: "tomorrow" }, /options\.runAt/],
      ["q", "x", { headers: { a: 1 } }, /options\.headers\["a"\]/],
      ["q", "x", { headers: "a=1" }, /options\.headers/],
      // Entries that are not own properties would be dropped: refused, not stored as {}.
      [
        "q",
        "x",
        { headers: new Map([["a", "b"]]) },
        /^Expected `options\.headers` to be a plain object of string → string, got an instance of Map$/,
      ],
      ["q", "x", { headers: new Set(["a"]) }, /options\.headers.*got an instance of Set$/],
      ["q", "x", { headers: new Date(0) }, /options\.headers.*got an instance of Date$/],
      [
        "q",
        "x",
        { headers: new (class Headers {})() },
        /options\.headers.*got an instance of Headers$/,
      ],
      [
        "q",
        "x",
        { headers: new URLSearchParams("a=b") },
        /options\.headers.*got an instance of URLSearchParams$/,
      ],
      ["q", "x", { dedupKey: 5 }, /options\.dedupKey/],
    ];
    for (const [name, payload, opts, argument] of cases)
      await expectInvalid(
        queue.enqueue(name as string, payload as string, opts as EnqueueOptions),
        argument,
      );
    await expectInvalid(queue.enqueueBatch("q", ["ok", 7 as unknown as string]), /payloads\[1\]/);
    await expectInvalid(queue.enqueueBatch("q", "x" as unknown as string[]), /payloads/);
    await queue.flush();
    assert.equal(queue.logStats().recordsWritten, records);
    assert.deepEqual(await queue.stats("q"), {
      queue: "q",
      pending: 1,
      claimed: 0,
      done: 0,
      dead: 0,
      scheduled: 0,
      paused: false,
    });
    assert.deepEqual(await queue.listQueues(), ["q"]);
    await queue.close();
  });

  it("headers as a plain object, one without a prototype, or one from another realm are accepted and kept", async () => {
    const { queue } = await openTestQueue();
    const bare = Object.assign(Object.create(null) as Record<string, string>, { a: "1" });
    const otherRealm = runInNewContext('({ c: "3" })') as Record<string, string>;
    for (const [headers, expected] of [
      [{ b: "2" }, { b: "2" }],
      [bare, { a: "1" }],
      [otherRealm, { c: "3" }],
    ] as const) {
      const id = await queue.enqueue("q", "x", { headers });
      assert.deepEqual({ ...(await queue.getJob(id))?.headers }, expected);
    }
    await queue.close();
  });

  it("an empty dedupKey is refused by every call that takes one, as an empty jobId or groupKey is, writing nothing", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("q", "ok", { dedupKey: "k" });
    const records = queue.logStats().recordsWritten;
    const empty = (arg: string): RegExp =>
      new RegExp(
        `^Expected \`${arg.replace(/[.[\]]/g, "\\$&")}\` to be a non-empty string of at most 1024 UTF-8 bytes, got an empty string$`,
      );
    await expectInvalid(queue.enqueue("q", "x", { dedupKey: "" }), empty("options.dedupKey"));
    await expectInvalid(
      queue.enqueue("q", "x", { dedupKey: "", dedupReplace: true }),
      empty("options.dedupKey"),
    );
    await expectInvalid(
      queue.enqueueMany("q", [
        { payload: "a", options: { dedupKey: "a" } },
        { payload: "b", options: { dedupKey: "" } },
      ]),
      empty("jobs[1].options.dedupKey"),
    );
    await expectInvalid(
      queue.transaction((tx) => {
        tx.enqueue("q", "a");
        tx.enqueue("other", "b", { dedupKey: "" });
      }),
      /dedupKey` to be a non-empty string of at most 1024 UTF-8 bytes, got an empty string$/,
    );
    // A flow takes no dedup key at all.
    await expectInvalid(
      queue.enqueueFlow({
        queue: "root",
        payload: "r",
        children: [{ queue: "leaf", payload: "l", options: { dedupKey: "" } }],
      }),
      /children\[0\]\.options\.dedupKey/,
    );
    await expectInvalid(
      queue.schedule("s", { everyMs: 1_000, queue: "q", payload: "x", options: { dedupKey: "" } }),
      empty("spec.options.dedupKey"),
    );
    // As empty job ids and group keys are.
    await expectInvalid(queue.enqueue("q", "x", { jobId: "" }), /options\.jobId/);
    await expectInvalid(
      queue.enqueue("q", "x", { groupKey: "" }),
      /options\.groupKey.*empty string/,
    );
    await queue.flush();
    assert.equal(queue.logStats().recordsWritten, records);
    assert.deepEqual(await queue.listQueues(), ["q"]);
    assert.equal((await queue.stats("q")).pending, 1);
    assert.deepEqual(await queue.listSchedules(), []);
    await queue.close();
  });

  it("the payload limit is inclusive and counts UTF-8 bytes of strings", async () => {
    const { queue } = await openTestQueue({ maxPayloadBytes: 4 });
    await queue.enqueue("q", "éé");
    await expectInvalid(queue.enqueue("q", "ééé"), /payload/);
    await queue.close();
  });

  it("bad claim, settlement and lookup arguments reject and change nothing", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("q", "x");
    await expectInvalid(queue.claim("q", { leaseMs: -1 }), /options\.leaseMs/);
    await expectInvalid(queue.claim("q", { leaseMs: 0 }), /options\.leaseMs/);
    await expectInvalid(queue.claim("q", { waitMs: Number.POSITIVE_INFINITY }), /options\.waitMs/);
    assert.equal((await queue.stats("q")).pending, 1);
    const claim = await mustClaim(queue, "q");
    await expectInvalid(queue.nack(claim, 5 as unknown as string), /error/);
    await expectInvalid(queue.deadLetter(claim, undefined as unknown as string), /reason/);
    await expectInvalid(queue.renewLease(claim, -5), /extensionMs/);
    const before = claim.leaseExpiresAt;
    assert.equal((await queue.getJob(claim.id))?.leaseExpiresAt, before);
    assert.equal((await queue.stats("q")).claimed, 1);
    await expectInvalid(queue.getJob(7 as unknown as string), /id/);
    await expectInvalid(queue.cancel(null as unknown as string), /id/);
    await expectInvalid(queue.deadJobs("q", { limit: -1 }), /options\.limit/);
    await expectInvalid(queue.stats(""), /queue/);
    await queue.ack(claim as Claim);
    await queue.close();
  });

  it("a filter or listing option with an unknown key (a typo) is refused, nothing removed or requeued", async () => {
    const { queue, store } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    await queue.enqueueBatch("q", ["a", "b", "c"]);
    await queue.enqueue("q", "later", { delayMs: 60_000 });
    await queue.deadLetter(await mustClaim(queue, "q"), "dead");
    await queue.kvPut("k1", "v");
    await queue.flush();
    const records = queue.logStats().recordsWritten;
    const stats = await queue.stats("q");
    const cases: [string, () => Promise<unknown>, string][] = [
      [
        "removeJobs",
        () => queue.removeJobs("q", "pending", { olderThan: 60_000 } as Loose),
        "Expected `options` to have only the keys olderThanMs, onProgress; got `olderThan` (did you mean `olderThanMs`?)",
      ],
      [
        "removeJobs (undefined value, and two unknown keys)",
        () => queue.removeJobs("q", "scheduled", { quue: "x", olderThanMS: undefined } as Loose),
        "Expected `options` to have only the keys olderThanMs, onProgress; got `quue`, `olderThanMS` (did you mean `olderThanMs`?)",
      ],
      [
        "requeueDeadJobs",
        () => queue.requeueDeadJobs("q", { limt: 1 } as Loose),
        "Expected `options` to have only the keys limit, onProgress; got `limt` (did you mean `limit`?)",
      ],
      [
        "listJobs",
        () => queue.listJobs("q", "pending", { cursr: "pending:1.1" } as Loose),
        "Expected `options` to have only the keys cursor, limit, loadPayloads; got `cursr` (did you mean `cursor`?)",
      ],
      [
        "deadJobs",
        () => queue.deadJobs("q", { afer: "x" } as Loose),
        "Expected `options` to have only the keys after, limit; got `afer` (did you mean `after`?)",
      ],
      [
        "kvScan",
        () => queue.kvScan("k", { cursur: "k1" } as Loose),
        "Expected `options` to have only the keys cursor, limit; got `cursur` (did you mean `cursor`?)",
      ],
    ];
    for (const [what, call, message] of cases) {
      const error = await rejection(call());
      assert.ok(error instanceof InvalidArgumentError, what);
      assert.equal(error.message, message, what);
    }
    assert.equal(queue.logStats().recordsWritten, records);
    assert.deepEqual(await queue.stats("q"), stats);
    await queue.close();
    // A reader refuses them alike.
    const reader = await QueueReader.open(store, "q");
    assert.throws(() => reader.listJobs("q", "dead", { limi: 5 } as Loose), {
      code: "INVALID_ARGUMENT",
      message:
        "Expected `options` to have only the keys cursor, limit, loadPayloads; got `limi` (did you mean `limit`?)",
    });
    assert.throws(() => reader.deadJobs("q", { Limit: 5 } as Loose), {
      code: "INVALID_ARGUMENT",
      message:
        "Expected `options` to have only the keys after, limit; got `Limit` (did you mean `limit`?)",
    });
    assert.throws(() => reader.kvScan("k", { limits: 5 } as Loose), {
      code: "INVALID_ARGUMENT",
    });
  });

  it("other options objects ignore keys they do not know (options of a newer version still work)", async () => {
    const { queue } = await openTestQueue({ someFutureOption: true } as Loose);
    const id = await queue.enqueue("q", "x", { someFutureOption: 1 } as Loose);
    const claim = await queue.claim("q", { someFutureOption: 1 } as Loose);
    assert.equal(claim?.id, id);
    await queue.ack(claim!, { someFutureOption: 1 } as Loose);
    await queue.close();
  });

  it("unknown open, queue config, rate limit, log and telemetry keys are warned of, each with the key likely meant", async () => {
    const logger = recordingLogger();
    const queue = await Queue.open(new MemoryStore(), "q", {
      clock: new ManualClock(),
      logger,
      flushIntervalMs: 0,
      reaperIntervalMS: 10,
      defaultQueueConfig: { attempts: 5, concurrency: 2, rateLimit: { max: 5, perMs: 1_000 } },
      queueConfigs: {
        fast: { leaseMs: 1_000, lease: 5, rateLimit: { max: 2, perMs: 10, duration: 60_000 } },
        slow: { rateLimit: { max: 1, perMs: 10, perMS: 60_000, burst: 2 } },
      },
      log: { flushInterval: 1, retry: { maxDelay: 5 } },
      telemetry: { metric: false },
    } as Loose);
    const warnings = logger.messages("warn");
    const expected = [
      /^ignoring unknown keys of options: `reaperIntervalMS` \(did you mean `reaperIntervalMs`\?\) \(known: reaperIntervalMs, schedulerIntervalMs, .*\)$/,
      /^ignoring unknown keys of options\.defaultQueueConfig: `attempts` \(did you mean `maxAttempts`\?\), `concurrency` \(see `runWorker`'s option `concurrency` \(`groupConcurrency` caps each group only\)\) \(known: maxAttempts, leaseMs, /,
      /^ignoring unknown keys of options\.queueConfigs\["fast"\]: `lease` \(did you mean `leaseMs`\?\)/,
      /^ignoring unknown keys of options\.queueConfigs\["fast"\]\.rateLimit: `duration` \(did you mean `perMs`\?\) \(known: max, perMs\)$/,
      /^ignoring unknown keys of options\.queueConfigs\["slow"\]\.rateLimit: `perMS` \(did you mean `perMs`\?\), `burst` \(known: max, perMs\)$/,
      /^ignoring unknown keys of options\.log: `flushInterval` \(did you mean `flushIntervalMs`\?\)/,
      /^ignoring unknown keys of options\.log\.retry: `maxDelay` \(did you mean `maxDelayMs`\?\)/,
      /^ignoring unknown keys of options\.telemetry: `metric` \(did you mean `metrics`\?\)/,
    ];
    assert.equal(warnings.length, expected.length, warnings.join("\n"));
    for (const [i, pattern] of expected.entries()) assert.match(warnings[i]!, pattern);
    // The misspelt settings changed nothing.
    assert.equal(queue.queueConfig("q").maxAttempts, 3);
    assert.equal(queue.queueConfig("fast").leaseMs, 1_000);
    assert.deepEqual(queue.queueConfig("fast").rateLimit, { max: 2, perMs: 10 });
    assert.deepEqual(queue.queueConfig("slow").rateLimit, { max: 1, perMs: 10 });
    await queue.close();
  });

  it("unknown enqueue, entry, flow and schedule keys are warned of once per key and kind, after the call is checked", async () => {
    const logger = recordingLogger();
    const { queue } = await openTestQueue({ logger });
    // Refused for another reason: nothing told (the key is told when a call goes through).
    await assert.rejects(
      queue.enqueue("q", "x", { delay: 60_000, priority: -1 } as Loose),
      InvalidArgumentError,
    );
    assert.deepEqual(logger.messages("warn"), []);
    // `delay` for `delayMs`: the job is pending at once (the key is ignored), and the caller is told.
    const id = await queue.enqueue("q", "x", { delay: 60_000 } as Loose);
    // Told once per key and kind: `delay` again is not told; `attempts`, new, is, and once only
    // although enqueueMany's options bring it again.
    await queue.enqueue("q", "y", { delay: 5, attempts: 9 } as Loose);
    await queue.enqueueMany("q", [
      { payload: "z", options: { attempts: 2 } as Loose },
      { payload: "w", opts: { priority: 1 } } as Loose as { payload: string },
    ]);
    await queue.transaction((tx) => {
      tx.enqueue("q", "t", { lifo: true } as Loose);
    });
    await queue.enqueueFlow({
      queue: "q",
      payload: "parent",
      chidren: [{ queue: "q", payload: "child" }],
    } as Loose as unknown as FlowJob);
    await queue.schedule("nightly", {
      cron: "0 3 * * *",
      timeZone: "Europe/Paris",
      queue: "q",
      payload: "s",
    } as Loose as unknown as ScheduleSpec);
    assert.deepEqual(
      logger.messages("warn").map((m) => m.slice(0, m.indexOf(" (known: "))),
      [
        "ignoring unknown keys of enqueue options: `delay` (did you mean `delayMs`?)",
        "ignoring unknown keys of enqueue options: `attempts` (did you mean `maxAttempts`?)",
        "ignoring unknown keys of enqueueMany jobs: `opts`",
        "ignoring unknown keys of enqueue options: `lifo`",
        "ignoring unknown keys of flow jobs: `chidren` (did you mean `children`?)",
        "ignoring unknown keys of schedule specs: `timeZone` (did you mean `timezone`?)",
      ],
    );
    const stats = await queue.stats("q");
    assert.equal(stats.pending, 6); // x, y, z, w, t, and the flow's parent alone
    assert.equal(stats.scheduled, 0);
    assert.equal((await queue.getJob(id))?.maxAttempts, 3);
    assert.equal((await queue.listSchedules())[0]?.timezone, "UTC");
    await queue.close();
  });

  it("unknown claim, ack and waitForCompletion keys are warned of, after the call is checked", async () => {
    const logger = recordingLogger();
    const { queue, clock } = await openTestQueue({ logger });
    const [, second] = await queue.enqueueBatch("q", ["a", "b", "c"]);
    // Refused for another reason (a bad lease, a lost claim): nothing told.
    await assert.rejects(
      queue.claim("q", { leaseMs: -1, lease: 5 } as Loose),
      InvalidArgumentError,
    );
    const settled = await mustClaim(queue, "q");
    await queue.ack(settled);
    await assert.rejects(queue.ack(settled, { results: "r" } as Loose), { code: "CLAIM_LOST" });
    assert.deepEqual(logger.messages("warn"), []);
    // `lease` for `leaseMs`: the claim gets the queue's lease (the key is ignored), and is told.
    const claim = await queue.claim("q", { lease: 5 } as Loose);
    assert.equal(claim?.id, second);
    assert.equal(claim?.leaseExpiresAt, clock.now() + 30_000);
    const [last] = await queue.claimBatch("q", 1, { lease: 5 } as Loose); // told once per kind
    // `results` for `result`: the job is acked without one.
    const ended = queue.waitForCompletion(second!, { timeout: 50 } as Loose);
    await queue.ack(claim!, { results: "r" } as Loose);
    assert.deepEqual(await ended, { status: "done" });
    await queue.transaction((tx) => tx.ack(last!, { reslt: "r" } as Loose));
    assert.deepEqual(
      logger.messages("warn").map((m) => m.slice(0, m.indexOf(" (known: "))),
      [
        "ignoring unknown keys of claim options: `lease` (did you mean `leaseMs`?)",
        "ignoring unknown keys of waitForCompletion options: `timeout` (did you mean `timeoutMs`?)",
        "ignoring unknown keys of ack options: `results` (did you mean `result`?)",
        "ignoring unknown keys of tx.ack options: `reslt` (did you mean `result`?)",
      ],
    );
    await queue.close();
  });

  it("an object of many unknown keys makes one bounded warning, and a throwing logger fails nothing", async () => {
    const logger = recordingLogger();
    const { queue } = await openTestQueue({ logger });
    const many: Record<string, number> = {};
    for (let i = 0; i < 50_000; i++) many[`k${i}`] = i;
    await queue.enqueue("q", "x", many);
    // 32 keys told of (the first 8 named): the kind is no longer looked at.
    await queue.enqueue("q", "y", { delay: 1 } as Loose);
    const warnings = logger.at("warn");
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!.message,
      /^ignoring unknown keys of enqueue options: `k0`, `k1`, .*`k7` and 49992 more \(known: /,
    );
    assert.ok(warnings[0]!.message.length < 1_000, `${warnings[0]!.message.length} characters`);
    assert.deepEqual(warnings[0]!.fields, {
      unknownKeys: ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"],
    });
    await queue.close();
    const throwing = {
      warn: () => {
        throw new Error("logger down");
      },
      error: () => {},
    };
    const { queue: other } = await openTestQueue({ logger: throwing });
    assert.equal((await other.stats("q")).pending, 0);
    await other.enqueue("q", "x", { delay: 1 } as Loose);
    assert.equal((await other.stats("q")).pending, 1);
    await other.close();
  });

  it("a flow's keys are looked at without running the caller's getters or proxies more often; told once it is enqueued", async () => {
    const logger = recordingLogger();
    const { queue } = await openTestQueue({ logger });
    // A getter runs as often as without the look (once, by the flow's copy).
    let reads = 0;
    const parent = {
      queue: "q",
      payload: "parent",
      get children() {
        reads++;
        return reads === 1 ? [{ queue: "q", payload: "child" }] : [];
      },
    };
    await queue.enqueueFlow(parent);
    assert.equal(reads, 1);
    assert.equal((await queue.stats("q")).scheduled + (await queue.stats("q")).pending, 2);
    // Proxies whose key traps throw: the flow and a plain enqueue go through as without the look.
    const hostile = <T extends object>(target: T): T =>
      new Proxy(target, {
        ownKeys: () => {
          throw new Error("no keys for you");
        },
        getOwnPropertyDescriptor: () => {
          throw new Error("no descriptors for you");
        },
      });
    await queue.enqueueFlow(hostile({ queue: "q", payload: "p" }));
    await queue.enqueue("q", "x", hostile({ priority: 5 }));
    // A refused flow tells nothing; the same key in a flow that goes through is told.
    await assert.rejects(
      queue.enqueueFlow({
        queue: "q",
        payload: "p",
        chidren: [],
        options: { priority: -1 },
      } as Loose as unknown as FlowJob),
      InvalidArgumentError,
    );
    assert.deepEqual(logger.messages("warn"), []);
    await queue.enqueueFlow({
      queue: "q",
      payload: "p",
      chidren: [],
      options: { expireInSeconds: 60 },
    } as Loose as unknown as FlowJob);
    assert.deepEqual(
      logger.messages("warn").map((m) => m.slice(0, m.indexOf(" (known: "))),
      [
        "ignoring unknown keys of flow jobs: `chidren` (did you mean `children`?)",
        "ignoring unknown keys of enqueue options: `expireInSeconds` (see the enqueue option `timeoutMs` (milliseconds, not seconds))",
      ],
    );
    // Arrays are no options bags to list the indexes of.
    await queue.enqueue("q", "y", [1, 2] as unknown as Loose);
    assert.equal(logger.messages("warn").length, 2);
    await queue.close();
  });

  it("the log's settings get spelling hints only: a job's option names mean other things there", async () => {
    const logger = recordingLogger();
    const queue = await Queue.open(new MemoryStore(), "q", {
      logger,
      log: { timeout: 5, retry: { maxAttempts: 3 } },
    } as Loose);
    assert.deepEqual(
      logger.messages("warn").map((m) => m.slice(0, m.indexOf(" (known: "))),
      [
        "ignoring unknown keys of options.log: `timeout`",
        "ignoring unknown keys of options.log.retry: `maxAttempts`",
      ],
    );
    await queue.close();
  });

  it("runWorker warns of an unknown option once, on its logger, and runs as without it", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("q", "x");
    const logger = recordingLogger();
    const stop = new AbortController();
    let handled = 0;
    await runWorker(
      queue,
      "q",
      () => {
        handled++;
        stop.abort();
      },
      { concurency: 4, signal: stop.signal, logger } as Loose,
    );
    assert.equal(handled, 1);
    assert.deepEqual(logger.messages("warn"), [
      "ignoring unknown keys of runWorker options: `concurency` (did you mean `concurrency`?) (known: concurrency, prefetch, pollIntervalMs, leaseMs, autoRenew, signal, shutdownTimeoutMs, logger)",
    ]);
    await queue.close();
  });

  it("bad open options reject INVALID_ARGUMENT before touching the store", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const bad: Array<[Loose, RegExp]> = [
      [{ reaperIntervalMs: -1 }, /options\.reaperIntervalMs/],
      [{ schedulerIntervalMs: Number.NaN }, /options\.schedulerIntervalMs/],
      [{ maxPayloadBytes: 1.5 }, /options\.maxPayloadBytes/],
      [{ defaultQueueConfig: { maxAttempts: 0 } }, /defaultQueueConfig\.maxAttempts/],
      [
        { defaultQueueConfig: { retryBackoffBaseMs: -1 } },
        /defaultQueueConfig\.retryBackoffBaseMs/,
      ],
      [{ queueConfigs: { a: { leaseMs: "long" } } }, /queueConfigs\["a"\]\.leaseMs/],
      [{ defaultQueueConfig: { keepDoneJobsMs: -5 } }, /keepDoneJobsMs/],
      [{ flushIntervalMs: -1 }, /`options\.flushIntervalMs`/],
      [{ log: { checkpointWalBytes: -1 } }, /`options\.log\.checkpointWalBytes`/],
      [{ log: { retry: { maxDelayMs: "x" } } }, /`options\.log\.retry\.maxDelayMs`/],
      [{ log: { recoverCorruption: "maybe" } }, /`options\.log\.recoverCorruption`.*"skip"/],
      // A key that is no queue name is a setting that could never apply.
      [{ queueConfigs: { "": { leaseMs: 5 } } }, /`options\.queueConfigs key` to be a queue name/],
      [
        { queueConfigs: { ["x".repeat(256)]: {} } },
        /`options\.queueConfigs key` to be a queue name/,
      ],
    ];
    for (const [options, argument] of bad)
      await expectInvalid(Queue.open(store, "q", { clock, ...options }), argument);
    assert.equal((await store.list("")).objects.length, 0);
  });

  it("a missing or wrong store, clock or logger rejects INVALID_ARGUMENT, not a TypeError", async () => {
    const store = new MemoryStore();
    for (const notAStore of [null, undefined, {}, "memory://"]) {
      await expectInvalid(
        Queue.open(notAStore as never, "q"),
        /^Expected `store` to be an ObjectStore/,
      );
      await expectInvalid(
        QueueReader.open(notAStore as never, "q"),
        /^Expected `store` to be an ObjectStore/,
      );
    }
    const bad: Array<[Loose, RegExp]> = [
      [{ clock: {} }, /`options\.clock` to be a Clock/],
      [{ clock: { now: 5 } }, /`options\.clock` to be a Clock/],
      [{ clock: { now: () => 0, monotonicNow: 1 } }, /`options\.clock` to be a Clock/],
      [{ logger: "console" }, /`options\.logger` to be a Logger/],
      [{ logger: { warn: () => {} } }, /`options\.logger` to be a Logger/],
      [{ log: { clock: null } }, /`options\.log\.clock` to be a Clock/],
    ];
    for (const [options, argument] of bad)
      await expectInvalid(Queue.open(store, "q", options), argument);
    await expectInvalid(
      QueueReader.open(store, "q", { clock: {} } as Loose),
      /`options\.clock` to be a Clock/,
    );
    assert.equal((await store.list("")).objects.length, 0);
  });

  it("a path the store refuses keys under is named as `path`, with the store's reason", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-bad-path-"));
    try {
      for (const store of [new MemoryStore(), new FileStore(dir)]) {
        const bad: Array<[string, RegExp]> = [
          ["../escape", /contains a "\.\." path segment.*\), got "\.\.\/escape"$/],
          ["a/../../b", /contains a "\.\." path segment/],
          ["a//b", /contains an empty path segment/],
          ["a/./b", /contains a "\." path segment/],
          ["a\\b", /contains a backslash/],
        ];
        for (const [path, message] of bad) {
          const error = await rejection(Queue.open(store, path, { logger: silentLogger }));
          assert.ok(error instanceof InvalidArgumentError, String(error));
          assert.match(
            error.message,
            new RegExp(`^Expected \`path\` to be a path ${escapeRegExp(store.describe())} takes`),
          );
          assert.match(error.message, message);
          // Nothing under such a path can exist, so reading it finds an empty store, as before.
          const reader = await QueueReader.open(store, path);
          assert.equal(reader.inspection.manifest, null);
        }
        for (const open of [
          () => Queue.open(store, 5 as unknown as string),
          () => QueueReader.open(store, 5 as unknown as string),
        ])
          assert.match(
            (await rejection(open())).message,
            /^Expected `path` to be a string, got 5$/,
          );
        assert.deepEqual(await store.list(""), { objects: [] }, "nothing written");
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a store that takes any key (as S3 and GCS do) holds queues at any path", async () => {
    const clock = new ManualClock();
    const store = new AnyKeyStore();
    const paths = ["a//b", "a/./b", ".", "..", "a/../b", "tenant\\q", "a\0b", "q/\uD800"];
    for (const path of paths) {
      const queue = await Queue.open(store, path, { clock, logger: silentLogger });
      await queue.enqueue("q", JSON.stringify(path));
      await queue.close();
      const reader = await QueueReader.open(store, path);
      assert.equal(reader.listJobs("q", "pending").jobs.length, 1, JSON.stringify(path));
      assert.equal((await inspectLog(store, path)).manifest?.epoch, 1);
      const reopened = await Queue.open(store, path, { clock, logger: silentLogger });
      const claim = await mustClaim(reopened, "q");
      assert.equal(new TextDecoder().decode(claim.payload), JSON.stringify(path));
      await reopened.close();
    }
  });

  it("calls after close reject CLOSED; close is idempotent", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("q", "x");
    await queue.close();
    await queue.close();
    for (const call of [
      queue.enqueue("q", "y"),
      queue.claim("q"),
      queue.stats("q"),
      queue.getJob("x"),
      queue.flush(),
    ])
      assert.equal((await rejection(call)).code, "CLOSED");
  });
});

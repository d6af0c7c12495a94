import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ManualClock } from "../../src/clock.js";
import { TaqubaError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import type { Claim } from "../../src/queue/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import { liveState, stateDigest } from "./lib/audit.js";
import { seedsToRun } from "./lib/seeds.js";

const MAX_PAYLOAD = 64;

/** Anything a caller might pass where a value is expected. */
const junk = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -5, max: 5 }),
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -1, 0.5, 2 ** 32, 2 ** 53, 2 ** 53 + 10),
  fc.constantFrom(1e300, -1e300, 8.64e15, 8.64e15 + 1, Date.now() + 1_000),
  fc.string({ maxLength: 3 }),
  fc.string({ unit: "binary", maxLength: 3 }),
  fc.constantFrom("\uD800", "a\uDC00", "😀"),
  fc.constant(new Date(Number.NaN)),
  fc.constant([]),
  fc.constant({}),
);
const queueName = fc.oneof(
  fc.constantFrom("a", "b", "é", "a/b", "x".repeat(255), "x".repeat(256), "é".repeat(128), ""),
  fc.string({ maxLength: 4 }),
  fc.string({ unit: "binary", maxLength: 4 }),
  junk,
);
const payload = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.uint8Array({ maxLength: MAX_PAYLOAD + 2 }),
  fc.constant("é".repeat(MAX_PAYLOAD / 2 + 1)),
  junk,
);
/** Mostly absent, sometimes anything: keeps enough calls valid to reach the log. */
const maybe = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });
const options = fc.oneof(
  junk,
  fc.record(
    {
      priority: maybe(junk),
      maxAttempts: maybe(junk),
      runAt: fc.oneof(junk, fc.constantFrom(1e300, 2 ** 53 + 10, 8.64e15, 1_800_000_000_000)),
      dedupKey: maybe(junk),
      headers: maybe(
        fc.oneof(junk, fc.dictionary(fc.string({ maxLength: 2 }), junk, { maxKeys: 2 })),
      ),
      leaseMs: maybe(junk),
      waitMs: fc.constantFrom(undefined, 0, -1, Number.NaN),
      after: maybe(junk),
      limit: maybe(junk),
    },
    { requiredKeys: [] },
  ),
);

type Call =
  | { op: "enqueue"; queue: unknown; payload: unknown; options: unknown }
  | { op: "enqueueBatch"; queue: unknown; payloads: unknown }
  | { op: "claim"; queue: unknown; options: unknown }
  | { op: "settle"; how: "ack" | "nack" | "deadLetter" | "renewLease"; which: number; arg: unknown }
  | { op: "lookup"; how: "getJob" | "cancel" | "requeueDeadJob"; which: number; id: unknown }
  | { op: "stats" | "deadJobs"; queue: unknown; options: unknown };

const call: fc.Arbitrary<Call> = fc.oneof(
  fc.record({ op: fc.constant("enqueue" as const), queue: queueName, payload, options }),
  fc.record({
    op: fc.constant("enqueueBatch" as const),
    queue: queueName,
    payloads: fc.oneof(fc.array(payload, { maxLength: 3 }), junk),
  }),
  fc.record({ op: fc.constant("claim" as const), queue: queueName, options }),
  fc.record({
    op: fc.constant("settle" as const),
    how: fc.constantFrom(
      "ack" as const,
      "nack" as const,
      "deadLetter" as const,
      "renewLease" as const,
    ),
    which: fc.nat(5),
    arg: fc.oneof(fc.string({ maxLength: 3 }), fc.constantFrom("lone \uD83D", "ok 😀"), junk),
  }),
  fc.record({
    op: fc.constant("lookup" as const),
    how: fc.constantFrom("getJob" as const, "cancel" as const, "requeueDeadJob" as const),
    which: fc.nat(5),
    id: fc.oneof(fc.string({ maxLength: 26 }), junk),
  }),
  fc.record({
    op: fc.constantFrom("stats" as const, "deadJobs" as const),
    queue: queueName,
    options,
  }),
);

/** Codes each kind of call may reject with on bad input or a wrong state. */
const ALLOWED: Record<string, string[]> = {
  enqueue: ["INVALID_ARGUMENT"],
  enqueueBatch: ["INVALID_ARGUMENT"],
  claim: ["INVALID_ARGUMENT"],
  settle: ["INVALID_ARGUMENT", "CLAIM_LOST"],
  lookup: ["INVALID_ARGUMENT", "JOB_NOT_FOUND"],
  stats: ["INVALID_ARGUMENT"],
  deadJobs: ["INVALID_ARGUMENT"],
};

function validName(name: unknown): boolean {
  if (typeof name !== "string" || /\p{Cs}/u.test(name)) return false;
  const bytes = Buffer.byteLength(name, "utf8");
  return bytes >= 1 && bytes <= 255;
}

/* biome-ignore lint/suspicious/noExplicitAny: the point is to pass the API values its types forbid */
type Loose = any;

async function perform(queue: Queue, c: Call, claims: Claim[], ids: string[]): Promise<unknown> {
  const q = queue as Loose;
  switch (c.op) {
    case "enqueue":
      return q.enqueue(c.queue, c.payload, c.options);
    case "enqueueBatch":
      return q.enqueueBatch(c.queue, c.payloads);
    case "claim": {
      const claim = await q.claim(c.queue, c.options);
      if (claim !== null) claims.push(claim);
      return claim;
    }
    case "settle": {
      const claim = claims[c.which % Math.max(1, claims.length)] ?? { id: "nope" };
      return q[c.how](claim, c.arg);
    }
    case "lookup":
      return q[c.how](c.which < 3 && ids.length > 0 ? ids[c.which % ids.length] : c.id);
    default:
      return q[c.op](c.queue, c.options);
  }
}

describe("bad input: property tests over the public API", { timeout: 180_000 }, () => {
  for (const seed of seedsToRun(1, 0xbad)) {
    it(`seed ${seed}: every rejection is a typed error from the contract and changes nothing`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 25 }), async (calls) => {
          const clock = new ManualClock();
          const store = new MemoryStore();
          const queue = await Queue.open(store, "q", {
            clock,
            logger: silentLogger,
            flushIntervalMs: 0,
            maxPayloadBytes: MAX_PAYLOAD,
            defaultQueueConfig: { retryBackoffBaseMs: 0 },
            queueConfigs: {
              b: {
                retryBackoffBaseMs: Number.MAX_SAFE_INTEGER,
                retryBackoffMaxMs: Number.MAX_SAFE_INTEGER,
              },
            },
          });
          const claims: Claim[] = [];
          const ids: string[] = [];
          let reopened: Queue | null = null;
          try {
            for (const c of calls) {
              const before = stateDigest(liveState(queue));
              let error: unknown = null;
              let result: unknown;
              try {
                result = await perform(queue, c, claims, ids);
              } catch (e) {
                error = e;
              }
              if (typeof result === "string") ids.push(result);
              if (Array.isArray(result)) ids.push(...result.filter((r) => typeof r === "string"));
              if (error === null) {
                // Accepted calls must have had a valid queue name.
                if ("queue" in c)
                  assert.ok(validName(c.queue), `${c.op} accepted queue ${String(c.queue)}`);
                continue;
              }
              assert.ok(
                error instanceof TaqubaError,
                `${c.op} threw a non-taquba error: ${String(error)}`,
              );
              assert.ok(
                ALLOWED[c.op]!.includes(error.code),
                `${c.op} rejected with ${error.code}: ${error.message}`,
              );
              assert.ok(error.message.length > 10, "the message says what was wrong");
              assert.equal(
                stateDigest(liveState(queue)),
                before,
                `rejected ${c.op} changed the state`,
              );
              if ("queue" in c && !validName(c.queue)) assert.equal(error.code, "INVALID_ARGUMENT");
            }
            // Whatever was accepted must also survive the trip through the log.
            const digest = stateDigest(liveState(queue));
            await queue.close();
            reopened = await Queue.open(store, "q", { clock, logger: silentLogger });
            assert.equal(stateDigest(liveState(reopened)), digest, "the reopened state differs");
          } finally {
            await queue.close();
            await reopened?.close();
          }
        }),
        { seed, numRuns: 150 },
      );
    });
  }
});

describe("bad input: times the log cannot store", { timeout: 180_000 }, () => {
  // Regression: a runAt past 2^53 ms (or a huge backoff) was accepted, applied in memory
  // and written as a broken varint, so the store could not be reopened (CORRUPTION).
  it("rejects a runAt past the Date range with INVALID_ARGUMENT and writes nothing", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "q", { logger: silentLogger });
    const records = queue.logStats().recordsWritten;
    for (const runAt of [2 ** 53 + 10, 1e300, 8.64e15 + 1]) {
      await assert.rejects(queue.enqueue("a", "x", { runAt }), (error: unknown) => {
        assert.ok(error instanceof TaqubaError);
        assert.equal(error.code, "INVALID_ARGUMENT");
        assert.match(error.message, /options\.runAt.*8640000000000000/);
        return true;
      });
    }
    assert.equal(queue.logStats().recordsWritten, records);
    const latest = await queue.enqueue("a", "x", { runAt: 8.64e15 });
    await queue.close();
    const reopened = await Queue.open(store, "q", { logger: silentLogger });
    assert.equal((await reopened.getJob(latest))?.runAt, 8.64e15);
    await reopened.close();
  });

  it("clamps a nack backoff that would overflow, and the store reopens", async () => {
    const store = new MemoryStore();
    const options = {
      logger: silentLogger,
      defaultQueueConfig: {
        retryBackoffBaseMs: Number.MAX_SAFE_INTEGER,
        retryBackoffMaxMs: Number.MAX_SAFE_INTEGER,
      },
    };
    const queue = await Queue.open(store, "q", options);
    await queue.enqueue("a", "x");
    const claim = await queue.claim("a");
    await queue.nack(claim!, "later");
    assert.equal((await queue.getJob(claim!.id))?.runAt, 8.64e15);
    await queue.close();
    const reopened = await Queue.open(store, "q", options);
    assert.equal((await reopened.getJob(claim!.id))?.status, "scheduled");
    await reopened.close();
  });
});

describe("bad input: strings UTF-8 cannot hold", { timeout: 180_000 }, () => {
  // Regression: a lone UTF-16 surrogate in a queue name, dedup key or header was accepted and
  // came back as U+FFFD after a restart — the queue's jobs were then unreachable by its name.
  it("rejects lone surrogates in names, dedup keys and headers; cleans them out of messages", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "q", {
      logger: silentLogger,
      defaultQueueConfig: { retryBackoffBaseMs: 0 },
    });
    for (const [name, options] of [
      ["a\uD800", {}],
      ["a", { dedupKey: "\uDC00" }],
      ["a", { headers: { "\uD800": "v" } }],
      ["a", { headers: { k: "x\uDBFF" } }],
    ] as const) {
      await assert.rejects(queue.enqueue(name, "x", options), { code: "INVALID_ARGUMENT" });
    }
    assert.deepEqual(await queue.listQueues(), []);
    const id = await queue.enqueue("😀", "x", { dedupKey: "😀", headers: { "😀": "😀" } });
    const claim = await queue.claim("😀");
    await queue.nack(claim!, "failed at \uD83D");
    const live = await queue.getJob(id);
    assert.equal(live?.lastError, "failed at \uFFFD");
    await queue.close();
    const reopened = await Queue.open(store, "q", { logger: silentLogger });
    assert.deepEqual(await reopened.listQueues(), ["😀"]);
    assert.deepEqual(await reopened.getJob(id), live);
    await reopened.close();
  });
});

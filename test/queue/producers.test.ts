import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import type { EnqueueOptions, OpenOptions } from "../../src/queue/options.js";
import { Queue } from "../../src/queue/queue.js";
import { setsNoEnqueueOption } from "../../src/queue/validate-options.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { auditState, liveState } from "../reliability/lib/audit.js";
import {
  FAIL_FAST,
  followingId,
  mustClaim,
  openTestQueue,
  rejection,
  text,
  turns,
  WAL,
  watch,
} from "./helpers.js";

describe("enqueue of a plain job", { timeout: 60_000 }, () => {
  it("keeps the payload as given when the caller reuses its buffer right after the call", async () => {
    const cases: Array<{
      what: string;
      options: OpenOptions;
      listen: boolean;
      call?: EnqueueOptions;
    }> = [
      { what: "plain", options: {}, listen: false },
      { what: "with an event listener", options: {}, listen: true },
      { what: "offloaded", options: { payloadOffloadBytes: 4 }, listen: false },
      { what: "with a jobId", options: {}, listen: false, call: { jobId: "mine" } },
      { what: "with a delay", options: {}, listen: false, call: { delayMs: 0 } },
    ];
    // A Buffer too: its `slice()` is a view of the caller's memory, not a copy.
    const kinds = [
      (s: string): Uint8Array => new TextEncoder().encode(s),
      (s: string): Uint8Array => Buffer.from(s),
    ];
    for (const [k, make] of kinds.entries())
      for (const { what: name, options, listen, call } of cases) {
        const what = `${name}, ${k === 0 ? "Uint8Array" : "Buffer"}`;
        const { queue, store } = await openTestQueue(options);
        const seen: string[] = [];
        if (listen) queue.on("enqueued", (event) => seen.push(event.id));
        const buffer = make("original");
        const pending = queue.enqueue("q", buffer, call ?? {});
        buffer.fill(0x78); // the caller reuses its buffer at once
        const id = await pending;
        assert.equal(text((await queue.getJob(id))!.payload), "original", what);
        const claim = await queue.claim("q");
        assert.equal(text(claim!.payload), "original", what);
        if (listen) assert.deepEqual(seen, [id], what);
        await queue.close();
        const reopened = await Queue.open(store, "q", { logger: silentLogger });
        assert.equal(text((await reopened.getJob(id))!.payload), "original", `${what}, reopened`);
        await reopened.close();
      }
  });

  it("keeps the bytes it checked when the caller's buffer changes size during the call", async () => {
    const { queue, store } = await openTestQueue({ maxPayloadBytes: 64 });
    // A resizable buffer grown (past the limit) by an options getter that runs after the check.
    const Resizable = ArrayBuffer as unknown as new (
      length: number,
      options: { maxByteLength: number },
    ) => ArrayBuffer & { resize(length: number): void };
    const growing = new Resizable(8, { maxByteLength: 4096 });
    const payload = new Uint8Array(growing); // tracks the buffer's length
    payload.set(new TextEncoder().encode("original"));
    const options = {
      get priority() {
        growing.resize(1000);
        return undefined;
      },
    };
    const grown = await queue.enqueue("q", payload, options);
    assert.equal(text((await queue.getJob(grown))!.payload), "original");
    await queue.close();
    const reopened = await Queue.open(store, "q", { logger: silentLogger });
    assert.equal(text((await reopened.getJob(grown))!.payload), "original");
    await reopened.close();
  });

  it("resolves only once its record is durable, and a failed write is never acknowledged", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(FAIL_FAST, faults);
    const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const first = queue.enqueue("q", "x");
    const state = watch(first);
    await hold.whenHeld();
    await turns();
    assert.equal(state.settled(), false, "the enqueue must wait for its record");
    hold.release();
    const id = await first;
    assert.equal((await queue.getJob(id))?.status, "pending");

    faults.addRule({ op: "put", keyPattern: WAL, mode: "before" });
    const failed = await rejection(queue.enqueue("q", "lost"));
    assert.equal(failed.code, "STORAGE");
    assert.equal(queue.closed, true);
    faults.clearRules();
    const after = await Queue.open(faults, "q", { logger: silentLogger });
    assert.equal((await after.stats("q")).pending, 1, "only the acknowledged job is there");
    await after.close();
  });

  it("is added after the enqueue calls made before it that are still on their way", async () => {
    const earlier: Array<[string, (queue: Queue) => Promise<unknown>]> = [
      ["a jobId", (queue) => queue.enqueue("q", "first", { jobId: "one" })],
      ["a dedup key", (queue) => queue.enqueue("q", "first", { dedupKey: "k" })],
      ["a delay of 0", (queue) => queue.enqueue("q", "first", { delayMs: 0 })],
      ["enqueueBatch", (queue) => queue.enqueueBatch("q", ["first"])],
      ["enqueueMany", (queue) => queue.enqueueMany("q", [{ payload: "first" }])],
    ];
    for (const [what, first] of earlier) {
      const { queue } = await openTestQueue();
      const calls = [first(queue), queue.enqueue("q", "second"), queue.enqueue("q", "third")];
      await Promise.all(calls);
      const order: string[] = [];
      for (let claim = await queue.claim("q"); claim !== null; claim = await queue.claim("q"))
        order.push(text(claim.payload));
      assert.deepEqual(order, ["first", "second", "third"], what);
      // Nothing on its way any more: a plain enqueue is applied in the caller's turn again.
      const pending = liveState(queue).queues.get("q")!.pending;
      const plain = queue.enqueue("q", "fourth");
      assert.equal(pending.size, 1, what);
      await plain;
      await queue.close();
    }
    // An earlier call that fails is not waited for either.
    const { queue } = await openTestQueue();
    await queue.enqueue("q", "x", { jobId: "taken" });
    assert.equal(
      (await rejection(queue.enqueue("q", "y", { jobId: "taken" }))).code,
      "DUPLICATE_JOB_ID",
    );
    const pending = liveState(queue).queues.get("q")!.pending;
    const plain = queue.enqueue("q", "z");
    assert.equal(pending.size, 2);
    await plain;
    await queue.close();
  });

  it("rejects (never throws) bad arguments and calls on a closed queue, changing nothing", async () => {
    const { queue } = await openTestQueue();
    const bad = [
      () => queue.enqueue("", "x"),
      () => queue.enqueue("q", 42 as unknown as string),
      () => queue.enqueue("q", "x", { priority: -1 }),
      () => queue.enqueue("q", "x", "fast" as unknown as EnqueueOptions),
    ];
    for (const call of bad) {
      let promise: Promise<string> | undefined;
      assert.doesNotThrow(() => {
        promise = call();
      });
      assert.equal((await rejection(promise!)).code, "INVALID_ARGUMENT");
    }
    assert.equal((await queue.stats("q")).pending, 0);
    await queue.close();
    let closed: Promise<string> | undefined;
    assert.doesNotThrow(() => {
      closed = queue.enqueue("q", "x");
    });
    assert.equal((await rejection(closed!)).code, "CLOSED");
  });

  it("takes the queue's defaults only when no option is set", async () => {
    // Every option (the type makes this list complete): each one alone is noticed.
    const every: Required<EnqueueOptions> = {
      jobId: "a",
      delayMs: 1,
      priority: 1,
      maxAttempts: 1,
      runAt: 1,
      dedupKey: "k",
      headers: {},
      timeoutMs: 1,
      dedupReplace: false,
      groupKey: "g",
    };
    for (const [key, value] of Object.entries(every))
      assert.equal(setsNoEnqueueOption({ [key]: value }), false, key);
    assert.equal(setsNoEnqueueOption({}), true);
    assert.equal(setsNoEnqueueOption({ priority: undefined }), true);
    const { queue } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 7 } });
    const plain = await queue.enqueue("q", "x");
    const set = await queue.enqueue("q", "x", { priority: 3, maxAttempts: 2, headers: { h: "v" } });
    assert.equal((await queue.getJob(plain))?.maxAttempts, 7);
    const job = await queue.getJob(set);
    assert.deepEqual([job?.priority, job?.maxAttempts, job?.headers], [3, 2, { h: "v" }]);
    await queue.close();
  });
});

/** Every page of `list` (one job each), as ids; a page gives the cursor of the next (`undefined`: none). */
async function allPages(
  list: (cursor: string | undefined) => Promise<{ ids: string[]; next: string | undefined }>,
): Promise<string[]> {
  const ids: string[] = [];
  for (let cursor: string | undefined; ; ) {
    const page = await list(cursor);
    ids.push(...page.ids);
    if (page.ids.length === 0 || page.next === undefined) return ids;
    cursor = page.next;
  }
}

/**
 * The next id the generator would issue is computable from the last one an
 * enqueue returned (same millisecond: counter + 1). A caller that takes it
 * as its `jobId` must not share it with a job that gets it generated.
 */
describe("a jobId spelt like an id the generator has yet to issue", { timeout: 60_000 }, () => {
  it("enqueue: the next generated id skips it; getJob, listings and their pages see two jobs", async () => {
    const { queue } = await openTestQueue();
    const a = await queue.enqueue("q", "first");
    // The enqueue with the jobId takes the id after `a` for its log record: the one after that.
    const taken = followingId(followingId(a));
    assert.equal(await queue.enqueue("q", "caller", { jobId: taken }), taken);
    const c = await queue.enqueue("q", "generated");
    assert.notEqual(c, taken);
    assert.ok(c > a, "generated ids still grow");
    assert.equal(text((await queue.getJob(taken))!.payload), "caller");
    assert.equal(text((await queue.getJob(c))!.payload), "generated");

    const claims = [
      await mustClaim(queue, "q"),
      await mustClaim(queue, "q"),
      await mustClaim(queue, "q"),
    ];
    const all = [a, taken, c].sort();
    assert.deepEqual(claims.map((cl) => cl.id).sort(), all);
    const claimed = await allPages(async (cursor) => {
      const page = await queue.listJobs("q", "claimed", {
        limit: 1,
        ...(cursor === undefined ? {} : { cursor }),
      });
      return { ids: page.jobs.map((j) => j.id), next: page.nextCursor };
    });
    assert.deepEqual(claimed, all);
    for (const claim of claims) await queue.deadLetter(claim, "dead");
    const dead = await allPages(async (after) => {
      const ids = (
        await queue.deadJobs("q", { limit: 1, ...(after === undefined ? {} : { after }) })
      ).map((j) => j.id);
      return { ids, next: ids.at(-1) };
    });
    assert.deepEqual(dead, all);
    assert.deepEqual(auditState(liveState(queue)), []);
    await queue.close();
  });

  it("enqueueMany: a generated id earlier in the same call skips a later job's jobId (with a dedupKey too)", async () => {
    const { queue } = await openTestQueue();
    const a = await queue.enqueue("q", "first");
    const taken = followingId(a);
    const results = await queue.enqueueMany("q", [
      { payload: "generated", options: { dedupKey: "k" } },
      { payload: "caller", options: { jobId: taken } },
      { payload: "generated too" },
    ]);
    const ids = results.map((r) => r.id);
    assert.equal(ids[1], taken);
    assert.equal(new Set(ids).size, 3, `ids ${ids.join(", ")}`);
    assert.equal(text((await queue.getJob(taken))!.payload), "caller");
    assert.equal(text((await queue.getJob(ids[0]!))!.payload), "generated");
    assert.deepEqual(auditState(liveState(queue)), []);
    await queue.close();
  });

  it("an enqueue still writing its payload holds its jobId against ids generated meanwhile", async () => {
    const { queue } = await openTestQueue({ payloadOffloadBytes: 16 });
    const a = await queue.enqueue("q", "first");
    const taken = followingId(a);
    // Written as an object first: decided after the plain enqueue below.
    const held = queue.enqueue("q", "a payload above the offload threshold", { jobId: taken });
    const c = await queue.enqueue("q", "plain");
    assert.equal(await held, taken);
    assert.notEqual(c, taken);
    assert.equal(text((await queue.getJob(c))!.payload), "plain");
    assert.equal(
      text((await queue.getJob(taken))!.payload),
      "a payload above the offload threshold",
    );
    await queue.close();
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { DEFAULT_QUEUE_CONFIG } from "../../src/queue/options.js";
import { QueueReader } from "../../src/queue/reader.js";
import { mustClaim, NO_BACKOFF, openTestQueue, rejection, setSliceMs } from "./helpers.js";

describe("stats and introspection", { timeout: 60_000 }, () => {
  it("counters follow enqueue → claim → ack", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("q", "x");
    assert.equal((await queue.stats("q")).pending, 1);
    const claim = await mustClaim(queue, "q");
    const claimed = await queue.stats("q");
    assert.equal(claimed.pending, 0);
    assert.equal(claimed.claimed, 1);
    await queue.ack(claim);
    const done = await queue.stats("q");
    assert.equal(done.claimed, 0);
    assert.equal(done.done, 1);
    await queue.close();
  });

  it("a nack at the limit ends with pending 0, claimed 0, dead 1", async () => {
    const { queue } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    await queue.enqueue("q", "x");
    await queue.nack(await mustClaim(queue, "q"), "no");
    const stats = await queue.stats("q");
    assert.deepEqual([stats.pending, stats.claimed, stats.dead], [0, 0, 1]);
    await queue.close();
  });

  it("queueConfig resolves defaults, then defaultQueueConfig, then the queue's own overrides", async () => {
    const { queue } = await openTestQueue({
      defaultQueueConfig: { maxAttempts: 5, leaseMs: 10_000 },
      queueConfigs: { slow: { leaseMs: 60_000, keepDoneJobsMs: 1_000 } },
    });
    const plain = queue.queueConfig("any");
    assert.deepEqual(plain, { ...DEFAULT_QUEUE_CONFIG, maxAttempts: 5, leaseMs: 10_000 });
    assert.deepEqual(queue.queueConfig("slow"), {
      ...DEFAULT_QUEUE_CONFIG,
      maxAttempts: 5,
      leaseMs: 60_000,
      keepDoneJobsMs: 1_000,
    });
    assert.ok(Object.isFrozen(plain));
    // What it reports is what claims use.
    await queue.enqueue("slow", "x");
    const claim = await mustClaim(queue, "slow");
    assert.equal(claim.leaseExpiresAt, claim.claimedAt! + 60_000);
    assert.equal(claim.maxAttempts, 5);
    assert.throws(() => queue.queueConfig(""), { code: "INVALID_ARGUMENT" });
    await queue.close();
  });

  it("listQueues lists every queue that received a job", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("b", "x");
    await queue.enqueue("a", "x");
    await queue.enqueueBatch("c", ["x"]);
    await queue.claim("never-used");
    assert.deepEqual(await queue.listQueues(), ["a", "b", "c"]);
    await queue.close();
  });

  it("listQueues leaves out a queue only pauseQueue named, which stays paused (through the WAL and a checkpoint) once jobs arrive", async () => {
    const { queue, store, clock } = await openTestQueue();
    await queue.enqueue("used", "x");
    await queue.pauseQueue("later");
    assert.deepEqual(await queue.listQueues(), ["used"]);
    assert.equal((await queue.stats("later")).paused, true);
    // Replayed from the WAL.
    await queue.flush();
    const reader = await QueueReader.open(store, "q");
    assert.deepEqual(reader.listQueues(), ["used"]);
    await queue.close();
    assert.ok((await store.list("q/checkpoint/")).objects.length > 0, "close wrote a checkpoint");

    // Restored from the checkpoint.
    const { queue: reopened } = await openTestQueue({}, store, clock);
    assert.deepEqual(await reopened.listQueues(), ["used"]);
    assert.equal((await reopened.stats("later")).paused, true);
    await reopened.enqueue("later", "y");
    assert.deepEqual(await reopened.listQueues(), ["later", "used"]);
    assert.equal(await reopened.claim("later"), null, "still paused");
    await reopened.resumeQueue("later");
    assert.equal((await mustClaim(reopened, "later")).queue, "later");
    await reopened.close();
    const { queue: third } = await openTestQueue({}, store, clock);
    assert.deepEqual(await third.listQueues(), ["later", "used"]);
    await third.close();
  });

  it("listQueues({ includePaused: true }) lists a queue paused before its first job too, on a Queue and a reader", async () => {
    const { queue, store, clock } = await openTestQueue();
    await queue.enqueue("used", "x");
    await queue.pauseQueue("later");
    await queue.pauseQueue("undone");
    await queue.resumeQueue("undone");
    assert.deepEqual(await queue.listQueues({ includePaused: true }), ["later", "used"]);
    assert.deepEqual(await queue.listQueues({ includePaused: false }), ["used"]);
    await queue.flush();
    const reader = await QueueReader.open(store, "q");
    assert.deepEqual(reader.listQueues({ includePaused: true }), ["later", "used"]);
    assert.deepEqual(reader.listQueues(), ["used"]);
    await queue.close();

    // Restored from the checkpoint; resuming it before a job leaves it out again.
    const { queue: reopened } = await openTestQueue({}, store, clock);
    assert.deepEqual(await reopened.listQueues({ includePaused: true }), ["later", "used"]);
    await reopened.resumeQueue("later");
    assert.deepEqual(await reopened.listQueues({ includePaused: true }), ["used"]);
    for (const bad of [{ includePaused: "yes" }, { paused: true }, null])
      await assert.rejects(
        reopened.listQueues(bad as never),
        { code: "INVALID_ARGUMENT" },
        JSON.stringify(bad),
      );
    assert.throws(() => reader.listQueues({ includePaused: 1 } as never), {
      code: "INVALID_ARGUMENT",
    });
    await reopened.close();
  });

  it("with done retention getJob reports pending, claimed, done in turn", async () => {
    const { queue, clock } = await openTestQueue({
      defaultQueueConfig: { keepDoneJobsMs: 60_000 },
    });
    const id = await queue.enqueue("q", "x");
    assert.equal((await queue.getJob(id))?.status, "pending");
    const claim = await mustClaim(queue, "q");
    assert.equal((await queue.getJob(id))?.status, "claimed");
    clock.advance(10);
    await queue.ack(claim);
    const done = await queue.getJob(id);
    assert.equal(done?.status, "done");
    assert.equal(done?.completedAt, clock.now());
    assert.equal(done?.leaseExpiresAt, undefined);
    await queue.close();
  });

  it("getJob of an unknown id is null", async () => {
    const { queue } = await openTestQueue();
    assert.equal(await queue.getJob("01ARZ3NDEKTSV4RRFFQ69G5FAV"), null);
    assert.equal(await queue.getJob("not an id"), null);
    await queue.close();
  });

  it("a dead-lettered job is readable with status dead", async () => {
    const { queue } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    const id = await queue.enqueue("q", "x");
    await queue.nack(await mustClaim(queue, "q"), "bad");
    assert.equal((await queue.getJob(id))?.status, "dead");
    await queue.close();
  });

  it("a dead job is listed; requeue makes it claimable with attempts reset and lastError cleared", async () => {
    const { queue, clock } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    const enqueuedAt = clock.now();
    const id = await queue.enqueue("q", "x");
    clock.advance(100);
    await queue.nack(await mustClaim(queue, "q"), "bad");
    const dead = await queue.deadJobs("q");
    assert.deepEqual(
      dead.map((j) => j.id),
      [id],
    );
    assert.equal(dead[0]?.failedAt, clock.now());
    await queue.requeueDeadJob(dead[0]!);
    const requeued = await queue.getJob(id);
    assert.equal(requeued?.status, "pending");
    assert.equal(requeued?.attempts, 0);
    assert.equal(requeued?.lastError, undefined);
    assert.equal(requeued?.failedAt, undefined);
    assert.equal(requeued?.enqueuedAt, enqueuedAt);
    assert.equal((await queue.stats("q")).dead, 0);
    const again = await mustClaim(queue, "q");
    assert.equal(again.attempts, 1);
    await queue.close();
  });

  it("requeueDeadJob of a job that is not dead (or gone) rejects JOB_NOT_FOUND and changes nothing", async () => {
    const { queue } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    assert.equal((await rejection(queue.requeueDeadJob(id))).code, "JOB_NOT_FOUND");
    assert.equal(
      (await rejection(queue.requeueDeadJob("01ARZ3NDEKTSV4RRFFQ69G5FAV"))).code,
      "JOB_NOT_FOUND",
    );
    assert.equal((await queue.stats("q")).pending, 1);
    await queue.close();
  });

  it("deadJobs pages in id order with an exclusive id cursor; limit 0 is empty", async () => {
    const { queue } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await queue.enqueue("q", `job ${i}`));
    for (let i = 0; i < 5; i++) await queue.deadLetter(await mustClaim(queue, "q"), "dead");
    const page1 = await queue.deadJobs("q", { limit: 2 });
    const page2 = await queue.deadJobs("q", { limit: 2, after: page1.at(-1)!.id });
    const page3 = await queue.deadJobs("q", { limit: 2, after: page2.at(-1)!.id });
    assert.deepEqual(
      [page1, page2, page3].map((p) => p.map((j) => j.id)),
      [ids.slice(0, 2), ids.slice(2, 4), ids.slice(4)],
    );
    assert.deepEqual(await queue.deadJobs("q", { limit: 0 }), []);
    assert.deepEqual(await queue.deadJobs("other"), []);
    await queue.close();
  });

  it("deadJobs lists by id, own ids among generated ones; `after` is a plain exclusive bound, a removed job's id or none", async () => {
    const { queue } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    const ids = [
      await queue.enqueue("q", "a"),
      await queue.enqueue("q", "b", { jobId: "order-17" }),
      await queue.enqueue("q", "c"),
      await queue.enqueue("q", "d", { jobId: "-first" }),
      await queue.enqueue("q", "e"),
    ];
    for (let i = 0; i < 5; i++) await queue.deadLetter(await mustClaim(queue, "q"), "dead");
    const listed = async (after?: string) =>
      (await queue.deadJobs("q", after === undefined ? {} : { after })).map((j) => j.id);
    // "-" sorts before digits, lower case after every generated id (digits and capitals).
    assert.deepEqual(await listed(), ["-first", ids[0], ids[2], ids[4], "order-17"]);
    assert.deepEqual(await listed(), [...ids].sort());
    // Removed jobs still bound a page by their ids, whoever chose them.
    assert.equal(await queue.removeJob("-first"), true);
    assert.deepEqual(await listed("-first"), [ids[0], ids[2], ids[4], "order-17"]);
    assert.equal(await queue.removeJob(ids[2]!), true);
    assert.deepEqual(await listed(ids[2]!), [ids[4], "order-17"]);
    assert.equal(await queue.removeJob("order-17"), true);
    assert.deepEqual(await listed("order-17"), []);
    // Any string: one that no job ever had, between ids, before all, after all.
    assert.deepEqual(await listed("never-was"), []);
    assert.deepEqual(await listed("-"), [ids[0], ids[4]]);
    assert.deepEqual(await listed("0"), [ids[0], ids[4]]);
    assert.deepEqual(await listed("~"), []);
    assert.deepEqual(await listed("é ü"), []);
    assert.deepEqual(await listed(""), [ids[0], ids[4]], "an empty after: from the first");
    // A job that left the status since still bounds the page by its id.
    await queue.requeueDeadJob(ids[0]!);
    assert.deepEqual(await listed(ids[0]!), [ids[4]]);
    // Not a string: refused, nothing listed.
    for (const bad of [17, null, {}]) {
      const error = await rejection(queue.deadJobs("q", { after: bad as unknown as string }));
      assert.ok(error instanceof InvalidArgumentError, String(error));
    }
    await queue.close();
  });

  it("deadJobs `after` a removed own id shaped like a generated id, and the reader, answer by id", async () => {
    const { queue, store, clock } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    const early = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    const late = "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"; // past every id the queue will ever generate
    const ids = [
      await queue.enqueue("q", "a"),
      await queue.enqueue("q", "b", { jobId: early }),
      await queue.enqueue("q", "c"),
      await queue.enqueue("q", "d", { jobId: late }),
      await queue.enqueue("q", "e"),
    ];
    for (let i = 0; i < 5; i++) await queue.deadLetter(await mustClaim(queue, "q"), "dead");
    const sorted = [...ids].sort();
    assert.deepEqual(
      (await queue.deadJobs("q")).map((j) => j.id),
      sorted,
    );
    assert.equal(await queue.removeJob(early), true);
    assert.equal(await queue.removeJob(late), true);
    const left = sorted.filter((id) => id !== early && id !== late);
    assert.deepEqual(
      (await queue.deadJobs("q", { after: early })).map((j) => j.id),
      left.filter((id) => id > early),
    );
    assert.deepEqual(
      (await queue.deadJobs("q", { after: late })).map((j) => j.id),
      [],
    );
    await queue.close();

    // The reader answers the same.
    const reader = await QueueReader.open(store, "q", { clock });
    assert.deepEqual(reader.deadJobs("q", { after: late }), []);
    assert.deepEqual(reader.deadJobs("q", { after: "never-was" }), []);
    assert.deepEqual(
      reader.deadJobs("q", { after: ids[0]! }).map((j) => j.id),
      left.filter((id) => id > ids[0]!),
    );
  });

  it("a long deadJobs page is read in slices: the one-shot page, and jobs changed meanwhile as they are then", async () => {
    const { queue } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    const ids = await queue.enqueueBatch(
      "q",
      Array.from({ length: 1_200 }, (_, i) => `job ${i}`),
    );
    while ((await queue.stats("q")).pending > 0)
      await Promise.all((await queue.claimBatch("q", 500)).map((c) => queue.deadLetter(c, "dead")));
    setSliceMs(queue, 60_000);
    const oneShot = await queue.deadJobs("q", { limit: 2_000 });
    assert.deepEqual(
      oneShot.map((j) => j.id),
      ids,
    );
    setSliceMs(queue, 0);
    assert.deepEqual(await queue.deadJobs("q", { limit: 2_000 }), oneShot);
    assert.deepEqual(
      (await queue.deadJobs("q", { limit: 700, after: ids[99]! })).map((j) => j.id),
      ids.slice(100, 800),
    );
    // Between slices: a job not reached yet is requeued, another removed, and the listed
    // jobs come once each, in id order, without them.
    const reading = queue.deadJobs("q", { limit: 2_000 });
    await queue.requeueDeadJob(ids[1_000]!);
    assert.equal(await queue.removeJob(ids[1_100]!), true);
    const listed = (await reading).map((j) => j.id);
    assert.deepEqual(
      listed,
      ids.filter((id) => id !== ids[1_000] && id !== ids[1_100]),
    );
    await queue.close();
  });
});

describe("retention", { timeout: 60_000 }, () => {
  it("by default ack deletes the job while done still counts it", async () => {
    const { queue } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    await queue.ack(await mustClaim(queue, "q"));
    assert.equal(await queue.getJob(id), null);
    assert.equal((await queue.stats("q")).done, 1);
    await queue.close();
  });

  it("a kept done job is purged once older than the window; done stays cumulative", async () => {
    const { queue, clock } = await openTestQueue({ defaultQueueConfig: { keepDoneJobsMs: 1_000 } });
    const id = await queue.enqueue("q", "x");
    await queue.ack(await mustClaim(queue, "q"));
    clock.advance(1_000);
    await queue.reapNow();
    assert.equal((await queue.getJob(id))?.status, "done", "not strictly older yet");
    clock.advance(1);
    await queue.reapNow();
    assert.equal(await queue.getJob(id), null);
    assert.equal((await queue.stats("q")).done, 1);
    await queue.close();
  });

  it("done retention counts from completion, not from enqueue", async () => {
    const { queue, clock } = await openTestQueue({ defaultQueueConfig: { keepDoneJobsMs: 1_000 } });
    const id = await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q", 60_000);
    clock.advance(5_000);
    await queue.ack(claim);
    await queue.reapNow();
    assert.equal((await queue.getJob(id))?.status, "done");
    clock.advance(1_001);
    await queue.reapNow();
    assert.equal(await queue.getJob(id), null);
    await queue.close();
  });

  it("dead retention: survives a long window, purged (record and counter) after a short one", async () => {
    const { queue, clock } = await openTestQueue({
      defaultQueueConfig: { maxAttempts: 1 },
      queueConfigs: { short: { deadRetentionMs: 1_000 } },
    });
    const long = await queue.enqueue("long", "x");
    const short = await queue.enqueue("short", "x");
    await queue.deadLetter(await mustClaim(queue, "long"), "dead");
    await queue.deadLetter(await mustClaim(queue, "short"), "dead");
    clock.advance(1_001);
    await queue.reapNow();
    assert.equal((await queue.getJob(long))?.status, "dead");
    assert.equal(await queue.getJob(short), null);
    assert.equal((await queue.stats("short")).dead, 0);
    assert.equal((await queue.stats("long")).dead, 1);
    await queue.close();
  });

  it("requeue clears failedAt so the job is not swept", async () => {
    const { queue, clock } = await openTestQueue({
      ...NO_BACKOFF,
      defaultQueueConfig: { maxAttempts: 1, deadRetentionMs: 1_000 },
    });
    const id = await queue.enqueue("q", "x");
    await queue.deadLetter(await mustClaim(queue, "q"), "dead");
    await queue.requeueDeadJob(id);
    assert.equal((await queue.getJob(id))?.failedAt, undefined);
    clock.advance(5_000);
    await queue.reapNow();
    assert.equal((await queue.getJob(id))?.status, "pending");
    await queue.close();
  });
});

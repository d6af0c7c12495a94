import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { JobNotFoundError } from "../../src/errors.js";
import type { OpenOptions } from "../../src/queue/options.js";
import type { Queue } from "../../src/queue/queue.js";
import { decodeSnapshot, encodeSnapshot } from "../../src/queue/snapshot.js";
import type { Completion } from "../../src/queue/types.js";
import type { ObjectStore } from "../../src/store/types.js";
import { auditState, liveState, stateDigest } from "../reliability/lib/audit.js";
import { memoryAndFileStores, mustClaim, openTestQueue, setSliceMs, text } from "./helpers.js";

const STORES = memoryAndFileStores("taquba-flows-");

/** notify ← ship ← charge, notify ← invoice. */
const ORDER = {
  queue: "notify",
  payload: "order-1",
  children: [
    { queue: "ship", payload: "order-1", children: [{ queue: "charge", payload: "order-1" }] },
    { queue: "invoice", payload: "order-1" },
  ],
};

const ONE_ATTEMPT: OpenOptions = { defaultQueueConfig: { maxAttempts: 1 } };

/** The state is sound, flow links included, and a checkpoint of it decodes to the same. */
function assertSound(queue: Queue): void {
  const state = liveState(queue);
  assert.deepEqual(auditState(state), []);
  assert.equal(stateDigest(decodeSnapshot(encodeSnapshot(state))), stateDigest(state));
}

/**
 * Reopens `queue`'s store twice: once by a takeover that replays the log
 * (as after a crash), once after a clean close (from its checkpoint); each
 * time the state must be the one the live queue had.
 */
async function reopened(
  queue: Queue,
  store: ObjectStore,
  clock: ManualClock,
  options: OpenOptions = {},
): Promise<Queue> {
  const before = stateDigest(liveState(queue));
  const takeover = (await openTestQueue(options, store, clock)).queue;
  assert.equal(stateDigest(liveState(takeover)), before, "replayed after a takeover");
  await takeover.close();
  await queue.close().catch(() => {}); // fenced by the takeover
  const again = (await openTestQueue(options, store, clock)).queue;
  assert.equal(stateDigest(liveState(again)), before, "reopened from a checkpoint");
  assertSound(again);
  return again;
}

/**
 * A queue over a new store holding a flow of `size` "leaf" children under one "root", its
 * root's removal started with every slice spent at once: the walk gives the loop a turn every
 * few hundred children.
 */
async function slowRootRemoval(makeStore: () => Promise<ObjectStore>, size: number) {
  const store = await makeStore();
  const clock = new ManualClock();
  const { queue } = await openTestQueue({}, store, clock);
  const children = Array.from({ length: size }, (_, i) => ({ queue: "leaf", payload: `${i}` }));
  const flow = await queue.enqueueFlow({ queue: "root", payload: "r", children });
  setSliceMs(queue, 0);
  return { store, clock, queue, flow, removing: queue.removeJob(flow.id) };
}

for (const [storeName, makeStore] of STORES) {
  describe(`flow removal and requeue (${storeName})`, { timeout: 60_000 }, () => {
    it("removing a waiting parent removes its open children at every depth; a claimed one is flagged", async () => {
      const store = await makeStore();
      const clock = new ManualClock();
      const { queue } = await openTestQueue({}, store, clock);
      const flow = await queue.enqueueFlow(ORDER);
      const [ship, invoice] = flow.children;
      const charge = await mustClaim(queue, "charge");
      const signal = queue.claimSignal(charge);
      assert.equal(await queue.removeJob(flow.id), true);
      for (const id of [flow.id, ship!.id, invoice!.id])
        assert.equal(await queue.getJob(id), null, `${id} is removed`);
      assert.equal(signal.aborted, true, "the claimed grandchild is told to stop");
      assert.equal((await queue.getJob(charge.id))?.status, "claimed");
      assertSound(queue);
      // The claimed child, now on its own, ends as a cancelled job does.
      await queue.nack(charge, "stopped");
      assert.equal(await queue.getJob(charge.id), null);
      (await reopened(queue, store, clock)).close();
    });

    it("a large flow's removal walked over several turns starts over when a commit came between", async () => {
      const { store, clock, queue, flow, removing } = await slowRootRemoval(makeStore, 700);
      // Claimed while the walk is under way: the child was walked as pending. Removed from
      // that walk, apply would refuse it half-way (a claimed job is not removed).
      const claim = await mustClaim(queue, "leaf");
      assert.equal(claim.id, flow.children[0]!.id);
      const signal = queue.claimSignal(claim);
      assert.equal(await removing, true);
      assert.equal(signal.aborted, true, "the child claimed meanwhile is told to stop");
      assert.equal((await queue.getJob(claim.id))?.status, "claimed");
      for (const child of flow.children.slice(1)) assert.equal(await queue.getJob(child.id), null);
      assert.equal(await queue.getJob(flow.id), null);
      const leaf = await queue.stats("leaf");
      assert.deepEqual([leaf.pending, leaf.claimed], [0, 1]);
      assertSound(queue);
      await queue.nack(claim, "stopped");
      assert.equal(await queue.getJob(claim.id), null);
      setSliceMs(queue, 4);
      (await reopened(queue, store, clock)).close();
    });

    it("a large flow's removal walked again after a child's removal takes the rows of the new walk", async () => {
      const { store, clock, queue, flow, removing } = await slowRootRemoval(makeStore, 3000);
      // Committed while the walk is under way: one child goes, and a job not in the flow
      // takes its row. The walk starts over; a record must not be matched to a row of the
      // first walk (the next child's record would then name the new job's row).
      const child = flow.children[7]!.id;
      const [gone, other] = await Promise.all([
        queue.removeJob(child),
        queue.enqueue("leaf", "not in the flow"),
      ]);
      assert.equal(gone, true);
      assert.equal(await removing, true);
      for (const c of flow.children) assert.equal(await queue.getJob(c.id), null);
      assert.equal(await queue.getJob(flow.id), null);
      assert.equal((await queue.getJob(other))?.status, "pending", "the new job is left alone");
      assert.equal((await queue.stats("leaf")).pending, 1);
      assertSound(queue);
      setSliceMs(queue, 4);
      (await reopened(queue, store, clock)).close();
    });

    it("a large flow's removal walked over several turns leaves alone a flow enqueued meanwhile", async () => {
      const { store, clock, queue, flow, removing } = await slowRootRemoval(makeStore, 3000);
      const leaves = Array.from({ length: 50 }, (_, i) => ({ queue: "leaf", payload: `o${i}` }));
      const second = await queue.enqueueFlow({ queue: "root", payload: "o", children: leaves });
      assert.equal(await removing, true);
      for (const c of flow.children) assert.equal(await queue.getJob(c.id), null);
      assert.equal(await queue.getJob(flow.id), null);
      for (const c of second.children) assert.equal((await queue.getJob(c.id))?.status, "pending");
      assert.equal((await queue.getJob(second.id))?.status, "scheduled");
      assert.equal((await queue.stats("leaf")).pending, 50);
      assertSound(queue);
      setSliceMs(queue, 4);
      (await reopened(queue, store, clock)).close();
    });

    it("a large flow's removal walked over several turns on a quiet queue removes it whole", async () => {
      const store = await makeStore();
      const clock = new ManualClock();
      const { queue } = await openTestQueue({}, store, clock);
      const children = Array.from({ length: 700 }, (_, i) => ({
        queue: "mid",
        payload: `${i}`,
        children: i % 100 === 0 ? [{ queue: "leaf", payload: `${i}.0` }] : [],
      }));
      const flow = await queue.enqueueFlow({ queue: "root", payload: "r", children });
      const other = await queue.enqueue("mid", "not in the flow");
      setSliceMs(queue, 0);
      const removing = queue.removeJob(flow.id);
      // Read in the call's own turn: the walk has given the loop a turn before committing.
      const during = queue.getJob(flow.id);
      assert.equal(await removing, true);
      assert.equal((await during)?.status, "scheduled", "not removed in the call's own turn");
      const [mid, leaf] = [await queue.stats("mid"), await queue.stats("leaf")];
      assert.deepEqual([mid.pending, leaf.pending], [1, 0]);
      assert.equal((await queue.getJob(other))?.status, "pending");
      assertSound(queue);
      setSliceMs(queue, 4);
      (await reopened(queue, store, clock)).close();
    });

    it("a large flow's removal walked over several turns does not take a new job that took its jobId meanwhile", async () => {
      const store = await makeStore();
      const clock = new ManualClock();
      const { queue } = await openTestQueue({}, store, clock);
      const children = Array.from({ length: 700 }, (_, i) => ({ queue: "leaf", payload: `${i}` }));
      await queue.enqueueFlow({ queue: "root", payload: "r", options: { jobId: "Y" }, children });
      setSliceMs(queue, 0);
      const removing = queue.removeJob("Y");
      // While the walk is under way, the job goes and a new one is enqueued under its jobId:
      // the removal was asked of the old job only.
      assert.equal(await queue.cancel("Y"), "removed");
      await queue.enqueue("other", "new Y", { jobId: "Y" });
      assert.equal(await removing, false);
      assert.equal((await queue.getJob("Y"))?.status, "pending", "the new job is left alone");
      assertSound(queue);
      setSliceMs(queue, 4);
      (await reopened(queue, store, clock)).close();
    });

    for (const slice of [undefined, 0]) {
      const sliced = slice === undefined ? "" : ", a few jobs per commit";
      it(`removeJobs of waiting parents takes their children along, in the same or other queues${sliced}`, async () => {
        const store = await makeStore();
        const clock = new ManualClock();
        const { queue } = await openTestQueue({}, store, clock);
        const a = await queue.enqueueFlow(ORDER);
        // Children in the parent's own status and queue: walked too (before their parents,
        // by runAt), but removed once, with their parents, which so never go dead.
        const b = await queue.enqueueFlow({
          queue: "notify",
          payload: "b",
          children: [
            {
              queue: "notify",
              payload: "b1",
              children: [{ queue: "notify", payload: "b11", options: { delayMs: 5 } }],
            },
            { queue: "notify", payload: "b2", options: { delayMs: 1 } },
          ],
        });
        // A parent in another queue between two jobs of this one.
        const c = await queue.enqueueFlow({
          queue: "notify",
          payload: "c",
          children: [
            {
              queue: "ship",
              payload: "c1",
              children: [{ queue: "notify", payload: "c11", options: { delayMs: 2 } }],
            },
          ],
        });
        const plain = await queue.enqueue("notify", "plain", { delayMs: 10 });
        const dead: string[] = [];
        queue.on("dead", (e) => dead.push(e.id));
        // Every slice its smallest step (as on a loaded machine): the walk's commits then
        // part a flow's jobs, which must not change what is removed.
        if (slice !== undefined) setSliceMs(queue, slice);
        const removed = await queue.removeJobs("notify", "scheduled");
        assert.equal(removed, 4 + 4 + 3 + 1);
        for (const id of [
          a.id,
          a.children[0]!.children[0]!.id,
          b.id,
          b.children[0]!.id,
          b.children[0]!.children[0]!.id,
          c.id,
          c.children[0]!.id,
          plain,
        ])
          assert.equal(await queue.getJob(id), null);
        assert.deepEqual(dead, []);
        for (const name of ["notify", "ship", "charge", "invoice"]) {
          const stats = await queue.stats(name);
          assert.deepEqual(
            [stats.pending, stats.scheduled, stats.claimed, stats.dead],
            [0, 0, 0, 0],
          );
        }
        assertSound(queue);
        (await reopened(queue, store, clock)).close();
      });
    }

    it("removing a child its parent waits for makes the parent dead, naming the child, up the flow", async () => {
      const store = await makeStore();
      const clock = new ManualClock();
      const { queue } = await openTestQueue({}, store, clock);
      const flow = await queue.enqueueFlow(ORDER);
      const [ship, invoice] = flow.children;
      const charge = ship!.children[0]!;
      const dead: string[] = [];
      queue.on("dead", (e) => dead.push(`${e.id}: ${e.error}`));
      const rootWait = queue.waitForCompletion(flow.id);
      clock.advance(1_000);
      assert.equal(await queue.removeJob(charge.id), true);
      const shipError = `child ${charge.id} was removed`;
      const rootError = `child ${ship!.id} failed: ${shipError}`;
      const shipJob = await queue.getJob(ship!.id);
      assert.deepEqual([shipJob?.status, shipJob?.lastError], ["dead", shipError]);
      const root = await queue.getJob(flow.id);
      assert.deepEqual(
        [root?.status, root?.lastError, root?.failedAt],
        ["dead", rootError, clock.now()],
      );
      assert.deepEqual(await rootWait, { status: "dead", error: rootError } satisfies Completion);
      assert.deepEqual(dead, [`${ship!.id}: ${shipError}`, `${flow.id}: ${rootError}`]);
      // removeJobs does the same: the other child, in its own queue.
      const other = await queue.enqueueFlow(ORDER);
      assert.equal(await queue.removeJobs("invoice", "pending"), 2);
      assert.equal(
        await queue.getJob(invoice!.id),
        null,
        "the dead root's open child, pending there too",
      );
      assert.equal(
        (await queue.getJob(other.id))?.lastError,
        `child ${other.children[1]!.id} was removed`,
      );
      // That parent never runs without the removed child: requeueing it is refused, naming it.
      await assert.rejects(
        queue.requeueDeadJob(other.id),
        (e: unknown) =>
          e instanceof JobNotFoundError &&
          e.message.includes(`child ${other.children[1]!.id} of job ${other.id} was removed`),
      );
      const back = await queue.getJob(other.id);
      assert.equal(back?.status, "dead");
      assertSound(queue);
      (await reopened(queue, store, clock)).close();
    });

    it("removing a dead parent removes its open children and unlinks its dead ones", async () => {
      const store = await makeStore();
      const clock = new ManualClock();
      const { queue } = await openTestQueue(ONE_ATTEMPT, store, clock);
      const flow = await queue.enqueueFlow(ORDER);
      await queue.nack(await mustClaim(queue, "charge"), "declined");
      assert.equal((await queue.getJob(flow.id))?.status, "dead");
      assert.equal(await queue.removeJobs("notify", "dead"), 2, "the root and its open invoice");
      assert.equal(await queue.getJob(flow.children[1]!.id), null);
      assert.equal((await queue.getJob(flow.children[0]!.id))?.status, "dead", "ship stays");
      assertSound(queue);
      // Unlinked, ship and charge are a dead flow of their own: requeueing it still works.
      await queue.requeueDeadJob(flow.children[0]!.id);
      assert.equal((await queue.getJob(flow.children[0]!.id))?.status, "scheduled");
      assert.equal((await queue.getJob(flow.children[0]!.children[0]!.id))?.status, "pending");
      assertSound(queue);
      (await reopened(queue, store, clock, ONE_ATTEMPT)).close();
    });

    for (const which of ["parent", "child"] as const)
      it(`requeueDeadJob of the dead ${which} brings the whole dead flow back; it then completes`, async () => {
        const store = await makeStore();
        const clock = new ManualClock();
        const { queue } = await openTestQueue(ONE_ATTEMPT, store, clock);
        const flow = await queue.enqueueFlow(ORDER);
        const [ship, invoice] = flow.children;
        const charge = ship!.children[0]!;
        await queue.nack(await mustClaim(queue, "charge"), "declined");
        for (const id of [charge.id, ship!.id, flow.id])
          assert.equal((await queue.getJob(id))?.status, "dead");
        assertSound(queue);
        clock.advance(1_000);
        await queue.requeueDeadJob(which === "parent" ? flow.id : charge.id);
        const root = await queue.getJob(flow.id);
        assert.deepEqual(
          [root?.status, root?.waitingChildren, root?.lastError],
          ["scheduled", 2, undefined],
        );
        assert.equal((await queue.getJob(ship!.id))?.waitingChildren, 1);
        assert.equal(await queue.claim("notify"), null, "the root waits for its children again");
        assert.equal(await queue.claim("ship"), null);
        assert.equal((await queue.attemptHistory(flow.id)).at(-1)?.outcome, "requeued");
        assertSound(queue);
        const q = await reopened(queue, store, clock, ONE_ATTEMPT);
        await q.ack(await mustClaim(q, "charge"), { result: "charged" });
        await q.ack(await mustClaim(q, "ship"), { result: "shipped" });
        assert.equal(await q.claim("notify"), null, "invoice has not ended");
        await q.ack(await mustClaim(q, "invoice"));
        const n = await mustClaim(q, "notify");
        assert.equal(n.id, flow.id);
        assert.equal(text((await q.childResults(flow.id))[ship!.id]!), "shipped");
        assert.equal(text((await q.childResults(ship!.id))[charge.id]!), "charged");
        assert.deepEqual(
          Object.keys(await q.childResults(flow.id)).sort(),
          [ship!.id, invoice!.id].sort(),
        );
        await q.ack(n);
        assertSound(q);
        await q.close();
      });

    it("a second dead child comes back with the first: the parent does not run without it", async () => {
      const store = await makeStore();
      const clock = new ManualClock();
      const { queue } = await openTestQueue(ONE_ATTEMPT, store, clock);
      const flow = await queue.enqueueFlow({
        queue: "p",
        payload: "p",
        children: [
          { queue: "c", payload: "1" },
          { queue: "c", payload: "2" },
          { queue: "d", payload: "3" },
        ],
      });
      const [one, two, three] = flow.children;
      await queue.ack(await mustClaim(queue, "d"), { result: "three" });
      await queue.nack(await mustClaim(queue, "c"), "first");
      await queue.nack(await mustClaim(queue, "c"), "second");
      assertSound(queue);
      await queue.requeueDeadJob(two!.id);
      assert.equal((await queue.getJob(one!.id))?.status, "pending");
      assert.equal((await queue.getJob(two!.id))?.status, "pending");
      assert.equal((await queue.getJob(flow.id))?.waitingChildren, 2);
      assert.equal(text((await queue.childResults(flow.id))[three!.id]!), "three", "kept");
      assertSound(queue);
      const q = await reopened(queue, store, clock, ONE_ATTEMPT);
      await q.ack(await mustClaim(q, "c"));
      assert.equal(await q.claim("p"), null);
      await q.ack(await mustClaim(q, "c"));
      assert.equal((await mustClaim(q, "p")).id, flow.id);
      await q.close();
    });

    for (const slice of [undefined, 0]) {
      const sliced = slice === undefined ? "" : ", a few jobs per commit";
      it(`requeueDeadJobs requeues each dead flow once, whichever of its queues is asked${sliced}`, async () => {
        const store = await makeStore();
        const clock = new ManualClock();
        const { queue } = await openTestQueue(ONE_ATTEMPT, store, clock);
        const flows = [];
        for (let i = 0; i < 3; i++) flows.push(await queue.enqueueFlow(ORDER));
        for (let i = 0; i < 3; i++) await queue.nack(await mustClaim(queue, "charge"), "declined");
        const plain = await queue.enqueue("ship", "plain");
        await queue.nack(await mustClaim(queue, "ship"), "failed");
        // Each flow's charge, ship and root come back together; the plain job is one.
        if (slice !== undefined) setSliceMs(queue, slice);
        assert.equal(await queue.requeueDeadJobs("ship"), 3 * 3 + 1);
        for (const flow of flows) {
          assert.equal((await queue.getJob(flow.id))?.waitingChildren, 2);
          assert.equal((await queue.getJob(flow.children[0]!.children[0]!.id))?.status, "pending");
        }
        assert.equal((await queue.getJob(plain))?.status, "pending");
        assertSound(queue);
        for (let i = 0; i < 3; i++) await queue.nack(await mustClaim(queue, "charge"), "again");
        assert.equal(await queue.requeueDeadJobs("notify", { limit: 1 }), 3, "one flow, whole");
        assert.equal(await queue.requeueDeadJobs("charge"), 6);
        assert.equal((await queue.stats("notify")).dead, 0);
        assertSound(queue);
        (await reopened(queue, store, clock, ONE_ATTEMPT)).close();
      });
    }
  });
}

/**
 * Property test: random operations on flows — settling, dead-lettering,
 * cancelling, removing and requeueing their jobs, one at a time, in bulk and
 * in transactions, with claims held across them. After every step the state is sound (no job
 * names a missing parent, every parent counts its open children, a dead
 * child's parent is dead); at the end a replay of the log rebuilds the same
 * state, and once everything dead is requeued and every job acked, no parent
 * is left waiting: every flow that is still there completes. And a bulk
 * removal or requeue does the same however its slices cut it into commits.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ManualClock } from "../../src/clock.js";
import { JobNotFoundError } from "../../src/errors.js";
import type { FlowJob } from "../../src/queue/flows.js";
import type { Queue } from "../../src/queue/queue.js";
import type { Claim } from "../../src/queue/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import { auditState, liveState, replayedState, stateDigest } from "../reliability/lib/audit.js";
import { openTestQueue, setSliceMs } from "./helpers.js";

const QUEUES = ["a", "b", "c"] as const;

type Step =
  | { k: "flow"; shape: number }
  | { k: "ack" | "fail" | "hold"; queue: number }
  | { k: "settle"; held: number; ok: boolean }
  | { k: "remove" | "requeue" | "cancel"; job: number }
  | { k: "removeAll"; queue: number; status: "pending" | "scheduled" | "dead" }
  | { k: "requeueAll"; queue: number; limit: number | undefined }
  | { k: "tx"; held: number; ok: boolean; job: number };

const SHAPES: FlowJob[] = [
  {
    queue: "a",
    payload: "root",
    children: [
      { queue: "b", payload: "mid", children: [{ queue: "c", payload: "leaf" }] },
      { queue: "c", payload: "side" },
    ],
  },
  {
    queue: "b",
    payload: "wide",
    children: [
      { queue: "a", payload: "1" },
      { queue: "a", payload: "2" },
      { queue: "c", payload: "3", children: [{ queue: "b", payload: "3.1" }] },
    ],
  },
];

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("tx" as const),
      held: fc.nat(3),
      ok: fc.boolean(),
      job: fc.nat(40),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("flow" as const), shape: fc.nat(1) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constantFrom("ack" as const, "fail" as const, "hold" as const),
      queue: fc.nat(2),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant("settle" as const), held: fc.nat(3), ok: fc.boolean() }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constantFrom("remove" as const, "requeue" as const, "cancel" as const),
      job: fc.nat(40),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant("removeAll" as const),
      queue: fc.nat(2),
      status: fc.constantFrom("pending" as const, "scheduled" as const, "dead" as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant("requeueAll" as const),
      queue: fc.nat(2),
      limit: fc.constantFrom(undefined, 1),
    }),
  },
);

async function run(queue: Queue, steps: readonly Step[]): Promise<string[]> {
  const ids: string[] = [];
  const held: Claim[] = [];
  const settle = async (claim: Claim, ok: boolean): Promise<void> => {
    try {
      if (ok) await queue.ack(claim, { result: claim.id });
      else await queue.nack(claim, "failed");
    } catch (error) {
      // The claim went with its flow (a removed or cancelled parent).
      if ((error as { code?: string }).code !== "CLAIM_LOST") throw error;
    }
  };
  for (const step of steps) {
    switch (step.k) {
      case "flow": {
        const flow = await queue.enqueueFlow(SHAPES[step.shape]!);
        const visit = (f: { id: string; children: { id: string; children: never[] }[] }) => {
          ids.push(f.id);
          for (const c of f.children) visit(c);
        };
        visit(flow as never);
        break;
      }
      case "ack":
      case "fail":
      case "hold": {
        const claim = await queue.claim(QUEUES[step.queue]!);
        if (claim === null) break;
        if (step.k === "hold") held.push(claim);
        else await settle(claim, step.k === "ack");
        break;
      }
      case "settle": {
        const claim = held.splice(step.held % Math.max(1, held.length), 1)[0];
        if (claim !== undefined) await settle(claim, step.ok);
        break;
      }
      case "remove":
      case "requeue":
      case "cancel": {
        const id = ids[step.job % Math.max(1, ids.length)];
        if (id === undefined) break;
        if (step.k === "remove") await queue.removeJob(id);
        else if (step.k === "cancel") await queue.cancel(id);
        else if ((await queue.getJob(id))?.status === "dead") await requeueOrRefused(queue, id);
        break;
      }
      case "tx": {
        // A settlement and a cancel in one transaction: whole, or refused changing nothing.
        const claim = held.splice(step.held % Math.max(1, held.length), 1)[0];
        const id = ids[step.job % Math.max(1, ids.length)];
        const before = stateDigest(liveState(queue));
        try {
          await queue.transaction((tx) => {
            if (claim !== undefined)
              if (step.ok) tx.ack(claim, { result: claim.id });
              else tx.deadLetter(claim, "failed");
            if (id !== undefined) tx.cancel(id);
          });
        } catch (error) {
          const code = (error as { code?: string }).code;
          if (code !== "CLAIM_LOST" && code !== "INVALID_ARGUMENT") throw error;
          assert.equal(
            stateDigest(liveState(queue)),
            before,
            "a refused transaction changed state",
          );
          if (claim !== undefined && code === "INVALID_ARGUMENT") held.push(claim);
        }
        break;
      }
      case "removeAll":
        await queue.removeJobs(QUEUES[step.queue]!, step.status);
        break;
      case "requeueAll":
        await queue.requeueDeadJobs(
          QUEUES[step.queue]!,
          step.limit === undefined ? {} : { limit: step.limit },
        );
        break;
    }
    const problems = auditState(liveState(queue));
    assert.deepEqual(problems, [], `after ${JSON.stringify(step)}`);
  }
  for (const claim of held) await settle(claim, true);
  return ids;
}

/**
 * Requeues dead job `id`, or checks the requeue was refused because its flow
 * lost a child to a removal, changing nothing.
 */
async function requeueOrRefused(queue: Queue, id: string): Promise<"requeued" | "refused"> {
  const before = stateDigest(liveState(queue));
  try {
    await queue.requeueDeadJob(id);
    return "requeued";
  } catch (error) {
    if (!(error instanceof JobNotFoundError) || !/ was removed /.test(error.message)) throw error;
    assert.equal(stateDigest(liveState(queue)), before, "a refused requeue changed state");
    return "refused";
  }
}

describe("flow property: removals and requeues keep flows whole", { timeout: 120_000 }, () => {
  it("random flow operations leave a sound state that replays, and every flow left completes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40 }), async (steps) => {
        const store = new MemoryStore();
        const { queue } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } }, store);
        try {
          await run(queue, steps);
          await queue.flush();
          assert.equal(stateDigest(await replayedState(store, "q")), stateDigest(liveState(queue)));
          // Everything dead comes back and every job is acked: no parent waits forever.
          for (const name of QUEUES) await queue.requeueDeadJobs(name);
          for (let progress = true; progress; ) {
            progress = false;
            for (const name of QUEUES) {
              const claim = await queue.claim(name);
              if (claim === null) continue;
              await queue.ack(claim);
              progress = true;
            }
          }
          assert.deepEqual(auditState(liveState(queue)), []);
          for (const name of QUEUES) {
            const stats = await queue.stats(name);
            assert.deepEqual(
              [stats.pending, stats.scheduled, stats.claimed],
              [0, 0, 0],
              `queue ${name} after draining (${JSON.stringify(steps)})`,
            );
            // Only a flow that lost a child to a removal stays dead: its parent never runs without it.
            for (const job of await queue.deadJobs(name, { limit: 1_000 }))
              assert.equal(await requeueOrRefused(queue, job.id), "refused", `dead ${job.id} left`);
          }
        } finally {
          await queue.close();
        }
      }),
      { numRuns: 150 },
    );
  });
});

/** A random flow of up to `depth` levels over the queues, some leaves delayed. */
function flowArb(depth: number): fc.Arbitrary<FlowJob> {
  return fc
    .record({
      queue: fc.constantFrom(...QUEUES),
      delayMs: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
      children:
        depth === 1
          ? fc.constant<FlowJob[]>([])
          : fc.array(flowArb(depth - 1), { maxLength: depth === 3 ? 3 : 2 }),
    })
    .map(
      ({ queue, delayMs, children }): FlowJob => ({
        queue,
        payload: "x",
        // A parent runs once its children ended: only a leaf is delayed.
        ...(children.length > 0
          ? { children }
          : delayMs === undefined
            ? {}
            : { options: { delayMs } }),
      }),
    );
}

interface BulkCase {
  flows: FlowJob[];
  /** Claims (by queue) failed for good before the bulk call, for dead jobs. */
  failed: number[];
  op:
    | { k: "remove"; queue: number; status: "pending" | "scheduled" | "dead" }
    | { k: "requeue"; queue: number; limit: number | undefined };
}

/** Runs `c` on a fresh queue; what the bulk call answered and where every job then is. */
async function bulkOutcome(c: BulkCase, sliceMs: number | undefined): Promise<unknown> {
  const { queue } = await openTestQueue(
    { defaultQueueConfig: { maxAttempts: 1 } },
    new MemoryStore(),
    new ManualClock(),
  );
  try {
    for (const flow of c.flows) await queue.enqueueFlow(flow);
    for (const q of c.failed) {
      const claim = await queue.claim(QUEUES[q]!);
      if (claim !== null) await queue.nack(claim, "failed");
    }
    if (sliceMs !== undefined) setSliceMs(queue, sliceMs);
    const op = c.op;
    const count =
      op.k === "remove"
        ? await queue.removeJobs(QUEUES[op.queue]!, op.status)
        : await queue.requeueDeadJobs(
            QUEUES[op.queue]!,
            op.limit === undefined ? {} : { limit: op.limit },
          );
    assert.deepEqual(auditState(liveState(queue)), []);
    const stats = [];
    for (const name of QUEUES) stats.push(await queue.stats(name));
    return { count, stats };
  } finally {
    await queue.close();
  }
}

describe("flow property: bulk calls do not depend on their slices", { timeout: 120_000 }, () => {
  it("removeJobs and requeueDeadJobs do the same with the smallest slices as with the usual ones", async () => {
    const caseArb: fc.Arbitrary<BulkCase> = fc.record({
      flows: fc.array(flowArb(3), { minLength: 1, maxLength: 8 }),
      failed: fc.array(fc.nat(2), { maxLength: 6 }),
      op: fc.oneof(
        fc.record({
          k: fc.constant("remove" as const),
          queue: fc.nat(2),
          status: fc.constantFrom("pending" as const, "scheduled" as const, "dead" as const),
        }),
        fc.record({
          k: fc.constant("requeue" as const),
          queue: fc.nat(2),
          limit: fc.constantFrom(undefined, 1, 5),
        }),
      ),
    });
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        assert.deepEqual(await bulkOutcome(c, 0), await bulkOutcome(c, undefined));
      }),
      { numRuns: 150 },
    );
  });
});

/**
 * Property test: random transactions against a simple model. An invalid
 * operation anywhere rejects the whole call with its typed error and leaves
 * the state exactly as it was; a valid transaction applies every operation.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { taqubaErrorCode } from "../../src/errors.js";
import type { Transaction } from "../../src/queue/transaction.js";
import type { Claim, JobStatus } from "../../src/queue/types.js";
import { liveState, stateDigest } from "../reliability/lib/audit.js";
import { openTestQueue, text } from "./helpers.js";

type Op =
  | { k: "enqueue"; queue: string; jobId: string | undefined }
  | { k: "ack" | "nack" | "dead"; claim: number }
  | { k: "cancel"; job: number }
  | { k: "put"; key: string; value: string }
  | { k: "del"; key: string }
  | { k: "check"; key: string; expected: string | null };

const key = fc.constantFrom("x", "y", "z", "");
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    k: fc.constant("enqueue" as const),
    queue: fc.constantFrom("a", "b", "a", ""),
    jobId: fc.constantFrom(undefined, undefined, "j1", "j2"),
  }),
  fc.record({
    k: fc.constantFrom("ack" as const, "nack" as const, "dead" as const),
    claim: fc.nat(4),
  }),
  fc.record({ k: fc.constant("cancel" as const), job: fc.nat(7) }),
  fc.record({ k: fc.constant("put" as const), key, value: fc.constantFrom("1", "2") }),
  fc.record({ k: fc.constant("del" as const), key }),
  fc.record({ k: fc.constant("check" as const), key, expected: fc.constantFrom(null, "1", "2") }),
);

interface ModelJob {
  id: string;
  status: JobStatus | "gone";
  cancelRequested: boolean;
}

interface Model {
  jobs: ModelJob[];
  /** Claim i acts on jobs[claimJob[i]]; live while that job is claimed by it. */
  claims: { claim: Claim; job: number; live: boolean }[];
  jobIds: Set<string>;
  kv: Map<string, string>;
}

type Expected =
  | { ok: false; code: string }
  | { ok: true; created: boolean[]; cancelled: string[]; next: Model };

function clone(m: Model): Model {
  return {
    jobs: m.jobs.map((j) => ({ ...j })),
    claims: m.claims.map((c) => ({ ...c })),
    jobIds: new Set(m.jobIds),
    kv: new Map(m.kv),
  };
}

/** What the model says a transaction of `ops` does. */
function expect(model: Model, ops: Op[]): Expected {
  // Argument errors come first (they are thrown while `build` runs).
  for (const op of ops) {
    if (op.k === "enqueue" && op.queue === "") return { ok: false, code: "INVALID_ARGUMENT" };
    if ((op.k === "put" || op.k === "del" || op.k === "check") && op.key === "")
      return { ok: false, code: "INVALID_ARGUMENT" };
  }
  const next = clone(model);
  /**
   * Job ids named so far → whether only by enqueues. Two operations naming one id are
   * refused whatever their order (and whether a job has it), unless both enqueue.
   */
  const named = new Map<string, boolean>();
  const name = (id: string, enqueues: boolean): boolean => {
    const earlier = named.get(id);
    if (earlier === undefined) named.set(id, enqueues);
    return earlier === undefined || (earlier && enqueues);
  };
  const created: boolean[] = [];
  const cancelled: string[] = [];
  for (const op of ops) {
    switch (op.k) {
      case "enqueue": {
        if (op.jobId !== undefined && !name(op.jobId, true))
          return { ok: false, code: "INVALID_ARGUMENT" };
        if (op.jobId !== undefined && next.jobIds.has(op.jobId)) {
          created.push(false);
          break;
        }
        if (op.jobId !== undefined) next.jobIds.add(op.jobId);
        created.push(true);
        next.jobs.push({ id: op.jobId ?? "?", status: "pending", cancelRequested: false });
        break;
      }
      case "ack":
      case "nack":
      case "dead": {
        const c = next.claims[op.claim]!;
        // Liveness as before the transaction; a job named earlier in it is "acted on twice".
        if (!model.claims[op.claim]!.live) return { ok: false, code: "CLAIM_LOST" };
        if (!name(model.jobs[c.job]!.id, false)) return { ok: false, code: "INVALID_ARGUMENT" };
        c.live = false;
        const job = next.jobs[c.job]!;
        // A failed delivery (nack or dead-letter) of a job whose cancel was requested removes it.
        job.status =
          op.k === "ack"
            ? "done"
            : job.cancelRequested
              ? "gone"
              : op.k === "dead"
                ? "dead"
                : "pending";
        // A job that is gone frees its caller id: a later transaction may take it again.
        if (job.status === "gone") next.jobIds.delete(job.id);
        break;
      }
      case "cancel": {
        const id = model.jobs[op.job]?.id ?? "unknown";
        if (!name(id, false)) return { ok: false, code: "INVALID_ARGUMENT" };
        // The build names jobs known before the transaction (a job it adds is not found yet),
        // by id: the latest job with it. Its status as before the transaction.
        let index = -1;
        for (const [i, job] of model.jobs.entries()) if (job.id === id) index = i;
        const job = index === -1 ? undefined : next.jobs[index]!;
        if (job === undefined || !["pending", "claimed"].includes(model.jobs[index]!.status)) {
          cancelled.push("not_found");
          break;
        }
        if (job.status === "pending") {
          job.status = "gone";
          next.jobIds.delete(job.id);
          cancelled.push("removed");
        } else {
          job.cancelRequested = true;
          cancelled.push("requested");
        }
        break;
      }
      case "put":
        next.kv.set(op.key, op.value);
        break;
      case "del":
        next.kv.delete(op.key);
        break;
      case "check":
        if ((next.kv.get(op.key) ?? null) !== op.expected) return { ok: false, code: "CONFLICT" };
        break;
    }
  }
  return { ok: true, created, cancelled, next };
}

function build(model: Model, ops: Op[]): (tx: Transaction) => void {
  return (tx) => {
    for (const op of ops) {
      try {
        switch (op.k) {
          case "enqueue":
            tx.enqueue(op.queue, "p", op.jobId === undefined ? {} : { jobId: op.jobId });
            break;
          case "ack":
            tx.ack(model.claims[op.claim]!.claim);
            break;
          case "nack":
            tx.nack(model.claims[op.claim]!.claim, "failed");
            break;
          case "dead":
            tx.deadLetter(model.claims[op.claim]!.claim, "dead");
            break;
          case "cancel":
            tx.cancel(model.jobs[op.job]?.id ?? "unknown");
            break;
          case "put":
            tx.kvPut(op.key, op.value);
            break;
          case "del":
            tx.kvDelete(op.key);
            break;
          case "check":
            tx.kvCheck(op.key, op.expected);
            break;
        }
      } catch {
        // A bad argument: keep adding, the call must fail anyway.
      }
    }
  };
}

describe("transaction property: all or nothing against a model", { timeout: 120_000 }, () => {
  it("random transactions apply whole or reject with their error and change nothing", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(opArb, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        async (transactions) => {
          const { queue } = await openTestQueue({
            defaultQueueConfig: { retryBackoffBaseMs: 0, maxAttempts: 100, keepDoneJobsMs: 60_000 },
          });
          try {
            const model: Model = { jobs: [], claims: [], jobIds: new Set(), kv: new Map() };
            for (let i = 0; i < 6; i++)
              model.jobs.push({
                id: await queue.enqueue("a", `seed ${i}`),
                status: "pending",
                cancelRequested: false,
              });
            for (let i = 0; i < 5; i++) {
              const claim = (await queue.claim("a"))!;
              const job = model.jobs.findIndex((j) => j.id === claim.id);
              model.jobs[job]!.status = "claimed";
              model.claims.push({ claim, job, live: true });
            }
            await queue.ack(model.claims[4]!.claim); // a stale claim
            model.claims[4]!.live = false;
            model.jobs[model.claims[4]!.job]!.status = "done";
            await queue.kvPut("x", "1");
            model.kv.set("x", "1");
            let current = model;
            for (const ops of transactions) {
              const expected = expect(current, ops);
              const before = stateDigest(liveState(queue));
              let outcome:
                | { ok: true; created: boolean[]; cancelled: string[] }
                | { ok: false; code: string };
              try {
                const result = await queue.transaction(build(current, ops));
                outcome = {
                  ok: true,
                  created: result.enqueued.map((r) => r.created),
                  cancelled: result.cancelled,
                };
                // Give the model the ids the queue chose.
                if (expected.ok) {
                  let e = 0;
                  for (let j = current.jobs.length; j < expected.next.jobs.length; j++) {
                    while (!result.enqueued[e]!.created) e++;
                    expected.next.jobs[j]!.id = result.enqueued[e++]!.id;
                  }
                }
              } catch (error) {
                outcome = { ok: false, code: taqubaErrorCode(error) ?? String(error) };
              }
              if (!expected.ok) {
                assert.deepEqual(outcome, expected, `ops ${JSON.stringify(ops)}`);
                assert.equal(
                  stateDigest(liveState(queue)),
                  before,
                  "a failed transaction changed state",
                );
                continue;
              }
              assert.deepEqual(
                outcome,
                { ok: true, created: expected.created, cancelled: expected.cancelled },
                `ops ${JSON.stringify(ops)}`,
              );
              current = expected.next;
              for (const [index, job] of current.jobs.entries()) {
                // A gone job's caller id may name a later job now; that one is checked instead.
                if (current.jobs.slice(index + 1).some((later) => later.id === job.id)) continue;
                const record = await queue.getJob(job.id);
                assert.equal(
                  record?.status ?? "gone",
                  job.status,
                  `job ${job.id} after ${JSON.stringify(ops)}`,
                );
                // Every job gone here was cancelled (at once, or by the nack of its requested
                // cancel): its tombstone answers for it.
                if (job.status !== "gone") continue;
                assert.deepEqual(
                  await queue.waitForCompletion(job.id, { timeoutMs: 0 }),
                  { status: "cancelled" },
                  `cancelled job ${job.id} after ${JSON.stringify(ops)}`,
                );
                assert.equal((await queue.attemptHistory(job.id)).at(-1)?.outcome, "cancelled");
              }
              const kv = (await queue.kvScan("")).entries.map((e) => [e.key, text(e.value)]);
              assert.deepEqual(
                kv,
                [...current.kv].sort(([a], [b]) => (a < b ? -1 : 1)),
              );
            }
          } finally {
            await queue.close();
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

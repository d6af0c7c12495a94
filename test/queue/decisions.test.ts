import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ulid } from "ulid";
import { apply } from "../../src/queue/apply.js";
import { QueueConfigs } from "../../src/queue/config.js";
import {
  backoffMs,
  CLAIM_INTERRUPTED,
  decideInterruptedClaims,
  decideLeaseExpired,
  decideNack,
  decidePromotion,
  decideSweeps,
  LEASE_EXPIRED,
  nextRunAt,
} from "../../src/queue/decisions.js";
import { DEFAULT_QUEUE_CONFIG, type QueueConfig } from "../../src/queue/options.js";
import { type EnqueueRecord, type QueueRecord, Tag } from "../../src/queue/records.js";
import { type Job, State } from "../../src/queue/state.js";
import { MAX_TIMESTAMP_MS } from "../../src/queue/validate.js";

const NOW = 1_700_000_000_000;
let tick = 0;

function enqueue(state: State, fields: Partial<EnqueueRecord> = {}): Job {
  const record: EnqueueRecord = {
    tag: Tag.Enqueue,
    id: ulid(NOW + tick++),
    queue: "q",
    payload: "x",
    headers: undefined,
    priority: 1_000,
    maxAttempts: 3,
    enqueuedAt: NOW,
    runAt: undefined,
    dedupKey: undefined,
    ...fields,
  };
  apply(state, record);
  return state.jobs.get(record.id)!;
}

/** A claimed job with `attempts` claims so far. */
function claimed(state: State, attempts: number, maxAttempts = 3): Job {
  const job = enqueue(state, { maxAttempts });
  for (let i = 0; i < attempts; i++) {
    if (i > 0) apply(state, { tag: Tag.Retry, id: job.id, runAt: undefined, error: undefined });
    apply(state, { tag: Tag.Claim, id: job.id, at: NOW });
  }
  return job;
}

function config(overrides: Partial<QueueConfig> = {}): QueueConfig {
  return { ...DEFAULT_QUEUE_CONFIG, ...overrides };
}

/** Applying what a decision returned must fit the state (the queue applies it as is). */
function applies(state: State, records: readonly QueueRecord[]): void {
  for (const record of records) apply(state, record);
}

describe("decisions", { timeout: 60_000 }, () => {
  it("nack: retry after the backoff, with the error as lastError", () => {
    const state = new State();
    const job = claimed(state, 2);
    const record = decideNack(job, config({ retryBackoffBaseMs: 1_000 }), NOW, "boom");
    assert.deepEqual(record, { tag: Tag.Retry, id: job.id, runAt: NOW + 2_000, error: "boom" });
    applies(state, [record]);
    assert.equal(job.lastError, "boom");
  });

  it("nack: a zero backoff base requeues at once (no runAt)", () => {
    const state = new State();
    const job = claimed(state, 1);
    const record = decideNack(job, config({ retryBackoffBaseMs: 0 }), NOW, "boom");
    assert.deepEqual(record, { tag: Tag.Retry, id: job.id, runAt: undefined, error: "boom" });
  });

  it("nack: a backoff beyond the storable range is capped at the latest storable time", () => {
    const state = new State();
    const job = claimed(state, 1);
    const huge = config({ retryBackoffBaseMs: 1e300, retryBackoffMaxMs: 1e300 });
    const record = decideNack(job, huge, NOW, "boom");
    assert.equal(record.tag === Tag.Retry && record.runAt, MAX_TIMESTAMP_MS);
  });

  it("nack: out of attempts → dead with the error as reason", () => {
    const state = new State();
    const job = claimed(state, 3, 3);
    const record = decideNack(job, config(), NOW, "boom");
    assert.deepEqual(record, { tag: Tag.Dead, id: job.id, at: NOW, reason: "boom" });
    applies(state, [record]);
  });

  it("a requested cancellation wins over retry and dead-letter, for every failure kind", () => {
    for (const attempts of [1, 3]) {
      const state = new State();
      const job = claimed(state, attempts, 3);
      apply(state, { tag: Tag.CancelRequest, id: job.id });
      const cancel = { tag: Tag.Cancel, id: job.id };
      assert.deepEqual(decideNack(job, config(), NOW, "boom"), cancel);
      assert.deepEqual(decideLeaseExpired(job, NOW), cancel);
      assert.deepEqual(decideInterruptedClaims(state, NOW), [cancel]);
    }
  });

  it("expired lease: requeue at once with lastError 'lease expired', or dead when out of attempts", () => {
    const state = new State();
    const retried = claimed(state, 1);
    const spent = claimed(state, 3, 3);
    assert.deepEqual(decideLeaseExpired(retried, NOW), {
      tag: Tag.Retry,
      id: retried.id,
      runAt: undefined,
      error: LEASE_EXPIRED,
    });
    assert.deepEqual(decideLeaseExpired(spent, NOW), {
      tag: Tag.Dead,
      id: spent.id,
      at: NOW,
      reason: LEASE_EXPIRED,
    });
  });

  it("interrupted claims at open: every claimed job, requeued keeping lastError, or dead", () => {
    const state = new State();
    enqueue(state); // pending: untouched
    const retried = claimed(state, 1);
    retried.lastError = "earlier";
    const spent = claimed(state, 2, 2);
    const records = decideInterruptedClaims(state, NOW);
    assert.deepEqual(records, [
      { tag: Tag.Retry, id: retried.id, runAt: undefined, error: undefined },
      { tag: Tag.Dead, id: spent.id, at: NOW, reason: CLAIM_INTERRUPTED },
    ]);
    applies(state, records);
    assert.equal(retried.lastError, "earlier");
    assert.deepEqual(decideInterruptedClaims(state, NOW), []);
  });

  it("promotion: none until a scheduled job is due, then every queue with a due job", () => {
    const state = new State();
    enqueue(state, { queue: "a", runAt: NOW + 10 });
    enqueue(state, { queue: "b", runAt: NOW + 20 });
    enqueue(state, { queue: "c" });
    assert.equal(nextRunAt(state), NOW + 10);
    assert.equal(decidePromotion(state, NOW + 9), null);
    const promotion = decidePromotion(state, NOW + 15);
    assert.deepEqual(promotion, { record: { tag: Tag.Promote, upTo: NOW + 15 }, queues: ["a"] });
    applies(state, [promotion!.record]);
    assert.equal(nextRunAt(state), NOW + 20);
    assert.deepEqual(decidePromotion(state, NOW + 20)?.queues, ["b"]);
  });

  it("sweeps: only queues that keep jobs, only once the oldest is past retention", () => {
    const state = new State();
    const done = claimed(state, 1);
    apply(state, { tag: Tag.Ack, id: done.id, keep: true, at: NOW });
    const dead = claimed(state, 1);
    apply(state, { tag: Tag.Dead, id: dead.id, at: NOW, reason: "x" });
    const configs = new QueueConfigs({ keepDoneJobsMs: 1_000, deadRetentionMs: 5_000 }, undefined);
    assert.deepEqual(decideSweeps(state, configs, NOW + 1_000), []);
    assert.deepEqual(decideSweeps(state, configs, NOW + 1_001), [
      { tag: Tag.SweepDone, queue: "q", before: NOW + 1 },
    ]);
    const records = decideSweeps(state, configs, NOW + 5_001);
    assert.deepEqual(records, [
      { tag: Tag.SweepDone, queue: "q", before: NOW + 4_001 },
      { tag: Tag.SweepDead, queue: "q", before: NOW + 1 },
    ]);
    applies(state, records);
    assert.equal(state.jobs.size, 0);
    const forever = new QueueConfigs({ keepDoneJobsMs: null, deadRetentionMs: null }, undefined);
    assert.deepEqual(decideSweeps(state, forever, Number.MAX_SAFE_INTEGER), []);
  });

  it("decisions read the state, never change it", () => {
    const state = new State();
    const job = claimed(state, 3, 3);
    enqueue(state, { runAt: NOW });
    const before = JSON.stringify([...state.jobs.values()].map((j) => [j.id, j.status, j.at]));
    decideNack(job, config(), NOW, "x");
    decideLeaseExpired(job, NOW);
    decideInterruptedClaims(state, NOW);
    decidePromotion(state, NOW);
    decideSweeps(state, new QueueConfigs({ keepDoneJobsMs: 0 }, undefined), NOW + 1);
    const after = JSON.stringify([...state.jobs.values()].map((j) => [j.id, j.status, j.at]));
    assert.equal(after, before);
  });

  it("backoff doubles per attempt up to the cap; 0 base means none", () => {
    const c = config({ retryBackoffBaseMs: 100, retryBackoffMaxMs: 1_000 });
    assert.deepEqual(
      [1, 2, 3, 4, 5, 2_000].map((a) => backoffMs(c, a)),
      [100, 200, 400, 800, 1_000, 1_000],
    );
    assert.equal(backoffMs(config({ retryBackoffBaseMs: 0 }), 5), 0);
  });
});

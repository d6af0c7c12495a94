import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ulid } from "ulid";
import { apply } from "../../src/queue/apply.js";
import { QueueConfigs } from "../../src/queue/config.js";
import {
  backoffMs,
  CLAIM_INTERRUPTED,
  decideInterruptedClaim,
  decideLeaseExpired,
  decideNack,
  decidePromotion,
  decideSweeps,
  interruptedClaims,
  LEASE_EXPIRED,
  nextRunAt,
} from "../../src/queue/decisions.js";
import { DEFAULT_QUEUE_CONFIG, type QueueConfig } from "../../src/queue/options.js";
import { BULK_RECORD_JOBS } from "../../src/queue/records/bulk.js";
import type { QueueRecord } from "../../src/queue/records/codec.js";
import type { EnqueueRecord } from "../../src/queue/records/enqueue.js";
import { Tag } from "../../src/queue/records/tags.js";
import { State, Status } from "../../src/queue/state.js";
import { MAX_TIMESTAMP_MS } from "../../src/queue/validate.js";
import { enqueueRecord } from "./helpers.js";
import { enqueuer, NOW } from "./state-jobs.js";
import { row, rows } from "./state-rows.js";

/** A job in a test state: its handle and id. */
interface Job {
  h: number;
  id: string;
}

/** Every decision for the claims interrupted at open. */
function decideInterruptedClaims(state: State, now: number): QueueRecord[] {
  return interruptedClaims(state).map((h) => decideInterruptedClaim(state, h, now));
}

const enqueueId = enqueuer({ priority: 1_000 });

function enqueue(state: State, fields: Partial<EnqueueRecord> = {}): Job {
  const id = enqueueId(state, fields);
  return { h: state.find(id), id };
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
    const record = decideNack(state, job.h, config({ retryBackoffBaseMs: 1_000 }), NOW, "boom");
    assert.deepEqual(record, {
      tag: Tag.Retry,
      id: job.id,
      runAt: NOW + 2_000,
      error: "boom",
      at: NOW,
    });
    applies(state, [record]);
    assert.equal(row(state, job.id)?.lastError, "boom");
  });

  it("nack: a zero backoff base requeues at once (no runAt)", () => {
    const state = new State();
    const job = claimed(state, 1);
    const record = decideNack(state, job.h, config({ retryBackoffBaseMs: 0 }), NOW, "boom");
    assert.deepEqual(record, {
      tag: Tag.Retry,
      id: job.id,
      runAt: undefined,
      error: "boom",
      at: NOW,
    });
  });

  it("nack: a backoff beyond the storable range is capped at the latest storable time", () => {
    const state = new State();
    const job = claimed(state, 1);
    const huge = config({ retryBackoffBaseMs: 1e300, retryBackoffMaxMs: 1e300 });
    const record = decideNack(state, job.h, huge, NOW, "boom");
    assert.equal(record.tag === Tag.Retry && record.runAt, MAX_TIMESTAMP_MS);
  });

  it("nack: out of attempts → dead with the error as reason", () => {
    const state = new State();
    const job = claimed(state, 3, 3);
    const record = decideNack(state, job.h, config(), NOW, "boom");
    assert.deepEqual(record, { tag: Tag.Dead, id: job.id, at: NOW, reason: "boom" });
    applies(state, [record]);
  });

  it("a requested cancellation wins over retry and dead-letter, for every failure kind", () => {
    for (const attempts of [1, 3]) {
      const state = new State();
      const job = claimed(state, attempts, 3);
      apply(state, { tag: Tag.CancelRequest, id: job.id });
      const cancel = { tag: Tag.Cancel, id: job.id, at: NOW };
      // The failed attempt's error is kept in the tombstone's history; an interruption has none.
      assert.deepEqual(decideNack(state, job.h, config(), NOW, "boom"), {
        ...cancel,
        error: "boom",
      });
      assert.deepEqual(decideLeaseExpired(state, job.h, NOW), { ...cancel, error: LEASE_EXPIRED });
      assert.deepEqual(decideInterruptedClaims(state, NOW), [cancel]);
    }
  });

  it("expired lease: requeue at once with lastError 'lease expired', or dead when out of attempts", () => {
    const state = new State();
    const retried = claimed(state, 1);
    const spent = claimed(state, 3, 3);
    assert.deepEqual(decideLeaseExpired(state, retried.h, NOW), {
      tag: Tag.Retry,
      id: retried.id,
      runAt: undefined,
      error: LEASE_EXPIRED,
      at: NOW,
      cause: "lease_expired",
    });
    assert.deepEqual(decideLeaseExpired(state, spent.h, NOW), {
      tag: Tag.Dead,
      id: spent.id,
      at: NOW,
      reason: LEASE_EXPIRED,
      cause: "lease_expired",
    });
  });

  it("interrupted claims at open: every claimed job, requeued keeping lastError, or dead", () => {
    const state = new State();
    enqueue(state); // pending: untouched
    const retried = claimed(state, 1);
    apply(state, { tag: Tag.Retry, id: retried.id, runAt: undefined, error: "earlier" });
    apply(state, { tag: Tag.Claim, id: retried.id, at: NOW });
    const spent = claimed(state, 2, 2);
    const records = decideInterruptedClaims(state, NOW);
    assert.deepEqual(records, [
      {
        tag: Tag.Retry,
        id: retried.id,
        runAt: undefined,
        error: undefined,
        at: NOW,
        cause: "interrupted",
      },
      { tag: Tag.Dead, id: spent.id, at: NOW, reason: CLAIM_INTERRUPTED, cause: "interrupted" },
    ]);
    applies(state, records);
    assert.equal(row(state, retried.id)?.lastError, "earlier");
    assert.deepEqual(decideInterruptedClaims(state, NOW), []);
  });

  it("promotion: none until a scheduled job is due, then every queue with a due job", () => {
    const state = new State();
    enqueue(state, { queue: "a", runAt: NOW + 10 });
    enqueue(state, { queue: "b", runAt: NOW + 20 });
    enqueue(state, { queue: "c" });
    assert.equal(nextRunAt(state), NOW + 10);
    assert.deepEqual(decidePromotion(state, NOW + 9), []);
    const promotion = decidePromotion(state, NOW + 15);
    assert.deepEqual(promotion, [
      { tag: Tag.PromoteSome, queue: "a", upTo: NOW + 15, limit: BULK_RECORD_JOBS },
    ]);
    applies(state, promotion);
    assert.equal(nextRunAt(state), NOW + 20);
    assert.deepEqual(
      decidePromotion(state, NOW + 20).map((r) => r.queue),
      ["b"],
    );
  });

  it("promotion: a flow parent waiting for its children is not a due time (no timer for it)", () => {
    const state = new State();
    const parent = ulid(NOW);
    const child = ulid(NOW + 1);
    apply(state, {
      tag: Tag.Transaction,
      ops: [
        { ...enqueueRecord(parent, { waitsForChildren: true }), queue: "a" },
        { ...enqueueRecord(child, { flowParent: parent }), queue: "a" },
      ],
    });
    assert.equal(
      row(state, parent)?.status,
      Status.Scheduled,
      "the parent waits as a scheduled job",
    );
    // Only children's ends wake a waiting parent: a due time for it would wake
    // the promotion pass every scheduler interval for as long as it waits.
    assert.equal(nextRunAt(state), undefined);
    enqueue(state, { queue: "b", runAt: NOW + 10 });
    assert.equal(nextRunAt(state), NOW + 10, "a real scheduled job elsewhere still counts");
    assert.deepEqual(
      decidePromotion(state, NOW + 10).map((r) => r.queue),
      ["b"],
    );
  });

  it("promotion of a large cohort comes in bounded records, soonest first", () => {
    const state = new State();
    const count = 2 * BULK_RECORD_JOBS + 5;
    for (let i = 0; i < count; i++) enqueue(state, { runAt: NOW + 1 + (i % 7) });
    let records = 0;
    let promotedBefore = 0;
    for (;;) {
      const slice = decidePromotion(state, NOW + 10);
      if (slice.length === 0) break;
      applies(state, slice);
      records++;
      const pending = state.queues.get("q")!.pending.size;
      assert.ok(pending - promotedBefore <= BULK_RECORD_JOBS);
      promotedBefore = pending;
    }
    assert.equal(records, 3);
    assert.equal(state.queues.get("q")!.pending.size, count);
  });

  it("sweeps: only queues that keep jobs, only once the oldest is past retention", () => {
    const state = new State();
    const done = claimed(state, 1);
    apply(state, { tag: Tag.Ack, id: done.id, keep: true, at: NOW });
    const dead = claimed(state, 1);
    apply(state, { tag: Tag.Dead, id: dead.id, at: NOW, reason: "x" });
    const configs = new QueueConfigs({ keepDoneJobsMs: 1_000, deadRetentionMs: 5_000 }, undefined);
    assert.deepEqual(decideSweeps(state, configs, NOW + 1_000), []);
    const limit = BULK_RECORD_JOBS;
    assert.deepEqual(decideSweeps(state, configs, NOW + 1_001), [
      { tag: Tag.SweepDoneNoResultSome, queue: "q", before: NOW + 1, limit },
    ]);
    const records = decideSweeps(state, configs, NOW + 5_001);
    assert.deepEqual(records, [
      { tag: Tag.SweepDoneNoResultSome, queue: "q", before: NOW + 4_001, limit },
      { tag: Tag.SweepDeadSome, queue: "q", before: NOW + 1, limit },
    ]);
    applies(state, records);
    assert.equal(state.size, 0);
    const forever = new QueueConfigs({ keepDoneJobsMs: null, deadRetentionMs: null }, undefined);
    assert.deepEqual(decideSweeps(state, forever, Number.MAX_SAFE_INTEGER), []);
  });

  it("sweeps: a done job holding a result is kept for the longer of keepDoneJobsMs and resultRetentionMs", () => {
    const state = new State();
    const plain = claimed(state, 1);
    apply(state, { tag: Tag.Ack, id: plain.id, keep: true, at: NOW });
    const withResult = claimed(state, 1);
    const result = Buffer.from("r");
    apply(state, { tag: Tag.Ack, id: withResult.id, keep: true, at: NOW + 10, result });
    const limit = BULK_RECORD_JOBS;
    const sweeps = (keepDoneJobsMs: number | null, resultRetentionMs: number, at: number) =>
      decideSweeps(state, new QueueConfigs({ keepDoneJobsMs, resultRetentionMs }, undefined), at);

    // Results outlive the rest: jobs without one go at keepDoneJobsMs on their own record.
    assert.deepEqual(sweeps(1_000, 60_000, NOW + 1_011), [
      { tag: Tag.SweepDoneNoResultSome, queue: "q", before: NOW + 11, limit },
    ]);
    assert.deepEqual(sweeps(1_000, 60_000, NOW + 60_011), [
      { tag: Tag.SweepDoneNoResultSome, queue: "q", before: NOW + 59_011, limit },
      { tag: Tag.SweepDoneSome, queue: "q", before: NOW + 11, limit },
    ]);
    // keepDoneJobsMs at least resultRetentionMs, or null: one record for both kinds at the
    // longer age, as earlier releases decided.
    assert.deepEqual(sweeps(60_000, 1_000, NOW + 1_011), []);
    assert.deepEqual(sweeps(60_000, 1_000, NOW + 60_001), [
      { tag: Tag.SweepDoneSome, queue: "q", before: NOW + 1, limit },
    ]);
    assert.deepEqual(sweeps(5_000, 5_000, NOW + 5_001), [
      { tag: Tag.SweepDoneSome, queue: "q", before: NOW + 1, limit },
    ]);
    assert.deepEqual(sweeps(null, 5_000, NOW + 5_000), []);
    assert.deepEqual(sweeps(null, 5_000, NOW + 5_001), [
      { tag: Tag.SweepDoneSome, queue: "q", before: NOW + 1, limit },
    ]);

    applies(state, sweeps(1_000, 60_000, NOW + 1_011));
    assert.equal(state.find(plain.id), -1);
    assert.deepEqual(state.table.extras(state.find(withResult.id))?.result, result);
    applies(state, sweeps(1_000, 60_000, NOW + 60_011));
    assert.equal(state.size, 0);
  });

  it("apply: SweepDoneSome (as earlier releases wrote it) takes done jobs of both kinds, oldest first", () => {
    const state = new State();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const job = claimed(state, 1);
      const result = i % 2 === 0 ? { result: Buffer.from(`r${i}`) } : {};
      apply(state, { tag: Tag.Ack, id: job.id, keep: true, at: NOW + i, ...result });
      ids.push(job.id);
    }
    const left = () => ids.filter((id) => state.find(id) !== -1);
    apply(state, { tag: Tag.SweepDoneSome, queue: "q", before: NOW + 5, limit: 3 });
    assert.deepEqual(left(), ids.slice(3), "the three oldest, with a result or without");
    apply(state, { tag: Tag.SweepDone, queue: "q", before: NOW + 5 });
    assert.deepEqual(left(), ids.slice(5));
    // The new record leaves results alone, whatever their age.
    const keep = claimed(state, 1);
    apply(state, { tag: Tag.Ack, id: keep.id, keep: true, at: NOW + 6, result: Buffer.from("k") });
    apply(state, {
      tag: Tag.SweepDoneNoResultSome,
      queue: "q",
      before: Number.MAX_SAFE_INTEGER,
      limit: 10,
    });
    assert.deepEqual(left(), [], "the last one, without a result, is gone");
    assert.notEqual(state.find(keep.id), -1, "the one holding a result is kept");
  });

  it("decisions read the state, never change it", () => {
    const state = new State();
    const job = claimed(state, 3, 3);
    enqueue(state, { runAt: NOW });
    const before = JSON.stringify(rows(state).map((j) => [j.id, j.status, j.at]));
    decideNack(state, job.h, config(), NOW, "x");
    decideLeaseExpired(state, job.h, NOW);
    decideInterruptedClaims(state, NOW);
    decidePromotion(state, NOW);
    decideSweeps(state, new QueueConfigs({ keepDoneJobsMs: 0 }, undefined), NOW + 1);
    const after = JSON.stringify(rows(state).map((j) => [j.id, j.status, j.at]));
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

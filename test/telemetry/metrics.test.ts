import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type {
  MeterProvider as ApiMeterProvider,
  Attributes,
  MetricOptions,
} from "@opentelemetry/api";
import { AggregationTemporality, type Histogram, MeterProvider } from "@opentelemetry/sdk-metrics";
import { ManualClock } from "../../src/clock.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { lifecycleOf } from "../../src/queue/lifecycle-steps.js";
import type { Observers } from "../../src/queue/observe.js";
import { Queue } from "../../src/queue/queue.js";
import type { Transition } from "../../src/queue/transition.js";
import { MemoryStore } from "../../src/store/memory.js";
import { estimateRequestCost, requestCosts } from "../../src/store/request-prices.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { memoryAndFileStores, mustClaim, openTestQueue } from "../queue/helpers.js";
import { collect, type Points, TestReader } from "./sdk.js";

/** The commit boundary's observers, through the test-only hook. */
function observersOf(queue: Queue): Observers {
  return (queue as unknown as Record<symbol, () => Observers>)[Symbol.for("taquba.observers")]!();
}

/** The value of `name` at exactly these attributes (undefined when not reported). */
function valueAt(points: Points, name: string, attributes: Record<string, unknown>): unknown {
  const matches = (points.get(name) ?? []).filter(
    (p) => JSON.stringify(sorted(p.attributes)) === JSON.stringify(sorted(attributes)),
  );
  assert.ok(
    matches.length <= 1,
    `${name} has ${matches.length} points at ${JSON.stringify(attributes)}`,
  );
  return matches[0]?.value;
}

function sorted(attributes: Record<string, unknown>): [string, unknown][] {
  return Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : 1));
}

function histogram(points: Points, name: string, attributes: Record<string, unknown>): Histogram {
  const value = valueAt(points, name, attributes);
  assert.ok(value !== undefined, `no ${name} at ${JSON.stringify(attributes)}`);
  return value as Histogram;
}

async function openMeasured(options: { metrics?: boolean } = {}) {
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const opened = await openTestQueue({
    defaultQueueConfig: { retryBackoffBaseMs: 0, maxAttempts: 2 },
    telemetry: { meterProvider, traces: false, ...options },
  });
  return { ...opened, reader, meterProvider };
}

/**
 * Every kind of step the metrics count, into "work", "other", "spare",
 * "root" and "leaf": claims one at a time and in one commit, an ack, nacks,
 * dead-letters (one making its flow parent dead with it), lease expiries
 * (retried, and dead on the last attempt), a cancel, a release, and, in one
 * log batch, an ack, a dead-letter, a release and a transaction's ack.
 * `maxAttempts` 2, no backoff; the clock moves as the comments say.
 */
async function everyStep(queue: Queue, clock: ManualClock, store: FaultStore): Promise<void> {
  const [a, , , d] = await queue.enqueueBatch("work", ["a", "b", "c", "d", "e"]);
  await queue.enqueueMany("other", [{ payload: "x" }, { payload: "y" }, { payload: "z" }]);
  await queue.enqueueFlow({
    queue: "root",
    payload: "r",
    children: [{ queue: "leaf", payload: "l" }],
  });
  clock.advance(1_500);
  const [a1, b1, c1] = await queue.claimBatch("work", 3, { leaseMs: 1_000 });
  assert.equal(a1!.id, a);
  clock.advance(200);
  await queue.ack(a1!);
  await queue.nack(b1!, "once");
  await queue.deadLetter(await mustClaim(queue, "leaf"), "poison"); // its parent too
  const b2 = await mustClaim(queue, "work", 500); // b's last attempt
  assert.equal(b2.id, b1!.id);
  clock.advance(1_100);
  await queue.reapNow(); // c: expired, retried; b: expired, dead
  assert.equal(await queue.cancel(d!), "removed");
  clock.advance(50);
  const [c2, e1] = await queue.claimBatch("work", 2);
  assert.equal(c2!.id, c1!.id);
  const [x, y, z] = await queue.claimBatch("other", 3);
  clock.advance(400);
  const hold = store.pause({ op: "put", keyPrefix: "q/wal/" });
  const settled = [
    queue.ack(c2!),
    queue.deadLetter(x!, "poison"),
    queue.release(y!),
    queue.transaction((tx) => {
      tx.ack(z!);
      tx.enqueue("other", "w");
    }),
    queue.ack(e1!),
  ];
  await hold.whenHeld();
  hold.release();
  await Promise.all(settled);
  await queue.enqueue("spare", "s");
  await queue.release(await mustClaim(queue, "spare"));
  await queue.flush();
}

/** The job counters' and histograms' points: by metric and attributes, their values. */
function jobPoints(points: Points): Map<string, unknown> {
  const values = new Map<string, unknown>();
  for (const [name, list] of points) {
    if (!name.startsWith("taquba.job")) continue;
    for (const point of list)
      values.set(`${name} ${JSON.stringify(sorted(point.attributes))}`, point.value);
  }
  return values;
}

describe("metrics", { timeout: 60_000 }, () => {
  for (const [storeName, makeStore] of memoryAndFileStores("taquba-metrics-"))
    it(`count the same whether claims and acks reach them as times or as transitions (${storeName})`, async () => {
      const runs: Map<string, unknown>[] = [];
      for (const listening of [false, true]) {
        const reader = new TestReader();
        const meterProvider = new MeterProvider({ readers: [reader] });
        const store = new FaultStore(await makeStore());
        const { queue, clock } = await openTestQueue(
          {
            defaultQueueConfig: { retryBackoffBaseMs: 0, maxAttempts: 2 },
            telemetry: { meterProvider, traces: false },
          },
          store,
        );
        // An event listener needs each claim and ack as a transition; the metrics alone do not.
        const heard: string[] = [];
        if (listening) queue.on("completed", (event) => heard.push(event.id));
        assert.equal(observersOf(queue).eachClaimAndAck, listening);
        await everyStep(queue, clock, store);
        assert.equal(heard.length, listening ? 4 : 0);
        runs.push(jobPoints(await collect(reader)));
        await queue.close();
      }
      const [timed, transitions] = runs as [Map<string, unknown>, Map<string, unknown>];
      assert.deepEqual([...timed.keys()].sort(), [...transitions.keys()].sort());
      for (const [key, value] of timed) {
        const other = transitions.get(key);
        if (typeof value === "number") {
          assert.equal(value, other, key);
          continue;
        }
        // Histograms: the same values, maybe added in another order (the sum to rounding).
        const h = value as Histogram;
        const o = other as Histogram;
        assert.deepEqual(
          [h.count, h.min, h.max, h.buckets],
          [o.count, o.min, o.max, o.buckets],
          key,
        );
        assert.ok(Math.abs(h.sum! - o.sum!) < 1e-9, key);
      }
      // What the workload's steps add up to (each path could be wrong the same way).
      const at = (name: string, attributes: Record<string, string>) =>
        timed.get(`taquba.${name} ${JSON.stringify(sorted(attributes))}`);
      const counters: [string, string, number][] = [
        ["enqueued", "work", 5],
        ["claimed", "work", 6],
        ["completed", "work", 3],
        ["retried", "work", 2],
        ["expired", "work", 2],
        ["dead_lettered", "work", 1],
        ["cancelled", "work", 1],
        ["enqueued", "other", 4],
        ["claimed", "other", 3],
        ["completed", "other", 1],
        ["dead_lettered", "other", 1],
        ["released", "other", 1],
        ["released", "spare", 1],
        ["dead_lettered", "leaf", 1],
        ["dead_lettered", "root", 1],
      ];
      for (const [name, queueName, n] of counters)
        assert.equal(
          at(`jobs.${name}`, { queue: queueName, path: "q" }),
          n,
          `${name} ${queueName}`,
        );
      const wait = at("job.wait", { queue: "work", path: "q" }) as Histogram;
      // a, b, c at 1.5 s; b again at 1.7 s; c and e at 2.85 s.
      assert.equal(wait.count, 6);
      assert.ok(Math.abs(wait.sum! - (1.5 * 3 + 1.7 + 2.85 * 2)) < 1e-9, String(wait.sum));
      const completed = at("job.duration", {
        queue: "work",
        path: "q",
        outcome: "completed",
      }) as Histogram;
      // a after 0.2 s; c and e after 0.4 s.
      assert.equal(completed.count, 3);
      assert.ok(Math.abs(completed.sum! - 1) < 1e-9, String(completed.sum));
      const expired = at("job.duration", {
        queue: "work",
        path: "q",
        outcome: "expired",
      }) as Histogram;
      assert.deepEqual([expired.count, expired.min, expired.max], [2, 1.1, 1.3]);
    });

  it("count a known workload's jobs, waits and durations by queue", async () => {
    const { queue, clock, reader } = await openMeasured();
    const t0 = clock.now();
    const [, , c, d] = await queue.enqueueBatch("work", ["a", "b", "c", "d"]);
    await queue.enqueue("other", "x", { runAt: t0 + 60_000 });
    clock.advance(2_000);
    const a = await mustClaim(queue, "work"); // waited 2 s
    clock.advance(500);
    await queue.ack(a); // ran 0.5 s
    const b1 = await mustClaim(queue, "work"); // waited 2.5 s
    clock.advance(100);
    await queue.nack(b1, "try again"); // ran 0.1 s, retried at once
    const b2 = await mustClaim(queue, "work"); // waited 2.6 s (since enqueue)
    assert.equal(b2.id, b1.id);
    await queue.deadLetter(b2, "poison"); // ran 0 s, out
    const c1 = await mustClaim(queue, "work", 1_000); // waited 2.6 s
    assert.equal(c1.id, c);
    clock.advance(1_001);
    await queue.reapNow(); // lease expired after 1.001 s: retried
    assert.equal(await queue.cancel(d!), "removed");
    await queue.enqueue("spare", "s");
    await queue.release(await mustClaim(queue, "spare")); // given back unrun
    await queue.flush();

    const points = await collect(reader);
    const work = { queue: "work", path: "q" };
    const counters = {
      enqueued: 4,
      claimed: 4,
      completed: 1,
      retried: 2,
      dead_lettered: 1,
      expired: 1,
      cancelled: 1,
    };
    for (const [name, value] of Object.entries(counters))
      assert.equal(valueAt(points, `taquba.jobs.${name}`, work), value, name);
    assert.equal(valueAt(points, "taquba.jobs.enqueued", { queue: "other", path: "q" }), 1);
    assert.equal(valueAt(points, "taquba.jobs.claimed", { queue: "other", path: "q" }), undefined);
    assert.equal(valueAt(points, "taquba.jobs.released", { queue: "spare", path: "q" }), 1);
    assert.equal(valueAt(points, "taquba.jobs.released", work), undefined);

    const wait = histogram(points, "taquba.job.wait", work);
    assert.equal(wait.count, 4);
    assert.ok(Math.abs(wait.sum! - (2 + 2.5 + 2.6 + 2.6)) < 1e-9, String(wait.sum));
    assert.equal(wait.min, 2);
    assert.equal(wait.max, 2.6);
    const durations = { completed: 0.5, retried: 0.1, dead_lettered: 0, expired: 1.001 };
    for (const [outcome, seconds] of Object.entries(durations)) {
      const h = histogram(points, "taquba.job.duration", { queue: "work", path: "q", outcome });
      assert.equal(h.count, 1, outcome);
      assert.ok(Math.abs(h.sum! - seconds) < 1e-9, `${outcome}: ${h.sum}`);
    }

    // Gauges read the state as it is now: c pending again, b dead, x scheduled.
    const depth = { pending: 1, scheduled: 0, claimed: 0, dead: 1 };
    for (const [state, value] of Object.entries(depth))
      assert.equal(
        valueAt(points, "taquba.queue.depth", { queue: "work", path: "q", state }),
        value,
        state,
      );
    assert.equal(
      valueAt(points, "taquba.queue.depth", { queue: "other", path: "q", state: "scheduled" }),
      1,
    );
    assert.equal(
      valueAt(points, "taquba.queue.oldest_pending_age", work),
      (clock.now() - t0) / 1_000,
    );
    // Nothing of "other" is pending (its job is scheduled): age 0.
    assert.equal(
      valueAt(points, "taquba.queue.oldest_pending_age", { queue: "other", path: "q" }),
      0,
    );

    // Store requests and their estimated cost match the queue's own counters.
    const requests = queue.storeRequests();
    assert.ok(requests.counts.put > 0 && requests.counts.list > 0, JSON.stringify(requests));
    const costs = requestCosts(requests.counts);
    for (const kind of ["get", "put", "delete", "list", "head"] as const) {
      assert.equal(
        valueAt(points, "taquba.store.requests", { queue: "*", path: "q", kind }),
        requests.counts[kind],
      );
      assert.equal(
        valueAt(points, "taquba.store.request_cost", { queue: "*", path: "q", kind }),
        costs[kind],
      );
    }
    assert.equal(
      valueAt(points, "taquba.store.bytes", { queue: "*", path: "q", kind: "put" }),
      requests.bytesWritten,
    );
    assert.ok(estimateRequestCost(requests.counts) > 0);
    assert.equal(valueAt(points, "taquba.log.epoch", { queue: "*", path: "q" }), 1);
    assert.ok((valueAt(points, "taquba.log.wal_backlog", { queue: "*", path: "q" }) as number) > 0);
    await queue.close();
  });

  it("report the age of the checkpoint a reopened queue opened from, as a reader does", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    // The log's clock too: it names the checkpoint with the time it is written.
    const log = { clock, flushIntervalMs: 0 };
    const first = await openTestQueue({ telemetry: false, log }, store, clock);
    await first.queue.enqueue("work", "x");
    const closedAt = clock.now();
    await first.queue.close(); // writes a final checkpoint
    clock.advance(2_500);
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const { queue } = await openTestQueue(
      { telemetry: { meterProvider, traces: false }, log },
      store,
      clock,
    );
    assert.equal(queue.logStats().lastCheckpointAt, closedAt);
    assert.equal(queue.logStats().checkpointsWritten, 0);
    const points = await collect(reader);
    assert.equal(valueAt(points, "taquba.log.checkpoint_age", { queue: "*", path: "q" }), 2.5);
    await queue.close();
  });

  it("stop observing at close: a delta reader exports nothing more of the closed queue", async () => {
    const reader = new TestReader({
      aggregationTemporalitySelector: () => AggregationTemporality.DELTA,
    });
    const meterProvider = new MeterProvider({ readers: [reader] });
    const { queue } = await openTestQueue({ telemetry: { meterProvider, traces: false } });
    await queue.enqueueBatch("a", ["x", "y", "z"]);
    const open = await collect(reader);
    assert.equal(
      valueAt(open, "taquba.queue.depth", { queue: "a", path: "q", state: "pending" }),
      3,
    );
    assert.ok(valueAt(open, "taquba.log.wal_backlog", { queue: "*", path: "q" }) !== undefined);
    await queue.close();
    // Each collection reports what was observed in it: the queue's callbacks are gone.
    // (A cumulative reader, the SDK's default, keeps repeating the last values it saw.)
    for (const round of [1, 2]) {
      const points = await collect(reader);
      const left = [...points].filter(([, list]) => list.length > 0).map(([name]) => name);
      assert.deepEqual(left, [], `collection ${round} after close`);
    }
  });

  it("tell apart the queues of two stores of one process by their path", async () => {
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const store = new MemoryStore();
    const telemetry = { meterProvider, traces: false };
    const orders = await Queue.open(store, "orders", { logger: silentLogger, telemetry });
    const emails = await Queue.open(store, "emails", { logger: silentLogger, telemetry });
    try {
      await orders.enqueueBatch("default", ["a", "b", "c", "d", "e"]);
      await emails.enqueueBatch("default", ["a", "b"]);
      await orders.ack(await mustClaim(orders, "default"));
      await Promise.all([orders.flush(), emails.flush()]);
      const points = await collect(reader);
      for (const [path, enqueued, pending, completed] of [
        ["orders", 5, 4, 1],
        ["emails", 2, 2, undefined],
      ] as const) {
        const at = { queue: "default", path };
        assert.equal(valueAt(points, "taquba.jobs.enqueued", at), enqueued, path);
        assert.equal(valueAt(points, "taquba.jobs.completed", at), completed, path);
        assert.equal(
          valueAt(points, "taquba.queue.depth", { ...at, state: "pending" }),
          pending,
          path,
        );
        assert.ok(valueAt(points, "taquba.queue.oldest_pending_age", at) !== undefined, path);
      }
      assert.equal(
        histogram(points, "taquba.job.wait", { queue: "default", path: "orders" }).count,
        1,
      );
      assert.equal(
        valueAt(points, "taquba.job.wait", { queue: "default", path: "emails" }),
        undefined,
      );
    } finally {
      await orders.close();
      await emails.close();
    }
  });

  it("measure every duration to its record's own time, as the attempt history does", async () => {
    /** Wall time that moves 1 ms at every read: a record's time and a later read differ. */
    class TickingClock extends ManualClock {
      #ticks = 0;
      override now(): number {
        return super.now() + this.#ticks++;
      }
    }
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const clock = new TickingClock();
    const { queue } = await openTestQueue(
      {
        defaultQueueConfig: { retryBackoffBaseMs: 0, maxAttempts: 2 },
        telemetry: { meterProvider, traces: false },
      },
      new MemoryStore(),
      clock,
    );
    // One job at a time, so that each claim takes the job named.
    const a = await queue.enqueue("work", "a");
    clock.advance(100);
    await queue.nack(await mustClaim(queue, "work"), "again"); // a: retried
    const a2 = await mustClaim(queue, "work");
    clock.advance(100);
    await queue.ack(a2, { result: "r" }); // a: completed (kept, with its history, for its result)
    const b = await queue.enqueue("work", "b");
    await mustClaim(queue, "work", 1_000);
    clock.advance(2_000);
    await queue.reapNow(); // b: expired (and retried)
    await queue.deadLetter(await mustClaim(queue, "work"), "poison"); // b: dead
    assert.deepEqual([a2.id], [a]);
    await queue.flush();

    const expected = new Map<string, number>();
    for (const id of [a, b])
      for (const attempt of await queue.attemptHistory(id)) {
        const outcome = attempt.outcome === "lease_expired" ? "expired" : attempt.outcome;
        const ms = attempt.recordedAt - attempt.claimedAt!;
        expected.set(outcome, (expected.get(outcome) ?? 0) + ms);
      }
    assert.deepEqual([...expected.keys()].sort(), [
      "completed",
      "dead_lettered",
      "expired",
      "retried",
    ]);
    const points = await collect(reader);
    for (const [outcome, ms] of expected) {
      const h = histogram(points, "taquba.job.duration", { queue: "work", path: "q", outcome });
      assert.equal(h.count, 1, outcome);
      assert.ok(Math.abs(h.sum! - ms / 1_000) < 1e-9, `${outcome}: ${h.sum} s, history ${ms} ms`);
    }
    await queue.close();
  });

  it("counting from transitions gives what lifecycleOf's steps give, expiries then their outcomes included", async () => {
    const store = new FaultStore(new MemoryStore());
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const { queue, clock } = await openTestQueue(
      {
        defaultQueueConfig: { retryBackoffBaseMs: 0, maxAttempts: 2 },
        telemetry: { meterProvider, traces: false },
      },
      store,
    );
    // Hears what the metrics hear, batch by batch.
    const batches: { transitions: readonly Transition[]; enqueued: Map<string, number> }[] = [];
    observersOf(queue).add({
      eachEnqueue: false,
      eachClaimAndAck: true,
      committed(transitions, enqueued) {
        batches.push({ transitions: [...transitions], enqueued: new Map(enqueued?.byQueue()) });
      },
    });
    const [a, , , d] = await queue.enqueueBatch("work", ["a", "b", "c", "d", "e", "f"]);
    await queue.enqueueMany("other", [{ payload: "x" }, { payload: "y" }, { payload: "z" }]);
    clock.advance(1_500);
    const a1 = await mustClaim(queue, "work", 1_000);
    assert.equal(a1.id, a);
    // b: fails once, then its last attempt's lease runs out: expired, then dead.
    const b1 = await mustClaim(queue, "work");
    clock.advance(200);
    await queue.nack(b1, "once");
    const b2 = await mustClaim(queue, "work", 1_000);
    assert.equal(b2.id, b1.id);
    const c1 = await mustClaim(queue, "work");
    clock.advance(300);
    await queue.ack(c1);
    assert.equal(await queue.cancel(d!), "removed");
    clock.advance(800);
    // a's lease (first attempt) and b's (last attempt) run out in one pass: retried and dead.
    await queue.reapNow();
    assert.equal((await queue.getJob(b1.id))?.status, "dead");
    clock.advance(50);
    const a2 = await mustClaim(queue, "work");
    assert.equal(a2.id, a);
    const x = await mustClaim(queue, "other");
    const y = await mustClaim(queue, "other");
    const z = await mustClaim(queue, "other", 1_000);
    clock.advance(400);
    // Settled together, in one log batch: an ack, a dead-letter, a release, a transaction's ack.
    const hold = store.pause({ op: "put", keyPrefix: "q/wal/" });
    const settled = [
      queue.ack(a2),
      queue.deadLetter(x, "poison"),
      queue.release(y),
      queue.transaction((tx) => {
        tx.ack(z);
        tx.enqueue("other", "w");
      }),
    ];
    await hold.whenHeld();
    hold.release();
    await Promise.all(settled);
    // e: its first attempt's lease runs out alone: expired, then retried; f: given back unrun.
    const e1 = await mustClaim(queue, "work", 100);
    clock.advance(150);
    await queue.reapNow();
    await queue.release(await mustClaim(queue, "work"));
    await queue.flush();
    assert.ok(
      batches.some(({ transitions }) => transitions.length >= 4),
      "some batch holds several settlements",
    );
    assert.equal((await queue.getJob(e1.id))?.status, "pending");

    // What the metrics counted before this change: lifecycleOf's steps of each batch.
    const counters = new Map<string, number>();
    const count = (name: string, queueName: string, n = 1) => {
      const key = `${name} ${queueName}`;
      counters.set(key, (counters.get(key) ?? 0) + n);
    };
    const values = new Map<string, number[]>();
    const record = (name: string, attributes: Record<string, string>, ms: number) => {
      const key = `${name} ${JSON.stringify(sorted(attributes))}`;
      values.set(key, [...(values.get(key) ?? []), ms / 1_000]);
    };
    const names: Record<string, string> = { dead: "dead_lettered" };
    const kinds = [
      "enqueued",
      "claimed",
      "completed",
      "retried",
      "dead",
      "expired",
      "cancelled",
      "released",
    ];
    for (const batch of batches) {
      for (const [queueName, n] of batch.enqueued) count("enqueued", queueName, n);
      let expired: string | undefined;
      for (const step of lifecycleOf(batch.transitions)) {
        // Steps the metrics have no counter for (if any) are left out.
        if (!kinds.includes(step.kind)) continue;
        count(names[step.kind] ?? step.kind, step.queue);
        const duration = (outcome: string, claimedAt: number | undefined) => {
          if (claimedAt !== undefined)
            record(
              "taquba.job.duration",
              { queue: step.queue, path: "q", outcome },
              step.at - claimedAt,
            );
        };
        switch (step.kind) {
          case "claimed":
            record("taquba.job.wait", { queue: step.queue, path: "q" }, step.at - step.enqueuedAt);
            break;
          case "completed":
            duration("completed", step.claimedAt);
            break;
          case "expired":
            duration("expired", step.claimedAt);
            expired = step.id;
            break;
          case "retried":
            if (expired !== step.id) duration("retried", step.claimedAt);
            break;
          case "dead":
            if (expired !== step.id) duration("dead_lettered", step.claimedAt);
            break;
        }
      }
    }
    // The workload covers each counter and outcome.
    for (const kind of ["claimed", "completed", "retried", "dead_lettered", "expired"])
      assert.ok(
        [...counters.keys()].some((k) => k.startsWith(`${kind} `)),
        kind,
      );
    assert.equal(counters.get("expired work"), 3);
    assert.equal(counters.get("dead_lettered work"), 1);
    assert.equal(counters.get("cancelled work"), 1);
    assert.equal(counters.get("released other"), 1);

    const points = await collect(reader);
    for (const [key, n] of counters) {
      const [name, queueName] = key.split(" ") as [string, string];
      assert.equal(valueAt(points, `taquba.jobs.${name}`, { queue: queueName, path: "q" }), n, key);
    }
    let reported = 0;
    for (const name of ["taquba.jobs.enqueued", "taquba.jobs.claimed", "taquba.jobs.completed"])
      reported += (points.get(name) ?? []).length;
    assert.equal(
      reported,
      [...counters.keys()].filter((k) => /^(enqueued|claimed|completed) /.test(k)).length,
    );
    for (const [key, seconds] of values) {
      const [name, json] = [key.slice(0, key.indexOf(" ")), key.slice(key.indexOf(" ") + 1)];
      const attributes = Object.fromEntries(JSON.parse(json) as [string, string][]);
      const h = histogram(points, name, attributes);
      assert.equal(h.count, seconds.length, key);
      assert.ok(Math.abs(h.sum! - seconds.reduce((x, y) => x + y, 0)) < 1e-9, key);
      assert.equal(h.min, Math.min(...seconds), key);
      assert.equal(h.max, Math.max(...seconds), key);
    }
    const histograms = ["taquba.job.wait", "taquba.job.duration"].flatMap(
      (name) => points.get(name) ?? [],
    );
    assert.equal(histograms.length, values.size);
    await queue.close();
  });

  it("steps are each counted once, added to the SDK's counter once per queue when it collects", async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const adds: [string, number][] = [];
    const meterProvider = {
      getMeter(name: string) {
        const meter = provider.getMeter(name);
        return new Proxy(meter, {
          get(target, property, receiver) {
            const value = Reflect.get(target, property, receiver);
            if (property !== "createCounter") return value;
            return (counterName: string, options: unknown) => {
              const counter = meter.createCounter(counterName, options as object);
              return {
                add(n: number, attributes: Record<string, string>) {
                  adds.push([`${counterName} ${attributes.queue}`, n]);
                  counter.add(n, attributes);
                },
              };
            };
          },
        });
      },
    };
    const store = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue({ telemetry: { meterProvider, traces: false } }, store);
    // Hold the WAL: every enqueue below waits in the log, and they become durable together.
    const hold = store.pause({ op: "put", keyPrefix: "q/wal/" });
    const enqueues = [
      ...Array.from({ length: 30 }, (_, i) => queue.enqueue("a", `a${i}`)),
      ...Array.from({ length: 20 }, (_, i) => queue.enqueue("b", `b${i}`)),
    ];
    await hold.whenHeld();
    hold.release();
    await Promise.all(enqueues);
    const points = await collect(reader);
    assert.equal(valueAt(points, "taquba.jobs.enqueued", { queue: "a", path: "q" }), 30);
    assert.equal(valueAt(points, "taquba.jobs.enqueued", { queue: "b", path: "q" }), 20);
    const enqueuedAdds = adds.filter(([key]) => key.startsWith("taquba.jobs.enqueued"));
    assert.equal(
      enqueuedAdds.reduce((sum, [, n]) => sum + n, 0),
      50,
    );
    // No SDK call per job, nor per log batch: one add per queue, when the SDK collected.
    assert.deepEqual(enqueuedAdds, [
      ["taquba.jobs.enqueued a", 30],
      ["taquba.jobs.enqueued b", 20],
    ]);
    // Nothing new: a second collection adds nothing and reads the same totals.
    const again = await collect(reader);
    assert.equal(adds.filter(([key]) => key.startsWith("taquba.jobs.enqueued")).length, 2);
    assert.equal(valueAt(again, "taquba.jobs.enqueued", { queue: "a", path: "q" }), 30);
    // Steps after a collection are in the next one, on top of the earlier ones.
    await queue.enqueueBatch("a", ["x", "y"]);
    const c = await mustClaim(queue, "a");
    await queue.ack(c);
    const later = await collect(reader);
    assert.equal(valueAt(later, "taquba.jobs.enqueued", { queue: "a", path: "q" }), 32);
    assert.equal(valueAt(later, "taquba.jobs.enqueued", { queue: "b", path: "q" }), 20);
    assert.equal(valueAt(later, "taquba.jobs.claimed", { queue: "a", path: "q" }), 1);
    assert.equal(valueAt(later, "taquba.jobs.completed", { queue: "a", path: "q" }), 1);
    await queue.close();
  });

  for (const listening of [false, true])
    it(`enqueues on every path in held WAL writes are counted exactly (${listening ? "with" : "without"} an event listener)`, async () => {
      const reader = new TestReader();
      const meterProvider = new MeterProvider({ readers: [reader] });
      const store = new FaultStore(new MemoryStore());
      const { queue } = await openTestQueue({ telemetry: { meterProvider, traces: false } }, store);
      // An event listener needs a transition per enqueue; without one, enqueues are only counted.
      const heard: string[] = [];
      if (listening) queue.on("enqueued", (event) => heard.push(event.queue));
      await queue.enqueue("c", "to ack");
      const claim = await mustClaim(queue, "c");
      const hold = store.pause({ op: "put", keyPrefix: "q/wal/" });
      const calls: Promise<unknown>[] = [
        queue.enqueue("a", "plain"),
        queue.enqueue("a", "general", { jobId: "j", delayMs: 10 }),
        queue.enqueue("b", "behind the general one"),
        queue.enqueueBatch("a", ["x", "y"]),
        queue.enqueueMany("b", [
          { payload: "1", options: { dedupKey: "k" } },
          { payload: "2", options: { dedupKey: "k" } }, // a hit: not counted
        ]),
      ];
      await hold.whenHeld();
      calls.push(
        queue.transaction((tx) => {
          tx.enqueue("a", "in a transaction");
          tx.ack(claim);
        }),
        queue.enqueue("a", "plain again"),
      );
      hold.release();
      await Promise.all(calls);
      await queue.flush();
      const points = await collect(reader);
      assert.equal(valueAt(points, "taquba.jobs.enqueued", { queue: "a", path: "q" }), 6);
      assert.equal(valueAt(points, "taquba.jobs.enqueued", { queue: "b", path: "q" }), 2);
      assert.equal(valueAt(points, "taquba.jobs.enqueued", { queue: "c", path: "q" }), 1);
      assert.equal(valueAt(points, "taquba.jobs.completed", { queue: "c", path: "q" }), 1);
      assert.equal(heard.length, listening ? 9 : 0);
      await queue.close();
    });

  it("a collection made at once after a worker's run sees every count and every wait and duration, and so does one after close", async () => {
    const { queue, reader, clock } = await openMeasured();
    const run = async (jobs: number): Promise<void> => {
      await queue.enqueueBatch(
        "q",
        Array.from({ length: jobs }, (_, i) => `job ${i}`),
      );
      clock.advance(100);
      let handled = 0;
      const controller = new AbortController();
      await runWorker(
        queue,
        "q",
        () => {
          if (++handled === jobs) controller.abort();
        },
        { concurrency: 8, signal: controller.signal },
      );
      await queue.flush();
    };
    const counted = (points: Points): number[] => [
      valueAt(points, "taquba.jobs.enqueued", { queue: "q", path: "q" }) as number,
      valueAt(points, "taquba.jobs.claimed", { queue: "q", path: "q" }) as number,
      valueAt(points, "taquba.jobs.completed", { queue: "q", path: "q" }) as number,
      histogram(points, "taquba.job.wait", { queue: "q", path: "q" }).count,
      histogram(points, "taquba.job.duration", { queue: "q", path: "q", outcome: "completed" })
        .count,
    ];
    await run(40);
    // No turn of the event loop between the last acks becoming durable and the collection.
    assert.deepEqual(counted(await collect(reader)), [40, 40, 40, 40, 40]);
    await run(24);
    await queue.close();
    assert.deepEqual(counted(await collect(reader)), [64, 64, 64, 64, 64]);
  });

  it("a claim's wait and an ack's duration are recorded once the next batch is sent; a collection before that has them, once", async () => {
    const reader = new TestReader();
    const sdk = new MeterProvider({ readers: [reader] });
    const recorded: string[] = [];
    const meterProvider: ApiMeterProvider = {
      getMeter: (name, version, options) => {
        const meter = sdk.getMeter(name, version, options);
        return new Proxy(meter, {
          get(target, key) {
            if (key !== "createHistogram") return Reflect.get(target, key);
            return (histogramName: string, histogramOptions?: MetricOptions) => {
              const inner = target.createHistogram(histogramName, histogramOptions);
              return {
                record(value: number, attributes?: Attributes) {
                  recorded.push(histogramName);
                  inner.record(value, attributes);
                },
              };
            };
          },
        });
      },
    };
    const store = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue({ telemetry: { meterProvider, traces: false } }, store);
    await queue.enqueue("work", "a");
    const claim = await mustClaim(queue, "work");
    assert.deepEqual(recorded, [], "the claim is durable, but nothing was sent since");
    await queue.ack(claim); // sends the ack: the claim's wait is recorded with it
    assert.deepEqual(recorded, ["taquba.job.wait"]);
    const paused = store.pause({ op: "put" });
    const held = queue.enqueue("work", "b");
    await paused.whenHeld();
    assert.deepEqual(recorded, ["taquba.job.wait", "taquba.job.duration"], "while the put is held");
    paused.release();
    await held;

    // A collection takes what waits for a send, and a later send records nothing twice.
    await queue.ack(await mustClaim(queue, "work"));
    assert.equal(recorded.length, 3);
    const points = await collect(reader);
    assert.equal(recorded.length, 4);
    assert.equal(histogram(points, "taquba.job.wait", { queue: "work", path: "q" }).count, 2);
    const completed = { queue: "work", path: "q", outcome: "completed" };
    assert.equal(histogram(points, "taquba.job.duration", completed).count, 2);
    await queue.enqueue("work", "c");
    assert.equal(recorded.length, 4);
    assert.equal(histogram(await collect(reader), "taquba.job.duration", completed).count, 2);
    await queue.close();
  });

  it("steps not yet collected reach the counters when the queue closes", async () => {
    const { queue, reader } = await openMeasured();
    await queue.enqueueBatch("q", ["a", "b", "c"]);
    await queue.enqueue("r", "d");
    await queue.ack(await mustClaim(queue, "q"));
    await queue.close();
    // The collection callback is gone with the queue; the counts it owed are in the counters.
    const points = await collect(reader);
    assert.equal(valueAt(points, "taquba.jobs.enqueued", { queue: "q", path: "q" }), 3);
    assert.equal(valueAt(points, "taquba.jobs.enqueued", { queue: "r", path: "q" }), 1);
    assert.equal(valueAt(points, "taquba.jobs.claimed", { queue: "q", path: "q" }), 1);
    assert.equal(valueAt(points, "taquba.jobs.completed", { queue: "q", path: "q" }), 1);
    assert.equal(points.get("taquba.queue.depth"), undefined);
  });

  it("enqueues that the closing flush makes durable are counted", async () => {
    const { queue, reader } = await openMeasured();
    await queue.enqueue("q", "a");
    // Not awaited: these become durable (and are acknowledged) during close.
    const late = [
      queue.enqueue("q", "b"),
      queue.enqueueMany("q", [{ payload: "c" }, { payload: "d", options: { jobId: "d" } }]),
    ];
    await queue.close();
    await Promise.all(late);
    const points = await collect(reader);
    assert.equal(valueAt(points, "taquba.jobs.enqueued", { queue: "q", path: "q" }), 4);
  });

  it("a schedule's fires count as enqueues of its queue", async () => {
    const { queue, clock, reader } = await openMeasured();
    await queue.schedule("tick", { everyMs: 60_000, queue: "ticks", payload: "" });
    await queue.enqueue("ticks", "by hand");
    for (let fire = 0; fire < 3; fire++) {
      clock.advance(60_000);
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      await queue.flush();
    }
    assert.equal((await queue.stats("ticks")).pending, 4);
    const points = await collect(reader);
    assert.equal(valueAt(points, "taquba.jobs.enqueued", { queue: "ticks", path: "q" }), 4);
    await queue.close();
  });

  it("the oldest pending job is found across priorities", async () => {
    const { queue, clock, reader } = await openMeasured();
    const t0 = clock.now();
    await queue.enqueue("p", "old, low priority", { priority: 5_000 });
    clock.advance(3_000);
    await queue.enqueue("p", "new, high priority", { priority: 10 });
    await queue.enqueue("p", "new, normal priority");
    clock.advance(1_000);
    const points = await collect(reader);
    assert.equal(
      valueAt(points, "taquba.queue.oldest_pending_age", { queue: "p", path: "q" }),
      (clock.now() - t0) / 1_000,
    );
    await queue.close();
  });

  it("the oldest pending age of a queue that drained is 0, not the age it last had", async () => {
    const { queue, clock, reader } = await openMeasured();
    await queue.enqueue("p", "waits");
    clock.advance(5_000);
    let points = await collect(reader);
    assert.equal(valueAt(points, "taquba.queue.oldest_pending_age", { queue: "p", path: "q" }), 5);
    await queue.ack(await mustClaim(queue, "p"));
    clock.advance(60_000);
    points = await collect(reader);
    assert.equal(valueAt(points, "taquba.queue.oldest_pending_age", { queue: "p", path: "q" }), 0);
    await queue.enqueue("p", "new");
    clock.advance(2_000);
    points = await collect(reader);
    assert.equal(valueAt(points, "taquba.queue.oldest_pending_age", { queue: "p", path: "q" }), 2);
    await queue.close();
  });

  it("close removes the collection callback it added", async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const calls: [string, unknown][] = [];
    const meterProvider = {
      getMeter(name: string) {
        const meter = provider.getMeter(name);
        return new Proxy(meter, {
          get(target, property, receiver) {
            const value = Reflect.get(target, property, receiver);
            if (
              property !== "addBatchObservableCallback" &&
              property !== "removeBatchObservableCallback"
            )
              return value;
            return (callback: unknown, observables: unknown) => {
              calls.push([property, callback]);
              return (value as (c: unknown, o: unknown) => void).call(
                target,
                callback,
                observables,
              );
            };
          },
        });
      },
    };
    const { queue } = await openTestQueue({ telemetry: { meterProvider, traces: false } });
    await queue.enqueue("q", "x");
    assert.ok((await collect(reader)).has("taquba.queue.depth"));
    assert.deepEqual(
      calls.map(([name]) => name),
      ["addBatchObservableCallback"],
    );
    await queue.close();
    assert.deepEqual(
      calls.map(([name]) => name),
      ["addBatchObservableCallback", "removeBatchObservableCallback"],
    );
    assert.equal(calls[1]![1], calls[0]![1]);
  });

  it("metrics: false asks the meter provider for nothing", async () => {
    const meterProvider = {
      getMeter(): object {
        throw new Error("must not be called");
      },
    };
    const { queue } = await openTestQueue({ telemetry: { meterProvider, metrics: false } });
    await queue.enqueue("q", "x");
    await queue.close();
  });

  it("rejects bad telemetry options, naming them, before touching the store", async () => {
    const cases: [unknown, RegExp][] = [
      [{ metrics: "yes" }, /Expected `options.telemetry.metrics` to be a boolean, got "yes"/],
      [
        { requireParentSpan: 1 },
        /Expected `options.telemetry.requireParentSpan` to be a boolean, got 1/,
      ],
      [
        { meterProvider: {} },
        /`options.telemetry.meterProvider` to be an object with a getMeter\(\) method/,
      ],
      [
        { requestPrices: { put: -1 } },
        /`options.telemetry.requestPrices.put` to be a finite price ≥ 0, got -1/,
      ],
      ["on", /Expected `options.telemetry` to be an options object, got "on"/],
    ];
    for (const [telemetry, message] of cases) {
      const error = await openTestQueue({ telemetry: telemetry as never }).then(
        () => assert.fail("opened"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof InvalidArgumentError, String(error));
      assert.match(error.message, message);
    }
  });
});

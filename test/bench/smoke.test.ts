/**
 * Smoke run of the benchmark harness with tiny sizes, so the bench cannot rot
 * unnoticed: every taquba workload runs through the same entry point as
 * `npm run bench` and its results must have the expected shape and sane values.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { context, type Span, SpanKind, trace } from "@opentelemetry/api";
import { Args, parseCount } from "../../bench/lib/args.js";
import { endToEndParams, warmUp } from "../../bench/lib/e2e.js";
import { LatencyRecorder } from "../../bench/lib/latency.js";
import { markdownReport } from "../../bench/lib/markdown.js";
import { requestContexts } from "../../bench/lib/request-contexts.js";
import { type BenchResult, parseResults, RESULT_PREFIX } from "../../bench/lib/result.js";
import { ArrivalSchedule, parseSchedule } from "../../bench/lib/schedule.js";
import { parseStoreKind } from "../../bench/lib/stores.js";
import {
  assertTelemetry,
  type ExpectedTelemetry,
  telemetryMismatches,
} from "../../bench/lib/telemetry-check.js";
import { findWorkload } from "../../bench/workloads/index.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { radosgwAvailability } from "../servers/radosgw.js";

async function run(workload: string, store: string, argv: string[]): Promise<BenchResult[]> {
  const w = findWorkload(workload);
  assert.ok(w, `workload ${workload} is registered`);
  const results = await w.runWithArgs(parseStoreKind(store), new Args(argv));
  assert.ok(results.length > 0, `${workload} returned results`);
  for (const r of results) assertSane(r, workload, store);
  return results;
}

function assertSane(r: BenchResult, workload: string, store: string): void {
  assert.equal(r.workload, workload);
  assert.equal(r.target, store);
  assert.ok(r.jobs > 0, "jobs > 0");
  assert.ok(r.seconds > 0 && Number.isFinite(r.seconds), "seconds > 0");
  assert.ok(r.jobsPerSec > 0 && Number.isFinite(r.jobsPerSec), "jobsPerSec > 0");
  const l = r.latency;
  assert.ok(l.count > 0, `${r.latencyKind} has samples`);
  assert.ok(
    0 <= l.p50 && l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max,
    "ordered percentiles",
  );
  assert.ok(r.peakRssMb > 10 && r.peakRssMb < 4096, `peak RSS ${r.peakRssMb} MiB`);
  assert.ok(r.traffic, "store traffic is counted");
  for (const [name, value] of Object.entries(r.metrics))
    assert.ok(Number.isFinite(value), `metric ${name} is a finite number`);
  // Results must survive the trip through a child's stdout.
  const [back] = parseResults(`noise\n${RESULT_PREFIX}${JSON.stringify(r)}\n`);
  assert.deepEqual(back, r);
}

const radosgwUnavailable = await radosgwAvailability();

describe("bench harness smoke run", { timeout: 180_000 }, () => {
  it("claim_drain drains every job and reports claim latency per slice", async () => {
    const [r] = await run("claim_drain", "memory", ["--jobs=400", "--workers=4", "--slices=4"]);
    assert.equal(r?.jobs, 400);
    assert.equal(r?.windows?.length, 4);
    assert.ok((r?.traffic?.walPutsPerJob ?? 0) > 0, "acks were written to the WAL");
  });

  it("transactions settles every job, with one transaction or as separate calls", async () => {
    for (const separate of ["0", "1"]) {
      const [r] = await run("transactions", "memory", [
        "--jobs=300",
        "--workers=4",
        `--separate=${separate}`,
      ]);
      assert.equal(r?.jobs, 300);
      assert.ok((r?.traffic?.walPutsPerJob ?? 0) > 0, "transactions were written to the WAL");
    }
  });

  it("claim_batch drains every job in batches of at most --batch", async () => {
    const [r] = await run("claim_batch", "memory", ["--jobs=450", "--workers=2", "--batch=100"]);
    assert.equal(r?.jobs, 450);
    assert.ok((r?.metrics.batches ?? 0) >= 5, "450 jobs need at least 5 batches of 100");
    assert.ok((r?.metrics.meanBatchSize ?? 0) > 1, "claims were batched");
  });

  it("op_slices times each operator call's synchronous step", async () => {
    const w = findWorkload("op_slices");
    assert.ok(w);
    const [r] = await w.runWithArgs(
      parseStoreKind("memory"),
      new Args(["--live=3000", "--repeats=2"]),
    );
    assert.equal(r?.workload, "op_slices");
    for (const name of ["listJobsPage", "removeScanSlice", "removeSlice", "requeueSlice"])
      assert.ok((r?.metrics[`${name}MedianMs`] ?? -1) >= 0, name);
  });

  it("cancelled_slices encodes, decodes and sweeps every tombstone", async () => {
    const w = findWorkload("cancelled_slices");
    assert.ok(w);
    const [r] = await w.runWithArgs(parseStoreKind("memory"), new Args(["--tombstones=3000"]));
    assert.equal(r?.jobs, 3_000);
    for (const name of ["cutMs", "encodeMaxCpuMs", "decodeMaxCpuMs", "sweepMaxCpuMs"])
      assert.ok((r?.metrics[name] ?? -1) >= 0, name);
  });

  it("rate_limit holds the limit: no window over max, most of the limit achieved", async () => {
    const [r] = await run("rate_limit", "memory", [
      "--max=50",
      "--per-ms=200",
      "--seconds=1",
      "--workers=2",
      "--concurrency=4",
    ]);
    assert.ok((r?.metrics.busiestWindowClaims ?? 99) <= 50, "no window over the limit");
    assert.ok((r?.metrics.achievedShare ?? 0) > 0.5, `achieved ${r?.metrics.achievedShare}`);
  });

  it("fair_groups serves the quiet tenant within a turn when grouped", async () => {
    const [grouped] = await run("fair_groups", "memory", [
      "--noisy=3000",
      "--quiet=5",
      "--quiet-every-ms=2",
      "--concurrency=4",
      "--max-wait-seconds=5",
      "--modes=grouped",
    ]);
    assert.equal(grouped?.metrics.quietClaimed, 5);
    assert.ok(
      (grouped?.metrics.claimsAheadOfQuietMax ?? 99) <= 5,
      "at most the in-flight claims and one turn ahead",
    );
  });

  it("steady_state completes what it offered at a low rate", async () => {
    const [r] = await run("steady_state", "memory", ["--rate=200", "--seconds=1", "--workers=4"]);
    assert.equal(r?.jobs, 200);
    assert.equal(r?.metrics.undrained, 0);
    assert.ok((r?.metrics.achievedPerSec ?? 0) > 100, "achieved most of the offered rate");
  });

  it("steady_state on the S3-like store pays its request latency end to end", async () => {
    const [r] = await run("steady_state", "s3like", ["--schedule=1:50", "--workers=8"]);
    assert.equal(r?.jobs, 50);
    // Every enqueue and ack waits for at least one 20 ms PUT.
    assert.ok((r?.latency.p50 ?? 0) >= 40, `e2e p50 ${r?.latency.p50} ms >= 2 PUTs`);
    assert.equal(r?.params.schedule, "1:50");
  });

  it("steady_state and end_to_end run on radosgw, the S3-like store's real twin", {
    skip: radosgwUnavailable ?? false,
  }, async () => {
    const [steady] = await run("steady_state", "radosgw", ["--schedule=1:50", "--workers=8"]);
    assert.equal(steady?.jobs, 50);
    assert.ok((steady?.traffic?.puts ?? 0) > 0, "requests reached the server");
    const [e2e] = await run("end_to_end", "radosgw", ["--jobs=200", "--concurrency=8"]);
    assert.equal(e2e?.jobs, 200);
  });

  it("ceiling measures a sustained rate with producers and runWorker", async () => {
    const [r] = await run("ceiling", "memory", [
      "--seconds=1",
      "--warmup=0.25",
      "--producers=4",
      "--workers=8",
    ]);
    assert.ok((r?.metrics.enqueuedPerSec ?? 0) > 0);
  });

  it("cold_start reopens every live job after SIGKILL of the builder", async () => {
    const [r] = await run("cold_start", "file", [
      "--live=500",
      "--history=100",
      "--mode=sigkill",
      "--warm-claims=10",
    ]);
    assert.equal(r?.metrics.livePendingAfterOpen, 500);
    assert.ok((r?.metrics.openMs ?? 0) > 0);
    assert.ok((r?.traffic?.gets ?? 0) > 0, "reopen read objects");
  });

  it("cold_start reopens a cleanly closed store copied into memory", async () => {
    const [r] = await run("cold_start", "memory", [
      "--live=300",
      "--history=50",
      "--warm-claims=5",
    ]);
    assert.equal(r?.metrics.livePendingAfterOpen, 300);
  });

  it("payload_sweep writes at least every payload byte once", async () => {
    const results = await run("payload_sweep", "memory", [
      "--sizes=64,4096",
      "--bytes-per-size=1k",
      "--min-jobs=50",
      "--max-jobs=100",
      "--producers=4",
      "--workers=4",
    ]);
    assert.deepEqual(
      results.map((r) => r.params.payloadBytes),
      [64, 4096],
    );
    for (const r of results) {
      assert.equal(r.jobs, 50);
      assert.ok((r.metrics.writeAmplification ?? 0) >= 1, "write amplification >= 1");
      assert.ok((r.traffic?.bytesWrittenPerJob ?? 0) >= Number(r.params.payloadBytes));
    }
  });

  it("end_to_end enqueues and processes exactly N jobs", async () => {
    const results = await run("end_to_end", "memory", [
      "--jobs=500",
      "--concurrency=8",
      "--batch=100",
    ]);
    assert.equal(results[0]?.jobs, 500);
    assert.equal(results[0]?.latency.count, 5, "one sample per enqueueBatch call");
    const report = markdownReport(results);
    assert.match(report, /### end_to_end/);
    assert.match(report, /\| memory \| 500 \| 8 \|/);
  });

  it("end_to_end traces a sampled request's jobs through to their handlers and counts every job", async () => {
    const [r] = await run("end_to_end", "memory", [
      "--jobs=400",
      "--producers=8",
      "--concurrency=8",
      "--telemetry=both",
      "--trace-sample=0.1",
      "--require-parent",
      "--requests=0.1",
      "--request-spans",
    ]);
    assert.equal(r?.jobs, 400);
    // One request in 10 is sampled: its enqueue and its handler run are recorded, linked.
    assert.equal(r?.metrics.enqueueSpans, 40);
    assert.equal(r?.metrics.handlerSpans, 40);
    assert.equal(r?.metrics.linkedHandlerSpans, 40);
    // enqueued, claimed, completed, wait and duration: one point each for the one queue.
    assert.equal(r?.metrics.metricPoints, 5);
    assert.ok((r?.metrics.processCpuMicrosPerJob ?? 0) > 0);
    const [off] = await run("end_to_end", "memory", ["--jobs=100", "--producers=4"]);
    assert.equal(off?.metrics.enqueueSpans, 0);
    assert.equal(off?.metrics.metricPoints, 0);
  });

  it("end_to_end with --warmup checks and reports the measured queue's telemetry alone", async () => {
    const [r] = await run("end_to_end", "memory", [
      "--jobs=400",
      "--warmup=200",
      "--producers=8",
      "--concurrency=8",
      "--telemetry=both",
      "--trace-sample=0.1",
      "--require-parent",
      "--requests=0.1",
    ]);
    assert.equal(r?.params.warmup, 200);
    assert.equal(r?.jobs, 400);
    assert.equal(r?.latency.count, 400, "warm-up enqueues are not sampled");
    // The warm-up's 200 jobs ran with the same telemetry, in their own queue: left out.
    assert.equal(r?.metrics.enqueueSpans, 40);
    assert.equal(r?.metrics.handlerSpans, 40);
    assert.equal(r?.metrics.linkedHandlerSpans, 40);
    assert.equal(r?.metrics.metricPoints, 5);
  });

  it("end_to_end leaves handler spans to the ratio with --handler-sampling=ratio", async () => {
    const [r] = await run("end_to_end", "memory", [
      "--jobs=300",
      "--producers=4",
      "--telemetry=traces",
      "--handler-sampling=ratio",
    ]);
    assert.equal(r?.metrics.enqueueSpans, 300, "every enqueue traced at ratio 1");
    assert.equal(r?.metrics.handlerSpans, 300);
    assert.equal(r?.metrics.metricPoints, 0, "metrics off");
  });

  it("single_enqueue runs each request in a server span with --request-spans", async () => {
    const [r] = await run("single_enqueue", "memory", [
      "--jobs=400",
      "--warmup=100",
      "--requests=0.5",
      "--request-spans",
      "--telemetry=traces",
      "--require-parent",
    ]);
    assert.equal(r?.jobs, 400);
    assert.equal(r?.params.requestSpans, true);
    await assert.rejects(
      run("single_enqueue", "memory", ["--jobs=10", "--warmup=0", "--request-spans"]),
      /Expected `--request-spans` with `--requests` above 0/,
    );
  });
});

describe("bench helpers", { timeout: 180_000 }, () => {
  it("serves a request inside a server span: recorded for the sampled share, ended after", async () => {
    const requests = requestContexts(0.5, true);
    assert.ok(requests);
    try {
      const seen: { span: Span | undefined; parent: Span | undefined }[] = [];
      for (const request of [0, 1]) {
        const result: number = await requests.serve<number>(request, async () => {
          seen.push({
            span: trace.getSpan(context.active()),
            parent: trace.getSpan(requests.of(request)),
          });
          return request;
        });
        assert.equal(result, request, "serve resolves with the handler's value");
      }
      const [sampled, unsampled] = seen;
      assert.ok(sampled?.span && sampled.span !== sampled.parent, "a span of its own");
      assert.equal(sampled.span.spanContext().traceId, sampled.parent?.spanContext().traceId);
      assert.equal((sampled.span as unknown as { kind: SpanKind }).kind, SpanKind.SERVER);
      assert.equal(sampled.span.isRecording(), false, "ended once the handler settled");
      assert.ok(unsampled?.span && unsampled.span !== unsampled.parent);
      assert.equal(unsampled.span.spanContext().traceFlags & 1, 0, "not sampled");
    } finally {
      await requests.shutdown();
    }
  });

  it("finds telemetry that did not report what its set-up implies", () => {
    const expected: ExpectedTelemetry = {
      jobs: 100,
      metrics: true,
      traces: true,
      enqueueSpans: { exact: 10, jobs: 10 },
      handlerSpans: "linked",
    };
    const totals = new Map([
      ["taquba.jobs.enqueued", 100],
      ["taquba.jobs.claimed", 100],
      ["taquba.jobs.completed", 100],
      ["taquba.job.wait", 100],
      ["taquba.job.duration", 100],
    ]);
    const spans = {
      producer: 10,
      producerJobs: 10,
      consumer: 10,
      linkedToExported: 10,
      linkedElsewhere: 0,
      other: 0,
    };
    assert.deepEqual(telemetryMismatches({ spans, metrics: { points: 5, totals } }, expected), []);
    const short = {
      spans: { ...spans, consumer: 9, linkedToExported: 9 },
      metrics: { points: 5, totals },
    };
    assert.deepEqual(telemetryMismatches(short, expected), [
      "9 handler spans, expected one per traced job (10)",
    ]);
    assert.throws(() => assertTelemetry(short, expected), /did not report what the set-up implies/);
    const uncounted = new Map(totals).set("taquba.jobs.completed", 99);
    assert.deepEqual(
      telemetryMismatches({ spans, metrics: { points: 5, totals: uncounted } }, expected),
      ["taquba.jobs.completed: 99, expected 100"],
    );
    assert.deepEqual(
      telemetryMismatches(
        { spans, metrics: { points: 5, totals } },
        { ...expected, metrics: false, traces: false },
      ),
      ["5 metric points with metrics off", "20 spans with traces off"],
    );
  });

  it("parses --warmup for the end-to-end workload (default none)", () => {
    assert.equal(endToEndParams(new Args([])).warmup, 0);
    assert.equal(endToEndParams(new Args(["--warmup=5k"])).warmup, 5_000);
    assert.throws(() => endToEndParams(new Args(["--warmup=some"])), InvalidArgumentError);
  });

  it("warms up like the measured run: the same enqueue calls, then processing, then cleanup", async () => {
    const params = endToEndParams(new Args(["--jobs=10", "--batch=40", "--warmup=100"]));
    const calls: string[] = [];
    await warmUp(params, () => ({
      one: async () => calls.push("one"),
      many: async (n) => calls.push(`many ${n}`),
      process: async (jobs) => calls.push(`process ${jobs}`),
      cleanup: async () => calls.push("cleanup"),
    }));
    assert.deepEqual(calls, ["many 40", "many 40", "many 20", "process 100", "cleanup"]);
    calls.length = 0;
    await warmUp({ ...params, producers: 3, warmup: 5 }, () => ({
      one: async () => calls.push("one"),
      many: async (n) => calls.push(`many ${n}`),
      process: async (jobs) => calls.push(`process ${jobs}`),
    }));
    assert.deepEqual(calls, ["one", "one", "one", "one", "one", "process 5"]);
    let opened = false;
    await warmUp({ ...params, warmup: 0 }, () => {
      opened = true;
      return { one: async () => {}, many: async () => {}, process: async () => {} };
    });
    assert.equal(opened, false, "no warm-up queue is set up without a warm-up");
  });

  it("parses counts with suffixes and rejects junk", () => {
    assert.equal(parseCount("100k"), 100_000);
    assert.equal(parseCount("1m"), 1_000_000);
    assert.equal(parseCount("1_000"), 1_000);
    assert.equal(parseCount("-3"), undefined);
    assert.throws(() => new Args(["--jobs=ten"]).number("jobs", 1), InvalidArgumentError);
  });

  it("schedules arrivals open-loop across segments", () => {
    const schedule = new ArrivalSchedule(parseSchedule("2:10,1:100"));
    assert.equal(schedule.totalJobs, 120);
    assert.equal(schedule.dueAt(0), 0);
    assert.equal(schedule.dueAt(19), 1_900);
    assert.equal(schedule.dueAt(20), 2_000);
    assert.equal(schedule.dueBy(1_000), 10);
    assert.equal(schedule.dueBy(60_000), 120);
    assert.throws(() => parseSchedule("5"), InvalidArgumentError);
  });

  it("computes nearest-rank percentiles", () => {
    const recorder = new LatencyRecorder();
    for (let i = 1; i <= 2_000; i++) recorder.record(i);
    const s = recorder.summary();
    assert.equal(s.p50, 1_000);
    assert.equal(s.p99, 1_980);
    assert.equal(s.max, 2_000);
    assert.deepEqual(
      recorder.slices(2).map((x) => x.max),
      [1_000, 2_000],
    );
  });
});

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  context,
  createTraceState,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  AlwaysOffSampler,
  type InMemorySpanExporter,
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
} from "@opentelemetry/sdk-trace-base";
import { silentLogger } from "../../src/logger.js";
import { tracingOf } from "../../src/queue/instrument.js";
import { MAX_HEADERS, MAX_HEADERS_BYTES } from "../../src/queue/limits.js";
import type { OpenOptions } from "../../src/queue/options.js";
import type { Queue } from "../../src/queue/queue.js";
import {
  formatTraceParent,
  isSampledTraceParent,
  parseTraceParent,
} from "../../src/queue/telemetry/traceparent.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { PermanentFailure } from "../../src/worker/permanent-failure.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { mustClaim, openTestQueue } from "../queue/helpers.js";
import { until } from "../until.js";
import { tracing } from "./helpers.js";

// Context follows async calls (as an application's SDK set-up would arrange).
const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
after(() => {
  context.disable();
});

/** Records every span, with a vendor state of its own (`ours=1`). */
const STATING: Sampler = {
  shouldSample: () => ({
    decision: SamplingDecision.RECORD_AND_SAMPLED,
    traceState: createTraceState("ours=1"),
  }),
  toString: () => "stating",
};

/**
 * Stops a worker whose handlers never settle, once however often it is called: aborts it and moves
 * `clock` past its shutdown deadline (100 ms), so a failed assertion cannot leave the file hanging.
 */
function shutDownOnce(
  stop: AbortController,
  clock: { advance(ms: number): void },
  worker: Promise<unknown>,
): () => Promise<void> {
  let stopped = false;
  return async () => {
    if (stopped) return;
    stopped = true;
    stop.abort();
    clock.advance(100);
    await worker;
  };
}

function named(spans: ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((s) => s.name === name);
}

/** An upstream system's sampled span context, its ids made of one hex digit each (`traceparent` material). */
function sampled(traceDigit: string, spanDigit: string) {
  return { traceId: traceDigit.repeat(32), spanId: spanDigit.repeat(16), traceFlags: 1 };
}

/** The finished spans called `name`, by the job id they carry. */
function byJob(exporter: InMemorySpanExporter, name: string): Map<unknown, ReadableSpan> {
  return new Map(
    named(exporter.getFinishedSpans(), name).map((s) => [s.attributes["messaging.message.id"], s]),
  );
}

/** A span's links as [traceId, spanId] pairs. */
function linksOf(span: ReadableSpan | undefined): string[][] {
  assert.ok(span !== undefined, "no such span");
  return span.links.map((l) => [l.context.traceId, l.context.spanId]);
}

/** Runs a worker on `name` until `count` jobs were handled. */
async function work(
  queue: Queue,
  name: string,
  count: number,
  handler: (payload: string) => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  let handled = 0;
  await runWorker(
    queue,
    name,
    async (job) => {
      try {
        await handler(Buffer.from(job.payload).toString());
      } finally {
        if (++handled === count) stop.abort();
      }
    },
    { signal: stop.signal, pollIntervalMs: 10, concurrency: 2 },
  );
}

describe("traces", { timeout: 60_000 }, () => {
  it("a traced run's returned bytes are its result as they were at the return, though their buffer is reused", async () => {
    const { exporter, tracerProvider } = tracing();
    const { queue } = await openTestQueue({
      telemetry: { tracerProvider, metrics: false },
      defaultQueueConfig: { keepDoneJobsMs: 60_000 },
    });
    const ids = await queue.enqueueBatch("work", ["first", "second"]);
    const scratch = new Uint8Array(16);
    const stop = new AbortController();
    let handled = 0;
    await runWorker(
      queue,
      "work",
      (job) => {
        if (++handled === 2) stop.abort();
        scratch.fill(0).set(job.payload);
        return scratch.subarray(0, job.payload.byteLength);
      },
      { signal: stop.signal, concurrency: 2, logger: silentLogger },
    );
    assert.equal(byJob(exporter, "process work").size, 2, "both runs were traced");
    const results = await Promise.all(ids.map(async (id) => (await queue.getJob(id))?.result));
    assert.deepEqual(
      results.map((r) => Buffer.from(r!).toString()),
      ["first", "second"],
    );
    await queue.close();
  });

  it("a traced run's bytes returned through a promise are its result as they were when it resolved, though their buffer is reused", async () => {
    const { exporter, tracerProvider } = tracing();
    const { queue } = await openTestQueue({
      telemetry: { tracerProvider, metrics: false },
      defaultQueueConfig: { keepDoneJobsMs: 60_000 },
    });
    const ids = await queue.enqueueBatch("work", ["first", "second"]);
    const scratch = new Uint8Array(16);
    const stop = new AbortController();
    let handled = 0;
    await runWorker(
      queue,
      "work",
      async (job) => {
        if (++handled === 2) stop.abort();
        scratch.fill(0).set(job.payload);
        setImmediate(() => scratch.fill(0x21)); // written again once the handler returned
        return scratch.subarray(0, job.payload.byteLength);
      },
      // One slot, the next job held ready: it starts (and writes) as soon as the first ends.
      { signal: stop.signal, prefetch: 1, logger: silentLogger },
    );
    assert.equal(byJob(exporter, "process work").size, 2, "both runs were traced");
    const results = await Promise.all(ids.map(async (id) => (await queue.getJob(id))?.result));
    assert.deepEqual(
      results.map((r) => Buffer.from(r!).toString()),
      ["first", "second"],
    );
    await queue.close();
  });

  it("each enqueue of a transaction gets its producer span, its context in the job's headers", async () => {
    const { exporter, tracerProvider, tracer } = tracing();
    const { queue } = await openTestQueue({ telemetry: { tracerProvider, metrics: false } });
    const result = await tracer.startActiveSpan("POST /order", async (span) => {
      const committed = await queue.transaction((tx) => {
        tx.enqueue("ship", "a", { jobId: "ship-a", headers: { tenant: "acme" } });
        tx.kvPut("order", "placed");
        tx.enqueue("ship", "a again", { jobId: "ship-a" });
      });
      span.end();
      return committed;
    });
    assert.deepEqual(
      result.enqueued.map((r) => r.created),
      [true, false],
    );
    const spans = named(exporter.getFinishedSpans(), "enqueue ship");
    assert.equal(spans.length, 2);
    const job = await queue.getJob("ship-a");
    assert.equal(job?.headers.traceparent, formatTraceParent(spans[0]!.spanContext()));
    assert.equal(job?.headers.tenant, "acme");
    assert.equal(spans[0]!.attributes["messaging.message.id"], "ship-a");
    assert.equal(spans[1]!.attributes["taquba.dedup_hit"], true);
    await queue.close();
  });

  it("a handler's span links to the span of the enqueue that produced the job", async () => {
    const { exporter, tracerProvider, tracer } = tracing();
    const { queue } = await openTestQueue({
      defaultQueueConfig: { maxAttempts: 1 },
      telemetry: { tracerProvider, metrics: false },
    });
    let request: Span | undefined;
    const ids = await tracer.startActiveSpan("POST /signup", async (span) => {
      request = span;
      const ok = await queue.enqueue("mail", "ok", { headers: { tenant: "acme" } });
      const bad = await queue.enqueue("mail", "fail");
      span.end();
      return [ok, bad];
    });
    const headers = await Promise.all(ids.map(async (id) => (await queue.getJob(id))?.headers));
    await work(queue, "mail", 2, async (payload) => {
      await tracer.startActiveSpan("send email", async (span) => {
        span.end();
      });
      if (payload === "fail") throw new PermanentFailure("no such mailbox");
    });
    const spans = exporter.getFinishedSpans();

    const enqueues = named(spans, "enqueue mail");
    assert.equal(enqueues.length, 2);
    for (const [i, span] of enqueues.entries()) {
      assert.equal(span.kind, SpanKind.PRODUCER);
      // The enqueue is a child of the request that made it.
      assert.equal(span.parentSpanContext?.spanId, request!.spanContext().spanId);
      assert.equal(span.spanContext().traceId, request!.spanContext().traceId);
      assert.equal(span.attributes["messaging.message.id"], ids[i]);
      assert.equal(span.attributes["messaging.destination.name"], "mail");
      // Its context travels in the job's headers, next to the caller's own.
      assert.equal(headers[i]?.traceparent, formatTraceParent(span.spanContext()));
      if (i === 0) assert.equal(headers[i]?.tenant, "acme");
    }

    const runs = named(spans, "process mail");
    assert.equal(runs.length, 2);
    for (const run of runs) {
      const id = run.attributes["messaging.message.id"];
      const producer = enqueues[ids.indexOf(String(id))]!;
      assert.equal(run.kind, SpanKind.CONSUMER);
      assert.equal(run.links.length, 1);
      assert.equal(run.links[0]!.context.traceId, producer.spanContext().traceId);
      assert.equal(run.links[0]!.context.spanId, producer.spanContext().spanId);
      assert.equal(run.attributes["taquba.job.attempt"], 1);
      // The handler's own spans nest under its run.
      const children = spans.filter(
        (s) => s.parentSpanContext?.spanId === run.spanContext().spanId,
      );
      assert.deepEqual(
        children.map((s) => s.name),
        ["send email"],
      );
      assert.ok(run.endTime[0] > 0 || run.endTime[1] > 0);
    }
    const failed = runs.find((r) => r.attributes["messaging.message.id"] === ids[1])!;
    assert.equal(failed.status.code, SpanStatusCode.ERROR);
    assert.equal(failed.status.message, "no such mailbox");
    assert.equal(failed.events[0]?.name, "exception");
    const succeeded = runs.find((r) => r.attributes["messaging.message.id"] === ids[0])!;
    assert.equal(succeeded.status.code, SpanStatusCode.UNSET);
    await queue.close();
  });

  it("a handler that returns after its deadline or after losing its claim fails its span, as one honouring ctx.signal would", async () => {
    const { exporter, tracerProvider } = tracing();
    const { queue, clock } = await openTestQueue({
      defaultQueueConfig: { maxAttempts: 1 },
      telemetry: { tracerProvider, metrics: false },
    });
    // Each handler ignores ctx.signal: it returns when the test lets it.
    for (const [name, enqueueOptions, workerOptions, failAttempt] of [
      ["late", { timeoutMs: 50 }, {}, () => clock.advance(50)],
      [
        "lost",
        {},
        { leaseMs: 40, autoRenew: false },
        async () => {
          clock.advance(40);
          await queue.reapNow();
        },
      ],
    ] as const) {
      const id = await queue.enqueue(name, "x", enqueueOptions);
      const stop = new AbortController();
      let started!: () => void;
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const worker = runWorker(
        queue,
        name,
        async () => {
          started();
          await finished;
          stop.abort();
        },
        { ...workerOptions, signal: stop.signal, logger: silentLogger },
      );
      await running;
      await failAttempt();
      const job = await queue.getJob(id);
      assert.equal(job?.status, "dead", name);
      finish();
      await worker;
      const run = byJob(exporter, `process ${name}`).get(id);
      assert.ok(run !== undefined, `${name}: the handler's span ended`);
      assert.equal(run.status.code, SpanStatusCode.ERROR, name);
      assert.equal(
        run.status.message,
        name === "late" ? "timed out after 50 ms" : `lease of job ${id} expired`,
      );
      assert.equal(run.events[0]?.name, "exception", name);
      assert.match(
        job!.lastError ?? "",
        name === "late" ? /timed out after 50 ms/ : /lease expired/,
      );
    }
    // A handler that returns in time still ends its span unset.
    const id = await queue.enqueue("fine", "x", { timeoutMs: 50 });
    await work(queue, "fine", 1, async () => {});
    assert.equal(byJob(exporter, "process fine").get(id)?.status.code, SpanStatusCode.UNSET);
    await queue.close();
  });

  it("a handler that throws a value String() refuses still ends its span, as an error", async () => {
    const { exporter, tracerProvider } = tracing();
    const { queue } = await openTestQueue({
      defaultQueueConfig: { maxAttempts: 1 },
      telemetry: { tracerProvider, metrics: false },
    });
    const id = await queue.enqueue("odd", "x");
    await work(queue, "odd", 1, async () => {
      throw Object.create(null);
    });
    const [run] = named(exporter.getFinishedSpans(), "process odd");
    assert.ok(run, "the handler's span ended");
    assert.equal(run.status.code, SpanStatusCode.ERROR);
    assert.equal(
      run.status.message,
      "[object Object] (thrown value cannot be turned into a string)",
    );
    assert.equal((await queue.getJob(id))?.status, "dead");
    await queue.close();
  });

  it("a handler that never returns ends its span at its deadline, or when the shutdown abandons it, as an error", async () => {
    const { exporter, tracerProvider } = tracing();
    const { queue, clock } = await openTestQueue({
      defaultQueueConfig: { maxAttempts: 1 },
      telemetry: { tracerProvider, metrics: false },
    });
    const late = await queue.enqueue("hung", "late", { timeoutMs: 50 });
    const abandoned = await queue.enqueue("hung", "abandoned");
    const stop = new AbortController();
    let started = 0;
    const worker = runWorker(
      queue,
      "hung",
      () => {
        started++;
        return new Promise(() => {}); // ignores ctx.signal, never settles
      },
      { concurrency: 2, signal: stop.signal, shutdownTimeoutMs: 100, logger: silentLogger },
    );
    // The handlers never settle: a failed assertion must still stop the worker, or the file would
    // hang until the runner's timeout.
    const shutDown = shutDownOnce(stop, clock, worker);
    try {
      await until(() => started === 2);
      clock.advance(50);
      await until(async () => (await queue.getJob(late))?.status === "dead");
      const timedOut = byJob(exporter, "process hung").get(late);
      assert.ok(timedOut, "the timed-out handler's span ended at its deadline");
      assert.equal(timedOut.status.code, SpanStatusCode.ERROR);
      assert.equal(timedOut.status.message, "timed out after 50 ms");
      await shutDown();
      const run = byJob(exporter, "process hung").get(abandoned);
      assert.ok(run, "the abandoned handler's span ended at the shutdown deadline");
      assert.equal(run.status.code, SpanStatusCode.ERROR);
      assert.match(run.status.message ?? "", /the worker shut down/);
      assert.equal(exporter.getFinishedSpans().filter((s) => s.name === "process hung").length, 2);
    } finally {
      await shutDown();
      await queue.close();
    }
  });

  it("a cancel does not end a running handler's span: one that then returns completes its job with an OK span; a reaped claim's span fails at once", async () => {
    const { exporter, tracerProvider } = tracing();
    const { queue, clock } = await openTestQueue({
      defaultQueueConfig: { maxAttempts: 1 },
      telemetry: { tracerProvider, metrics: false },
    });
    const lost = await queue.enqueue("hung", "lost");
    const cancelled = await queue.enqueue("hung", "cancelled");
    const flow = await queue.enqueueFlow({
      queue: "top",
      payload: "p",
      children: [{ queue: "hung", payload: "child", options: { jobId: "child" } }],
    });
    const stop = new AbortController();
    const gates = new Map<string, () => void>();
    const worker = runWorker(
      queue,
      "hung",
      (claim) =>
        // Ignores ctx.signal; returns only when its gate opens.
        new Promise<string>((resolve) => gates.set(claim.id, () => resolve("done"))),
      {
        concurrency: 3,
        leaseMs: 40,
        autoRenew: false,
        signal: stop.signal,
        shutdownTimeoutMs: 100,
        logger: silentLogger,
      },
    );
    const shutDown = shutDownOnce(stop, clock, worker);
    try {
      await until(() => gates.size === 3);
      await queue.cancel(cancelled);
      await queue.cancel(flow.id);
      assert.equal(byJob(exporter, "process hung").size, 0, "a cancel ends no span");
      // The handlers of the cancelled jobs return: both jobs complete, their spans OK.
      gates.get(cancelled)!();
      gates.get("child")!();
      assert.equal((await queue.waitForCompletion(cancelled, { timeoutMs: 5_000 })).status, "done");
      await until(() => byJob(exporter, "process hung").has("child"));
      for (const id of [cancelled, "child"]) {
        const run = byJob(exporter, "process hung").get(id)!;
        assert.equal(run.status.code, SpanStatusCode.UNSET, id);
        const history = await queue.attemptHistory(id);
        assert.equal(history.at(-1)?.outcome, "completed", id);
      }
      // The other claim's lease runs out and is reaped: its span fails then.
      clock.advance(40);
      await queue.reapNow();
      const lostRun = byJob(exporter, "process hung").get(lost);
      assert.ok(lostRun, "the handler's span ended when its claim was lost");
      assert.equal(lostRun.status.code, SpanStatusCode.ERROR);
      assert.equal(lostRun.status.message, `lease of job ${lost} expired`);
      // Its handler returns late: the ack is refused, the span stays as it ended.
      gates.get(lost)!();
      await until(async () => (await queue.attemptHistory(lost)).length > 0);
      assert.equal((await queue.attemptHistory(lost)).at(-1)?.outcome, "lease_expired");
      assert.equal(byJob(exporter, "process hung").get(lost)!.status.code, SpanStatusCode.ERROR);
      await shutDown();
      assert.equal(exporter.getFinishedSpans().filter((s) => s.name === "process hung").length, 3);
    } finally {
      await shutDown();
      await queue.close();
    }
  });

  it("a handler whose return value cannot be stored as its result fails its span, as its attempt fails", async () => {
    const { exporter, tracerProvider } = tracing();
    const { queue } = await openTestQueue({
      defaultQueueConfig: { maxAttempts: 1 },
      telemetry: { tracerProvider, metrics: false },
    });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const values: Record<string, unknown> = { bigint: 1n, cyclic };
    const ids = new Map<string, string>();
    for (const kind of Object.keys(values)) ids.set(kind, await queue.enqueue("results", kind));
    const stop = new AbortController();
    let handled = 0;
    await runWorker(
      queue,
      "results",
      async (job) => {
        if (++handled === ids.size) stop.abort();
        return values[Buffer.from(job.payload).toString()];
      },
      { signal: stop.signal, logger: silentLogger },
    );
    const runs = byJob(exporter, "process results");
    for (const [kind, id] of ids) {
      const job = await queue.getJob(id);
      assert.equal(job?.status, "dead", kind);
      const run = runs.get(id);
      assert.ok(run, `${kind}: the handler's span ended`);
      assert.equal(run.status.code, SpanStatusCode.ERROR, kind);
      assert.equal(run.status.message, job?.lastError, kind);
    }
    await queue.close();
  });

  it("a handler that throws null fails its span with the job's error, not as one that threw undefined", async () => {
    const { exporter, tracerProvider } = tracing();
    const { queue } = await openTestQueue({
      defaultQueueConfig: { maxAttempts: 1 },
      telemetry: { tracerProvider, metrics: false },
    });
    const ids = [await queue.enqueue("nulls", "thrown"), await queue.enqueue("nulls", "rejected")];
    await work(queue, "nulls", 2, async (payload) => {
      if (payload === "thrown") throw null;
      await Promise.reject(null);
    });
    const runs = byJob(exporter, "process nulls");
    for (const id of ids) {
      assert.equal((await queue.getJob(id))?.lastError, "null");
      assert.equal(runs.get(id)?.status.code, SpanStatusCode.ERROR);
      assert.equal(runs.get(id)?.status.message, "null");
    }
    // The worker's run is async, so a throw reaches the span as a rejection; a run that throws
    // before returning its promise takes the other path, and fails its span the same way.
    await queue.enqueue("direct", "x");
    const direct = await mustClaim(queue, "direct");
    let thrown: unknown = "nothing";
    try {
      tracingOf(queue)!.handle(
        direct,
        () => {
          throw null;
        },
        () => undefined,
      );
    } catch (error) {
      thrown = error;
    }
    assert.equal(thrown, null, "the run's own throw reaches the caller");
    const run = byJob(exporter, "process direct").get(direct.id);
    assert.equal(run?.status.code, SpanStatusCode.ERROR);
    assert.equal(run?.status.message, "null");
    await queue.close();
  });

  it("a run given up with null ends its span failed with null, as a null thrown does", async () => {
    const { exporter, tracerProvider } = tracing();
    const { queue } = await openTestQueue({ telemetry: { tracerProvider, metrics: false } });
    await queue.enqueue("given-up", "x");
    const claim = await mustClaim(queue, "given-up");
    let endNow: ((reason: unknown) => void) | undefined;
    const running = tracingOf(queue)!.handle(
      claim,
      () => new Promise(() => {}),
      () => undefined,
      (end) => {
        endNow = end;
      },
    );
    void running;
    endNow!(null);
    const run = byJob(exporter, "process given-up").get(claim.id);
    assert.equal(run?.status.code, SpanStatusCode.ERROR);
    assert.equal(run?.status.message, "null");
    await queue.close();
  });

  it("a handler error whose message getter throws still ends its span and records the same error", async () => {
    // The tracing SDK reads the error's message, which rethrows here; that must neither leave the
    // span unended nor replace the error the job records.
    const throwing = (): Error => {
      const error = new Error("x");
      Object.defineProperty(error, "message", {
        get() {
          throw Object.create(null);
        },
      });
      return error;
    };
    const recorded = async (telemetry: OpenOptions["telemetry"]) => {
      const { queue } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 }, telemetry });
      const id = await queue.enqueue("odd", "x");
      await work(queue, "odd", 1, async () => {
        throw throwing();
      });
      const job = await queue.getJob(id);
      await queue.close();
      return job;
    };
    const untraced = await recorded(false);
    const { exporter, tracerProvider } = tracing();
    const traced = await recorded({ tracerProvider, metrics: false });
    assert.equal(untraced?.status, "dead");
    assert.equal(traced?.status, "dead");
    assert.equal(traced?.lastError, untraced?.lastError);
    const [run] = named(exporter.getFinishedSpans(), "process odd");
    assert.ok(run, "the handler's span ended");
    assert.equal(run.status.code, SpanStatusCode.ERROR);
  });

  it("a batch is one span whose context every job carries; dedup hits and failures are marked", async () => {
    const { exporter, tracerProvider } = tracing();
    const { queue } = await openTestQueue({ telemetry: { tracerProvider, metrics: false } });
    const ids = await queue.enqueueBatch("b", ["x", "y"]);
    const first = await queue.enqueue("b", "z", { dedupKey: "k" });
    assert.equal(await queue.enqueue("b", "z again", { dedupKey: "k" }), first);
    const spans = named(exporter.getFinishedSpans(), "enqueue b");
    assert.equal(spans.length, 3);
    const [batch, , hit] = spans as [ReadableSpan, ReadableSpan, ReadableSpan];
    assert.equal(batch.attributes["messaging.batch.message_count"], 2);
    for (const id of ids)
      assert.equal(
        (await queue.getJob(id))?.headers.traceparent,
        formatTraceParent(batch.spanContext()),
      );
    assert.equal(hit.attributes["taquba.dedup_hit"], true);
    assert.equal(hit.attributes["messaging.message.id"], first);
    await queue.close();
    await assert.rejects(queue.enqueue("b", "late"));
    // A call refused before it starts (closed queue) makes no span.
    assert.equal(named(exporter.getFinishedSpans(), "enqueue b").length, 3);
  });

  it("a flow is one producer span whose context every job of it carries, so each handler's span links to it", async () => {
    const { exporter, tracerProvider, tracer } = tracing();
    const { queue } = await openTestQueue({ telemetry: { tracerProvider, metrics: false } });
    const flow = await tracer.startActiveSpan("POST /order", async (span) => {
      const result = await queue.enqueueFlow({
        queue: "ship",
        payload: "parent",
        children: [{ queue: "charge", payload: "child", options: { headers: { tenant: "acme" } } }],
      });
      span.end();
      return result;
    });
    const [producer, ...others] = named(exporter.getFinishedSpans(), "enqueue ship");
    assert.equal(others.length, 0);
    assert.equal(producer?.kind, SpanKind.PRODUCER);
    assert.equal(producer.attributes["messaging.batch.message_count"], 2);
    const child = await queue.getJob(flow.children[0]!.id);
    for (const job of [await queue.getJob(flow.id), child])
      assert.equal(job?.headers.traceparent, formatTraceParent(producer.spanContext()));
    assert.equal(child?.headers.tenant, "acme");
    await work(queue, "charge", 1, async () => {});
    await work(queue, "ship", 1, async () => {});
    for (const name of ["process charge", "process ship"]) {
      const [run] = named(exporter.getFinishedSpans(), name);
      assert.equal(run?.links[0]?.context.spanId, producer.spanContext().spanId, name);
    }
    await queue.close();
  });

  it("a traced enqueue's span ends once its job is durable; a failed write ends it as an error", async () => {
    const { exporter, tracerProvider } = tracing();
    const faults = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(
      {
        telemetry: { tracerProvider, metrics: false },
        log: { logger: silentLogger, retry: { baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 20 } },
      },
      faults,
    );
    const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const pending = queue.enqueue("t", "x", { headers: { tenant: "acme" } });
    await hold.whenHeld();
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(named(exporter.getFinishedSpans(), "enqueue t"), [], "not durable yet");
    hold.release();
    const id = await pending;
    const [span] = named(exporter.getFinishedSpans(), "enqueue t");
    assert.equal(span?.attributes["messaging.message.id"], id);
    assert.equal(span?.status.code, SpanStatusCode.UNSET);
    const job = await queue.getJob(id);
    assert.deepEqual(job?.headers, {
      tenant: "acme",
      traceparent: formatTraceParent(span!.spanContext()),
    });

    faults.addRule({ op: "put", keyPattern: /\/wal\//, mode: "before" });
    await assert.rejects(queue.enqueue("t", "lost"), { code: "STORAGE" });
    const failed = named(exporter.getFinishedSpans(), "enqueue t")[1];
    assert.equal(failed?.status.code, SpanStatusCode.ERROR);
    assert.equal(failed?.attributes["messaging.message.id"], undefined);
    await queue.close().catch(() => {});
  });

  it("with a ratio of traces sampled, only sampled enqueues carry a context and link their handler's span", async () => {
    // Samples every other new trace (a stand-in for TraceIdRatio: which trace ids it keeps does not matter here).
    let roots = 0;
    const { exporter, tracerProvider } = tracing({
      shouldSample: () => ({
        decision:
          roots++ % 2 === 0 ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD,
      }),
      toString: () => "every other",
    });
    const { queue } = await openTestQueue({ telemetry: { tracerProvider, metrics: false } });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await queue.enqueue("r", `job ${i}`));
    const enqueues = named(exporter.getFinishedSpans(), "enqueue r");
    assert.equal(enqueues.length, 3);
    const sampledIds = enqueues.map((span) => span.attributes["messaging.message.id"]);
    assert.deepEqual(sampledIds, [ids[0], ids[2], ids[4]]);
    for (const [i, id] of ids.entries()) {
      const headers = (await queue.getJob(id))?.headers;
      const span = enqueues.find((s) => s.attributes["messaging.message.id"] === id);
      assert.deepEqual(
        headers,
        span === undefined ? {} : { traceparent: formatTraceParent(span.spanContext()) },
        `job ${i}`,
      );
    }
    await work(queue, "r", 6, async () => {});
    // Handler spans are sampled by the same sampler: check the links of those recorded.
    const runs = named(exporter.getFinishedSpans(), "process r");
    assert.ok(runs.length > 0);
    for (const run of runs) {
      const producer = enqueues.find(
        (s) => s.attributes["messaging.message.id"] === run.attributes["messaging.message.id"],
      );
      assert.deepEqual(
        run.links.map((link) => link.context.spanId),
        producer === undefined ? [] : [producer.spanContext().spanId],
      );
    }
    await queue.close();
  });

  it("a job enqueued without tracing is processed in a span with no link", async () => {
    const { exporter, tracerProvider } = tracing();
    const plain = await openTestQueue();
    await plain.queue.enqueue("q", "x");
    await plain.queue.close();
    const { queue } = await openTestQueue(
      { telemetry: { tracerProvider, metrics: false } },
      plain.store,
    );
    await work(queue, "q", 1, async () => {});
    const [run] = named(exporter.getFinishedSpans(), "process q");
    assert.equal(run?.links.length, 0);
    await queue.close();
  });

  it("a sampled-out enqueue writes no traceparent, and its handler's span has no link", async () => {
    const { exporter, tracerProvider } = tracing(new AlwaysOffSampler());
    const { queue } = await openTestQueue({ telemetry: { tracerProvider, metrics: false } });
    const id = await queue.enqueue("q", "x", { headers: { tenant: "acme" } });
    assert.deepEqual((await queue.getJob(id))?.headers, { tenant: "acme" });
    await work(queue, "q", 1, async () => {});
    assert.deepEqual(exporter.getFinishedSpans(), []);
    await queue.close();
  });

  it("requireParentSpan: an enqueue is traced only inside a recording span", async () => {
    const { exporter, tracerProvider, tracer } = tracing();
    const { queue } = await openTestQueue({
      telemetry: { tracerProvider, metrics: false, requireParentSpan: true },
    });
    const alone = await queue.enqueue("q", "alone");
    const inside = await tracer.startActiveSpan("POST /order", async (span) => {
      const id = await queue.enqueue("q", "inside");
      span.end();
      return id;
    });
    assert.equal((await queue.getJob(alone))?.headers.traceparent, undefined);
    const [enqueue, ...others] = named(exporter.getFinishedSpans(), "enqueue q");
    assert.equal(others.length, 0, "no span for the enqueue outside a span");
    assert.equal(enqueue?.attributes["messaging.message.id"], inside);
    assert.equal(
      (await queue.getJob(inside))?.headers.traceparent,
      formatTraceParent(enqueue!.spanContext()),
    );
    await work(queue, "q", 2, async () => {});
    // Only the traced job's run has a span (its producer's context is sampled), linked to the enqueue's.
    const runs = named(exporter.getFinishedSpans(), "process q");
    assert.deepEqual(
      runs.map((r) => r.attributes["messaging.message.id"]),
      [inside],
    );
    assert.equal(runs[0]!.links.length, 1);
    assert.equal(runs[0]!.links[0]!.context.traceId, enqueue!.spanContext().traceId);
    assert.equal(runs[0]!.links[0]!.context.spanId, enqueue!.spanContext().spanId);
    await queue.close();
  });

  it("requireParentSpan: a handler run starts a span only for a job whose traceparent is sampled", async () => {
    const { exporter, tracerProvider } = tracing();
    // Counts the handler spans started, recorded or not.
    const started: string[] = [];
    const counting = {
      getTracer(name: string, version?: string, options?: object) {
        const tracer = tracerProvider.getTracer(name, version, options);
        return {
          startSpan: (...args: Parameters<typeof tracer.startSpan>) => {
            started.push(args[0]);
            return tracer.startSpan(...args);
          },
          startActiveSpan: tracer.startActiveSpan.bind(tracer),
        };
      },
    };
    const { queue } = await openTestQueue({
      telemetry: { tracerProvider: counting, metrics: false, requireParentSpan: true },
    });
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const sampledParent = { traceId, spanId: "00f067aa0ba902b7", traceFlags: 1 };
    const unsampledParent = { traceId, spanId: "00f067aa0ba902b8", traceFlags: 0 };
    // Contexts from another producer, as headers: enqueues outside a span start no span of their own.
    const sampled = await queue.enqueue("q", "sampled", {
      headers: { traceparent: formatTraceParent(sampledParent) },
    });
    await queue.enqueue("q", "unsampled", {
      headers: { traceparent: formatTraceParent(unsampledParent) },
    });
    // Another version's form with more fields, unsampled: parsed, still no span.
    await queue.enqueue("q", "unsampled, later version", {
      headers: { traceparent: `cc-${traceId}-00f067aa0ba902b9-00-more` },
    });
    await queue.enqueue("q", "without context");
    assert.deepEqual(started, []);
    await work(queue, "q", 4, async () => {});
    assert.deepEqual(started, ["process q"], "one handler span started, for the sampled job");
    const runs = named(exporter.getFinishedSpans(), "process q");
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.attributes["messaging.message.id"], sampled);
    assert.deepEqual(
      runs[0]!.links.map((link) => [link.context.traceId, link.context.spanId]),
      [[traceId, sampledParent.spanId]],
    );
    assert.deepEqual(named(exporter.getFinishedSpans(), "enqueue q"), []);
    await queue.close();
  });

  it("a caller's traceparent is the job's creation context: kept as given, linked from the enqueue and the handler", async () => {
    const { exporter, tracerProvider, tracer } = tracing();
    const { queue } = await openTestQueue({ telemetry: { tracerProvider, metrics: false } });
    const upstream = sampled("a", "b");
    const relayed = { traceparent: formatTraceParent(upstream), tracestate: "up=1" };
    const outside = await queue.enqueue("q", "outside", { headers: relayed });
    let request: Span | undefined;
    const [inside, injected] = await tracer.startActiveSpan("request", async (span) => {
      request = span;
      const ids = [
        await queue.enqueue("q", "inside", { headers: relayed }),
        // The active context itself, injected into the headers: the span's parent, not a link.
        await queue.enqueue("q", "injected", {
          headers: { traceparent: formatTraceParent(span.spanContext()) },
        }),
      ];
      span.end();
      return ids;
    });
    const invalid = await queue.enqueue("q", "invalid", { headers: { traceparent: "garbage" } });

    for (const id of [outside, inside]) {
      const job = await queue.getJob(id!);
      assert.equal(job?.headers.traceparent, relayed.traceparent, "kept as given");
      assert.equal(job?.headers.tracestate, "up=1");
    }
    const enqueues = byJob(exporter, "enqueue q");
    const up = [[upstream.traceId, upstream.spanId]];
    assert.deepEqual(linksOf(enqueues.get(outside)), up);
    assert.equal(enqueues.get(outside)!.parentSpanContext, undefined, "a root: no active span");
    assert.deepEqual(linksOf(enqueues.get(inside)), up);
    assert.equal(
      enqueues.get(inside)!.parentSpanContext?.spanId,
      request!.spanContext().spanId,
      "the active span stays the parent",
    );
    assert.deepEqual(linksOf(enqueues.get(injected)), []);
    assert.deepEqual(linksOf(enqueues.get(invalid)), []);

    await work(queue, "q", 4, async () => {});
    const runs = byJob(exporter, "process q");
    assert.deepEqual(linksOf(runs.get(outside)), up);
    assert.deepEqual(linksOf(runs.get(inside)), up);
    assert.deepEqual(linksOf(runs.get(injected)), [
      [request!.spanContext().traceId, request!.spanContext().spanId],
    ]);
    assert.deepEqual(linksOf(runs.get(invalid)), [], "an invalid traceparent links to nothing");
    await queue.close();
  });

  it("a relayed context survives a dedupReplace, a jobId and a transaction: kept as given, linked from the handler", async () => {
    const { exporter, tracerProvider, tracer } = tracing();
    const { queue } = await openTestQueue({ telemetry: { tracerProvider, metrics: false } });
    const upstream = sampled("c", "d");
    const relayed = { traceparent: formatTraceParent(upstream) };
    // Debounced: the first enqueue (traced, inside a span) is replaced by a relayed one.
    const debounced = await tracer.startActiveSpan("request", async (span) => {
      const id = await queue.enqueue("q", "first", { dedupKey: "k", delayMs: 60_000 });
      span.end();
      return id;
    });
    assert.equal(
      await queue.enqueue("q", "second", {
        dedupKey: "k",
        dedupReplace: true,
        delayMs: 0,
        headers: relayed,
      }),
      debounced,
    );
    const named_ = await queue.enqueue("q", "named", { jobId: "relayed-1", headers: relayed });
    const committed = await queue.transaction((tx) => {
      tx.enqueue("q", "in a transaction", { headers: relayed });
    });
    const inTransaction = committed.enqueued[0]!.id;
    for (const id of [debounced, named_, inTransaction])
      assert.equal((await queue.getJob(id))?.headers.traceparent, relayed.traceparent, id);
    await queue.wakeScheduled(debounced);
    await work(queue, "q", 3, async () => {});
    const runs = byJob(exporter, "process q");
    for (const id of [debounced, named_, inTransaction])
      assert.deepEqual(linksOf(runs.get(id)), [[upstream.traceId, upstream.spanId]], id);
    await queue.close();
  });

  it("a traced dedupReplace makes the job carry the replacing enqueue's context, so its handler links to that enqueue", async () => {
    const { exporter, tracerProvider, tracer } = tracing();
    const { queue } = await openTestQueue({ telemetry: { tracerProvider, metrics: false } });
    const enqueueIn = (name: string, payload: string, replace: boolean) =>
      tracer.startActiveSpan(name, async (span) => {
        const id = await queue.enqueue("q", payload, {
          dedupKey: "k",
          dedupReplace: replace,
          delayMs: 60_000,
        });
        span.end();
        return id;
      });
    const id = await enqueueIn("first request", "first", false);
    assert.equal(await enqueueIn("second request", "second", true), id);
    const enqueues = named(exporter.getFinishedSpans(), "enqueue q");
    assert.equal(enqueues.length, 2, "each call is a span, replaced or not");
    const second = enqueues[1]!;
    assert.equal(
      (await queue.getJob(id))?.headers.traceparent,
      formatTraceParent(second.spanContext()),
    );
    await queue.wakeScheduled(id);
    await work(queue, "q", 1, async () => {});
    assert.deepEqual(linksOf(byJob(exporter, "process q").get(id)), [
      [second.spanContext().traceId, second.spanContext().spanId],
    ]);
    await queue.close();
  });

  it("a span's vendor state does not replace the tracestate that goes with a caller's traceparent", async () => {
    const { tracerProvider } = tracing(STATING);
    const { queue } = await openTestQueue({ telemetry: { tracerProvider, metrics: false } });
    const relayed = {
      traceparent: formatTraceParent({
        traceId: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        spanId: "bbbbbbbbbbbbbbbb",
        traceFlags: 1,
      }),
    };
    const single = await queue.enqueue("q", "single", { headers: relayed });
    const [own, plain] = await queue.enqueueMany("q", [
      { payload: "own", options: { headers: { ...relayed, tenant: "acme" } } },
      { payload: "plain", options: { headers: { tenant: "acme" } } },
    ]);
    // The caller's context stands alone (no state of another span beside it) …
    assert.deepEqual((await queue.getJob(single))!.headers, relayed);
    assert.deepEqual((await queue.getJob(own!.id))!.headers, { ...relayed, tenant: "acme" });
    // … and a job without one carries its enqueue span's context and state.
    const headers = (await queue.getJob(plain!.id))!.headers;
    assert.equal(headers.tracestate, "ours=1");
    assert.equal(headers.tenant, "acme");
    assert.notEqual(headers.traceparent, undefined);
    await queue.close();
  });

  it("tracing never takes a job's headers past MAX_HEADERS or MAX_HEADERS_BYTES: the tracestate, then the context, is left out; what is read enqueues again", async () => {
    const { tracerProvider } = tracing(STATING);
    const { queue } = await openTestQueue({ telemetry: { tracerProvider, metrics: false } });
    const many = (n: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, "v"]));
    // Names and values of `a` and `b` take 16 384 − 66 − `spare` bytes; a `traceparent` takes 66.
    const large = (spare: number) => ({ a: "x".repeat(8190), b: "y".repeat(8126 - spare) });
    const cases: [string, Record<string, string>, "both" | "traceparent" | "none"][] = [
      ["62 headers", many(62), "both"],
      ["63 headers", many(63), "traceparent"],
      ["64 headers", many(64), "none"],
      ["room for a traceparent and a tracestate", large(21), "both"],
      ["room for a traceparent only", large(0), "traceparent"],
      ["one byte short of a traceparent", large(-1), "none"],
    ];
    const check = async (how: string, id: string, given: Record<string, string>, want: string) => {
      const headers = (await queue.getJob(id))!.headers;
      const bytes = Object.entries(headers).reduce(
        (sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(v),
        0,
      );
      assert.ok(Object.keys(headers).length <= MAX_HEADERS, `${how}: count`);
      assert.ok(bytes <= MAX_HEADERS_BYTES, `${how}: ${bytes} bytes`);
      assert.equal(headers.traceparent !== undefined, want !== "none", `${how}: traceparent`);
      assert.equal(headers.tracestate === "ours=1", want === "both", `${how}: tracestate`);
      for (const [k, v] of Object.entries(given)) assert.equal(headers[k], v, `${how}: ${k}`);
      // Given back as they are read (a relay), also traced: accepted.
      await queue.enqueue("relay", "again", { headers });
    };
    for (const [k, [what, headers, want]] of cases.entries()) {
      await check(`enqueue, ${what}`, await queue.enqueue("q", "x", { headers }), headers, want);
      const [many] = await queue.enqueueMany("q", [{ payload: "x", options: { headers } }]);
      await check(`enqueueMany, ${what}`, many!.id, headers, want);
      const committed = await queue.transaction((tx) => {
        tx.enqueue("q", "x", { headers });
      });
      await check(`transaction, ${what}`, committed.enqueued[0]!.id, headers, want);
      const byId = await queue.enqueue("q", "x", { headers, jobId: `job-${k}` });
      await check(`enqueue with a jobId, ${what}`, byId, headers, want);
    }
    await queue.close();
  });

  it("requireParentSpan: a job left out runs its handler as with tracing off, a traced one in its span", async () => {
    const { exporter, tracerProvider } = tracing();
    const { queue } = await openTestQueue({
      telemetry: { tracerProvider, metrics: false, requireParentSpan: true },
    });
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const sampled = formatTraceParent({ traceId, spanId: "00f067aa0ba902b7", traceFlags: 1 });
    const unsampled = formatTraceParent({ traceId, spanId: "00f067aa0ba902b8", traceFlags: 0 });
    await queue.enqueue("q", "sampled", { headers: { traceparent: sampled } });
    await queue.enqueue("q", "unsampled", { headers: { traceparent: unsampled } });
    await queue.enqueue("q", "without context");
    const queueTracing = tracingOf(queue)!;
    const decided: [string, boolean][] = [];
    for (let i = 0; i < 3; i++) {
      const claim = (await queue.claim("q"))!;
      decided.push([Buffer.from(claim.payload).toString(), queueTracing.tracesRun(claim)]);
      await queue.ack(claim);
    }
    assert.deepEqual(decided, [
      ["sampled", true],
      ["unsampled", false],
      ["without context", false],
    ]);
    // A handler's native promise with a `then` of its own: the worker waits for it as
    // `await` does (its own `then` is never called) whether the run is traced or not.
    const traced = await queue.enqueue("q", "traced", { headers: { traceparent: sampled } });
    const untraced = await queue.enqueue("q", "untraced");
    const stop = new AbortController();
    let handled = 0;
    let activeInTraced: boolean | undefined;
    await runWorker(
      queue,
      "q",
      (job) => {
        if (++handled === 2) stop.abort();
        if (job.id === traced) activeInTraced = trace.getActiveSpan() !== undefined;
        const value = Promise.resolve(`kept ${Buffer.from(job.payload).toString()}`);
        // biome-ignore lint/suspicious/noThenProperty: the point of the test
        value.then = () => {
          throw new Error("own then called");
        };
        return value;
      },
      { concurrency: 1, signal: stop.signal, pollIntervalMs: 10 },
    );
    for (const [id, text] of [
      [traced, "kept traced"],
      [untraced, "kept untraced"],
    ] as const) {
      const job = await queue.getJob(id);
      assert.equal(job?.status, "done", `${text}: ${JSON.stringify(job?.attempts)}`);
      assert.equal(Buffer.from(job!.result!).toString(), text);
    }
    assert.equal(activeInTraced, true, "the traced run's handler runs inside its span");
    assert.deepEqual(
      named(exporter.getFinishedSpans(), "process q").map(
        (s) => s.attributes["messaging.message.id"],
      ),
      [traced],
    );
    await queue.close();
  });

  it("without requireParentSpan, every handler run starts a span, with or without a context", async () => {
    const { exporter, tracerProvider } = tracing();
    const { queue } = await openTestQueue({ telemetry: { tracerProvider, metrics: false } });
    const unsampled = await queue.enqueue("q", "unsampled", {
      headers: {
        traceparent: formatTraceParent({
          traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
          spanId: "00f067aa0ba902b7",
          traceFlags: 0,
        }),
      },
    });
    await work(queue, "q", 1, async () => {});
    const runs = named(exporter.getFinishedSpans(), "process q");
    assert.deepEqual(
      runs.map((r) => r.attributes["messaging.message.id"]),
      [unsampled],
    );
    await queue.close();
  });

  it("requireParentSpan: inside a request the sampler left out, an enqueue starts no span", async () => {
    const { exporter, tracerProvider } = tracing();
    const { queue } = await openTestQueue({
      telemetry: { tracerProvider, metrics: false, requireParentSpan: true },
    });
    // What a parent-based sampler leaves of an unsampled request: a span that records nothing.
    const unsampled = trace.wrapSpanContext({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: 0,
    });
    assert.equal(unsampled.isRecording(), false);
    const id = await context.with(trace.setSpan(context.active(), unsampled), () =>
      queue.enqueue("q", "in an unsampled request", { headers: { tenant: "acme" } }),
    );
    assert.deepEqual((await queue.getJob(id))?.headers, { tenant: "acme" });
    assert.deepEqual(named(exporter.getFinishedSpans(), "enqueue q"), []);
    await queue.close();
  });

  it("with no tracer provider registered, spans are no-ops and no traceparent is written", async () => {
    trace.disable();
    const { queue } = await openTestQueue({ telemetry: { metrics: false } });
    const id = await queue.enqueue("q", "x");
    assert.deepEqual((await queue.getJob(id))?.headers, {});
    await work(queue, "q", 1, async () => {});
    await queue.close();
  });
});

describe("traceparent", { timeout: 10_000 }, () => {
  it("round-trips and rejects what the W3C specification rejects", () => {
    const parent = {
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: 1,
    };
    const header = formatTraceParent(parent);
    assert.equal(header, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    assert.deepEqual(parseTraceParent(header), parent);
    assert.deepEqual(parseTraceParent(`01${header.slice(2)}-future`), parent);
    assert.deepEqual(parseTraceParent(` ${header}\t`), parent);
    assert.deepEqual(parseTraceParent(`${header.slice(0, 53)}ff`), { ...parent, traceFlags: 255 });
    for (const bad of [
      undefined,
      "",
      "garbage",
      `ff${header.slice(2)}`,
      `${header}-extra`,
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bg-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
    ])
      assert.equal(parseTraceParent(bad), undefined, String(bad));
  });

  it("tells a sampled context from an unsampled or invalid one", () => {
    const header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for (const sampled of [
      header,
      `${header.slice(0, 53)}ff`,
      ` ${header}\t`,
      `01${header.slice(2)}-x`,
    ])
      assert.equal(isSampledTraceParent(sampled), true, sampled);
    for (const not of [
      `${header.slice(0, 53)}00`,
      `${header.slice(0, 53)}fe`,
      `01${header.slice(2, 53)}00-x`,
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      `${header.slice(0, 53)}0A`,
      "garbage",
    ])
      assert.equal(isSampledTraceParent(not), false, not);
  });
});

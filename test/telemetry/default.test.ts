import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { metrics, SpanKind, trace } from "@opentelemetry/api";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { INSTRUMENTATION, tracingOf } from "../../src/queue/instrument.js";
import type { OpenOptions } from "../../src/queue/options.js";
import type { Queue } from "../../src/queue/queue.js";
import type { Headers } from "../../src/queue/state.js";
import { formatTraceParent } from "../../src/queue/telemetry/traceparent.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { openTestQueue } from "../queue/helpers.js";
import { recordingLogger } from "../recording-logger.js";
import { collect, type Points, TestReader } from "./sdk.js";

function counter(points: Points, name: string, queue: string): unknown {
  return points.get(name)?.find((p) => p.attributes.queue === queue)?.value;
}

/** An SDK set up as an application does: global meter and tracer providers. */
function registerSdk(which: { metrics?: boolean; traces?: boolean } = {}) {
  const reader = new TestReader();
  const exporter = new InMemorySpanExporter();
  if (which.metrics !== false)
    assert.ok(metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] })));
  if (which.traces !== false)
    assert.ok(
      trace.setGlobalTracerProvider(
        new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
      ),
    );
  return { reader, exporter };
}

// Each test registers its own globals: none may leak into the next.
afterEach(() => {
  metrics.disable();
  trace.disable();
});

/**
 * The workload: three single enqueues and a batch of two into "work", all
 * handled by a worker. Returns the ids and each job's headers as stored
 * before it ran (a completed job is gone).
 */
async function workload(queue: Queue): Promise<{ ids: string[]; headers: Headers[] }> {
  const ids = [
    await queue.enqueue("work", "a"),
    await queue.enqueue("work", "b"),
    await queue.enqueue("work", "c"),
    ...(await queue.enqueueBatch("work", ["d", "e"])),
  ];
  const headers = await Promise.all(ids.map(async (id) => (await queue.getJob(id))!.headers));
  const stop = new AbortController();
  let handled = 0;
  await runWorker(
    queue,
    "work",
    () => {
      if (++handled === ids.length) stop.abort();
    },
    { signal: stop.signal, pollIntervalMs: 10 },
  );
  await queue.flush();
  return { ids, headers };
}

function named(spans: ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((s) => s.name === name);
}

async function open(options: OpenOptions = {}) {
  const logger = recordingLogger();
  const { queue } = await openTestQueue({ logger, ...options });
  return { queue, logger };
}

describe("telemetry left out (the default)", { timeout: 60_000 }, () => {
  it("records metrics and linked spans into the global providers the application registered", async () => {
    const { reader, exporter } = registerSdk();
    const { queue, logger } = await open();
    const { ids, headers } = await workload(queue);

    const points = await collect(reader, "ignore");
    assert.equal(counter(points, "taquba.jobs.enqueued", "work"), 5);
    assert.equal(counter(points, "taquba.jobs.claimed", "work"), 5);
    assert.equal(counter(points, "taquba.jobs.completed", "work"), 5);
    const depth = points.get("taquba.queue.depth") ?? [];
    assert.ok(depth.some((p) => p.attributes.queue === "work" && p.attributes.state === "pending"));
    assert.equal(points.get("taquba.job.wait")?.[0]?.attributes.queue, "work");

    const spans = exporter.getFinishedSpans();
    const enqueues = named(spans, "enqueue work");
    assert.equal(enqueues.length, 4); // three single enqueues and one batch
    assert.ok(enqueues.every((s) => s.kind === SpanKind.PRODUCER));
    const runs = named(spans, "process work");
    assert.equal(runs.length, 5);
    for (const [i, id] of ids.entries()) {
      const producer = enqueues[Math.min(i, 3)]!;
      assert.equal(headers[i]?.traceparent, formatTraceParent(producer.spanContext()));
      const run = runs.find((s) => s.attributes["messaging.message.id"] === id);
      assert.equal(run?.kind, SpanKind.CONSUMER);
      assert.deepEqual(
        run?.links.map((l) => l.context.spanId),
        [producer.spanContext().spanId],
        id,
      );
    }
    assert.deepEqual(logger.messages("warn"), []);
    await queue.close();
  });

  it("records only metrics when only a meter provider is registered, only spans when only a tracer provider is", async () => {
    const onlyMetrics = registerSdk({ traces: false });
    const { queue: metered } = await open();
    assert.equal(tracingOf(metered), null);
    const { headers } = await workload(metered);
    assert.deepEqual(headers, [{}, {}, {}, {}, {}]);
    assert.equal(
      counter(await collect(onlyMetrics.reader, "ignore"), "taquba.jobs.completed", "work"),
      5,
    );
    await metered.close();
    metrics.disable();

    const onlyTraces = registerSdk({ metrics: false });
    const { queue: traced } = await open();
    // Registered now, after the open: the queue does not take it up.
    const late = new TestReader();
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [late] }));
    await workload(traced);
    assert.equal(named(onlyTraces.exporter.getFinishedSpans(), "process work").length, 5);
    assert.equal((await collect(late, "ignore")).size, 0);
    await traced.close();
  });

  it("with no provider registered: nothing attached, nothing recorded, even once one is registered later", async () => {
    const { queue, logger } = await open();
    // No instrumentation at all: an enqueue does no telemetry work.
    assert.equal((queue as unknown as Record<symbol, unknown>)[INSTRUMENTATION], null);
    assert.equal(tracingOf(queue), null);
    const { reader, exporter } = registerSdk();
    const { headers } = await workload(queue);
    assert.deepEqual(headers, [{}, {}, {}, {}, {}]);
    assert.deepEqual(exporter.getFinishedSpans(), []);
    assert.equal((await collect(reader, "ignore")).size, 0);
    assert.deepEqual(logger.messages("warn"), []);
    await queue.close();
  });

  it("`telemetry: false` records nothing whatever is registered", async () => {
    const { reader, exporter } = registerSdk();
    const { queue } = await open({ telemetry: false });
    assert.equal((queue as unknown as Record<symbol, unknown>)[INSTRUMENTATION], null);
    const { headers } = await workload(queue);
    assert.deepEqual(headers, [{}, {}, {}, {}, {}]);
    assert.deepEqual(exporter.getFinishedSpans(), []);
    assert.equal((await collect(reader, "ignore")).size, 0);
    await queue.close();
  });

  it("`telemetry: true` opened before the tracer provider is registered follows it once it is", async () => {
    const { queue } = await open({ telemetry: { metrics: false } });
    await queue.enqueue("work", "before");
    const { exporter } = registerSdk({ metrics: false });
    const id = await queue.enqueue("work", "after");
    const spans = named(exporter.getFinishedSpans(), "enqueue work");
    assert.equal(spans.length, 1);
    assert.equal(
      (await queue.getJob(id))?.headers.traceparent,
      formatTraceParent(spans[0]!.spanContext()),
    );
    await queue.close();
  });
});

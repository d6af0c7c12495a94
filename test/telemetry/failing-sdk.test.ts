import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runWorker } from "../../src/worker/run-worker.js";
import { openTestQueue } from "../queue/helpers.js";
import { recordingLogger } from "../recording-logger.js";

/** A meter whose counters and histograms throw on every recording. */
const throwingMeterProvider = {
  getMeter() {
    const broken = () => {
      throw new Error("meter is broken");
    };
    return {
      createCounter: () => ({ add: broken }),
      createHistogram: () => ({ record: broken }),
      createObservableGauge: () => ({}),
      createObservableCounter: () => ({}),
      addBatchObservableCallback() {},
      removeBatchObservableCallback() {},
    };
  },
};

/** A tracer that cannot start a span. */
const throwingTracerProvider = {
  getTracer() {
    return {
      startSpan() {
        throw new Error("tracer is broken");
      },
    };
  },
};

describe("a failing OpenTelemetry SDK", { timeout: 60_000 }, () => {
  it("breaks neither enqueues, handlers, settlements nor event listeners; a broken tracer is logged once", async () => {
    const logger = recordingLogger();
    const { queue } = await openTestQueue({
      logger,
      telemetry: { meterProvider: throwingMeterProvider, tracerProvider: throwingTracerProvider },
    });
    const completed: string[] = [];
    queue.on("completed", (event) => completed.push(event.id));
    const ids = [
      await queue.enqueue("q", "a"),
      await queue.enqueue("q", "b"),
      ...(await queue.enqueueBatch("q", ["c"])),
    ];
    const job = await queue.getJob(ids[0]!);
    assert.equal(job?.headers.traceparent, undefined, "no span, so no trace context");
    const stop = new AbortController();
    const handled: string[] = [];
    await runWorker(
      queue,
      "q",
      (claim) => {
        handled.push(Buffer.from(claim.payload).toString());
        if (handled.length === 3) stop.abort();
      },
      { signal: stop.signal, pollIntervalMs: 5, logger },
    );
    await queue.flush();
    assert.deepEqual(handled.sort(), ["a", "b", "c"]);
    assert.deepEqual(completed.sort(), [...ids].sort());
    assert.equal((await queue.stats("q")).pending, 0);
    const lines = logger.messages("warn", "error");
    const tracerLines = lines.filter((l) => l.includes("tracer is broken"));
    assert.equal(tracerLines.length, 1, lines.join("\n"));
    // The broken meter is reported by the commit boundary's observer guard.
    assert.ok(
      lines.some((l) => l.includes("meter is broken")),
      lines.join("\n"),
    );
    await queue.close();
  });
});

/**
 * Test helper: the OpenTelemetry metrics SDK as the telemetry tests set it
 * up, a reader collected on demand and taquba's data points by metric name.
 */
import assert from "node:assert/strict";
import { type CollectionResult, type DataPoint, MetricReader } from "@opentelemetry/sdk-metrics";

/** A reader the test collects from on demand. */
export class TestReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Data points by metric name. */
export type Points = Map<string, DataPoint<unknown>[]>;

/**
 * taquba's data points by metric name, collected from `reader` (which must
 * report no errors). Another instrumentation scope fails the test unless
 * `otherScopes` is "ignore" (a global provider other libraries may record into).
 */
export async function collect(
  reader: TestReader,
  otherScopes: "fail" | "ignore" = "fail",
): Promise<Points> {
  const { resourceMetrics, errors }: CollectionResult = await reader.collect();
  assert.deepEqual(errors, []);
  const points: Points = new Map();
  for (const scope of resourceMetrics.scopeMetrics) {
    if (otherScopes === "fail") assert.equal(scope.scope.name, "taquba");
    else if (scope.scope.name !== "taquba") continue;
    for (const metric of scope.metrics)
      points.set(metric.descriptor.name, metric.dataPoints as DataPoint<unknown>[]);
  }
  return points;
}

/**
 * OpenTelemetry for one open queue: wires the metrics observer into the
 * commit boundary and hands the queue its tracing. Imported lazily (with
 * `load.ts`, the one place that imports `@opentelemetry/api`) by
 * `attach.ts`, only when there is telemetry to start (`options.telemetry`, or
 * a global provider the application registered).
 */
export { loadOtelApi } from "./load.js";

import type { Logger } from "../../logger.js";
import { messageOf } from "../../util/message.js";
import type { Instrumentation } from "../instrument.js";
import type { OtelApi } from "./load.js";
import { type MetricsSource, QueueMetrics } from "./metrics.js";
import type { ResolvedTelemetry } from "./options.js";
import { QueueTracing } from "./traces.js";

/** The instrumentation scope name of taquba's meters and tracers. */
export const SCOPE = "taquba";

/** What the telemetry attaches to. */
export interface TelemetryTarget extends MetricsSource {
  /** Where a failing tracer is reported (once). */
  readonly logger: Logger;
  observe(metrics: QueueMetrics): void;
  unobserve(metrics: QueueMetrics): void;
}

/**
 * Starts telemetry on `target`. Returns the instrumentation the queue calls
 * around enqueues and handler runs (spans are no-ops with traces off).
 */
export function startTelemetry(
  api: OtelApi,
  target: TelemetryTarget,
  options: ResolvedTelemetry,
): Instrumentation {
  let metrics: QueueMetrics | null = null;
  if (options.metrics) {
    const provider = options.meterProvider ?? api.metrics.getMeterProvider();
    const meter = provider.getMeter(SCOPE) as ReturnType<typeof api.metrics.getMeter>;
    metrics = new QueueMetrics(meter, target, options.requestPrices);
    target.observe(metrics);
  }
  let tracerFailures = 0;
  const tracing = options.traces
    ? new QueueTracing(
        api,
        (options.tracerProvider ?? api.trace.getTracerProvider()).getTracer(SCOPE) as ReturnType<
          typeof api.trace.getTracer
        >,
        (error) => {
          // One line for the problem, not one per job.
          if (tracerFailures++ === 0)
            target.logger.error(
              `telemetry: the tracer threw (${messageOf(error)}); jobs go on without the spans it could not make`,
              { error },
            );
        },
        { requireParentSpan: options.requireParentSpan },
      )
    : null;
  return {
    tracing,
    close() {
      if (metrics === null) return;
      target.unobserve(metrics);
      try {
        metrics.close();
      } catch (error) {
        target.logger.error(`telemetry: the meter threw at close (${messageOf(error)})`, { error });
      }
    },
  };
}

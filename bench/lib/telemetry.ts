/**
 * OpenTelemetry SDKs for measuring the cost of `OpenOptions.telemetry`: a
 * meter provider whose reader is never collected (recording cost only, as
 * between two scrapes) and a tracer provider whose spans go through a batch
 * processor to an exporter that drops them (span creation and hand-off cost),
 * sampling every trace or a given share of them (`ParentBased(TraceIdRatio)`,
 * the sampler production set-ups use; the bench's spans are roots, so the
 * ratio decides).
 */
import { metrics, trace } from "@opentelemetry/api";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import type { TelemetryOptions } from "../../src/index.js";

/**
 * Which telemetry a run turns on. `off` is `telemetry: false`; `default`
 * leaves the option out, so the queue records into whatever global providers
 * are registered (the bench registers none: the cost of an installed API with
 * no SDK set up). `sdk` is `telemetry: false` with the same meter and tracer
 * providers as the other modes built and registered globally: the baseline of
 * an application that runs the OpenTelemetry SDK whether or not the queue
 * reports to it, so what remains against it is the queue's own telemetry.
 */
export type TelemetryMode = "off" | "sdk" | "default" | "metrics" | "traces" | "both";

export const TELEMETRY_MODES: readonly TelemetryMode[] = [
  "off",
  "sdk",
  "default",
  "metrics",
  "traces",
  "both",
];

class IdleReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

class DroppingExporter implements SpanExporter {
  export(_spans: ReadableSpan[], done: (result: { code: 0 }) => void): void {
    done({ code: 0 });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * A tracer provider as the bench uses it: spans to a batch processor whose
 * exporter drops them; every span recorded (`sampleRatio` 1, the SDK's
 * default `ParentBased(AlwaysOn)`) or `ParentBased(TraceIdRatio(sampleRatio))`.
 */
export function benchTracerProvider(sampleRatio: number): BasicTracerProvider {
  return new BasicTracerProvider({
    ...(sampleRatio === 1
      ? {}
      : {
          sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(sampleRatio) }),
        }),
    spanProcessors: [new BatchSpanProcessor(new DroppingExporter())],
  });
}

/**
 * `OpenOptions.telemetry` for `mode`, and how to shut its SDKs down.
 * `sampleRatio` is the share of traces the tracer samples (1: every span);
 * `requireParentSpan` sets the option of that name (the bench's enqueues run
 * outside any span).
 */
export function benchTelemetry(
  mode: TelemetryMode,
  sampleRatio = 1,
  requireParentSpan = false,
): {
  telemetry: TelemetryOptions | false | undefined;
  shutdown(): Promise<void>;
} {
  if (mode === "off") return { telemetry: false, shutdown: () => Promise.resolve() };
  if (mode === "default") return { telemetry: undefined, shutdown: () => Promise.resolve() };
  const meterProvider = new MeterProvider({ readers: [new IdleReader()] });
  const tracerProvider = benchTracerProvider(sampleRatio);
  if (mode === "sdk") {
    metrics.setGlobalMeterProvider(meterProvider);
    trace.setGlobalTracerProvider(tracerProvider);
    return {
      telemetry: false,
      async shutdown() {
        await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]);
        metrics.disable();
        trace.disable();
      },
    };
  }
  return {
    telemetry: {
      metrics: mode !== "traces",
      traces: mode !== "metrics",
      meterProvider,
      tracerProvider,
      ...(requireParentSpan ? { requireParentSpan } : {}),
    },
    async shutdown() {
      await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]);
    },
  };
}

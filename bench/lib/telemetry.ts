/**
 * OpenTelemetry SDKs for measuring the cost of `OpenOptions.telemetry`: a
 * meter provider whose reader is collected only after the measured phases
 * (recording cost only, as between two scrapes) and a tracer provider whose
 * spans go through a batch processor to an exporter that counts and drops
 * them (span creation and hand-off cost), sampling every trace or a given
 * share of them (`ParentBased(TraceIdRatio)`, the sampler production set-ups
 * use; the bench's spans are roots, so the ratio decides).
 */
import {
  type Attributes,
  type Context,
  createNoopMeter,
  type Link,
  metrics,
  SpanKind,
  TraceFlags,
  trace,
} from "@opentelemetry/api";
import { DataPointType, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import type { TelemetryOptions } from "../../src/index.js";
import { type Args, UsageError } from "./args.js";

/**
 * Which telemetry a run turns on. `off` is `telemetry: false`; `default`
 * leaves the option out, so the queue records into whatever global providers
 * are registered (the bench registers none: the cost of an installed API with
 * no SDK set up). `sdk` is `telemetry: false` with the same meter and tracer
 * providers as the other modes built and registered globally: the baseline of
 * an application that runs the OpenTelemetry SDK whether or not the queue
 * reports to it, so what remains against it is the queue's own telemetry.
 * `metrics-noop` is the queue's metrics recorded into the API's no-op meter:
 * the queue's own cost of metrics (its commit boundary, its counting) without
 * the SDK's (which `metrics` adds).
 */
export type TelemetryMode =
  | "off"
  | "sdk"
  | "default"
  | "metrics"
  | "metrics-noop"
  | "traces"
  | "both";

export const TELEMETRY_MODES: readonly TelemetryMode[] = [
  "off",
  "sdk",
  "default",
  "metrics",
  "metrics-noop",
  "traces",
  "both",
];

/** `--telemetry`, checked. */
function telemetryArg(value: string): TelemetryMode {
  const mode = TELEMETRY_MODES.find((m) => m === value);
  if (mode === undefined)
    throw new UsageError(
      `Expected \`--telemetry\` to be one of ${TELEMETRY_MODES.join(", ")}, got "${value}"`,
    );
  return mode;
}

function traceSampleArg(value: number): number {
  if (!(value >= 0 && value <= 1))
    throw new UsageError(`Expected \`--trace-sample\` to be a ratio from 0 to 1, got ${value}`);
  return value;
}

/** The OpenTelemetry set-up of a run, as workloads that measure its cost take it. */
export interface TelemetryParams {
  /** OpenTelemetry on the queue (`off`, `metrics`, `traces`, `both`), to measure its cost. */
  telemetry: TelemetryMode;
  /** Share of traces the tracer samples, 0 to 1 (with traces on). */
  traceSample: number;
  /** `telemetry.requireParentSpan`. */
  requireParent: boolean;
  /**
   * When above 0, every enqueue runs inside a request's context, as in a
   * traced web app: this share of requests has a recording (sampled) span,
   * the others an unsampled, non-recording one (what a parent-based sampler
   * leaves them); an AsyncLocalStorage context manager is registered. 0: no
   * context at all (then no enqueue has a parent span).
   */
  requests: number;
  /**
   * With `requests`: each request also runs inside a server span started and
   * ended around it, as an HTTP instrumentation does (recorded for the
   * sampled share, non-recording for the rest): the baseline of an
   * application that traces its requests.
   */
  requestSpans: boolean;
}

/** `--telemetry`, `--trace-sample`, `--require-parent`, `--requests`, `--request-spans`. */
export function telemetryParams(args: Args): TelemetryParams {
  return {
    telemetry: telemetryArg(args.string("telemetry", "off")),
    traceSample: traceSampleArg(args.number("trace-sample", 1)),
    requireParent: args.flag("require-parent"),
    requests: args.number("requests", 0),
    requestSpans: args.flag("request-spans"),
  };
}

class IdleReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** What reached the exporter, by the kinds of span the queue makes. */
export interface ExportedSpans {
  /** Producer (enqueue) spans. */
  producer: number;
  /** Jobs those producer spans cover (a batch's span covers its jobs). */
  producerJobs: number;
  /** Consumer (handler run) spans. */
  consumer: number;
  /** Consumer spans linked to a producer span that was exported too. */
  linkedToExported: number;
  /** Consumer spans with a link to a span not exported here. */
  linkedElsewhere: number;
  /** Spans of any other kind. */
  other: number;
}

/**
 * Drops the spans it gets after counting them (and keeping the producer spans' ids, to check links).
 * Given a `queue`, it counts only the spans of that named queue and leaves out another queue's.
 */
class CountingExporter implements SpanExporter {
  readonly #queue: string | undefined;
  readonly #producers = new Set<string>();
  readonly #links: string[] = [];
  #producerJobs = 0;
  #consumer = 0;
  #other = 0;

  constructor(queue?: string) {
    this.#queue = queue;
  }

  export(spans: ReadableSpan[], done: (result: { code: 0 }) => void): void {
    for (const span of spans) {
      const destination = span.attributes["messaging.destination.name"];
      if (this.#queue !== undefined && destination !== undefined && destination !== this.#queue)
        continue;
      if (span.kind === SpanKind.PRODUCER) {
        this.#producers.add(span.spanContext().spanId);
        const batch = span.attributes["messaging.batch.message_count"];
        this.#producerJobs += typeof batch === "number" ? batch : 1;
      } else if (span.kind === SpanKind.CONSUMER) {
        this.#consumer++;
        for (const link of span.links) this.#links.push(link.context.spanId);
      } else this.#other++;
    }
    done({ code: 0 });
  }

  counts(): ExportedSpans {
    const linkedToExported = this.#links.filter((id) => this.#producers.has(id)).length;
    return {
      producer: this.#producers.size,
      producerJobs: this.#producerJobs,
      consumer: this.#consumer,
      linkedToExported,
      linkedElsewhere: this.#links.length - linkedToExported,
      other: this.#other,
    };
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The root sampler for consumer spans that follows their links: a handler
 * run's span is recorded when its job's enqueue span was sampled (the link
 * the queue adds from the job's `traceparent`), and never otherwise; every
 * other root span goes to `root`. Parent-based sampling alone cannot do this,
 * since a worker's handler runs have no parent; it is the messaging form of
 * parent-based sampling (as the links-based samplers of other OpenTelemetry
 * SDKs): a traced request's jobs are traced through to their handlers.
 */
class LinkedConsumerSampler implements Sampler {
  readonly #root: Sampler;

  constructor(root: Sampler) {
    this.#root = root;
  }

  shouldSample(
    context: Context,
    traceId: string,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    if (kind !== SpanKind.CONSUMER)
      return this.#root.shouldSample(context, traceId, name, kind, attributes, links);
    const sampled = links.some((link) => (link.context.traceFlags & TraceFlags.SAMPLED) !== 0);
    return {
      decision: sampled ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD,
    };
  }

  toString(): string {
    return `LinkedConsumerSampler{root=${this.#root.toString()}}`;
  }
}

/** A bench tracer provider and what its exporter has seen. */
export interface BenchTracerProvider {
  provider: BasicTracerProvider;
  /** Exports what the batch processor holds, then counts what reached the exporter. */
  exported(): Promise<ExportedSpans>;
}

/**
 * A tracer provider as the bench uses it: spans to a batch processor whose
 * exporter counts and drops them; every span recorded (`sampleRatio` 1, the
 * SDK's default `ParentBased(AlwaysOn)`) or `ParentBased(TraceIdRatio(sampleRatio))`.
 * With `followLinks`, the root sampler records a handler run's span exactly
 * when its job's enqueue span was sampled ({@link LinkedConsumerSampler}).
 * With `queue`, only the spans of that named queue are counted.
 */
export function countingTracerProvider(
  sampleRatio: number,
  followLinks = false,
  queue?: string,
): BenchTracerProvider {
  const exporter = new CountingExporter(queue);
  const ratio =
    sampleRatio === 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(sampleRatio);
  const root = followLinks ? new LinkedConsumerSampler(ratio) : ratio;
  const provider = new BasicTracerProvider({
    ...(sampleRatio === 1 && !followLinks ? {} : { sampler: new ParentBasedSampler({ root }) }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  return {
    provider,
    async exported() {
      await provider.forceFlush();
      return exporter.counts();
    },
  };
}

/** {@link countingTracerProvider}'s provider, where nothing reads the counts. */
export function benchTracerProvider(sampleRatio: number): BasicTracerProvider {
  return countingTracerProvider(sampleRatio).provider;
}

/** taquba's metrics as a collection reads them: data points, and per instrument a counter's sum or a histogram's count. */
export interface CollectedMetrics {
  points: number;
  totals: Map<string, number>;
}

/**
 * taquba's metrics in one collection; with `queue`, only that named queue's
 * series and the whole store's (`queue` "*"), leaving out another queue's.
 */
async function collectTaquba(reader: MetricReader, queue?: string): Promise<CollectedMetrics> {
  const { resourceMetrics } = await reader.collect();
  const totals = new Map<string, number>();
  let points = 0;
  for (const scope of resourceMetrics.scopeMetrics)
    for (const metric of scope.metrics) {
      if (!metric.descriptor.name.startsWith("taquba.")) continue;
      let total = 0;
      for (const point of metric.dataPoints) {
        const of = point.attributes.queue;
        if (queue !== undefined && of !== undefined && of !== queue && of !== "*") continue;
        points++;
        const value: unknown = point.value;
        if (metric.dataPointType === DataPointType.HISTOGRAM)
          total += (value as { count: number }).count;
        else if (typeof value === "number") total += value;
      }
      totals.set(metric.descriptor.name, (totals.get(metric.descriptor.name) ?? 0) + total);
    }
  return { points, totals };
}

/** What a run's telemetry reported, read after its measured phases. */
export interface ObservedTelemetry {
  spans: ExportedSpans;
  metrics: CollectedMetrics;
}

const NOTHING: ObservedTelemetry = {
  spans: {
    producer: 0,
    producerJobs: 0,
    consumer: 0,
    linkedToExported: 0,
    linkedElsewhere: 0,
    other: 0,
  },
  metrics: { points: 0, totals: new Map() },
};

/**
 * `OpenOptions.telemetry` for `mode`, and how to shut its SDKs down.
 * `sampleRatio` is the share of traces the tracer samples (1: every span);
 * `requireParentSpan` sets the option of that name (the bench's enqueues run
 * outside any span); `followLinks` records handler spans of the jobs whose
 * enqueue span was sampled (see {@link countingTracerProvider}); `queue`
 * restricts what `observe()` reports to that named queue's spans and metric
 * series (and the whole store's series), so jobs run through another queue of
 * the same `Queue` — a warm-up — are left out of it.
 * `observe()`, after the measured phases (and after the queue closed, so
 * that its counters are flushed), exports the spans held and collects the
 * metrics once. `flush()` exports the spans held, so that spans of work done
 * before the measured phases (a warm-up) are not exported during them.
 */
export function benchTelemetry(
  mode: TelemetryMode,
  sampleRatio = 1,
  requireParentSpan = false,
  followLinks = false,
  queue?: string,
): {
  telemetry: TelemetryOptions | false | undefined;
  observe(): Promise<ObservedTelemetry>;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
} {
  const nothing = { observe: () => Promise.resolve(NOTHING), flush: resolved, shutdown: resolved };
  if (mode === "off") return { telemetry: false, ...nothing };
  if (mode === "default") return { telemetry: undefined, ...nothing };
  if (mode === "metrics-noop") {
    const meter = createNoopMeter();
    return {
      telemetry: { metrics: true, traces: false, meterProvider: { getMeter: () => meter } },
      ...nothing,
    };
  }
  const reader = new IdleReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const tracing = countingTracerProvider(sampleRatio, followLinks, queue);
  const tracerProvider = tracing.provider;
  const observe = async (): Promise<ObservedTelemetry> => ({
    spans: await tracing.exported(),
    metrics: await collectTaquba(reader, queue),
  });
  const flush = () => tracerProvider.forceFlush();
  if (mode === "sdk") {
    metrics.setGlobalMeterProvider(meterProvider);
    trace.setGlobalTracerProvider(tracerProvider);
    return {
      telemetry: false,
      observe,
      flush,
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
    observe,
    flush,
    async shutdown() {
      await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]);
    },
  };
}

function resolved(): Promise<void> {
  return Promise.resolve();
}

/**
 * The public options of OpenTelemetry support (`OpenOptions.telemetry`) and
 * their checks. No OpenTelemetry type appears here: the providers are
 * described by the little taquba calls on them, so the declarations compile
 * without the optional package installed.
 */
import { type RequestPrices, resolveRequestPrices } from "../../store/request-prices.js";
import { checkOptionsObject, invalidArgument } from "../../validate.js";

/** An OpenTelemetry `MeterProvider` (as far as taquba uses it). */
export interface MeterProviderLike {
  /** A meter to create taquba's instruments on. */
  getMeter(name: string, version?: string, options?: object): object;
}

/** An OpenTelemetry `TracerProvider` (as far as taquba uses it). */
export interface TracerProviderLike {
  /** A tracer to start taquba's spans on. */
  getTracer(name: string, version?: string, options?: object): object;
}

/**
 * OpenTelemetry metrics and traces for a queue, asked for explicitly. Needs
 * the optional package `@opentelemetry/api` (a peer dependency) and, as with
 * any OpenTelemetry instrumentation, an SDK the application sets up. Left
 * out, `OpenOptions.telemetry` already records into the global providers the
 * SDK registered before the queue opened (and loads nothing without them).
 *
 * What it costs (BENCHMARKS.md, "Telemetry overhead"): metrics make no SDK
 * call per enqueue (job counts are added to the SDK's counters when it
 * collects); what is left is the commit boundary's bookkeeping, single-digit
 * per cent. A span per enqueue costs what the SDK's `startSpan` and `end`
 * cost, sampled or not (3–4 µs on the bench machine, a third to a half of an
 * in-memory enqueue): sample traces with a parent-based sampler and set
 * {@link TelemetryOptions.requireParentSpan} so that only enqueues inside a
 * sampled request, and the handler runs of their jobs, start a span.
 *
 * @example
 * ```ts
 * // Metrics on; an enqueue span only inside a traced request, 1 % of requests traced
 * // (sampler set on the application's SDK: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.01) })).
 * const queue = await Queue.open(store, "app", { telemetry: { requireParentSpan: true } });
 * ```
 */
export interface TelemetryOptions {
  /**
   * Record metrics (`taquba.jobs.*`, `taquba.job.*`, `taquba.queue.*`, `taquba.store.*`, `taquba.log.*`).
   * @default true
   * @example { telemetry: { metrics: false } }
   */
  metrics?: boolean;
  /**
   * Record a span per enqueue and per handler run, the enqueue's context carried to the handler in the `traceparent` job header
   * (only when the SDK samples the enqueue's span: a sampled-out span is never exported, so its job carries no header).
   * Each enqueue then pays the SDK's span cost, sampled or not (the SDK decides inside `startSpan`); see
   * {@link TelemetryOptions.requireParentSpan} to start none outside a traced request.
   * @default true
   * @example { telemetry: { traces: false } }
   */
  traces?: boolean;
  /**
   * Start spans only inside a sampled trace: an enqueue's span only inside a
   * recording span (say, a request being traced), and a handler run's span
   * only when its job carries a `traceparent` with the sampled flag (its
   * producer's span was sampled). An enqueue outside a recording span then
   * costs nothing and its job carries no trace context of taquba's, so its
   * handler run starts no span either (one header lookup) — unless the caller
   * gave the job a `traceparent` of its own (a relayed message's): the job
   * keeps it, and its handler run starts a span when that one is sampled.
   * With a parent-based sampler this keeps the span cost to the enqueues of
   * sampled requests and the handler runs of their jobs: an unsampled
   * request's span does not record, so its enqueues start none. Without it
   * every handler run starts a span (whether the SDK samples it is the SDK's
   * decision).
   * @default false
   * @example
   * ```ts
   * { telemetry: { requireParentSpan: true } }
   * ```
   */
  requireParentSpan?: boolean;
  /**
   * Where meters come from.
   * @default the global provider of `@opentelemetry/api`
   * @example { telemetry: { meterProvider: new MeterProvider({ readers: [exporter] }) } }
   */
  meterProvider?: MeterProviderLike;
  /**
   * Where tracers come from.
   * @default the global provider of `@opentelemetry/api`
   * @example { telemetry: { tracerProvider: new BasicTracerProvider() } }
   */
  tracerProvider?: TracerProviderLike;
  /**
   * Price of one store request by kind, for `taquba.store.request_cost`.
   * @default S3 Standard list prices in US dollars (`S3_STANDARD_REQUEST_PRICES`)
   * @example { telemetry: { requestPrices: { put: 0.0045 / 1_000, get: 0.00036 / 1_000 } } }
   */
  requestPrices?: Partial<RequestPrices>;
}

/** Every key of {@link TelemetryOptions}. */
export const TELEMETRY_OPTION_KEYS: readonly string[] = Object.keys({
  metrics: true,
  traces: true,
  requireParentSpan: true,
  meterProvider: true,
  tracerProvider: true,
  requestPrices: true,
} satisfies Record<keyof TelemetryOptions, true>);

/** Telemetry options, checked; `null` when telemetry is off. */
export interface ResolvedTelemetry {
  /**
   * The option was left out: `metrics` and `traces` apply only where the
   * application registered a global provider (decided when the queue opens),
   * and a missing `@opentelemetry/api` is no error.
   */
  auto: boolean;
  metrics: boolean;
  traces: boolean;
  requireParentSpan: boolean;
  meterProvider: MeterProviderLike | undefined;
  tracerProvider: TracerProviderLike | undefined;
  requestPrices: RequestPrices;
}

function checkBoolean(value: unknown, arg: string): boolean {
  if (typeof value !== "boolean") throw invalidArgument(arg, "a boolean", value);
  return value;
}

function checkProvider<T>(value: unknown, arg: string, method: string): T | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== "object" ||
    value === null ||
    typeof (value as Record<string, unknown>)[method] !== "function"
  )
    throw invalidArgument(arg, `an object with a ${method}() method`, value);
  return value as T;
}

/**
 * `options.telemetry` checked: `true` means every default, `false` turns
 * telemetry off, absent means on for the global providers registered when the
 * queue opens (`auto`).
 */
export function resolveTelemetry(
  value: boolean | TelemetryOptions | undefined,
  arg = "options.telemetry",
): ResolvedTelemetry | null {
  if (value === false) return null;
  const o: TelemetryOptions = value === true || value === undefined ? {} : value;
  if (value !== true && value !== undefined) checkOptionsObject(value, arg);
  const metrics = o.metrics === undefined ? true : checkBoolean(o.metrics, `${arg}.metrics`);
  const traces = o.traces === undefined ? true : checkBoolean(o.traces, `${arg}.traces`);
  const resolved: ResolvedTelemetry = {
    auto: value === undefined,
    metrics,
    traces,
    requireParentSpan:
      o.requireParentSpan === undefined
        ? false
        : checkBoolean(o.requireParentSpan, `${arg}.requireParentSpan`),
    meterProvider: checkProvider(o.meterProvider, `${arg}.meterProvider`, "getMeter"),
    tracerProvider: checkProvider(o.tracerProvider, `${arg}.tracerProvider`, "getTracer"),
    requestPrices: resolveRequestPrices(o.requestPrices, `${arg}.requestPrices`),
  };
  return metrics || traces ? resolved : null;
}

/**
 * Request contexts for enqueues, as a traced web app hands them to its code
 * (an AsyncLocalStorage context manager registered globally).
 */
import {
  type Context,
  context,
  ROOT_CONTEXT,
  SpanKind,
  TraceFlags,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { benchTracerProvider } from "./telemetry.js";

/** The request contexts of a run, and how a request runs in one. */
export interface RequestContexts {
  /** The context request number `request` runs in. */
  of(request: number): Context;
  /**
   * Runs `handle` as request number `request`: inside a server span started
   * under the request's context and ended when `handle` settles (see
   * {@link requestContexts}'s `serverSpans`). Only with `serverSpans`; without
   * it, callers run `handle` in `context.with(of(request), handle)`.
   */
  serve<T>(request: number, handle: () => Promise<T>): Promise<T>;
  /**
   * Runs `handle` as request number `request` the way this run's requests
   * run: {@link serve} with server spans, else inside `of(request)`.
   */
  run<T>(request: number, handle: () => Promise<T>): Promise<T>;
  /** Whether request number `request` is one the parent-based sampler records (its context's span is sampled). */
  sampled(request: number): boolean;
  shutdown(): Promise<void>;
}

/**
 * Request contexts as a traced web app hands them to its code: one request in
 * `1 / share` carries a recording span (started once, from its own always-on
 * provider, so its cost is in no mode), the rest an unsampled non-recording
 * span, as a parent-based sampler leaves them.
 *
 * With `serverSpans`, {@link RequestContexts.serve} also does what an HTTP
 * instrumentation does around every request: a SERVER span started under the
 * request's context (recorded for the sampled share, non-recording for the
 * rest: a second provider with `ParentBased(TraceIdRatio(share))`), the
 * handler run inside it, the span ended after. That is the baseline of an
 * application that traces its requests: the SDK runs for every request, and
 * an enqueue's span in a sampled request is not the only span of it.
 */
export function requestContexts(share: number, serverSpans = false): RequestContexts | undefined {
  if (share <= 0) {
    if (serverSpans)
      throw new Error("Expected `--request-spans` with `--requests` above 0, got `--requests` 0");
    return undefined;
  }
  if (!(share <= 1))
    throw new Error(`Expected \`--requests\` to be a share in [0, 1], got ${share}`);
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  const provider = benchTracerProvider(1);
  const recording = provider.getTracer("bench-requests").startSpan("request");
  const sampled = trace.setSpan(ROOT_CONTEXT, recording);
  const unsampled = trace.setSpan(
    ROOT_CONTEXT,
    trace.wrapSpanContext({
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      traceFlags: TraceFlags.NONE,
    }),
  );
  const every = Math.max(1, Math.round(1 / share));
  const of = (request: number): Context => (request % every === 0 ? sampled : unsampled);
  const servers = serverSpans ? benchTracerProvider(share) : undefined;
  const server = servers?.getTracer("bench-http");
  const serve = async <T>(request: number, handle: () => Promise<T>): Promise<T> => {
    if (server === undefined) throw new Error("`serve` needs request contexts with server spans");
    const parent = of(request);
    const span = server.startSpan("POST /jobs", { kind: SpanKind.SERVER }, parent);
    try {
      return await context.with(trace.setSpan(parent, span), handle);
    } finally {
      span.end();
    }
  };
  return {
    of,
    serve,
    run: server === undefined ? (request, handle) => context.with(of(request), handle) : serve,
    sampled: (request) => request % every === 0,
    async shutdown() {
      recording.end();
      await Promise.all([provider.shutdown(), servers?.shutdown()]);
      context.disable();
    },
  };
}

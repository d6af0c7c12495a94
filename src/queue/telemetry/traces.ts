/**
 * The queue's OpenTelemetry spans: a producer span per enqueue, whose
 * context is written into the job headers as W3C `traceparent` (and
 * `tracestate`), and a consumer span per handler run, linked to that producer
 * span and active while the handler runs, so the handler's own spans nest
 * under it.
 */
import type { Span, SpanContext, Tracer } from "@opentelemetry/api";
import type { EnqueueTrace, Tracing } from "../instrument.js";
import type { Headers } from "../state.js";
import type { Claim } from "../types.js";
import type { OtelApi } from "./load.js";
import { formatTraceParent, parseTraceParent, TRACEPARENT, TRACESTATE } from "./traceparent.js";

const SYSTEM = "taquba";

export class QueueTracing implements Tracing {
  readonly #api: OtelApi;
  readonly #tracer: Tracer;

  constructor(api: OtelApi, tracer: Tracer) {
    this.#api = api;
    this.#tracer = tracer;
  }

  enqueue(queue: string, headers: Headers | undefined, count: number): EnqueueTrace {
    const api = this.#api;
    const span = this.#tracer.startSpan(
      `enqueue ${queue}`,
      {
        kind: api.SpanKind.PRODUCER,
        attributes: {
          "messaging.system": SYSTEM,
          "messaging.operation.type": "send",
          "messaging.destination.name": queue,
          ...(count === 1 ? {} : { "messaging.batch.message_count": count }),
        },
      },
      api.context.active(),
    );
    return {
      headers: withTraceContext(api, headers, span.spanContext()),
      succeeded(ids, created) {
        if (ids.length === 1) span.setAttribute("messaging.message.id", ids[0]!);
        if (!created) span.setAttribute("taquba.dedup_hit", true);
        span.end();
      },
      failed(error) {
        fail(api, span, error);
        span.end();
      },
    };
  }

  handle(claim: Claim, run: () => Promise<unknown>): Promise<unknown> {
    const api = this.#api;
    const producer = producerContext(api, claim.headers);
    const parent = api.context.active();
    const span = this.#tracer.startSpan(
      `process ${claim.queue}`,
      {
        kind: api.SpanKind.CONSUMER,
        attributes: {
          "messaging.system": SYSTEM,
          "messaging.operation.type": "process",
          "messaging.destination.name": claim.queue,
          "messaging.message.id": claim.id,
          "taquba.job.attempt": claim.attempts,
        },
        links: producer === undefined ? [] : [{ context: producer }],
      },
      parent,
    );
    let running: Promise<unknown>;
    try {
      running = api.context.with(api.trace.setSpan(parent, span), run);
    } catch (error) {
      fail(api, span, error);
      span.end();
      throw error;
    }
    return running.then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        fail(api, span, error);
        span.end();
        throw error;
      },
    );
  }
}

/** `headers` plus the span's context, when it has a valid one (a no-op tracer has none). */
function withTraceContext(
  api: OtelApi,
  headers: Headers | undefined,
  context: SpanContext,
): Headers | undefined {
  if (!api.trace.isSpanContextValid(context)) return headers;
  const out: Record<string, string> = { ...headers, [TRACEPARENT]: formatTraceParent(context) };
  const state = context.traceState?.serialize();
  if (state) out[TRACESTATE] = state;
  else delete out[TRACESTATE];
  return out;
}

/** The producer's span context from a job's headers, or undefined. */
function producerContext(api: OtelApi, headers: Headers): SpanContext | undefined {
  const parent = parseTraceParent(headers[TRACEPARENT]);
  if (parent === undefined) return undefined;
  const state = headers[TRACESTATE];
  return {
    ...parent,
    isRemote: true,
    ...(state === undefined ? {} : { traceState: api.createTraceState(state) }),
  };
}

function fail(api: OtelApi, span: Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  else span.recordException(String(error));
  span.setStatus({
    code: api.SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

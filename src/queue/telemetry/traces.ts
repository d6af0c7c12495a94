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

/** Reports a failure of the tracer (the application's SDK); the queue goes on without the span. */
export type TracingFailure = (error: unknown) => void;

/** What an enqueue does when its span could not be started: nothing. */
function untraced(headers: Headers | undefined): EnqueueTrace {
  return { headers, succeeded() {}, failed() {} };
}

export class QueueTracing implements Tracing {
  readonly #api: OtelApi;
  readonly #tracer: Tracer;
  readonly #report: TracingFailure;

  constructor(api: OtelApi, tracer: Tracer, report: TracingFailure) {
    this.#api = api;
    this.#tracer = tracer;
    this.#report = report;
  }

  enqueue(queue: string, headers: Headers | undefined, count: number): EnqueueTrace {
    const api = this.#api;
    const report = this.#report;
    let span: Span;
    let traced: Headers | undefined;
    try {
      span = this.#tracer.startSpan(
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
      traced = withTraceContext(api, headers, span.spanContext());
    } catch (error) {
      report(error);
      return untraced(headers);
    }
    return {
      headers: traced,
      succeeded(ids, created) {
        try {
          if (ids.length === 1) span.setAttribute("messaging.message.id", ids[0]!);
          if (!created) span.setAttribute("taquba.dedup_hit", true);
          span.end();
        } catch (error) {
          report(error);
        }
      },
      failed(error) {
        try {
          fail(api, span, error);
          span.end();
        } catch (spanError) {
          report(spanError);
        }
      },
    };
  }

  handle(claim: Claim, run: () => Promise<unknown>): Promise<unknown> {
    const api = this.#api;
    const report = this.#report;
    let span: Span;
    let parent: ReturnType<OtelApi["context"]["active"]>;
    try {
      const producer = producerContext(api, claim.headers);
      parent = api.context.active();
      span = this.#tracer.startSpan(
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
    } catch (error) {
      report(error);
      return run();
    }
    const end = (error?: unknown): void => {
      try {
        if (error !== undefined) fail(api, span, error);
        span.end();
      } catch (spanError) {
        report(spanError);
      }
    };
    let running: Promise<unknown>;
    try {
      running = api.context.with(api.trace.setSpan(parent, span), run);
    } catch (error) {
      end(error ?? new Error("handler threw undefined"));
      throw error;
    }
    return running.then(
      (value) => {
        end();
        return value;
      },
      (error: unknown) => {
        end(error ?? new Error("handler rejected with undefined"));
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

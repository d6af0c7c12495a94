/**
 * The queue's OpenTelemetry spans: a producer span per enqueue, whose
 * context is written into the job headers as W3C `traceparent` (and
 * `tracestate`), and a consumer span per handler run, linked to that producer
 * span and active while the handler runs, so the handler's own spans nest
 * under it. An enqueue costs one span: its attributes are made once per
 * queue, and a span the SDK samples out is neither annotated, ended, nor
 * written into the job. With `requireParentSpan` both ends start a span only
 * inside a sampled trace: an enqueue inside a recording span, a handler run
 * of a job whose `traceparent` is sampled. A `traceparent` the caller gives
 * in a single enqueue's headers (a message relayed from another system) is
 * that job's creation context, as the OpenTelemetry messaging conventions
 * have it: kept as given (the handler's span links to it), and linked from
 * the enqueue span, whose parent is still the active span.
 */
import type { Span, SpanContext, SpanOptions, Tracer } from "@opentelemetry/api";
import { messageOf } from "../../util/message.js";
import type { EnqueueTrace, Tracing } from "../instrument.js";
import type { Headers } from "../state.js";
import { encodeTraceContext, type TraceContext } from "../trace-context.js";
import type { Claim } from "../types.js";
import type { OtelApi } from "./load.js";
import { isSampledTraceParent, parseTraceParent, TRACEPARENT, TRACESTATE } from "./traceparent.js";

const SYSTEM = "taquba";
/** The sampled bit of W3C trace flags (`TraceFlags.SAMPLED`). */
const SAMPLED = 1;

/** Reports a failure of the tracer (the application's SDK); the queue goes on without the span. */
export type TracingFailure = (error: unknown) => void;

/** The span name and options of enqueues into one queue, made once (the SDK copies them). */
interface EnqueueShape {
  readonly queue: string;
  readonly name: string;
  /** Options of a one-job enqueue's span. */
  readonly options: SpanOptions;
  /** Options of a batch's span. */
  batch(count: number): SpanOptions;
}

/** An enqueue whose span records nothing but whose context travels (a no-op tracer passing a sampled parent on). */
class Untraced implements EnqueueTrace {
  readonly headers: Headers | undefined;
  readonly context: TraceContext;
  constructor(headers: Headers | undefined, context: TraceContext) {
    this.headers = headers;
    this.context = context;
  }
  succeeded(): void {}
  failed(): void {}
}

/** An enqueue in a recording span, ended when the enqueue settles. */
class EnqueueSpan implements EnqueueTrace {
  readonly headers: Headers | undefined;
  readonly context: TraceContext | undefined;
  readonly #span: Span;
  readonly #api: OtelApi;
  readonly #report: TracingFailure;

  constructor(
    headers: Headers | undefined,
    context: TraceContext | undefined,
    span: Span,
    api: OtelApi,
    report: TracingFailure,
  ) {
    this.headers = headers;
    this.context = context;
    this.#span = span;
    this.#api = api;
    this.#report = report;
  }

  succeeded(ids: readonly string[], created: boolean): void {
    try {
      if (ids.length === 1) this.#span.setAttribute("messaging.message.id", ids[0]!);
      if (!created) this.#span.setAttribute("taquba.dedup_hit", true);
      this.#span.end();
    } catch (error) {
      this.#report(error);
    }
  }

  failed(error: unknown): void {
    try {
      fail(this.#api, this.#span, error, this.#report);
    } catch (spanError) {
      this.#report(spanError);
    } finally {
      try {
        this.#span.end();
      } catch (spanError) {
        this.#report(spanError);
      }
    }
  }
}

export class QueueTracing implements Tracing {
  readonly #api: OtelApi;
  readonly #tracer: Tracer;
  readonly #report: TracingFailure;
  readonly #shapes = new Map<string, EnqueueShape>();
  #last: EnqueueShape | undefined;
  readonly #requireParentSpan: boolean;

  constructor(
    api: OtelApi,
    tracer: Tracer,
    report: TracingFailure,
    options: { requireParentSpan: boolean },
  ) {
    this.#api = api;
    this.#tracer = tracer;
    this.#report = report;
    this.#requireParentSpan = options.requireParentSpan;
  }

  enqueue(queue: string, headers: Headers | undefined, count: number): EnqueueTrace | undefined {
    const api = this.#api;
    let span: Span;
    let context: TraceContext | undefined;
    let traced: Headers | undefined = headers;
    try {
      const parent = api.context.active();
      if (this.#requireParentSpan && api.trace.getSpan(parent)?.isRecording() !== true)
        return undefined;
      const shape = this.#enqueueShape(queue);
      const options = count === 1 ? shape.options : shape.batch(count);
      // A `traceparent` the caller put in the job's own headers (a message relayed
      // from another system) is the job's creation context: the job keeps it as
      // given, and the enqueue span links to it. One lookup when there are headers.
      const given = headers === undefined ? undefined : headers[TRACEPARENT];
      const link =
        given === undefined ? undefined : callerContext(api, given, headers![TRACESTATE], parent);
      span = this.#tracer.startSpan(
        shape.name,
        link === undefined ? options : { ...options, links: [{ context: link }] },
        parent,
      );
      const spanContext = span.spanContext();
      // Only a sampled span's context travels: a sampled-out one is never
      // exported, so a link to it would lead nowhere (and its job is spared it).
      // The context is checked and encoded as the job's bytes once, here.
      context =
        (spanContext.traceFlags & SAMPLED) === 0 ? undefined : encodeTraceContext(spanContext);
      // The span's vendor state travels with its context, unless the caller's
      // `traceparent` is the job's (its `tracestate`, if any, goes with it).
      if (context !== undefined && given === undefined) {
        const state = spanContext.traceState?.serialize();
        if (state) traced = { ...headers, [TRACESTATE]: state };
      }
      // A sampled-out span records nothing: there is nothing to annotate or end.
      if (!span.isRecording())
        return context === undefined ? undefined : new Untraced(traced, context);
    } catch (error) {
      this.#report(error);
      return undefined;
    }
    return new EnqueueSpan(traced, context, span, api, this.#report);
  }

  #enqueueShape(queue: string): EnqueueShape {
    // Enqueues come in runs into one queue: the last shape is the likely one.
    const last = this.#last;
    if (last !== undefined && last.queue === queue) return last;
    let shape = this.#shapes.get(queue);
    if (shape === undefined) {
      const attributes = Object.freeze({
        "messaging.system": SYSTEM,
        "messaging.operation.type": "send",
        "messaging.destination.name": queue,
      });
      const kind = this.#api.SpanKind.PRODUCER;
      shape = {
        queue,
        name: `enqueue ${queue}`,
        options: Object.freeze({ kind, attributes }),
        batch: (count) => ({
          kind,
          attributes: { ...attributes, "messaging.batch.message_count": count },
        }),
      };
      this.#shapes.set(queue, shape);
    }
    this.#last = shape;
    return shape;
  }

  tracesRun(claim: Claim): boolean {
    // The mirror of the enqueue rule: with `requireParentSpan`, only a job
    // whose producer's context was sampled gets a span. Most jobs carry no
    // context: one header lookup and the handler runs untouched.
    if (!this.#requireParentSpan) return true;
    const traceparent = claim.headers[TRACEPARENT];
    return traceparent !== undefined && isSampledTraceParent(traceparent);
  }

  handle(
    claim: Claim,
    run: () => Promise<unknown>,
    failure: (value: unknown) => unknown | undefined,
    givenUp?: (endNow: (reason: unknown) => void) => void,
  ): Promise<unknown> {
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
    // Once: a run given up ends its span then, and its late return changes nothing.
    let ended = false;
    const end = (error?: unknown): void => {
      if (ended) return;
      ended = true;
      try {
        if (error !== undefined) fail(api, span, error, report);
      } catch (spanError) {
        report(spanError);
      } finally {
        // An unended span is never exported, so marking it failed must not stop it ending.
        try {
          span.end();
        } catch (spanError) {
          report(spanError);
        }
      }
    };
    // As for a throw: only `undefined` is no reason; a `null` one fails the span as "null".
    givenUp?.((reason) => end(reason === undefined ? new Error("the run was given up") : reason));
    let running: Promise<unknown>;
    try {
      running = api.context.with(api.trace.setSpan(parent, span), run);
    } catch (error) {
      // `??` would take a thrown `null` for `undefined`: it fails the span as "null", as the job.
      end(error === undefined ? new Error("handler threw undefined") : error);
      throw error;
    }
    return running.then(
      (value) => {
        // A handler that returned a value that cannot be its result, or returned after
        // its deadline or after its claim was lost, did not complete its attempt: its
        // span fails as a throwing one's would.
        let error: unknown;
        try {
          error = failure(value);
        } catch (failureError) {
          report(failureError);
        }
        end(error);
        return value;
      },
      (error: unknown) => {
        end(error === undefined ? new Error("handler rejected with undefined") : error);
        throw error;
      },
    );
  }
}

/** The producer's span context from a job's headers, or undefined. */
function producerContext(api: OtelApi, headers: Headers): SpanContext | undefined {
  return remoteContext(api, headers[TRACEPARENT], headers[TRACESTATE]);
}

/** The span context a W3C `traceparent` (and `tracestate`) name, or undefined when it is invalid. */
function remoteContext(
  api: OtelApi,
  traceparent: string | undefined,
  tracestate: string | undefined,
): SpanContext | undefined {
  const parent = parseTraceParent(traceparent);
  if (parent === undefined) return undefined;
  const context: SpanContext = {
    traceId: parent.traceId,
    spanId: parent.spanId,
    traceFlags: parent.traceFlags,
    isRemote: true,
  };
  if (tracestate !== undefined) context.traceState = api.createTraceState(tracestate);
  return context;
}

/**
 * The context of an enqueue caller's `traceparent` for the enqueue span to
 * link to: undefined when it is invalid, or when it names the active span
 * (the span's parent already, as when the caller injected the active
 * context into the headers).
 */
function callerContext(
  api: OtelApi,
  traceparent: string,
  tracestate: string | undefined,
  active: ReturnType<OtelApi["context"]["active"]>,
): SpanContext | undefined {
  const caller = remoteContext(api, traceparent, tracestate);
  if (caller === undefined) return undefined;
  const parent = api.trace.getSpanContext(active);
  return parent !== undefined &&
    parent.traceId === caller.traceId &&
    parent.spanId === caller.spanId
    ? undefined
    : caller;
}

function fail(api: OtelApi, span: Span, error: unknown, report: (error: unknown) => void): void {
  // A handler may throw anything; String() of some values throws, which would leave the span unended.
  const message = messageOf(error);
  try {
    span.recordException(error instanceof Error ? error : message);
  } catch {
    // The SDK reads the Error's fields, and a getter of the handler's own error may throw:
    // that is the handler's doing, not the tracer's, so record the text instead.
    try {
      span.recordException(message);
    } catch (spanError) {
      report(spanError);
    }
  }
  span.setStatus({ code: api.SpanStatusCode.ERROR, message });
}

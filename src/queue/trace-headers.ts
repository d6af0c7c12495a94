/**
 * Room for tracing in a job's headers. Tracing adds to the headers a caller
 * gave: a `traceparent` (the stored trace context, made when the job is
 * read) and, with the producer span's vendor state, a `tracestate`. Those
 * never take a job past {@link MAX_HEADERS} or {@link MAX_HEADERS_BYTES}, so
 * a job's headers, as read, can always be given back to `enqueue` (a job
 * relayed or copied to another queue). What does not fit is left out instead
 * of failing the enqueue: tracing is an observation, and whether an enqueue
 * is sampled must not decide whether it is accepted. The `tracestate` goes
 * first; a job with no room even for the `traceparent` (its own headers at
 * the limit) is stored without a trace context: its handler's span is not
 * linked to the enqueue's.
 */
import { MAX_HEADERS, MAX_HEADERS_BYTES } from "./limits.js";
import type { Headers } from "./state.js";
import { TRACEPARENT, type TraceContext } from "./trace-context.js";

/** The `traceparent` a stored trace context reads as: its name and 55 characters. */
export const TRACEPARENT_HEADER_BYTES = TRACEPARENT.length + 55;

/** What tracing stores with one job: its headers and its trace context. */
export interface TracedHeaders {
  headers: Headers | undefined;
  trace: TraceContext | undefined;
}

/**
 * The headers and trace context to store for a job whose own (checked)
 * headers are `own`, when tracing proposes `proposed` (the job's headers
 * with the span's `tracestate`) and `context`. A job with a `traceparent` of
 * its own keeps its headers as they are (nothing is added when it is read).
 */
export function fitTrace(
  own: Headers | undefined,
  proposed: Headers | undefined,
  context: TraceContext | undefined,
): TracedHeaders {
  if (context === undefined || own?.[TRACEPARENT] !== undefined)
    return { headers: proposed, trace: context };
  if (fits(proposed)) return { headers: proposed, trace: context };
  if (proposed !== own && fits(own)) return { headers: own, trace: context };
  return { headers: own, trace: undefined };
}

/** Whether `headers` and a `traceparent` stay within the limits. */
function fits(headers: Headers | undefined): boolean {
  if (headers === undefined) return true;
  let count = 1;
  let bytes = TRACEPARENT_HEADER_BYTES;
  for (const key of Object.keys(headers)) {
    count++;
    bytes += Buffer.byteLength(key) + Buffer.byteLength(headers[key]!);
  }
  return count <= MAX_HEADERS && bytes <= MAX_HEADERS_BYTES;
}

/**
 * The W3C Trace Context headers a job carries from its producer to its
 * handler: formatting and parsing `traceparent` (and passing `tracestate`
 * through), independent of any propagator the application configured.
 */

export { formatTraceParent, isValidTraceContext, TRACEPARENT } from "../trace-context.js";

/** The job header that carries vendor trace state, when the producer's span has one. */
export const TRACESTATE = "tracestate";

/** The fields of a `traceparent` (version 00). */
export interface TraceParent {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

const PARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const INVALID_TRACE_ID = "0".repeat(32);
const INVALID_SPAN_ID = "0".repeat(16);

/**
 * The context in a `traceparent` header, or `undefined` when it is missing or
 * malformed (as the W3C specification says: then there is no parent). Later
 * versions are read as version 00, as the specification asks.
 */
export function parseTraceParent(value: string | undefined): TraceParent | undefined {
  if (value === undefined) return undefined;
  const match = PARENT.exec(value.trim());
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === INVALID_TRACE_ID || spanId === INVALID_SPAN_ID) return undefined;
  return { traceId: traceId!, spanId: spanId!, traceFlags: Number.parseInt(flags!, 16) };
}

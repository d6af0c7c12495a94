/**
 * The W3C Trace Context headers a job carries from its producer to its
 * handler: formatting and parsing `traceparent` (and passing `tracestate`
 * through), independent of any propagator the application configured.
 */

/** The job header that carries the producer's span. */
export const TRACEPARENT = "traceparent";
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

/** `00-<trace id>-<span id>-<flags>`. */
export function formatTraceParent(parent: TraceParent): string {
  return `00-${parent.traceId}-${parent.spanId}-${(parent.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

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

/**
 * Whether `parent` makes a `traceparent` the consumer side accepts: ids of
 * lower-case hex digits, of the right length, neither all zeros. (A loop over
 * the characters: a regular expression costs several times more per enqueue.)
 */
export function isValidTraceContext(parent: TraceParent): boolean {
  return isHexId(parent.traceId, 32) && isHexId(parent.spanId, 16);
}

function isHexId(id: string, length: number): boolean {
  if (id.length !== length) return false;
  let nonZero = false;
  for (let i = 0; i < length; i++) {
    const c = id.charCodeAt(i);
    if (c === 0x30) continue;
    if (!((c > 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
    nonZero = true;
  }
  return nonZero;
}

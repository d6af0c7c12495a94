/**
 * The W3C Trace Context headers a job carries from its producer to its
 * handler: formatting and parsing `traceparent` (and passing `tracestate`
 * through), independent of any propagator the application configured.
 */

import { isValidTraceContext } from "../trace-context.js";

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
  // What taquba writes (version 00, nothing around it), read without the regular expression.
  const written = parseWritten(value);
  if (written !== undefined) return written;
  const match = PARENT.exec(value.trim());
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === INVALID_TRACE_ID || spanId === INVALID_SPAN_ID) return undefined;
  return { traceId: traceId!, spanId: spanId!, traceFlags: Number.parseInt(flags!, 16) };
}

/** The value of a lower-case hex digit, -1 for any other code. */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * A version-00 `traceparent` exactly as formatted (55 characters, lower-case
 * hex, valid ids), or `undefined` for anything else (left to the full parse).
 */
function parseWritten(value: string): TraceParent | undefined {
  if (
    value.length !== 55 ||
    value.charCodeAt(0) !== 0x30 ||
    value.charCodeAt(1) !== 0x30 ||
    value.charCodeAt(2) !== 0x2d ||
    value.charCodeAt(35) !== 0x2d ||
    value.charCodeAt(52) !== 0x2d
  )
    return undefined;
  const high = hexDigit(value.charCodeAt(53));
  const low = hexDigit(value.charCodeAt(54));
  if (high < 0 || low < 0) return undefined;
  const parent = {
    traceId: value.slice(3, 35),
    spanId: value.slice(36, 52),
    traceFlags: (high << 4) | low,
  };
  return isValidTraceContext(parent) ? parent : undefined;
}

/**
 * Whether `value` is a valid `traceparent` with the sampled flag set. What
 * taquba writes is answered from its flags digit before anything is sliced
 * (an unsampled context costs no parse); anything else is parsed.
 */
export function isSampledTraceParent(value: string): boolean {
  if (value.length === 55 && value.charCodeAt(52) === 0x2d) {
    const low = hexDigit(value.charCodeAt(54));
    if (low >= 0 && (low & 1) === 0) return false;
  }
  const parent = parseTraceParent(value);
  return parent !== undefined && (parent.traceFlags & 1) === 1;
}

/**
 * A producer's trace context as a job carries it: the W3C trace id, span id
 * and trace flags, stored as 25 bytes (in the enqueue record, the job
 * table's trace column and the checkpoint) instead of a `traceparent`
 * header string. The header is made from these bytes when a job's headers
 * are read (a traced debounce's replacement, which has no such field, carries
 * its context as the header itself). Independent of OpenTelemetry: the core
 * never loads it.
 */

/** A span's context (the fields of OpenTelemetry's `SpanContext` a job keeps). */
export interface TraceContext {
  /** 32 lower-case hex digits, not all zeros. */
  readonly traceId: string;
  /** 16 lower-case hex digits, not all zeros. */
  readonly spanId: string;
  /** W3C trace flags (bit 0: sampled). */
  readonly traceFlags: number;
  /**
   * The same context as {@link TRACE_BYTES} bytes, when whoever made it
   * encoded it already ({@link encodeTraceContext}): writing it then copies
   * these instead of reading the hex digits again.
   */
  readonly bytes?: Uint8Array | undefined;
}

/** Bytes of a trace context on the wire: trace id, span id, flags. */
export const TRACE_BYTES = 25;

/** The job header that carries the producer's span. */
export const TRACEPARENT = "traceparent";

const HEX = "0123456789abcdef";

function nibble(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Whether `id` is `length` lower-case hex digits, not all zeros. */
function isHexId(id: string, length: number): boolean {
  if (id.length !== length) return false;
  let nonZero = false;
  for (let i = 0; i < length; i++) {
    const v = nibble(id.charCodeAt(i));
    if (v < 0) return false;
    if (v !== 0) nonZero = true;
  }
  return nonZero;
}

/**
 * Whether `context` can be stored: ids of lower-case hex digits of the right
 * length, neither all zeros (otherwise it links to nothing).
 */
export function isValidTraceContext(context: TraceContext): boolean {
  return isHexId(context.traceId, 32) && isHexId(context.spanId, 16);
}

function writeHex(id: string, out: Uint8Array, at: number): void {
  for (let i = 0; i < id.length >> 1; i++)
    out[at + i] = (nibble(id.charCodeAt(2 * i)) << 4) | nibble(id.charCodeAt(2 * i + 1));
}

/** The value of each ASCII code as a lower-case hex digit, -1 when it is none. */
const NIBBLES: Int8Array = Int8Array.from({ length: 128 }, (_, c) => nibble(c));

/**
 * Decodes `length` lower-case hex digits of `id` into `out[at..]` and tells
 * whether they were a valid id: all hex digits, not all zeros (one pass, no
 * allocation).
 */
function decodeId(id: string, length: number, out: Uint8Array, at: number): boolean {
  if (id.length !== length) return false;
  let digits = 0; // negative once a code is no hex digit
  let codes = 0; // 0x80 or more once a code is no ASCII
  let any = 0; // non-zero once a byte is
  for (let i = 0, j = 0; i < length; i += 2, j++) {
    const a = id.charCodeAt(i);
    const b = id.charCodeAt(i + 1);
    const hi = NIBBLES[a & 0x7f]!;
    const lo = NIBBLES[b & 0x7f]!;
    digits |= hi | lo;
    codes |= a | b;
    const byte = (hi << 4) | lo;
    out[at + j] = byte;
    any |= byte;
  }
  return digits >= 0 && codes < 0x80 && any !== 0;
}

/**
 * `context` with its {@link TRACE_BYTES} bytes made once (so writing it into
 * a record and into the job table copies them), or `undefined` when it is not
 * {@link isValidTraceContext}. One pass over the hex digits checks and
 * encodes them.
 */
export function encodeTraceContext(context: TraceContext): TraceContext | undefined {
  const bytes = new Uint8Array(TRACE_BYTES);
  if (!decodeId(context.traceId, 32, bytes, 0) || !decodeId(context.spanId, 16, bytes, 16))
    return undefined;
  const traceFlags = context.traceFlags & 0xff;
  bytes[24] = traceFlags;
  return { traceId: context.traceId, spanId: context.spanId, traceFlags, bytes };
}

/**
 * Writes `context`, which must be {@link isValidTraceContext} (the tracer
 * checks it once, before the context reaches a record), as
 * {@link TRACE_BYTES} bytes at `out[at..]`.
 */
export function writeTraceBytes(context: TraceContext, out: Uint8Array, at: number): void {
  const bytes = context.bytes;
  if (bytes !== undefined) {
    for (let k = 0; k < TRACE_BYTES; k++) out[at + k] = bytes[k]!;
    return;
  }
  writeHex(context.traceId, out, at);
  writeHex(context.spanId, out, at + 16);
  out[at + 24] = context.traceFlags & 0xff;
}

function hex(bytes: Uint8Array, from: number, to: number): string {
  let out = "";
  for (let i = from; i < to; i++) {
    const b = bytes[i]!;
    out += HEX[b >> 4]! + HEX[b & 15]!;
  }
  return out;
}

/** The context stored as {@link TRACE_BYTES} bytes at `bytes[at..]`. */
export function readTraceBytes(bytes: Uint8Array, at: number): TraceContext {
  return {
    traceId: hex(bytes, at, at + 16),
    spanId: hex(bytes, at + 16, at + 24),
    traceFlags: bytes[at + 24]!,
  };
}

/** `00-<trace id>-<span id>-<flags>`. */
export function formatTraceParent(context: TraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${HEX[(context.traceFlags >> 4) & 15]}${HEX[context.traceFlags & 15]}`;
}

/** The `traceparent` of the context stored at `bytes[at..]`. */
export function traceParentOf(bytes: Uint8Array, at: number): string {
  return `00-${hex(bytes, at, at + 16)}-${hex(bytes, at + 16, at + 24)}-${hex(bytes, at + 24, at + 25)}`;
}

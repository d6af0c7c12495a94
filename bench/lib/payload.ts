import { performance } from "node:perf_hooks";

/**
 * A payload of `bytes` bytes whose first 8 bytes (when it has room) carry the
 * `performance.now()` at which it was made, so a worker can compute
 * end-to-end latency without a side table.
 */
export function timedPayload(bytes: number, stampMs = performance.now()): Uint8Array {
  const payload = new Uint8Array(bytes).fill(0x61);
  if (bytes >= 8) new DataView(payload.buffer).setFloat64(0, stampMs, true);
  return payload;
}

/** The stamp written by {@link timedPayload}, or `undefined` if the payload is too short. */
export function payloadStamp(payload: Uint8Array): number | undefined {
  if (payload.byteLength < 8) return undefined;
  return new DataView(payload.buffer, payload.byteOffset, 8).getFloat64(0, true);
}

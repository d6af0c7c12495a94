/**
 * Size limits of everything a job stores besides its payload (which has its
 * own, configurable `maxPayloadBytes`). Every limit is checked before
 * anything is written, so an oversized value is an `InvalidArgumentError` and
 * never reaches the log or a checkpoint. Sizes are UTF-8 bytes.
 */

/** Longest queue name: 255 UTF-8 bytes (names are at least 1 byte). */
export const MAX_QUEUE_NAME_BYTES = 255;
/** Longest `dedupKey`: 1 024 UTF-8 bytes. */
export const MAX_DEDUP_KEY_BYTES = 1_024;
/**
 * Most headers on one job: 64. Like {@link MAX_HEADERS_BYTES}, it holds for
 * the headers as read, the `traceparent` and `tracestate` tracing adds
 * included (left out when they do not fit).
 */
export const MAX_HEADERS = 64;
/** Longest header name: 256 UTF-8 bytes. */
export const MAX_HEADER_KEY_BYTES = 256;
/** Longest header value: 8 192 UTF-8 bytes. */
export const MAX_HEADER_VALUE_BYTES = 8_192;
/** Most bytes of all header names and values of one job together: 16 384. */
export const MAX_HEADERS_BYTES = 16_384;
/**
 * Longest failure message: the `error` of `nack` and the `reason` of
 * `deadLetter`, 8 192 UTF-8 bytes. `runWorker` cuts a handler's error message
 * to this length (ending it with "…") rather than fail the settlement.
 */
export const MAX_MESSAGE_BYTES = 8_192;
/** Longest user KV key: 1 024 UTF-8 bytes (keys are at least 1 byte). */
export const MAX_KV_KEY_BYTES = 1_024;
/** Largest user KV value: 262 144 bytes (256 KiB). */
export const MAX_KV_VALUE_BYTES = 262_144;

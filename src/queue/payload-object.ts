/**
 * A payload object's body and what reading one can find wrong: the bytes
 * followed by a checksum trailer ({@link encodePayloadObject},
 * {@link decodePayloadObject}), and the errors that are about one object
 * alone (damaged or gone), with which a listing shows the job without its
 * payload instead of failing.
 */
import { crc32 } from "node:zlib";
import { CorruptionError, StorageError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { JobRecord } from "./types.js";

/**
 * What follows the payload's bytes in its object: a magic number and the
 * CRC32 of the bytes (both big-endian u32), so a damaged object is detected
 * on read instead of handed out. Objects written before the trailer existed
 * are exactly the payload's size (which every record carries) and are read
 * as they are: no record or log format changed.
 */
const PAYLOAD_TRAILER_MAGIC = 0x54515031; // "TQP1"
export const PAYLOAD_TRAILER_BYTES = 8;

/** The object body of `bytes`: the bytes, then the trailer. */
export function encodePayloadObject(bytes: Uint8Array): Uint8Array {
  const body = new Uint8Array(bytes.byteLength + PAYLOAD_TRAILER_BYTES);
  body.set(bytes);
  const view = new DataView(body.buffer, body.byteOffset + bytes.byteLength, PAYLOAD_TRAILER_BYTES);
  view.setUint32(0, PAYLOAD_TRAILER_MAGIC);
  view.setUint32(4, crc32(bytes));
  return body;
}

/**
 * The payload in object `key`'s `body`, checked against `size`, the size the
 * job's record knows. Throws {@link CorruptionError} naming the object when
 * the body is neither the payload with an intact trailer nor, from before
 * the trailer, exactly `size` bytes. With `size` unknown (`undefined`: a
 * record not written by the queue) the body is returned as it is: without
 * the size, an old object whose last bytes happen to look like a trailer
 * cannot be told from a new one.
 */
export function decodePayloadObject(
  key: string,
  body: Uint8Array,
  size: number | undefined,
): Uint8Array {
  // Written before payload checksums (or with the trailer cut off, the bytes whole).
  if (size === undefined || body.byteLength === size) return body;
  const length = body.byteLength - PAYLOAD_TRAILER_BYTES;
  if (length !== size) {
    throw new CorruptionError(
      key,
      `payload object is ${body.byteLength} bytes, expected ${size} + ${PAYLOAD_TRAILER_BYTES} ` +
        `(the job's ${size}-byte payload and its checksum): it is truncated or overwritten`,
    );
  }
  const view = new DataView(body.buffer, body.byteOffset + length, PAYLOAD_TRAILER_BYTES);
  if (view.getUint32(0) !== PAYLOAD_TRAILER_MAGIC) {
    throw new CorruptionError(key, "payload object's checksum trailer is damaged");
  }
  const bytes = body.subarray(0, length);
  if (view.getUint32(4) !== crc32(bytes))
    throw new CorruptionError(key, "payload object checksum mismatch");
  return bytes;
}

/**
 * A payload object that is not there: the job was removed meanwhile, or the
 * object was deleted outside taquba. Permanent, and about this one object
 * only (unlike a store that fails to answer), so a claim may go on to the
 * next job.
 */
export class MissingPayloadError extends StorageError {}

/**
 * Whether `error`, from reading a job's payload object, is about that object
 * alone and no retry can change it: the object is damaged or gone. Unlike a
 * store that fails to answer, it says nothing of the next job's object.
 */
export function isUnreadable(error: unknown): error is CorruptionError | MissingPayloadError {
  return error instanceof CorruptionError || error instanceof MissingPayloadError;
}

/**
 * `record`, listed without its payload because its object is unreadable
 * (`error`, see {@link isUnreadable}): an empty `payload`, `payloadError`
 * saying why and naming the object; `payloadRef` and `payloadSize` stay.
 */
export function markUnreadable<T extends JobRecord>(record: T, error: Error): T {
  record.payload = new Uint8Array(0);
  record.payloadError = error.message;
  return record;
}

/** One warning for the jobs of a listing that were listed without their payload (see {@link markUnreadable}). */
export function warnUnreadable(logger: Logger, records: readonly JobRecord[]): void {
  const first = records[0]!;
  const more = records.length > 1 ? ` and ${records.length - 1} more` : "";
  logger.warn(`job ${first.id}${more} listed without payload: ${first.payloadError}`, {
    jobIds: records.map((r) => r.id),
    objectKeys: records.map((r) => r.payloadRef),
  });
}

/**
 * How many bytes of object key a store leaves to a queue's path and the
 * names under it. S3, Azure Blob Storage and GCS refuse a key over 1,024
 * bytes (an HTTP 400 at the write), and their stores put their own `prefix`
 * and "/" before every key; a file, memory or custom store has no such
 * limit. A cloud store records its room on itself, under a registry symbol
 * (non-enumerable, not part of its type), so a queue can refuse a path that
 * leaves no room before it writes anything.
 */
import { invalidArgumentGot } from "../validate.js";

/** The longest object key S3, Azure Blob Storage and GCS take, in UTF-8 bytes. */
export const MAX_OBJECT_KEY_BYTES = 1_024;

/**
 * The longest name a log or queue writes under its path, in UTF-8 bytes: a
 * checkpoint's, `checkpoint/`, a 20-digit id, "-" and a ULID (WAL and
 * manifest names take 24 and 29, payload objects 34, the probe 32, the
 * heartbeat at most 30).
 */
export const LONGEST_NAME_BYTES = 58;

/** Registry key of a store's key room (see {@link keyRoomOf}). */
const KEY_ROOM = Symbol.for("taquba.keyRoom");

/**
 * Records on `store` the key bytes its normalised `prefix` (`""` or
 * `"a/b/"`) leaves. `arg` of `name` names the option in a refusal: a prefix
 * that leaves no room for any path (not even the store's root) is refused.
 */
export function setKeyRoom(store: object, prefix: string, arg: string, name: string): void {
  const room = MAX_OBJECT_KEY_BYTES - Buffer.byteLength(prefix, "utf8");
  if (room < LONGEST_NAME_BYTES)
    throw invalidArgumentGot(
      arg,
      `at most ${MAX_OBJECT_KEY_BYTES - 1 - LONGEST_NAME_BYTES} UTF-8 bytes (keys take at most ${MAX_OBJECT_KEY_BYTES.toLocaleString("en-US")} bytes, and a queue adds names of up to ${LONGEST_NAME_BYTES} bytes after the prefix and its "/")`,
      `${MAX_OBJECT_KEY_BYTES - room - 1} bytes`,
      name,
    );
  Object.defineProperty(store, KEY_ROOM, { value: room });
}

/**
 * The key bytes `store` leaves after its own prefix, or `undefined` for a
 * store without a limit (file, memory, custom stores).
 */
export function keyRoomOf(store: object): number | undefined {
  const room = (store as Record<symbol, unknown>)[KEY_ROOM];
  return typeof room === "number" ? room : undefined;
}

/** Gives `wrapper` the key room of the store it wraps (if that has one). */
export function copyKeyRoom(inner: object, wrapper: object): void {
  const room = keyRoomOf(inner);
  if (room !== undefined) Object.defineProperty(wrapper, KEY_ROOM, { value: room });
}

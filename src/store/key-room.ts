/**
 * How much of an object key a store leaves to a queue's path and the names
 * under it. S3 and GCS refuse a key over 1,024 UTF-8 bytes; Azure Blob
 * Storage one over 1,024 characters or 254 "/"-separated segments (an HTTP
 * 400 at the write). Their stores put their own `prefix` and "/" before
 * every key; a file, memory or custom store has no such limit. A cloud store
 * records its room on itself, under a registry symbol (non-enumerable, not
 * part of its type), so a queue can refuse a path that leaves no room before
 * it writes anything.
 */
import { invalidArgumentGot } from "../validate.js";

/** The longest object key S3, Azure Blob Storage and GCS take, in their {@link KeyUnit}. */
export const MAX_OBJECT_KEY_BYTES = 1_024;

/**
 * The longest name a log or queue writes under its path, in UTF-8 bytes (all
 * ASCII, so as many characters): a checkpoint's, `checkpoint/`, a 20-digit
 * id, "-" and a ULID (WAL and manifest names take 24 and 29, payload objects
 * 34, the probe 32, the heartbeat at most 30).
 */
export const LONGEST_NAME_BYTES = 58;

/** The "/"-separated segments of every name a log or queue writes under its path (`wal/<id>`, …). */
export const NAME_SEGMENTS = 2;

/** The most "/"-separated segments Azure Blob Storage takes in a blob name. */
export const MAX_AZURE_SEGMENTS = 254;

/**
 * How a store counts a key's length: S3 and GCS in UTF-8 bytes, Azure in
 * characters (UTF-16 code units, as .NET counts a string: never fewer than
 * the code points, so nothing Azure refuses passes).
 */
export type KeyUnit = "UTF-8 bytes" | "characters";

/** The limits of a store's keys: {@link KeyUnit} and, for Azure, the most segments. */
export interface KeyLimits {
  readonly unit: KeyUnit;
  readonly segments?: number;
}

/** S3's and GCS's keys: 1,024 UTF-8 bytes. */
export const BYTE_KEYS: KeyLimits = Object.freeze({ unit: "UTF-8 bytes" });

/** Azure's blob names: 1,024 characters and {@link MAX_AZURE_SEGMENTS} segments. */
export const AZURE_BLOB_NAMES: KeyLimits = Object.freeze({
  unit: "characters",
  segments: MAX_AZURE_SEGMENTS,
});

/** What a store's prefix leaves of its keys (see {@link keyRoomOf}). */
export interface KeyRoom {
  /** Key length left after the store's prefix and its "/", in {@link unit}. */
  readonly length: number;
  readonly unit: KeyUnit;
  /** "/"-separated segments left after the prefix, or `undefined` for no such limit. */
  readonly segments: number | undefined;
}

/** Registry key of a store's key room (see {@link keyRoomOf}). */
const KEY_ROOM = Symbol.for("taquba.keyRoom");

/** The length of `text` in `unit`. */
export function keyLength(text: string, unit: KeyUnit): number {
  return unit === "characters" ? text.length : Buffer.byteLength(text, "utf8");
}

/** The short word for `unit` in a count ("966 characters", "1149 bytes"). */
export function unitWord(unit: KeyUnit): string {
  return unit === "characters" ? "characters" : "bytes";
}

/** The "/"-separated segments of a normalised prefix (`""` or `"a/b/"`). */
export function prefixSegments(prefix: string): number {
  let count = 0;
  for (let i = prefix.indexOf("/"); i !== -1; i = prefix.indexOf("/", i + 1)) count++;
  return count;
}

/**
 * Records on `store` the key room its normalised `prefix` (`""` or `"a/b/"`)
 * leaves under `limits`. `arg` of `name` names the option in a refusal: a
 * prefix that leaves no room for any path (not even the store's root) is
 * refused.
 */
export function setKeyRoom(
  store: object,
  prefix: string,
  arg: string,
  name: string,
  limits: KeyLimits = BYTE_KEYS,
): void {
  const { unit } = limits;
  const word = unitWord(unit);
  const length = MAX_OBJECT_KEY_BYTES - keyLength(prefix, unit);
  if (length < LONGEST_NAME_BYTES)
    throw invalidArgumentGot(
      arg,
      `at most ${MAX_OBJECT_KEY_BYTES - 1 - LONGEST_NAME_BYTES} ${unit} (keys take at most ${MAX_OBJECT_KEY_BYTES.toLocaleString("en-US")} ${word}, and a queue adds names of up to ${LONGEST_NAME_BYTES} ${word} after the prefix and its "/")`,
      `${MAX_OBJECT_KEY_BYTES - length - 1} ${word}`,
      name,
    );
  let segments: number | undefined;
  if (limits.segments !== undefined) {
    const used = prefixSegments(prefix);
    segments = limits.segments - used;
    if (segments < NAME_SEGMENTS)
      throw invalidArgumentGot(
        arg,
        `at most ${limits.segments - NAME_SEGMENTS} "/"-separated segments (blob names take at most ${limits.segments} segments, and a queue adds names of ${NAME_SEGMENTS} segments after the prefix)`,
        `${used} segments`,
        name,
      );
  }
  const room: KeyRoom = Object.freeze({ length, unit, segments });
  Object.defineProperty(store, KEY_ROOM, { value: room });
}

/**
 * The key room `store` leaves after its own prefix, or `undefined` for a
 * store without a limit (file, memory, custom stores).
 */
export function keyRoomOf(store: object): KeyRoom | undefined {
  const room = (store as Record<symbol, unknown>)[KEY_ROOM];
  return typeof room === "object" && room !== null ? (room as KeyRoom) : undefined;
}

/** Gives `wrapper` the key room of the store it wraps (if that has one). */
export function copyKeyRoom(inner: object, wrapper: object): void {
  const room = keyRoomOf(inner);
  if (room !== undefined) Object.defineProperty(wrapper, KEY_ROOM, { value: room });
}

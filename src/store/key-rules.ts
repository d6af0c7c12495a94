/**
 * The object keys FileStore and MemoryStore accept: "/"-separated non-empty
 * segments, none of them "." or "..", without NUL, backslash or an unpaired
 * UTF-16 surrogate. FileStore needs this (a key names a file path); MemoryStore
 * refuses the same keys so that code tested in memory also runs on files.
 */
import { invalidArgument, invalidArgumentGot } from "../validate.js";

/** Whether `segment` (one `/`-separated piece of a key) is allowed. */
export function segmentProblem(segment: string): string | undefined {
  if (segment === "") return "an empty path segment";
  if (segment === "." || segment === "..") return `a "${segment}" path segment`;
  if (segment.includes("\0")) return "a NUL character";
  if (segment.includes("\\")) return "a backslash";
  // In `u` mode a well-formed surrogate pair is one code point, so this finds only lone halves.
  if (/\p{Cs}/u.test(segment)) return "an unpaired UTF-16 surrogate";
  return undefined;
}

/**
 * Split a key into segments, or throw {@link InvalidArgumentError} naming the
 * key and what is wrong with it.
 */
export function keySegments(key: string): string[] {
  if (typeof key !== "string" || key === "")
    throw invalidArgument("key", "a non-empty string", key);
  if (key.startsWith("/"))
    throw invalidArgumentGot(
      "key",
      'a relative object key (no leading "/"), e.g. "jobs/1"',
      JSON.stringify(key),
    );
  const segments = key.split("/");
  for (const segment of segments) checkSegment(key, segment);
  return segments;
}

/**
 * Throws {@link InvalidArgumentError} as {@link keySegments} would for `key`
 * if `segment`, one of its segments, is not allowed.
 */
export function checkSegment(key: string, segment: string): void {
  const problem = segmentProblem(segment);
  if (problem !== undefined)
    throw invalidArgumentGot(
      "key",
      '"/"-separated non-empty segments without "." or "..", NUL or backslash',
      `${JSON.stringify(key)}, which contains ${problem}`,
    );
}

/** Whether `segment` would be accepted inside a key (used to prune list prefixes). */
export function isValidSegment(segment: string): boolean {
  return segmentProblem(segment) === undefined;
}

/** Throws {@link InvalidArgumentError} naming `key` and what is wrong with it, unless every store accepts it. */
export function checkObjectKey(key: string): void {
  keySegments(key);
}

/** Checks and normalisation the cloud adapters share: key and prefix rules, list page limits, option checks. */
import { integerRange, invalidArgument, invalidArgumentGot } from "../../validate.js";
import { checkListLimit, checkListPrefix } from "../call-arguments.js";
import { MAX_TIMEOUT_MS } from "../deadline.js";

/** The most keys any of S3, Azure or GCS returns in one list page. */
export const MAX_LIST_PAGE = 1000;

/**
 * Normalise a store prefix to `""` or `"a/b/"`: keys live in a "directory", so
 * prefix `"jobs"` never captures a sibling `"jobs2/..."`. `arg` of `store`
 * names the option in the message.
 */
export function normalizePrefix(prefix: string | undefined, arg: string, store: string): string {
  if (prefix === undefined || prefix === "") return "";
  if (typeof prefix !== "string") throw invalidArgument(arg, "a string", prefix, store);
  checkEncodable(prefix, arg, store);
  const trimmed = prefix.replace(/^\/+/, "").replace(/\/+$/, "");
  if (trimmed === "") return "";
  if (trimmed.split("/").some((segment) => segment === "" || segment === "." || segment === ".."))
    throw invalidArgumentGot(
      arg,
      '"/"-separated names without empty, "." or ".." segments',
      JSON.stringify(prefix),
      store,
    );
  return `${trimmed}/`;
}

/** Reject what no object store accepts as a key; the message names the key. */
export function checkKey(key: string): void {
  if (typeof key !== "string" || key === "")
    throw invalidArgument("key", "a non-empty string", key);
  checkEncodable(key, "key");
}

/**
 * Refuse a key, prefix or list cursor (`arg` of `of`) holding an unpaired
 * UTF-16 surrogate: it has no UTF-8 form, so no request can carry it (the
 * SDKs fail with a `URIError`, which would otherwise read as a transient
 * store failure).
 */
export function checkEncodable(text: string, arg: string, of?: string): void {
  // In `u` mode a well-formed surrogate pair is one code point, so this finds only lone halves.
  if (/\p{Cs}/u.test(text))
    throw invalidArgumentGot(
      arg,
      "text without an unpaired UTF-16 surrogate (one has no UTF-8 form, so no request can carry it)",
      JSON.stringify(text),
      of,
    );
}

/** The argument checks of every store ({@link checkListPrefix}) and {@link checkEncodable} for the arguments of `list`. */
export function checkListArguments(prefix: string, startAfter: string | undefined): void {
  checkListPrefix(prefix, startAfter);
  checkEncodable(prefix, "prefix", "list");
  if (startAfter !== undefined) checkEncodable(startAfter, "options.startAfter", "list");
}

/**
 * Refuse text (`arg` of `of`) an XML 1.0 listing cannot carry as it is: a
 * control character other than tab and line feed (a carriage return comes
 * back as a line feed or escaped), U+FFFE or U+FFFF. Azure lists names in
 * XML; Azurite answers any listing that holds (or asks for) such a name with
 * HTTP 500, so one such key would make its whole folder unlistable.
 */
export function checkXmlText(text: string, arg: string, of?: string): void {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09 && code !== 0x0a) || code === 0xfffe || code === 0xffff)
      throw invalidArgumentGot(
        arg,
        "a name without control characters (other than tab and line feed), U+FFFE or U+FFFF, which the service's XML listings cannot carry",
        `${JSON.stringify(text)}, with U+${code.toString(16).toUpperCase().padStart(4, "0")}`,
        of,
      );
  }
}

/** A bucket or container name (option `arg` of `store`): required and non-empty. */
export function checkName(value: unknown, arg: string, store: string): string {
  if (typeof value !== "string" || value.trim() === "")
    throw invalidArgument(arg, "a non-empty string", value, store);
  return value;
}

/** An optional integer option (`arg` of `store`) of at least `min` (default 1). */
export function checkInteger(value: number | undefined, arg: string, store: string, min = 1): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= min))
    throw invalidArgument(arg, integerRange(min), value, store);
}

/** An optional time limit in milliseconds (`arg` of `store`): an integer from 1 to {@link MAX_TIMEOUT_MS}. */
export function checkTimeout(value: number | undefined, arg: string, store: string): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1 && value <= MAX_TIMEOUT_MS))
    throw invalidArgument(
      arg,
      `a positive integer number of milliseconds up to ${MAX_TIMEOUT_MS} (about 24.8 days, the longest a timer can wait)`,
      value,
      store,
    );
}

const PATH_KEY_EXPECTED = '"/"-separated names without "\\", "." or ".." segments';

/**
 * Keys of stores addressed by URL path whose client resolves `.` and `..`
 * segments and reads a backslash as `/` (Azure): such a key would name
 * another object than the one asked for, so it is refused. So is a name its
 * XML listings cannot carry ({@link checkXmlText}). `arg` (of `of`) names the
 * key or option in the message.
 */
export function checkPathKey(key: string, arg = "key", of?: string): void {
  checkXmlText(key, arg, of);
  if (key.includes("\\"))
    throw invalidArgumentGot(
      arg,
      PATH_KEY_EXPECTED,
      `${JSON.stringify(key)}, with a backslash, which the service reads as "/"`,
      of,
    );
  if (key.split("/").some((segment) => segment === "." || segment === ".."))
    throw invalidArgumentGot(
      arg,
      PATH_KEY_EXPECTED,
      `${JSON.stringify(key)}, with a "." or ".." segment, which the service's URLs resolve away (the object would land under another name)`,
      of,
    );
}

/** A requested list limit ({@link checkListLimit}), clamped into what one request can return. */
export function pageLimit(limit: number | undefined): number {
  return Math.min(MAX_LIST_PAGE, checkListLimit(limit, MAX_LIST_PAGE));
}

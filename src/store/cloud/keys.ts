/** Checks and normalisation the cloud adapters share: key and prefix rules, list page limits, option checks. */
import { InvalidArgumentError } from "../../errors.js";
import { MAX_TIMEOUT_MS } from "../deadline.js";

/** The most keys any of S3, Azure or GCS returns in one list page. */
export const MAX_LIST_PAGE = 1000;

/**
 * Normalise a store prefix to `""` or `"a/b/"`: keys live in a "directory", so
 * prefix `"jobs"` never captures a sibling `"jobs2/..."`.
 */
export function normalizePrefix(prefix: string | undefined, optionName: string): string {
  if (prefix === undefined || prefix === "") return "";
  if (typeof prefix !== "string")
    throw new InvalidArgumentError(`${optionName}: expected a string, got ${typeof prefix}`);
  checkEncodable(prefix, optionName);
  const trimmed = prefix.replace(/^\/+/, "").replace(/\/+$/, "");
  if (trimmed === "") return "";
  if (trimmed.split("/").some((segment) => segment === "" || segment === "." || segment === ".."))
    throw new InvalidArgumentError(
      `${optionName}: expected "/"-separated names without empty, "." or ".." segments, got "${prefix}"`,
    );
  return `${trimmed}/`;
}

/** Reject what no object store accepts as a key; the message names the key. */
export function checkKey(key: string): void {
  if (typeof key !== "string" || key === "")
    throw new InvalidArgumentError(
      `object key: expected a non-empty string, got ${JSON.stringify(key)}`,
    );
  checkEncodable(key, "object key");
}

/**
 * Refuse a key, prefix or list cursor holding an unpaired UTF-16 surrogate:
 * it has no UTF-8 form, so no request can carry it (the SDKs fail with a
 * `URIError`, which would otherwise read as a transient store failure).
 */
export function checkEncodable(text: string, what: string): void {
  // In `u` mode a well-formed surrogate pair is one code point, so this finds only lone halves.
  if (/\p{Cs}/u.test(text))
    throw new InvalidArgumentError(
      `${what} ${JSON.stringify(text)} contains an unpaired UTF-16 surrogate, which has no UTF-8 form: no request can carry it`,
    );
}

/** {@link checkEncodable} for the arguments of `list`. */
export function checkListArguments(prefix: string, startAfter: string | undefined): void {
  checkEncodable(prefix, "list prefix");
  if (startAfter !== undefined) checkEncodable(startAfter, "list startAfter");
}

/**
 * Refuse text an XML 1.0 listing cannot carry as it is: a control character
 * other than tab and line feed (a carriage return comes back as a line feed
 * or escaped), U+FFFE or U+FFFF. Azure lists names in XML; Azurite answers
 * any listing that holds (or asks for) such a name with HTTP 500, so one
 * such key would make its whole folder unlistable.
 */
export function checkXmlText(text: string, what: string): void {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09 && code !== 0x0a) || code === 0xfffe || code === 0xffff)
      throw new InvalidArgumentError(
        `${what} ${JSON.stringify(text)} contains U+${code.toString(16).toUpperCase().padStart(4, "0")}, which the service's XML listings cannot carry; expected names without control characters (other than tab and line feed), U+FFFE or U+FFFF`,
      );
  }
}

/** A bucket or container name: required and non-empty. */
export function checkName(value: unknown, optionName: string): string {
  if (typeof value !== "string" || value.trim() === "")
    throw new InvalidArgumentError(
      `${optionName}: expected a non-empty string, got ${JSON.stringify(value)}`,
    );
  return value;
}

/** An optional integer option of at least `min` (default 1); the message names it. */
export function checkInteger(value: number | undefined, optionName: string, min = 1): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= min))
    throw new InvalidArgumentError(
      `${optionName}: expected ${min === 1 ? "a positive integer" : `an integer >= ${min}`}, got ${value}`,
    );
}

/** An optional time limit in milliseconds: an integer from 1 to {@link MAX_TIMEOUT_MS}. */
export function checkTimeout(value: number | undefined, optionName: string): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1 && value <= MAX_TIMEOUT_MS))
    throw new InvalidArgumentError(
      `${optionName}: expected a positive integer number of milliseconds up to ${MAX_TIMEOUT_MS} (about 24.8 days, the longest a timer can wait), got ${value}`,
    );
}

/**
 * Keys of stores addressed by URL path whose client resolves `.` and `..`
 * segments and reads a backslash as `/` (Azure): such a key would name
 * another object than the one asked for, so it is refused. So is a name its
 * XML listings cannot carry ({@link checkXmlText}).
 */
export function checkPathKey(key: string, what = "object key"): void {
  checkXmlText(key, what);
  if (key.includes("\\"))
    throw new InvalidArgumentError(
      `${what} ${JSON.stringify(key)} contains a backslash, which the service reads as "/"; expected "/"-separated names without "\\", "." or ".." segments`,
    );
  if (key.split("/").some((segment) => segment === "." || segment === ".."))
    throw new InvalidArgumentError(
      `${what} ${JSON.stringify(key)} has a "." or ".." segment, which the service's URLs resolve away (the object would land under another name); expected "/"-separated names without "\\", "." or ".." segments`,
    );
}

/** Clamp a requested list limit into what one request can return. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return MAX_LIST_PAGE;
  return Math.min(MAX_LIST_PAGE, Math.max(1, Math.floor(limit)));
}

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
 * another object than the one asked for, so it is refused.
 */
export function checkPathKey(key: string, what = "object key"): void {
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

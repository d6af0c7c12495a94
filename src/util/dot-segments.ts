/**
 * Finding the `.` and `..` path segments a URL parser would resolve away, in
 * a URL as written, and the words refusing one in an endpoint: shared by
 * `openStore` (its own URL and an `endpoint` in its query) and the stores
 * that take an endpoint URL as an option.
 */

/**
 * The first `.` or `..` path segment of `url` as written, or `undefined`. The
 * URL parser resolves them away (also when written `%2e`, split by a
 * backslash, which special schemes such as `http:` and `file:` read as "/",
 * or broken up by a tab or newline, which it drops, as it trims spaces and
 * control characters off the ends), so `http://host/a/../b` would send
 * requests to `/b`. Hence the check is on the raw text, before parsing. The
 * host counts as a segment too: a host `..` is no host anyone means.
 */
export function dotSegmentOf(url: string): "." | ".." | undefined {
  const path = url
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the parser trims these off the ends
    .replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, "")
    .replace(/[\t\n\r]/g, "")
    .replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:/, "")
    .split(/[?#]/)[0]!;
  const dots = path
    .split(/[/\\]/)
    .map((segment) => segment.replace(/%2e/gi, "."))
    .find((segment) => segment === "." || segment === "..");
  return dots === "." || dots === ".." ? dots : undefined;
}

/** What an endpoint URL with a `.` or `..` path segment is expected to be, in its refusal. */
export const ENDPOINT_WITHOUT_DOT_SEGMENTS = 'an endpoint URL without "." or ".." path segments';

/** Why a `dots` path segment of an endpoint URL is refused, worded to follow "with " or "has ". */
export function dotSegmentProblem(dots: "." | ".."): string {
  return `a "${dots}" path segment, which the URL parser resolves away (sending requests to another path than written)`;
}

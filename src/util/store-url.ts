/**
 * Telling a store URL from a plain path, the one rule `openStore`, the CLI
 * and the redaction of a store location share.
 */

/**
 * The scheme of a store URL (`s3`, `file`, …), lowercased, or `undefined`
 * for a plain path: no scheme, or a one-letter one, which is a Windows drive
 * (`C:\data`).
 */
export function storeUrlScheme(url: string): string | undefined {
  return /^([a-zA-Z][a-zA-Z0-9+.-]+):/.exec(url)?.[1]?.toLowerCase();
}

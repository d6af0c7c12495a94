/**
 * Making text that may hold a secret safe to print: SDK error messages
 * ({@link redactSecrets}) and URLs, or what was given where a URL belongs
 * ({@link redactUrl}). Shared by the stores and the CLI.
 */

/**
 * Patterns that may carry secrets in SDK error messages, URLs or connection
 * strings: account keys, SAS signatures, presigned-URL parameters, session tokens
 * and `user:password@` in URLs.
 */
const SECRET_PATTERNS: RegExp[] = [
  /(AccountKey=)[^;\s]+/gi,
  /(SharedAccessSignature=)[^;\s]+/gi,
  /([?&](?:sig|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|X-Goog-Signature|X-Goog-Credential|access_token)=)[^&\s"']+/gi,
  /(\/\/)[^/@\s:]+:[^/@\s]*(?=@)/g,
];

/** Replace every secret-looking part of `text` with `***`. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, "$1***");
  return out;
}

/**
 * `value` (a URL, or whatever was given where one belongs) as safe to print:
 * scheme, host and path are kept; user info becomes `***@`, each query value
 * and the fragment become `…`, and so does the value of each `name=value`
 * before them (a SAS token or connection string given where a URL belongs:
 * `sig=…&sv=…`, `AccountKey=…`). Which part was wrong stays visible. (A
 * bare secret with no name, given as the host or path, cannot be told from one.)
 */
export function redactUrl(value: string): string {
  // User info after "scheme://" or "//", or before the first "@" of a value without a scheme
  // ("user:pass@host"; a URL parser would read "user:" as the scheme).
  const withoutUserInfo = value.replace(/^((?:[a-zA-Z][a-zA-Z0-9+.-]*:)?\/\/)?[^/?#@]*@/, "$1***@");
  const hashAt = withoutUserInfo.indexOf("#");
  const beforeHash = hashAt === -1 ? withoutUserInfo : withoutUserInfo.slice(0, hashAt);
  const queryAt = beforeHash.indexOf("?");
  const head = queryAt === -1 ? beforeHash : beforeHash.slice(0, queryAt);
  // A value runs to the next "&" or ";" (a SAS value may itself hold "=": "SharedAccessSignature=sv=…").
  let shown = head.replace(/([^=&;]*=)[^&;]*/g, "$1…");
  if (queryAt !== -1)
    shown += `?${beforeHash
      .slice(queryAt + 1)
      .split("&")
      .map(queryPair)
      .join("&")}`;
  if (hashAt !== -1) shown += "#…";
  // User info of a URL further in, too ("…/https://user:pass@host").
  return shown.replace(/\/\/[^/?#@\s]*@/g, "//***@");
}

/** A query's `name=value` as `name=…`; a bare token as `…`. */
function queryPair(pair: string): string {
  const eq = pair.indexOf("=");
  if (eq !== -1) return `${pair.slice(0, eq)}=…`;
  return pair === "" ? "" : "…";
}

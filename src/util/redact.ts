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
 *
 * A filesystem path (see {@link isFilesystemPath}), or the path of a
 * `file:///` URL, is kept as it is up to a `?` or `#`: `/data/a=b/queue` is a
 * directory, not a secret.
 */
export function redactUrl(value: string): string {
  const hashAt = value.indexOf("#");
  const queryAt = value.indexOf("?");
  const headEnd = Math.min(...[hashAt, queryAt, value.length].filter((at) => at !== -1));
  if (isFilesystemPath(value.slice(0, headEnd)))
    return value.slice(0, headEnd) + redactQueryAndFragment(value.slice(headEnd));
  // User info after "scheme://" or "//", or before the first "@" of a value without a scheme
  // ("user:pass@host"; a URL parser would read "user:" as the scheme).
  const withoutUserInfo = value.replace(/^((?:[a-zA-Z][a-zA-Z0-9+.-]*:)?\/\/)?[^/?#@]*@/, "$1***@");
  const restAt = withoutUserInfo.search(/[?#]/);
  const head = restAt === -1 ? withoutUserInfo : withoutUserInfo.slice(0, restAt);
  // A value runs to the next "&" or ";" (a SAS value may itself hold "=": "SharedAccessSignature=sv=…").
  const shown =
    head.replace(/([^=&;]*=)[^&;]*/g, "$1…") +
    redactQueryAndFragment(restAt === -1 ? "" : withoutUserInfo.slice(restAt));
  // User info of a URL further in, too ("…/https://user:pass@host").
  return shown.replace(/\/\/[^/?#@\s]*@/g, "//***@");
}

/**
 * Whether `head` (a value up to any `?` or `#`) is a filesystem path, as
 * `openStore` reads one, rather than a URL or a secret given where a URL
 * belongs: no scheme (a one-letter one is a Windows drive) and not `//host`;
 * and either anchored (`/`, `\` and `\\server`, `./`, `../`, `~/`, `C:\`) or relative with a
 * directory separator before any `=`, `@`, `:` or `.` (a host name), and no
 * `;` or `&` (which connection strings and query strings are made of).
 * `file:///abs/path` is one too. `AccountKey=abc/def==`, `sig=…&sv=…`,
 * `user:pass@host/x` and `host.example/sig=…` are not.
 */
function isFilesystemPath(head: string): boolean {
  if (/^file:\/\/\/(?!\/)/i.test(head)) return true;
  if (/^[a-zA-Z][a-zA-Z0-9+.-]+:/.test(head) || head.startsWith("//")) return false;
  if (/^(?:[/\\]|\.\.?(?:[/\\]|$)|~(?:[/\\]|$)|[a-zA-Z]:[/\\])/.test(head)) return true;
  return /^[^=@:;&/\\.]+[/\\][^;&]*$/.test(head);
}

/** A `?query` and `#fragment` (either or both, or `""`) with every value as `…`. */
function redactQueryAndFragment(rest: string): string {
  const hashAt = rest.indexOf("#");
  const query = hashAt === -1 ? rest : rest.slice(0, hashAt);
  let shown = "";
  if (query !== "") shown += `?${query.slice(1).split("&").map(queryPair).join("&")}`;
  if (hashAt !== -1) shown += "#…";
  return shown;
}

/** A query's `name=value` as `name=…`; a bare token as `…`. */
function queryPair(pair: string): string {
  const eq = pair.indexOf("=");
  if (eq !== -1) return `${pair.slice(0, eq)}=…`;
  return pair === "" ? "" : "…";
}

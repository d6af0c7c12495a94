/**
 * Making text that may hold a secret safe to print: SDK error messages
 * ({@link redactSecrets}), URLs or what was given where a URL belongs
 * ({@link redactUrl}), and store locations, which may be a directory
 * ({@link redactStoreLocation}). Shared by the stores and the CLI.
 */
import { storeUrlScheme } from "./store-url.js";

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
 * For a value that may also be a directory, see {@link redactStoreLocation}.
 */
export function redactUrl(value: string): string {
  // User info after "scheme://" or "//", or before the first "@" of a value without a scheme
  // ("user:pass@host"; a URL parser would read "user:" as the scheme).
  const withoutUserInfo = value.replace(/^((?:[a-zA-Z][a-zA-Z0-9+.-]*:)?\/\/)?[^/?#@]*@/, "$1***@");
  const [head, rest] = splitHead(withoutUserInfo);
  // A value runs to the next "&" or ";" (a SAS value may itself hold "=": "SharedAccessSignature=sv=…").
  return hideNestedUserInfo(
    head.replace(/(?<![^&;])([^=&;]*=)[^&;]*/g, "$1…") + redactQueryAndFragment(rest),
  );
}

/** `text` with the user info of a URL further in as `***@` ("…/https://user:pass@host"). */
function hideNestedUserInfo(text: string): string {
  return text.replace(/\/\/[^/?#@\s]*@/g, "//***@");
}

/**
 * A store location (`openStore`'s URL, the CLI's `--store`), which may be a
 * directory, as safe to print. A filesystem path (see
 * {@link isFilesystemPath}), or the path of a `file:///` URL, is kept as
 * written, so `/data/a=b/queue` stays readable, except for the tokens that
 * look like a secret (see {@link PATH_SECRET_PATTERNS}: `AccountKey=***`,
 * `sig=***`, `***@host`); a `?query` or `#fragment` after it is shown as
 * {@link redactUrl} shows one. Anything else is shown as {@link redactUrl}
 * shows it.
 */
export function redactStoreLocation(value: string): string {
  const [head, rest] = splitHead(value);
  if (!isFilesystemPath(head)) return redactUrl(value);
  let shown = head;
  for (const [pattern, replacement] of PATH_SECRET_PATTERNS)
    shown = shown.replace(pattern, replacement);
  return shown + hideNestedUserInfo(redactQueryAndFragment(rest));
}

/**
 * What still looks like a secret in a filesystem path, each with what it
 * becomes. A named value runs to the next `;` or `&` (connection-string and
 * query separators; a base64 key may hold "/"), a SAS to the next `;` (its
 * own fields are "&"-separated):
 * - `AccountKey=` and `SharedAccessSignature=` (a connection string);
 * - a name holding `key`, `sig`, `credential`, `token`, `secret`, `auth`,
 *   `password`, `passwd`, `passphrase` or `pwd` anywhere (a SAS token's
 *   `sig=`, `X-Amz-Signature=`, `AWS_SECRET_ACCESS_KEY=`, `api_key=`,
 *   `Authorization=Bearer …`), with or without spaces around its `=`; the
 *   list is broad on purpose, since hiding a harmless name costs less than
 *   showing a secret;
 * - user info after `//` (a URL written into a path: `/x/https://token@host`,
 *   `/x//user:pass@host`), and `user:password@` in a path segment (up to its
 *   last `@`, as a URL parser reads user info). A segment with an `@` but no
 *   `:` before it and no `//` (`/srv/u@host`) is a name, and stays.
 */
const PATH_SECRET_PATTERNS: [RegExp, string][] = [
  [/((?:AccountKey|SharedAccessSignature)\s*=)[^;]*/gi, "$1***"],
  [
    /(?<![\w.-])(?=[\w.-]*?(?:key|sig|credential|token|secret|auth|password|passwd|passphrase|pwd))([\w.-]+\s*=)[^;&]*/gi,
    "$1***",
  ],
  [/(\/\/)[^/\\@]*@/g, "$1***@"],
  [/(^|[/\\])[^/\\:]*:[^/\\]*@/g, "$1***@"],
];

/**
 * Whether `head` (a value up to any `?` or `#`) is a filesystem path, as
 * `openStore` reads one, rather than a URL or a secret given where a URL
 * belongs: no scheme (see {@link storeUrlScheme}) and not `//host`; and
 * either anchored (`/`, `\` and `\\server`, `./`, `../`, `~/`, `C:\`) or
 * relative with a directory separator before any `=`, `@`, `:`, `.` (a host
 * name), `;` or `&`. `file:///abs/path` is one too. `AccountKey=abc/def==`,
 * `sig=…&sv=…`, `user:pass@host/x` and `host.example/sig=…` are not.
 */
function isFilesystemPath(head: string): boolean {
  if (/^file:\/\/\/(?!\/)/i.test(head)) return true;
  if (storeUrlScheme(head) !== undefined || head.startsWith("//")) return false;
  if (/^(?:[/\\]|\.\.?(?:[/\\]|$)|~(?:[/\\]|$)|[a-zA-Z]:[/\\])/.test(head)) return true;
  return /^[^=@:;&/\\.]+[/\\]/.test(head);
}

/** `value` split before its first `?` or `#` (the rest is `""` if it has neither). */
function splitHead(value: string): [string, string] {
  const restAt = value.search(/[?#]/);
  return restAt === -1 ? [value, ""] : [value.slice(0, restAt), value.slice(restAt)];
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

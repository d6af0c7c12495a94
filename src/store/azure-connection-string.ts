/**
 * Reading an Azure Storage connection string as `@azure/storage-blob` reads
 * it, without the SDK (an optional peer dependency, loaded on the first
 * request), so that `AzureBlobStore` refuses one the SDK would reject when it
 * is created, not at its first request. Nothing here ever quotes a value: a
 * connection string holds an account key or SAS token.
 *
 * It follows `extractConnectionStringParts` of `@azure/storage-blob`, which
 * reads a connection string the same way in every published release the
 * peer range `^12.20.0` admits: 12.23.0 (the first after 12.18.0) through
 * 12.34.0. Where it is laxer than the SDK, the store's first request still
 * fails (without quoting the string): a line break inside a value, a
 * `DevelopmentStorageProxyUri` that is no URL, and a `BlobEndpoint` path
 * with a malformed %-escape.
 */
import { invalidArgument, invalidArgumentGot } from "../validate.js";

/**
 * What the store's refusal of a connection string expects (the CLI matches
 * its start). Its example is a form the store accepts, once the `...` are
 * filled in.
 */
export const CONNECTION_STRING_EXPECTED =
  "an Azure Storage connection string (DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net)";

/** The field names the SDK reads, for telling a user who wrote one in another case. */
const FIELD_NAMES = [
  "DefaultEndpointsProtocol",
  "AccountName",
  "AccountKey",
  "BlobEndpoint",
  "EndpointSuffix",
  "SharedAccessSignature",
  "UseDevelopmentStorage",
  "DevelopmentStorageProxyUri",
];

/** The endpoint `UseDevelopmentStorage=true` stands for (the emulator's well-known account). */
const DEVELOPMENT_BLOB_ENDPOINT = "http://127.0.0.1:10000/devstoreaccount1";

/** A connection string the SDK accepts: its blob endpoint (no credentials in it). */
export interface ConnectionStringParts {
  blobEndpoint: string;
}

/**
 * The parts of `connectionString`, or what makes the SDK reject it (worded
 * to follow "got one "), read the way the SDK does: field names are
 * case-sensitive; `UseDevelopmentStorage=true` at the start stands for the
 * emulator; it is an account-key string when it holds both
 * `DefaultEndpointsProtocol=` and `AccountKey=` (then it needs `AccountName`,
 * a non-empty base64 `AccountKey`, and `BlobEndpoint` or an http(s)
 * `DefaultEndpointsProtocol` with `EndpointSuffix`), otherwise a SAS string
 * (`BlobEndpoint` and `SharedAccessSignature`). The blob endpoint must be an
 * http(s) URL: the SDK fails on anything it cannot parse, and sends nothing
 * anywhere else.
 */
export function parseConnectionString(
  connectionString: string,
): ConnectionStringParts | { problem: string } {
  try {
    return { blobEndpoint: blobEndpointOf(connectionString) };
  } catch (err) {
    if (err instanceof Problem) return { problem: err.message + caseNote(connectionString) };
    throw err;
  }
}

/**
 * For a refused string with a field name the SDK reads written in another
 * case (`accountkey=`), a note that names are case-sensitive, naming the
 * field as written (it is one of {@link FIELD_NAMES} but for its case, so no
 * secret); otherwise `""`.
 */
function caseNote(connectionString: string): string {
  const miscased: string[] = [];
  for (const field of connectionString.split(";")) {
    const eq = field.indexOf("=");
    if (eq === -1) continue;
    const name = field.slice(0, eq).trim();
    const meant = FIELD_NAMES.find((known) => known.toLowerCase() === name.toLowerCase());
    if (meant !== undefined && meant !== name)
      miscased.push(`${JSON.stringify(name)} must be ${JSON.stringify(meant)}`);
  }
  return miscased.length === 0
    ? ""
    : ` (field names are case-sensitive: ${[...new Set(miscased)].join(", ")})`;
}

/** What makes a connection string unusable, worded to follow "got one ". */
class Problem extends Error {}

/** The blob endpoint of `connectionString`, read as the SDK reads it; or a {@link Problem}. */
function blobEndpointOf(connectionString: string): string {
  if (connectionString.startsWith("UseDevelopmentStorage=true")) return DEVELOPMENT_BLOB_ENDPOINT;
  const fields = connectionString.split(";").map((field) => field.trim());
  // Each field is read only where the SDK reads it: the first field that starts with the
  // name, which fails (in the SDK, with a TypeError) if it does not go on with "name=".
  const read = (name: string): string => {
    const field = fields.find((f) => f.startsWith(name));
    if (field === undefined) return "";
    const at = field.indexOf(`${name}=`);
    if (at === -1)
      throw new Problem(`with a field that starts with "${name}" but is not "${name}=…"`);
    return field.slice(at + name.length + 1);
  };
  const endpointField = read("BlobEndpoint");
  const blobEndpoint = endpointField.endsWith("/") ? endpointField.slice(0, -1) : endpointField;
  if (
    connectionString.includes("DefaultEndpointsProtocol=") &&
    connectionString.includes("AccountKey=")
  ) {
    const accountName = read("AccountName");
    const accountKey = read("AccountKey");
    let url = blobEndpoint;
    if (url === "") {
      const protocol = read("DefaultEndpointsProtocol");
      if (protocol.toLowerCase() !== "https" && protocol.toLowerCase() !== "http")
        throw new Problem(
          'without BlobEndpoint, and whose DefaultEndpointsProtocol is not "https" or "http"',
        );
      const suffix = read("EndpointSuffix");
      if (suffix === "") throw new Problem("with neither BlobEndpoint nor EndpointSuffix");
      url = `${protocol}://${accountName}.blob.${suffix}`;
    }
    if (accountName === "") throw new Problem("without AccountName");
    if (Buffer.from(accountKey, "base64").length === 0)
      throw new Problem("whose AccountKey is empty or not base64");
    if (!isHttpUrl(url))
      throw new Problem(
        blobEndpoint === ""
          ? "whose DefaultEndpointsProtocol, AccountName and EndpointSuffix make no http(s) URL"
          : "whose BlobEndpoint is not an http(s) URL",
      );
    return url;
  }
  // What the SDK takes for a SAS string; an account key is only read with DefaultEndpointsProtocol.
  const sas = read("SharedAccessSignature");
  // Read only for the failure: the SDK reads it here, and throws on a field such as "AccountNameX=".
  read("AccountName");
  if (sas === "")
    throw new Problem(
      connectionString.includes("AccountKey=")
        ? "with AccountKey but without DefaultEndpointsProtocol (which an account key needs) or SharedAccessSignature"
        : "with neither AccountKey (with DefaultEndpointsProtocol) nor SharedAccessSignature",
    );
  if (blobEndpoint === "")
    throw new Problem("with SharedAccessSignature but without BlobEndpoint (which a SAS needs)");
  if (!isHttpUrl(blobEndpoint)) throw new Problem("whose BlobEndpoint is not an http(s) URL");
  return blobEndpoint;
}

/**
 * The parts of the connection string option `arg` of {@link AzureBlobStore};
 * one the SDK would reject is an `InvalidArgumentError` naming what is
 * missing or wrong, never quoting the string.
 */
export function checkConnectionString(value: unknown, arg: string): ConnectionStringParts {
  if (typeof value !== "string")
    throw invalidArgument(arg, CONNECTION_STRING_EXPECTED, value, "AzureBlobStore");
  const parsed = parseConnectionString(value);
  if ("problem" in parsed)
    throw invalidArgumentGot(
      arg,
      CONNECTION_STRING_EXPECTED,
      `one ${parsed.problem}`,
      "AzureBlobStore",
    );
  return parsed;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

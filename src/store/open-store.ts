/** `openStore(url)`: picks and configures a store from a URL (`memory://`, a path, `file://`, `s3://`, `az://`, `gs://`). */
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidArgumentError } from "../errors.js";
import {
  dotSegmentOf,
  dotSegmentProblem,
  ENDPOINT_WITHOUT_DOT_SEGMENTS,
} from "../util/dot-segments.js";
import { redactStoreLocation } from "../util/redact.js";
import { storeUrlScheme } from "../util/store-url.js";
import { describeValue, expectationMessage } from "../validate.js";
import { AzureBlobStore, type AzureBlobStoreOptions } from "./azure.js";
import { FileStore, type FileStoreOptions } from "./file.js";
import { GcsStore, type GcsStoreOptions } from "./gcs.js";
import { MemoryStore } from "./memory.js";
import { S3Store, type S3StoreOptions } from "./s3.js";
import type { ObjectStore } from "./types.js";

/** Settings for {@link openStore} that do not belong in a URL (credentials, clients, tuning). */
export interface OpenStoreOptions {
  /**
   * Where to read `AZURE_STORAGE_CONNECTION_STRING`.
   * @default process.env
   * @example { env: { AZURE_STORAGE_CONNECTION_STRING: secrets.azure } }
   */
  env?: Record<string, string | undefined>;
  /**
   * Options for `file://` URLs and plain paths.
   * @default {} (the FileStore defaults)
   * @example { file: { fsync: false } }
   */
  file?: FileStoreOptions;
  /**
   * Merged under the settings from an `s3://` URL (the URL wins).
   * @default {} (the S3Store defaults)
   * @example { s3: { credentials: { accessKeyId, secretAccessKey } } }
   */
  s3?: Omit<S3StoreOptions, "bucket" | "prefix">;
  /**
   * Merged under the settings from an `az://` URL; `connectionString` here beats the environment.
   * @default {} (the AzureBlobStore defaults)
   * @example { azure: { accountUrl: "https://myaccount.blob.core.windows.net", credential } }
   */
  azure?: Omit<AzureBlobStoreOptions, "container" | "prefix">;
  /**
   * Merged under the settings from a `gs://` URL (the URL wins).
   * @default {} (the GcsStore defaults)
   * @example { gcs: { keyFilename: "/etc/secrets/gcs-key.json" } }
   */
  gcs?: Omit<GcsStoreOptions, "bucket" | "prefix">;
}

/** The end of the missing-connection-string advice that only code can follow (a CLI drops it). */
/** The code-only place for credentials in the refusal of a store URL that carries them (the CLI drops it). */
export const OPEN_STORE_CREDENTIALS_OPTION = " or openStore options";
export const AZURE_CONNECTION_OPTION =
  " or pass { azure: { connectionString } } (or { azure: { accountUrl, credential } })";

const EXPECTED_FORMS =
  '"memory://", "file:///absolute/dir", a plain directory path, ' +
  '"s3://bucket/prefix?endpoint=...&region=...&forcePathStyle=true", ' +
  '"az://container/prefix" or "gs://bucket/prefix"';

/**
 * Open a store from a URL:
 *
 * - `memory://` — a fresh {@link MemoryStore}
 * - `file:///abs/dir` or a plain path (relative to the working directory) — a {@link FileStore}
 * - `s3://bucket/prefix?endpoint=…&region=…&forcePathStyle=true` — an {@link S3Store};
 *   credentials come from the SDK's default chain or `options.s3`
 * - `az://container/prefix` — an {@link AzureBlobStore}; the connection string comes from
 *   `options.azure.connectionString` or `AZURE_STORAGE_CONNECTION_STRING`
 * - `gs://bucket/prefix?endpoint=…` — a {@link GcsStore}
 *
 * Credentials are never accepted inside the URL. A malformed URL throws
 * {@link InvalidArgumentError} naming the expected form. Cloud SDKs are loaded
 * on the store's first request.
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<ObjectStore> {
  if (typeof url !== "string" || url.trim() === "")
    throw new InvalidArgumentError(
      `${expectationMessage("url", "a store URL (a non-empty string)", describeValue(url), "openStore")}. Supported forms: ${EXPECTED_FORMS}`,
    );
  const scheme = storeUrlScheme(url);
  // No scheme (or a one-letter one, i.e. a Windows drive): a plain path.
  if (scheme === undefined) return new FileStore(resolve(url), options.file);
  switch (scheme) {
    case "memory":
      if (!/^memory:(\/\/)?$/i.test(url))
        throw invalid(url, 'a memory store URL is exactly "memory://"');
      return new MemoryStore();
    case "file":
      return new FileStore(filePath(url), options.file);
    case "s3":
      return openS3(url, options);
    case "az":
      return openAzure(url, options);
    case "gs":
      return openGcs(url, options);
    default:
      throw invalid(url, `unknown scheme "${scheme}:"`);
  }
}

function openS3(url: string, options: OpenStoreOptions): S3Store {
  const parsed = parseBucketUrl(
    url,
    "s3://bucket/prefix?endpoint=...&region=...&forcePathStyle=true",
  );
  const params = queryParams(url, parsed.url, ["endpoint", "region", "forcePathStyle"]);
  const forcePathStyle = params.get("forcePathStyle");
  if (forcePathStyle !== undefined && forcePathStyle !== "true" && forcePathStyle !== "false")
    // Not echoed: the message shows no query value.
    throw invalid(url, 'forcePathStyle must be "true" or "false"');
  const endpoint = endpointParam(url, params);
  const region = params.get("region");
  return new S3Store({
    ...options.s3,
    bucket: parsed.bucket,
    prefix: parsed.prefix,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(region === undefined ? {} : { region }),
    ...(forcePathStyle === undefined ? {} : { forcePathStyle: forcePathStyle === "true" }),
  });
}

function openAzure(url: string, options: OpenStoreOptions): AzureBlobStore {
  const parsed = parseBucketUrl(url, "az://container/prefix");
  queryParams(url, parsed.url, []);
  const azure = options.azure ?? {};
  const env = options.env ?? process.env;
  const connectionString = azure.connectionString ?? env.AZURE_STORAGE_CONNECTION_STRING;
  if (!connectionString && azure.client === undefined && azure.accountUrl === undefined)
    throw invalid(
      url,
      `az:// needs a connection string: set AZURE_STORAGE_CONNECTION_STRING${AZURE_CONNECTION_OPTION}`,
    );
  return new AzureBlobStore({
    ...azure,
    ...(connectionString ? { connectionString } : {}),
    container: parsed.bucket,
    prefix: parsed.prefix,
  });
}

function openGcs(url: string, options: OpenStoreOptions): GcsStore {
  const parsed = parseBucketUrl(url, "gs://bucket/prefix?endpoint=...");
  const params = queryParams(url, parsed.url, ["endpoint"]);
  const endpoint = endpointParam(url, params);
  return new GcsStore({
    ...options.gcs,
    bucket: parsed.bucket,
    prefix: parsed.prefix,
    ...(endpoint === undefined ? {} : { apiEndpoint: endpoint }),
  });
}

interface BucketUrl {
  url: URL;
  bucket: string;
  prefix: string;
}

/**
 * Refuses a `.` or `..` path segment in the URL as written (see
 * {@link dotSegmentOf}): the URL parser would resolve it away, so
 * `s3://bucket/a/../b` would open the prefix `b`: another queue's, or the
 * bucket's root.
 */
function refuseDotSegments(url: string, form: string): void {
  const dots = dotSegmentOf(url);
  if (dots !== undefined)
    throw invalid(
      url,
      `its path has a "${dots}" segment, which the URL parser resolves away (opening another prefix than written); expected "${form}" with "/"-separated names`,
    );
}

/**
 * The `endpoint` query parameter, if any, refusing a `.` or `..` path segment
 * in it (as decoded from the query, which is what the store's client parses):
 * `?endpoint=http://host/a/../b` would send every request to `http://host/b`.
 */
function endpointParam(url: string, params: Map<string, string>): string | undefined {
  const endpoint = params.get("endpoint");
  const dots = endpoint === undefined ? undefined : dotSegmentOf(endpoint);
  if (dots !== undefined)
    throw invalid(
      url,
      `its \`endpoint\` has ${dotSegmentProblem(dots)}; expected ${ENDPOINT_WITHOUT_DOT_SEGMENTS}`,
    );
  return endpoint;
}

/** `scheme://bucket/some/prefix` → bucket and (decoded) prefix. */
function parseBucketUrl(url: string, form: string): BucketUrl {
  refuseDotSegments(url, form);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(url, `expected "${form}"`);
  }
  if (parsed.username !== "" || parsed.password !== "")
    throw invalid(
      url,
      `credentials are not accepted in a store URL; expected "${form}" with credentials from the environment${OPEN_STORE_CREDENTIALS_OPTION}`,
    );
  if (parsed.port !== "") throw invalid(url, `expected "${form}" (a bucket name, not host:port)`);
  if (!url.includes("//") || parsed.hostname === "")
    throw invalid(url, `expected "${form}" with a bucket or container name`);
  if (parsed.hash !== "") throw invalid(url, `expected "${form}" without a #fragment`);
  let prefix: string;
  try {
    prefix = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
  } catch {
    throw invalid(url, `the prefix is not valid percent-encoding; expected "${form}"`);
  }
  return { url: parsed, bucket: decodeURIComponent(parsed.hostname), prefix };
}

/** The query parameters, refusing unknown or repeated ones (a typo must not be ignored). */
function queryParams(raw: string, url: URL, allowed: string[]): Map<string, string> {
  const params = new Map<string, string>();
  // A part without "=" may be a bare token: it is not named in the message.
  if (
    url.search
      .slice(1)
      .split("&")
      .some((part) => part !== "" && !part.includes("="))
  )
    throw invalid(raw, 'every query parameter must be "name=value"');
  for (const [name, value] of url.searchParams) {
    if (!allowed.includes(name))
      throw invalid(
        raw,
        allowed.length === 0
          ? `unexpected query parameter "${name}": this scheme takes none`
          : `unknown query parameter "${name}"; expected ${allowed.map((a) => `"${a}"`).join(", ")}`,
      );
    if (params.has(name)) throw invalid(raw, `query parameter "${name}" given twice`);
    params.set(name, value);
  }
  return params;
}

function filePath(url: string): string {
  refuseDotSegments(url, "file:///absolute/dir");
  let path: string;
  try {
    const parsed = new URL(url);
    if (parsed.search !== "" || parsed.hash !== "") throw new Error("query or fragment");
    path = fileURLToPath(parsed);
  } catch {
    throw invalid(url, 'expected "file:///absolute/dir" (three slashes, an absolute path)');
  }
  if (!isAbsolute(path)) throw invalid(url, 'expected "file:///absolute/dir"');
  return path;
}

/** The refusal of `url`: `detail` says what is wrong with it. */
function invalid(url: string, detail: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `${expectationMessage("url", "a store URL", JSON.stringify(redactStoreLocation(url)), "openStore")}: ${detail}. Supported forms: ${EXPECTED_FORMS}`,
  );
}

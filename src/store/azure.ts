/**
 * `AzureBlobStore`: the object store in an Azure Blob container, over the
 * optional `@azure/storage-blob` SDK. How its failures are read is in `azure-errors.ts`.
 */
import type {
  AnonymousCredential,
  ContainerClient,
  StoragePipelineOptions,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import { InvalidArgumentError } from "../errors.js";
import { redactUrl } from "../util/redact.js";
import { describeValue, invalidArgument, invalidArgumentGot } from "../validate.js";
import { CONNECTION_STRING_EXPECTED, checkConnectionString } from "./azure-connection-string.js";
import { azureVerdict, isAlreadyExists, isNotFound } from "./azure-errors.js";
import type { AzureBlobStoreOptions, AzureTokenCredential } from "./azure-options.js";
import { checkPutBody } from "./call-arguments.js";
import {
  checkNotHtml,
  errorCodeOf,
  toStorageError,
  UnexpectedAnswerError,
} from "./cloud/errors.js";
import {
  checkInteger,
  checkKey,
  checkListArguments,
  checkName,
  checkPathKey,
  checkTimeout,
  checkXmlText,
  normalizePrefix,
  pageLimit,
} from "./cloud/keys.js";
import { loadOptionalSdk } from "./cloud/load-sdk.js";
import { DEFAULT_TIMEOUT_MS, withDeadline } from "./deadline.js";
import { compareKeys } from "./key-order.js";
import { AZURE_BLOB_NAMES, setKeyRoom } from "./key-room.js";
import {
  type ListOptions,
  type ListPage,
  ObjectExistsError,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type StoredObject,
} from "./types.js";

// Where the CLI looks for the part of the advice it drops.
export { AZURE_ACCOUNT_URL_OPTION } from "./azure-errors.js";
export type {
  AzureBlobStoreOptions,
  AzureContainerClientLike,
  AzureCredential,
  AzureStorageCredential,
  AzureTokenCredential,
} from "./azure-options.js";

type AzureSdk = typeof import("@azure/storage-blob");
/** What {@link AzureCredential} stands for, in the SDK's own types. */
type SdkCredential = StorageSharedKeyCredential | AnonymousCredential | AzureTokenCredential;
const DEFAULT_MAX_TRIES = 4;
const DEFAULT_TRY_TIMEOUT_MS = 30_000;
/** Azure lists at most 5000 blobs per page. */
const AZURE_MAX_PAGE = 5000;

/**
 * An {@link ObjectStore} in an Azure Blob Storage container (block blobs).
 * Atomic create uses `If-None-Match: *`. `@azure/storage-blob` is an optional
 * peer dependency, loaded on first use.
 *
 * Failures are `StorageError`s: `permanent: true` for answers that cannot
 * heal (missing container, failed authentication, missing permission), with
 * what to fix in the message; transient otherwise (timeouts, dropped
 * connections, 5xx, throttling).
 */
export class AzureBlobStore implements ObjectStore {
  readonly #container: string;
  readonly #prefix: string;
  readonly #options: AzureBlobStoreOptions;
  readonly #description: string;
  #client: Promise<ContainerClient> | undefined;

  constructor(options: AzureBlobStoreOptions) {
    if (options === null || typeof options !== "object")
      throw invalidArgument(
        "options",
        "an object with { container } and one of client, connectionString or accountUrl",
        options,
        "AzureBlobStore",
      );
    this.#container = checkName(options.container, "options.container", "AzureBlobStore");
    this.#prefix = normalizePrefix(options.prefix, "options.prefix", "AzureBlobStore");
    setKeyRoom(this, this.#prefix, "options.prefix", "AzureBlobStore", AZURE_BLOB_NAMES);
    checkPathKey(this.#prefix, "options.prefix", "AzureBlobStore");
    if (options.client === undefined && !options.connectionString && !options.accountUrl)
      throw invalidArgumentGot(
        "options",
        "an object with one of client, connectionString or accountUrl (with credential)",
        "none of them",
        "AzureBlobStore",
      );
    if (options.accountUrl !== undefined && !/^https?:\/\//.test(options.accountUrl))
      throw invalidArgumentGot(
        "options.accountUrl",
        'an http(s) URL such as "https://myaccount.blob.core.windows.net"',
        typeof options.accountUrl === "string"
          ? JSON.stringify(redactUrl(options.accountUrl))
          : describeValue(options.accountUrl),
        "AzureBlobStore",
      );
    checkInteger(options.maxTries, "options.maxTries", "AzureBlobStore");
    checkTimeout(options.tryTimeoutMs, "options.tryTimeoutMs", "AzureBlobStore");
    checkTimeout(options.requestTimeoutMs, "options.requestTimeoutMs", "AzureBlobStore");
    // Read as the SDK will read it, so a malformed one fails here, not at the first request.
    // A ready client makes the store ignore it, so it is not checked then.
    const connection =
      options.client === undefined && options.connectionString
        ? checkConnectionString(options.connectionString, "options.connectionString")
        : undefined;
    this.#options = { ...options };
    const where = `az://${this.#container}/${this.#prefix}`;
    const endpoint = this.#endpointForDescription(connection?.blobEndpoint);
    this.#description = endpoint === undefined ? where : `${where} at ${endpoint}`;
  }

  async get(key: string): Promise<StoredObject | null> {
    checkKey(key);
    checkPathKey(key);
    return this.#call("get", key, async (client, abortSignal) => {
      const blob = client.getBlobClient(this.#prefix + key);
      try {
        const out = await blob.download(0, undefined, { abortSignal });
        try {
          // The SDK already refuses a 200 without an ETag.
          checkNotHtml("get", out.contentType);
        } catch (err) {
          (out.readableStreamBody as { destroy?: () => void } | undefined)?.destroy?.();
          throw err;
        }
        const body = await readAll(out.readableStreamBody);
        return out.etag === undefined ? { body } : { body, etag: out.etag };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    });
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    checkKey(key);
    checkPutBody(key, body);
    checkPathKey(key);
    const create = options?.ifNoneMatch === "*";
    await this.#call("put", key, async (client, abortSignal) => {
      const blob = client.getBlockBlobClient(this.#prefix + key);
      try {
        await blob.upload(body, body.byteLength, {
          abortSignal,
          ...(create ? { conditions: { ifNoneMatch: "*" } } : {}),
        });
      } catch (err) {
        if (create && isAlreadyExists(err)) throw new ObjectExistsError(key);
        throw err;
      }
    });
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    checkPathKey(key);
    await this.#call("delete", key, async (client, abortSignal) => {
      await client.getBlobClient(this.#prefix + key).deleteIfExists({ abortSignal });
    });
  }

  async head(key: string): Promise<ObjectInfo | null> {
    checkKey(key);
    checkPathKey(key);
    return this.#call("head", key, async (client, abortSignal) => {
      try {
        const out = await client.getBlobClient(this.#prefix + key).getProperties({ abortSignal });
        // A proxy's 200 would otherwise say that a missing blob exists.
        checkNotHtml("head", out.contentType);
        if (out.etag === undefined)
          throw new UnexpectedAnswerError(
            "the answer to a head request lacks the ETag the Blob service sends for every blob " +
              "(a proxy's page in the way, or a client or mock that drops it)",
          );
        return { key, size: out.contentLength ?? 0, etag: out.etag };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    });
  }

  /**
   * Keys in UTF-8 byte order across pages. Azurite orders names by UTF-16
   * code units, which differs from byte order only where a character above
   * U+FFFF meets one in U+E000..U+FFFF. So a page read in the service's order
   * is used as it is only when neither the cursor nor any key in it has a
   * UTF-16 unit at or above U+D800 after the listed prefix (every key taquba
   * writes); otherwise the whole prefix is read and sorted here.
   */
  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    checkListArguments(prefix, options.startAfter);
    checkXmlText(prefix, "prefix", "list");
    if (options.startAfter !== undefined)
      checkXmlText(options.startAfter, "options.startAfter", "list");
    const limit = pageLimit(options.limit);
    const fullPrefix = this.#prefix + prefix;
    const after = options.startAfter === undefined ? undefined : this.#prefix + options.startAfter;
    return this.#call("list", prefix, async (client, abortSignal) => {
      let found = await this.#scan(client, fullPrefix, after, limit + 1, abortSignal);
      const orderSafe =
        (after === undefined ||
          narrowFrom(after, after.startsWith(fullPrefix) ? fullPrefix.length : 0)) &&
        found.every((info) => narrowFrom(info.key, prefix.length));
      if (!orderSafe) found = await this.#scan(client, fullPrefix, after, Infinity, abortSignal);
      found.sort((a, b) => compareKeys(a.key, b.key));
      const objects = found.slice(0, limit);
      return found.length > limit ? { objects, nextStartAfter: objects.at(-1)!.key } : { objects };
    });
  }

  describe(): string {
    return this.#description;
  }

  /**
   * Blobs under `fullPrefix` after `after` (UTF-8 byte order), read in the
   * service's order until `want` are found or the listing ends; keys are
   * returned without the store prefix.
   */
  async #scan(
    client: ContainerClient,
    fullPrefix: string,
    after: string | undefined,
    want: number,
    abortSignal: AbortSignal,
  ): Promise<ObjectInfo[]> {
    const found: ObjectInfo[] = [];
    // `startFrom` is inclusive, and servers that predate it ignore it: filter here too.
    // Without a cursor that orders like the service does, read from the start.
    const startFrom = after !== undefined && Number.isFinite(want) ? { startFrom: after } : {};
    const pages = client.listBlobsFlat({ prefix: fullPrefix, abortSignal, ...startFrom }).byPage({
      maxPageSize: Number.isFinite(want) ? Math.min(AZURE_MAX_PAGE, want) : AZURE_MAX_PAGE,
    });
    /** The marker the page being read was asked for with (none for the first). */
    let sent: string | undefined;
    for await (const page of pages) {
      const next = page.continuationToken;
      // Following it would ask for the same page again and again, until the call's time limit.
      if (next !== undefined && next !== "" && next === sent)
        throw new UnexpectedAnswerError(
          "the answer to a list request repeats the marker it was asked with (NextMarker), so " +
            "the listing would never end: a proxy that caches answers whatever the query, or a " +
            "server that ignores the marker?",
        );
      sent = next;
      for (const item of page.segment.blobItems) {
        if (after !== undefined && compareKeys(item.name, after) <= 0) continue;
        const info: ObjectInfo = {
          key: item.name.slice(this.#prefix.length),
          size: item.properties.contentLength ?? 0,
        };
        // Listings carry the etag unquoted; reads and heads quote it.
        const etag = item.properties.etag;
        if (etag !== undefined) info.etag = etag.startsWith('"') ? etag : `"${etag}"`;
        found.push(info);
      }
      if (found.length >= want) break;
    }
    return found;
  }

  /**
   * One store call: within the time limit, with SDK failures mapped to
   * `StorageError`s (permanent or transient); `ObjectExistsError` passes through.
   */
  async #call<T>(
    op: string,
    key: string,
    run: (client: ContainerClient, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = this.#options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    return withDeadline(timeoutMs, { store: this.describe(), op, key }, async (signal) => {
      try {
        return await run(await this.#containerClient(), signal);
      } catch (err) {
        if (err instanceof ObjectExistsError || err instanceof InvalidArgumentError) throw err;
        throw toStorageError(this.describe(), op, key, err, azureVerdict(err, this.#container));
      }
    });
  }

  /**
   * The account endpoint without query (a SAS token) or credentials: the
   * client's, the account URL, or `blobEndpoint`, the one the connection string names.
   */
  #endpointForDescription(blobEndpoint: string | undefined): string | undefined {
    const options = this.#options;
    const url =
      options.client?.url ?? (options.connectionString ? blobEndpoint : options.accountUrl);
    if (url === undefined) return undefined;
    try {
      const parsed = new URL(url);
      return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/$/, "")}`;
    } catch {
      return undefined;
    }
  }

  #containerClient(): Promise<ContainerClient> {
    this.#client ??= this.#createClient().catch((err: unknown) => {
      this.#client = undefined;
      throw err;
    });
    return this.#client;
  }

  async #createClient(): Promise<ContainerClient> {
    const options = this.#options;
    // The option is typed by shape only (see AzureContainerClientLike); it is the SDK's client.
    if (options.client !== undefined) return options.client as ContainerClient;
    const sdk: AzureSdk = await loadOptionalSdk(
      "@azure/storage-blob",
      () => import("@azure/storage-blob"),
      "AzureBlobStore",
    );
    const pipeline: StoragePipelineOptions = {
      retryOptions: {
        maxTries: options.maxTries ?? DEFAULT_MAX_TRIES,
        tryTimeoutInMs: options.tryTimeoutMs ?? DEFAULT_TRY_TIMEOUT_MS,
      },
    };
    try {
      if (options.connectionString)
        return new sdk.ContainerClient(options.connectionString, this.#container, pipeline);
      const base = options.accountUrl!;
      const url = new URL(base);
      url.pathname = `${url.pathname.replace(/\/$/, "")}/${encodeURIComponent(this.#container)}`;
      // Typed by shape only (see AzureCredential); it is one of the SDK's credentials.
      const credential = options.credential as SdkCredential | undefined;
      return new sdk.ContainerClient(url.toString(), credential, pipeline);
    } catch (err) {
      // A malformed connection string: the SDK's message may quote it, so do not pass it on.
      throw invalidArgumentGot(
        options.connectionString ? "options.connectionString" : "options.accountUrl",
        options.connectionString ? CONNECTION_STRING_EXPECTED : "an account URL",
        `one the SDK rejected (${errorCodeOf(err) ?? "error"})`,
        "AzureBlobStore",
      );
    }
  }
}

/** Whether every UTF-16 unit of `text` from `start` on is below U+D800 (orders agree there). */
function narrowFrom(text: string, start: number): boolean {
  for (let i = start; i < text.length; i++) if (text.charCodeAt(i) >= 0xd800) return false;
  return true;
}

async function readAll(stream: NodeJS.ReadableStream | undefined): Promise<Uint8Array> {
  if (stream === undefined) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Uint8Array);
    chunks.push(bytes);
    total += bytes.byteLength;
  }
  // A plain Uint8Array (not a Buffer), like every other store returns.
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

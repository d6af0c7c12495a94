/** The options of {@link AzureBlobStore} and the shapes of the credentials and ready clients it takes. */
import type { AzureBlobStore } from "./azure.js";

/**
 * A credential for an account URL: a shared key, anonymous access, or any token
 * credential (such as `DefaultAzureCredential` from `@azure/identity`).
 */
export type AzureCredential = AzureStorageCredential | AzureTokenCredential;

/**
 * The shape of an `@azure/storage-blob` credential (`StorageSharedKeyCredential`,
 * `AnonymousCredential`). Declared here so taquba's types never import the optional SDK.
 */
export interface AzureStorageCredential {
  /** Creates the request policy that signs each request (called by the SDK). */
  create(nextPolicy: object, options: object): object;
}

/** The shape of an `@azure/identity` token credential. */
export interface AzureTokenCredential {
  /** An access token for `scopes`, or `null` when none can be had. */
  getToken(
    scopes: string | string[],
    options?: object,
  ): Promise<{ token: string; expiresOnTimestamp: number } | null>;
}

/**
 * The part of `@azure/storage-blob`'s `ContainerClient` that {@link AzureBlobStore} checks;
 * a `ContainerClient` fits. Declared here so taquba's types never import the optional SDK.
 */
export interface AzureContainerClientLike {
  /** The container's URL (shown in `describe()`, without any SAS token). */
  readonly url: string;
  /** A client of one blob, for reads and deletes. */
  getBlobClient(blobName: string): object;
  /** A client of one block blob, for writes. */
  getBlockBlobClient(blobName: string): object;
  /** The container's blobs, page by page. */
  listBlobsFlat(options?: object): AsyncIterable<object>;
}

/**
 * Options of {@link AzureBlobStore}. Give one of `client`, `connectionString`,
 * or `accountUrl` (with `credential`, e.g. from `@azure/identity`).
 */
export interface AzureBlobStoreOptions {
  /**
   * The container; it must exist.
   * @example { container: "queues", connectionString: process.env.AZURE_STORAGE_CONNECTION_STRING }
   */
  container: string;
  /**
   * Blobs live under this "directory" of the container. Its characters
   * (without a leading or trailing "/") and a "/" count toward the 1,024
   * characters of every blob name, and its "/"-separated segments toward the
   * 254 segments of one, so they leave that much less to a queue's `path`; a
   * prefix that leaves no room for any path (over 965 characters or 252
   * segments) is refused.
   * @default "" (the container root)
   * @example { prefix: "prod/taquba" }
   */
  prefix?: string;
  /**
   * An account connection string (`DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;EndpointSuffix=core.windows.net`).
   * @default none: give `client` or `accountUrl` instead
   * @example { container: "queues", connectionString: process.env.AZURE_STORAGE_CONNECTION_STRING }
   */
  connectionString?: string;
  /**
   * The account's blob endpoint.
   * @default none: give `client` or `connectionString` instead
   * @example { container: "queues", accountUrl: "https://myaccount.blob.core.windows.net", credential: new DefaultAzureCredential() }
   */
  accountUrl?: string;
  /**
   * Credential for `accountUrl`; omit for a URL that carries a SAS token.
   * @default none: anonymous, or the SAS token in `accountUrl`
   * @example { credential: new DefaultAzureCredential() }
   */
  credential?: AzureCredential;
  /**
   * A ready client for the container (a `ContainerClient` of `@azure/storage-blob`);
   * the connection options and `maxTries`, `tryTimeoutMs` are then ignored.
   * @default none: the store creates one from `connectionString` or `accountUrl`
   * @example { container: "queues", client: blobServiceClient.getContainerClient("queues") }
   */
  client?: AzureContainerClientLike;
  /**
   * Tries per request inside the SDK, including the first, for transient errors.
   * @default 4
   * @example { maxTries: 6 }
   */
  maxTries?: number;
  /**
   * The service's own limit on one try (Azure's `timeout` parameter, whole
   * seconds); it does not stop the client from waiting. See `requestTimeoutMs`.
   * @default 30_000
   * @example { tryTimeoutMs: 10_000 }
   */
  tryTimeoutMs?: number;
  /**
   * Every store call (get, put, delete, list, head, the SDK's own retries and
   * reading the body included) ends within this long: a service that does not
   * answer makes the call reject with a transient `StorageError`, which the
   * queue retries with backoff. Applies to a ready `client` too.
   * @default 30_000
   * @example { requestTimeoutMs: 10_000 }
   */
  requestTimeoutMs?: number;
}

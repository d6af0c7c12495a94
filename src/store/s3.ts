import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import { InvalidArgumentError } from "../errors.js";
import { errorCodeOf, httpStatusOf, redactSecrets, toStorageError } from "./cloud/errors.js";
import { checkInteger, checkKey, checkName, normalizePrefix, pageLimit } from "./cloud/keys.js";
import { loadOptionalSdk } from "./cloud/load-sdk.js";
import {
  type ListOptions,
  type ListPage,
  ObjectExistsError,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type StoredObject,
} from "./types.js";

type S3Sdk = typeof import("@aws-sdk/client-s3");

/**
 * The part of `@aws-sdk/client-s3`'s `S3Client` that {@link S3Store} checks; an
 * `S3Client` fits. Declared here so taquba's types never import the optional SDK.
 */
export interface S3ClientLike {
  send(command: object, options?: object): Promise<unknown>;
}

/** Static credentials for {@link S3Store}; omit them to use the SDK's default chain. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Options of {@link S3Store}. */
export interface S3StoreOptions {
  /** The bucket; it must exist. */
  bucket: string;
  /** Keys live under this "directory" of the bucket (default: the bucket root). */
  prefix?: string;
  /**
   * A ready client (its region, endpoint, credentials and retries are used as
   * they are; the options below are then ignored). An `S3Client` of `@aws-sdk/client-s3`.
   */
  client?: S3ClientLike;
  /** Default: the SDK's chain (`AWS_REGION`, config files); `us-east-1` with a custom `endpoint`. */
  region?: string;
  /** For S3-compatible stores (MinIO, R2, ...): e.g. `http://127.0.0.1:9000`. */
  endpoint?: string;
  /** Address the bucket in the path instead of the host name (MinIO and most emulators need it). */
  forcePathStyle?: boolean;
  /** Default: the SDK's default credential chain (environment, profiles, instance roles). */
  credentials?: S3Credentials;
  /** Attempts per request, including the first, for transient errors (default 3). */
  maxAttempts?: number;
  /** Abort a request that has not completed after this long (default 30_000 ms). */
  requestTimeoutMs?: number;
  /** Abort connecting after this long (default 5_000 ms). */
  connectionTimeoutMs?: number;
}

const DEFAULT_MAX_ATTEMPTS = 3;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_CONNECTION_TIMEOUT_MS = 5_000;
/** S3 answers 409 ConditionalRequestConflict while a conflicting write is in flight: retry it. */
const CONFLICT_RETRY_DELAYS_MS = [50, 100, 200, 400, 800];

/**
 * An {@link ObjectStore} in an Amazon S3 bucket or an S3-compatible store.
 * Atomic create uses `If-None-Match: *` on PutObject (S3 since August 2024,
 * MinIO, R2). `@aws-sdk/client-s3` is an optional peer dependency, loaded on
 * first use.
 */
export class S3Store implements ObjectStore {
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #options: S3StoreOptions;
  #client: Promise<{ sdk: S3Sdk; client: S3Client }> | undefined;

  constructor(options: S3StoreOptions) {
    if (options === null || typeof options !== "object")
      throw new InvalidArgumentError(
        "S3Store options: expected an object with at least { bucket }",
      );
    this.#bucket = checkName(options.bucket, "S3Store bucket");
    this.#prefix = normalizePrefix(options.prefix, "S3Store prefix");
    checkInteger(options.maxAttempts, "S3Store maxAttempts");
    checkInteger(options.requestTimeoutMs, "S3Store requestTimeoutMs");
    checkInteger(options.connectionTimeoutMs, "S3Store connectionTimeoutMs");
    if (options.endpoint !== undefined) parseEndpoint(options.endpoint);
    this.#options = { ...options };
  }

  async get(key: string): Promise<StoredObject | null> {
    checkKey(key);
    const { sdk, client } = await this.#sdk();
    try {
      const out = await client.send(
        new sdk.GetObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }),
      );
      const body =
        out.Body === undefined ? new Uint8Array() : await out.Body.transformToByteArray();
      return out.ETag === undefined ? { body } : { body, etag: out.ETag };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw toStorageError(this.describe(), "get", key, err);
    }
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    checkKey(key);
    const { sdk, client } = await this.#sdk();
    const input = {
      Bucket: this.#bucket,
      Key: this.#prefix + key,
      Body: body,
      ContentLength: body.byteLength,
      ...(options?.ifNoneMatch === "*" ? { IfNoneMatch: "*" } : {}),
    };
    for (let attempt = 0; ; attempt++) {
      try {
        // A fresh command per attempt: a sent command carries per-request middleware state.
        await client.send(new sdk.PutObjectCommand(input));
        return;
      } catch (err) {
        if (options?.ifNoneMatch === "*" && isPreconditionFailed(err))
          throw new ObjectExistsError(key);
        const delay = CONFLICT_RETRY_DELAYS_MS[attempt];
        if (options?.ifNoneMatch === "*" && isConditionalConflict(err) && delay !== undefined) {
          await sleep(delay * (0.5 + Math.random()));
          continue;
        }
        throw toStorageError(this.describe(), "put", key, err);
      }
    }
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    const { sdk, client } = await this.#sdk();
    try {
      await client.send(
        new sdk.DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }),
      );
    } catch (err) {
      if (isNotFound(err)) return;
      throw toStorageError(this.describe(), "delete", key, err);
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    checkKey(key);
    const { sdk, client } = await this.#sdk();
    try {
      const out = await client.send(
        new sdk.HeadObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }),
      );
      const info: ObjectInfo = { key, size: out.ContentLength ?? 0 };
      if (out.ETag !== undefined) info.etag = out.ETag;
      return info;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw toStorageError(this.describe(), "head", key, err);
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const { sdk, client } = await this.#sdk();
    const startAfter = options.startAfter;
    try {
      const out = await client.send(
        new sdk.ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: this.#prefix + prefix,
          MaxKeys: pageLimit(options.limit),
          ...(startAfter === undefined ? {} : { StartAfter: this.#prefix + startAfter }),
        }),
      );
      const objects: ObjectInfo[] = [];
      for (const entry of out.Contents ?? []) {
        if (entry.Key === undefined) continue;
        const info: ObjectInfo = {
          key: entry.Key.slice(this.#prefix.length),
          size: entry.Size ?? 0,
        };
        if (entry.ETag !== undefined) info.etag = entry.ETag;
        objects.push(info);
      }
      const last = objects.at(-1);
      return out.IsTruncated === true && last !== undefined
        ? { objects, nextStartAfter: last.key }
        : { objects };
    } catch (err) {
      throw toStorageError(this.describe(), "list", prefix, err);
    }
  }

  describe(): string {
    const where = `s3://${this.#bucket}/${this.#prefix}`;
    const endpoint = this.#options.endpoint;
    return endpoint === undefined ? where : `${where} at ${redactEndpoint(endpoint)}`;
  }

  /** The SDK module and client, created on first use. */
  #sdk(): Promise<{ sdk: S3Sdk; client: S3Client }> {
    this.#client ??= this.#createClient().catch((err: unknown) => {
      this.#client = undefined;
      throw err;
    });
    return this.#client;
  }

  async #createClient(): Promise<{ sdk: S3Sdk; client: S3Client }> {
    const sdk = await loadOptionalSdk(
      "@aws-sdk/client-s3",
      () => import("@aws-sdk/client-s3"),
      "S3Store",
    );
    const options = this.#options;
    // The option is typed by shape only (see S3ClientLike); it is the SDK's client.
    if (options.client !== undefined) return { sdk, client: options.client as S3Client };
    const region = options.region ?? (options.endpoint === undefined ? undefined : "us-east-1");
    const config: S3ClientConfig = {
      maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      requestHandler: {
        requestTimeout: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
        connectionTimeout: options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
      },
      ...(region === undefined ? {} : { region }),
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      ...(options.forcePathStyle === undefined ? {} : { forcePathStyle: options.forcePathStyle }),
      ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } }),
      // S3-compatible stores often reject the SDK's newer default checksum headers and
      // trailers; compute checksums only where S3 requires them. The log checksums its own objects.
      ...(options.endpoint === undefined
        ? {}
        : {
            requestChecksumCalculation: "WHEN_REQUIRED",
            responseChecksumValidation: "WHEN_REQUIRED",
          }),
    };
    return { sdk, client: new sdk.S3Client(config) };
  }
}

/** A missing object (a missing bucket is a configuration error, not "no such key"). */
function isNotFound(err: unknown): boolean {
  const code = errorCodeOf(err);
  if (code === "NoSuchBucket") return false;
  return code === "NoSuchKey" || code === "NotFound" || httpStatusOf(err) === 404;
}

function isPreconditionFailed(err: unknown): boolean {
  return errorCodeOf(err) === "PreconditionFailed" || httpStatusOf(err) === 412;
}

function isConditionalConflict(err: unknown): boolean {
  return errorCodeOf(err) === "ConditionalRequestConflict" || httpStatusOf(err) === 409;
}

function parseEndpoint(endpoint: string): URL {
  try {
    const url = new URL(endpoint);
    if (url.protocol === "http:" || url.protocol === "https:") return url;
  } catch {
    // reported below
  }
  throw new InvalidArgumentError(
    `S3Store endpoint: expected an http(s) URL such as "http://127.0.0.1:9000", got "${redactSecrets(endpoint)}"`,
  );
}

/** The endpoint without user info, query or fragment. */
function redactEndpoint(endpoint: string): string {
  const url = new URL(endpoint);
  return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

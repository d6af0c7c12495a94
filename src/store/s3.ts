/**
 * `S3Store`: the object store in an S3 (or S3-compatible) bucket, over the
 * optional `@aws-sdk/client-s3` SDK. How its failures are read is in `s3-errors.ts`.
 */
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import {
  dotSegmentOf,
  dotSegmentProblem,
  ENDPOINT_WITHOUT_DOT_SEGMENTS,
} from "../util/dot-segments.js";
import { redactUrl } from "../util/redact.js";
import { describeValue, invalidArgument, invalidArgumentGot } from "../validate.js";
import { checkPutBody } from "./call-arguments.js";
import { httpStatusOf, toStorageError } from "./cloud/errors.js";
import {
  checkInteger,
  checkKey,
  checkListArguments,
  checkName,
  checkTimeout,
  normalizePrefix,
  pageLimit,
} from "./cloud/keys.js";
import { loadOptionalSdk } from "./cloud/load-sdk.js";
import { DEFAULT_TIMEOUT_MS, withDeadline } from "./deadline.js";
import { setKeyRoom } from "./key-room.js";
import {
  checkHeadAnswer,
  checkObjectAnswer,
  checkPutAnswer,
  isConditionalConflict,
  isNotFound,
  isPreconditionFailed,
  noSuchBucket,
  s3Verdict,
} from "./s3-errors.js";
import { listS3Page } from "./s3-list.js";
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
export { S3_CREDENTIALS_OPTION } from "./s3-errors.js";

type S3Sdk = typeof import("@aws-sdk/client-s3");

/**
 * The part of `@aws-sdk/client-s3`'s `S3Client` that {@link S3Store} checks; an
 * `S3Client` fits. Declared here so taquba's types never import the optional SDK.
 */
export interface S3ClientLike {
  /** Sends one command (`GetObjectCommand`, `PutObjectCommand`, …) and resolves with its output. */
  send(command: object, options?: object): Promise<unknown>;
}

/** Static credentials for {@link S3Store}; omit them to use the SDK's default chain. */
export interface S3Credentials {
  /**
   * The access key id.
   * @example { accessKeyId: "AKIA…", secretAccessKey: process.env.S3_SECRET! }
   */
  accessKeyId: string;
  /**
   * The secret access key.
   * @example { accessKeyId: "AKIA…", secretAccessKey: process.env.S3_SECRET! }
   */
  secretAccessKey: string;
  /**
   * The session token of temporary credentials.
   * @default none: long-term credentials
   * @example { accessKeyId, secretAccessKey, sessionToken: process.env.AWS_SESSION_TOKEN }
   */
  sessionToken?: string;
}

/** Options of {@link S3Store}. */
export interface S3StoreOptions {
  /**
   * The bucket; it must exist.
   * @example { bucket: "my-app-queues" }
   */
  bucket: string;
  /**
   * Keys live under this "directory" of the bucket. Its UTF-8 bytes (without a
   * leading or trailing "/") and a "/" count toward the 1,024 bytes of every
   * key, so they leave that much less to a queue's `path`; a prefix that
   * leaves no room for any path (over 965 bytes) is refused.
   * @default "" (the bucket root)
   * @example { prefix: "prod/taquba" }
   */
  prefix?: string;
  /**
   * A ready client (its region, endpoint, credentials and retries are used as
   * they are; `region`, `endpoint`, `forcePathStyle`, `credentials`,
   * `maxAttempts` and `connectionTimeoutMs` are then ignored). An `S3Client`
   * of `@aws-sdk/client-s3`. A wrapper or a mock (such as
   * `aws-sdk-client-mock`) must answer as every S3 server does: an `ETag` in
   * GetObject, HeadObject and PutObject outputs, `IsTruncated` in ListObjectsV2 outputs.
   * Without them every such call fails with a transient `StorageError`: a
   * proxy's page in the service's place looks the same.
   * @default none: the store creates one from these options
   * @example { bucket: "jobs", client: new S3Client({ region: "eu-west-1" }) }
   */
  client?: S3ClientLike;
  /**
   * The bucket's region.
   * @default the SDK's chain (`AWS_REGION`, config files); `"us-east-1"` with a custom `endpoint`
   * @example { region: "eu-west-1" }
   */
  region?: string;
  /**
   * For S3-compatible stores (MinIO, R2, ...).
   * @default none: Amazon S3
   * @example { endpoint: "http://127.0.0.1:9000", forcePathStyle: true }
   */
  endpoint?: string;
  /**
   * Address the bucket in the path instead of the host name (MinIO and most emulators need it).
   * @default false (the SDK's default)
   * @example { forcePathStyle: true }
   */
  forcePathStyle?: boolean;
  /**
   * Static credentials.
   * @default the SDK's default credential chain (environment, profiles, instance roles)
   * @example { credentials: { accessKeyId: "minioadmin", secretAccessKey: "minioadmin" } }
   */
  credentials?: S3Credentials;
  /**
   * Attempts per request inside the SDK, including the first, for transient errors.
   * @default 3
   * @example { maxAttempts: 5 }
   */
  maxAttempts?: number;
  /**
   * Every store call (get, put, delete, list, head, the SDK's own retries and
   * reading the body included) ends within this long: a server that does not
   * answer makes the call reject with a transient `StorageError`, which the
   * queue retries with backoff. Applies to a ready `client` too.
   * @default 30_000
   * @example { requestTimeoutMs: 10_000 }
   */
  requestTimeoutMs?: number;
  /**
   * Abort connecting after this long.
   * @default 5_000
   * @example { connectionTimeoutMs: 2_000 }
   */
  connectionTimeoutMs?: number;
}

const DEFAULT_MAX_ATTEMPTS = 3;
const DEFAULT_CONNECTION_TIMEOUT_MS = 5_000;
/** S3 answers 409 ConditionalRequestConflict while a conflicting write is in flight: retry it. */
const CONFLICT_RETRY_DELAYS_MS = [50, 100, 200, 400, 800];

/**
 * An {@link ObjectStore} in an Amazon S3 bucket or an S3-compatible store.
 * Atomic create uses `If-None-Match: *` on PutObject (S3 since August 2024,
 * Ceph radosgw, MinIO, R2); nothing else is conditional, so servers that
 * mishandle `If-Match` or conditional deletes (radosgw 16 does both) are fine.
 * `@aws-sdk/client-s3` is an optional peer dependency, loaded on first use.
 *
 * Failures are `StorageError`s: `permanent: true` for answers that cannot
 * heal (missing bucket, unknown access key, wrong secret, access denied, no
 * credentials, wrong region), with what to fix in the message; transient
 * otherwise (timeouts, dropped connections, 5xx, throttling).
 */
export class S3Store implements ObjectStore {
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #options: S3StoreOptions;
  #client: Promise<{ sdk: S3Sdk; client: S3Client }> | undefined;

  constructor(options: S3StoreOptions) {
    if (options === null || typeof options !== "object")
      throw invalidArgument("options", "an object with at least { bucket }", options, "S3Store");
    this.#bucket = checkName(options.bucket, "options.bucket", "S3Store");
    this.#prefix = normalizePrefix(options.prefix, "options.prefix", "S3Store");
    setKeyRoom(this, this.#prefix, "options.prefix", "S3Store");
    checkInteger(options.maxAttempts, "options.maxAttempts", "S3Store");
    checkTimeout(options.requestTimeoutMs, "options.requestTimeoutMs", "S3Store");
    checkTimeout(options.connectionTimeoutMs, "options.connectionTimeoutMs", "S3Store");
    if (options.endpoint !== undefined) parseEndpoint(options.endpoint);
    this.#options = { ...options };
  }

  async get(key: string): Promise<StoredObject | null> {
    checkKey(key);
    return this.#call("get", key, async ({ sdk, client }, abortSignal) => {
      try {
        const out = await client.send(
          new sdk.GetObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }),
          { abortSignal },
        );
        const etag = checkObjectAnswer(out);
        const body =
          out.Body === undefined ? new Uint8Array() : await out.Body.transformToByteArray();
        return { body, etag };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    });
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    checkKey(key);
    checkPutBody(key, body);
    const create = options?.ifNoneMatch === "*";
    const input = {
      Bucket: this.#bucket,
      Key: this.#prefix + key,
      Body: body,
      ContentLength: body.byteLength,
      ...(create ? { IfNoneMatch: "*" } : {}),
    };
    await this.#call("put", key, async ({ sdk, client }, abortSignal) => {
      for (let attempt = 0; ; attempt++) {
        try {
          // A fresh command per attempt: a sent command carries per-request middleware state.
          const out = await client.send(new sdk.PutObjectCommand(input), { abortSignal });
          // A proxy's 200 page would otherwise acknowledge a write that never reached the store.
          checkPutAnswer(out);
          return;
        } catch (err) {
          if (create && isPreconditionFailed(err)) throw new ObjectExistsError(key);
          // S3 answers 409 while a conflicting conditional write is in flight (radosgw never does).
          const delay = CONFLICT_RETRY_DELAYS_MS[attempt];
          if (create && isConditionalConflict(err) && delay !== undefined) {
            await sleep(delay * (0.5 + Math.random()), abortSignal);
            continue;
          }
          throw err;
        }
      }
    });
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await this.#call("delete", key, async ({ sdk, client }, abortSignal) => {
      // Its answer is not checked: S3-compatible servers agree on no field of it, and a
      // delete that a proxy's 200 swallowed leaves only garbage, which collection retries.
      try {
        await client.send(
          new sdk.DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }),
          { abortSignal },
        );
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    });
  }

  async head(key: string): Promise<ObjectInfo | null> {
    checkKey(key);
    return this.#call("head", key, async ({ sdk, client }, abortSignal) => {
      try {
        const out = await client.send(
          new sdk.HeadObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }),
          { abortSignal },
        );
        const etag = checkHeadAnswer(out);
        return { key, size: out.ContentLength ?? 0, etag };
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      // A HEAD answer has no body, so a missing key and a missing bucket both read
      // "404 NotFound": ask about the bucket (a 404 there throws NoSuchBucket).
      try {
        await client.send(new sdk.HeadBucketCommand({ Bucket: this.#bucket }), { abortSignal });
      } catch (err) {
        throw httpStatusOf(err) === 404 ? noSuchBucket(err) : err;
      }
      return null;
    });
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const startAfter = options.startAfter;
    checkListArguments(prefix, options.startAfter);
    const limit = pageLimit(options.limit);
    return this.#call("list", prefix, (sdk, abortSignal) =>
      listS3Page(
        sdk,
        { bucket: this.#bucket, storePrefix: this.#prefix, prefix, startAfter, limit },
        abortSignal,
      ),
    );
  }

  describe(): string {
    const where = `s3://${this.#bucket}/${this.#prefix}`;
    const endpoint = this.#options.endpoint;
    return endpoint === undefined ? where : `${where} at ${redactEndpoint(endpoint)}`;
  }

  /**
   * One store call: within the time limit, with SDK failures mapped to
   * `StorageError`s (permanent or transient); `ObjectExistsError` passes through.
   */
  async #call<T>(
    op: string,
    key: string,
    run: (sdk: { sdk: S3Sdk; client: S3Client }, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = this.#options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    return withDeadline(timeoutMs, { store: this.describe(), op, key }, async (signal) => {
      const sdk = await this.#sdk();
      try {
        return await run(sdk, signal);
      } catch (err) {
        if (err instanceof ObjectExistsError) throw err;
        const endpoint = this.#options.endpoint;
        const verdict = s3Verdict(
          err,
          this.#bucket,
          endpoint === undefined ? undefined : redactEndpoint(endpoint),
        );
        throw toStorageError(this.describe(), op, key, err, verdict);
      }
    });
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
        requestTimeout: options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS,
        connectionTimeout: options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
        // Without this the handler only prints a warning when a request overruns.
        throwOnRequestTimeout: true,
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

function parseEndpoint(endpoint: string): URL {
  const shown =
    typeof endpoint === "string" ? JSON.stringify(redactUrl(endpoint)) : describeValue(endpoint);
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    // reported below
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:"))
    throw invalidArgumentGot(
      "options.endpoint",
      'an http(s) URL such as "http://127.0.0.1:9000"',
      shown,
      "S3Store",
    );
  // The parser resolved them away: requests would go to another path than written.
  const dots = dotSegmentOf(endpoint);
  if (dots !== undefined)
    throw invalidArgumentGot(
      "options.endpoint",
      ENDPOINT_WITHOUT_DOT_SEGMENTS,
      `${shown}, with ${dotSegmentProblem(dots)}`,
      "S3Store",
    );
  return url;
}

/** The endpoint without user info, query or fragment. */
function redactEndpoint(endpoint: string): string {
  const url = new URL(endpoint);
  return `${url.protocol}//${url.host}${url.pathname === "/" ? "" : url.pathname}`;
}

/** Wait `ms`, or less when `signal` aborts (the caller's time limit has passed). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

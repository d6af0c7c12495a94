/** `GcsStore`: the object store in a Google Cloud Storage bucket, over the optional `@google-cloud/storage` SDK. */
import { AsyncLocalStorage } from "node:async_hooks";
import {
  dotSegmentOf,
  dotSegmentProblem,
  ENDPOINT_WITHOUT_DOT_SEGMENTS,
} from "../util/dot-segments.js";
import { messageOf } from "../util/message.js";
import { redactSecrets, redactUrl } from "../util/redact.js";
import { invalidArgument, invalidArgumentGot } from "../validate.js";
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
import { checkObjectMetadata, listPage, nextPageToken, readObject } from "./gcs-answers.js";
import type {
  GcsBucket,
  GcsClient,
  GcsFile,
  GcsListQuery,
  GcsObjectMetadata,
} from "./gcs-client.js";
import { gcsVerdict, isMissingObject } from "./gcs-errors.js";
import { setKeyRoom } from "./key-room.js";
import {
  type ListOptions,
  type ListPage,
  ObjectExistsError,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type StoredObject,
} from "./types.js";

// Where the CLI looks for the parts of the advice it drops.
export {
  GCS_CREDENTIALS_OPTION,
  GCS_INLINE_CREDENTIALS_OPTION,
  GCS_INLINE_KEY_OPTION,
  GCS_KEY_FILE_OPTION,
} from "./gcs-errors.js";

export type { GcsBucket, GcsClient, GcsFile, GcsListQuery, GcsObjectMetadata };

/** Options of {@link GcsStore}. */
export interface GcsStoreOptions {
  /**
   * The bucket; it must exist.
   * @example { bucket: "my-app-queues" }
   */
  bucket: string;
  /**
   * Objects live under this "directory" of the bucket. Its UTF-8 bytes (without a
   * leading or trailing "/") and a "/" count toward the 1,024 bytes of every
   * key, so they leave that much less to a queue's `path`; a prefix that
   * leaves no room for any path (over 965 bytes) is refused.
   * @default "" (the bucket root)
   * @example { prefix: "prod/taquba" }
   */
  prefix?: string;
  /**
   * A ready client; `projectId`, `keyFilename`, `credentials`, `apiEndpoint`
   * and `maxRetries` are then ignored. Its buckets' `request` (to list) and
   * files' `createReadStream` (to read) are used when present, instead of
   * `getFiles` and `download`: a wrapper or stub that forwards every member
   * of a `Bucket` or `File` must make those work too.
   * @default none: the store creates one from these options
   * @example { bucket: "jobs", client: new Storage({ projectId: "my-project" }) }
   */
  client?: GcsClient;
  /**
   * The Google Cloud project.
   * @default from the environment (Application Default Credentials)
   * @example { projectId: "my-project" }
   */
  projectId?: string;
  /**
   * A service-account key file.
   * @default Application Default Credentials
   * @example { keyFilename: "/etc/secrets/gcs-key.json" }
   */
  keyFilename?: string;
  /**
   * Inline service-account credentials.
   * @default Application Default Credentials
   * @example { credentials: { client_email: key.client_email, private_key: key.private_key } }
   */
  credentials?: {
    /** The service account's e-mail address. @example { client_email: "queue@my-project.iam.gserviceaccount.com" } */
    client_email: string;
    /** The service account's private key, in PEM. @example { private_key: key.private_key } */
    private_key: string;
  };
  /**
   * Another endpoint.
   * @default none: Google Cloud Storage
   * @example { apiEndpoint: "http://127.0.0.1:4443" }
   */
  apiEndpoint?: string;
  /**
   * Retries of a failed idempotent request inside the client library.
   * @default 3
   * @example { maxRetries: 5 }
   */
  maxRetries?: number;
  /**
   * Every store call (the client library's own retries included) ends within
   * this long: a service that does not answer makes the call reject with a
   * transient `StorageError`, which the queue retries with backoff. Also the
   * client library's limit on one request. Applies to a ready `client` too.
   * @default 30_000
   * @example { timeoutMs: 10_000 }
   */
  timeoutMs?: number;
}

const DEFAULT_MAX_RETRIES = 3;

/**
 * An {@link ObjectStore} in a Google Cloud Storage bucket. Atomic create uses
 * `ifGenerationMatch: 0` ("only if no live version exists").
 * `@google-cloud/storage` is an optional peer dependency, loaded on first use.
 *
 * Failures are `StorageError`s: `permanent: true` for answers that cannot
 * heal (missing bucket, failed authentication, missing permission, no
 * credentials), with what to fix in the message; transient otherwise.
 * Not yet tested against the live service (no emulator installable here
 * honours `ifGenerationMatch`); its tests use a scripted client and a fake
 * of the JSON API.
 */
export class GcsStore implements ObjectStore {
  readonly #bucketName: string;
  readonly #prefix: string;
  readonly #options: GcsStoreOptions;
  #bucket: Promise<GcsBucket> | undefined;
  /**
   * The failed answers the client library retried during the current call
   * (the library reports each to its retry check, which runs in the call's
   * async context), so a call that runs out of time can say what it got.
   */
  readonly #retried = new AsyncLocalStorage<{ last?: unknown }>();

  constructor(options: GcsStoreOptions) {
    if (options === null || typeof options !== "object")
      throw invalidArgument("options", "an object with at least { bucket }", options, "GcsStore");
    this.#bucketName = checkName(options.bucket, "options.bucket", "GcsStore");
    this.#prefix = normalizePrefix(options.prefix, "options.prefix", "GcsStore");
    setKeyRoom(this, this.#prefix, "options.prefix", "GcsStore");
    checkInteger(options.maxRetries, "options.maxRetries", "GcsStore", 0);
    checkTimeout(options.timeoutMs, "options.timeoutMs", "GcsStore");
    if (options.apiEndpoint !== undefined) checkApiEndpoint(options.apiEndpoint);
    this.#options = { ...options };
  }

  async get(key: string): Promise<StoredObject | null> {
    checkKey(key);
    return this.#call("get", key, async (bucket) => {
      const file = bucket.file(this.#prefix + key);
      try {
        const contents = await readObject(file);
        // A plain Uint8Array (not a Buffer), like every other store returns.
        const body = new Uint8Array(contents);
        const etag = file.metadata.etag;
        return etag === undefined ? { body } : { body, etag };
      } catch (err) {
        if (isMissingObject(err)) return null;
        throw err;
      }
    });
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    checkKey(key);
    checkPutBody(key, body);
    const create = options?.ifNoneMatch === "*";
    await this.#call("put", key, async (bucket) => {
      const file = bucket.file(this.#prefix + key);
      try {
        // Generation 0 means "no live object": the write is an atomic create.
        await file.save(
          body,
          create
            ? { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }
            : { resumable: false },
        );
      } catch (err) {
        if (create && httpStatusOf(err) === 412) throw new ObjectExistsError(key);
        throw err;
      }
    });
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await this.#call("delete", key, async (bucket) => {
      try {
        // Not the client's `ignoreNotFound`: it swallows every 404, a missing bucket's too.
        await bucket.file(this.#prefix + key).delete();
      } catch (err) {
        if (!isMissingObject(err)) throw err;
      }
    });
  }

  async head(key: string): Promise<ObjectInfo | null> {
    checkKey(key);
    return this.#call("head", key, async (bucket) => {
      try {
        const [metadata] = await bucket.file(this.#prefix + key).getMetadata();
        return toInfo(key, checkObjectMetadata(metadata));
      } catch (err) {
        if (isMissingObject(err)) return null;
        throw err;
      }
    });
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    checkListArguments(prefix, options.startAfter);
    const limit = pageLimit(options.limit);
    const after = options.startAfter === undefined ? undefined : this.#prefix + options.startAfter;
    return this.#call("list", prefix, async (bucket, signal) => {
      // `startOffset` is inclusive: ask for one more and drop the cursor itself.
      const query = {
        prefix: this.#prefix + prefix,
        maxResults: limit + 1,
        ...(after === undefined ? {} : { startOffset: after }),
      };
      // A page may hold no objects past the cursor and still have a next page token (GCS
      // allows empty pages): follow it, or the listing would end before the objects after.
      // The call's time limit covers the whole run of pages; once it passes, no page more
      // is asked for (the call has already failed).
      let pageToken: string | undefined;
      for (;;) {
        if (signal.aborted) throw signal.reason;
        const page = await listPage(
          bucket,
          pageToken === undefined ? query : { ...query, pageToken },
        );
        const entries = page.files.filter((file) => file.name !== after);
        const objects = entries
          .slice(0, limit)
          .map((file) => toInfo(file.name.slice(this.#prefix.length), file.metadata));
        const last = objects.at(-1);
        if (last === undefined && page.nextPageToken) {
          pageToken = nextPageToken(page.nextPageToken, pageToken);
          continue;
        }
        const more = entries.length > limit || Boolean(page.nextPageToken);
        return more && last !== undefined ? { objects, nextStartAfter: last.key } : { objects };
      }
    });
  }

  describe(): string {
    return `gs://${this.#bucketName}/${this.#prefix}`;
  }

  /**
   * One store call: within the time limit, with client failures mapped to
   * `StorageError`s (permanent or transient); `ObjectExistsError` passes through.
   */
  async #call<T>(
    op: string,
    key: string,
    run: (bucket: GcsBucket, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const retried: { last?: unknown } = {};
    const lastAnswer = (): string | undefined =>
      retried.last === undefined ? undefined : describeAnswer(retried.last);
    // The client library takes no abort signal: a request past the limit is abandoned (the
    // library may still retry that one request), and `run` checks the signal between
    // requests so that it starts no new one after.
    return withDeadline(timeoutMs, { store: this.describe(), op, key, lastAnswer }, (signal) =>
      this.#retried.run(retried, async () => {
        try {
          return await run(await this.#gcsBucket(), signal);
        } catch (err) {
          if (err instanceof ObjectExistsError) throw err;
          throw toStorageError(
            this.describe(),
            op,
            key,
            err,
            gcsVerdict(err, this.#bucketName, this.#options.keyFilename),
          );
        }
      }),
    );
  }

  #gcsBucket(): Promise<GcsBucket> {
    this.#bucket ??= this.#createClient().then(
      (client) => client.bucket(this.#bucketName),
      (err: unknown) => {
        this.#bucket = undefined;
        throw err;
      },
    );
    return this.#bucket;
  }

  async #createClient(): Promise<GcsClient> {
    const options = this.#options;
    if (options.client !== undefined) return options.client;
    const sdk = await loadOptionalSdk(
      "@google-cloud/storage",
      () => import("@google-cloud/storage"),
      "GcsStore",
    );
    const retryable = sdk.RETRYABLE_ERR_FN_DEFAULT;
    return new sdk.Storage({
      retryOptions: {
        autoRetry: true,
        maxRetries: options.maxRetries ?? DEFAULT_MAX_RETRIES,
        retryableErrorFn: (err) => {
          const retrying = retryable(err);
          const call = this.#retried.getStore();
          if (retrying && call !== undefined) call.last = err;
          return retrying;
        },
      },
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ...(options.projectId === undefined ? {} : { projectId: options.projectId }),
      ...(options.keyFilename === undefined ? {} : { keyFilename: options.keyFilename }),
      ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } }),
      ...(options.apiEndpoint === undefined ? {} : { apiEndpoint: options.apiEndpoint }),
    });
  }
}

/**
 * Refuses an `apiEndpoint` that is no string, or that has a `.` or `..` path
 * segment: the client's URL parser resolves it away, so requests would go to
 * another path than written.
 */
function checkApiEndpoint(endpoint: unknown): void {
  if (typeof endpoint !== "string")
    throw invalidArgument("options.apiEndpoint", "a URL string", endpoint, "GcsStore");
  const dots = dotSegmentOf(endpoint);
  if (dots !== undefined)
    throw invalidArgumentGot(
      "options.apiEndpoint",
      ENDPOINT_WITHOUT_DOT_SEGMENTS,
      `${JSON.stringify(redactUrl(endpoint))}, with ${dotSegmentProblem(dots)}`,
      "GcsStore",
    );
}

/**
 * A failed answer as the timeout message quotes it: "HTTP 503: Backend Error".
 * The library's retry check gets the error before the body is read, whose
 * message lists several lines ("Multiple errors occurred…"): then the
 * status line's text says it.
 */
function describeAnswer(err: unknown): string {
  const status = httpStatusOf(err);
  const source = (err ?? {}) as {
    errors?: Array<{ message?: unknown }>;
    response?: { statusMessage?: unknown };
  };
  const first = source.errors?.[0]?.message;
  const statusText = source.response?.statusMessage;
  const said =
    typeof first === "string"
      ? first
      : typeof statusText === "string"
        ? statusText
        : (messageOf(err).split("\n")[0] ?? "");
  const message = redactSecrets(said.trim());
  return status === undefined ? message : `HTTP ${status}: ${message}`;
}

function toInfo(key: string, metadata: GcsObjectMetadata): ObjectInfo {
  const info: ObjectInfo = { key, size: Number(metadata.size ?? 0) };
  if (metadata.etag !== undefined) info.etag = metadata.etag;
  return info;
}

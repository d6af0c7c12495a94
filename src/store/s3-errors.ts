/**
 * How `S3Store` reads the S3 SDK's failures: a missing key apart from a
 * missing bucket, a taken create, a conflict to retry, which failures are
 * permanent with what to tell the operator, and which success answers are
 * not an S3 server's. Separate from `s3.ts`, which makes the requests, as
 * `file-errors.ts` is for `FileStore`.
 */
import {
  baseVerdict,
  checkNotHtml,
  errorCodeOf,
  hasNoServiceCode,
  httpStatusOf,
  serverHeaderOf,
  UnexpectedAnswerError,
  type Verdict,
} from "./cloud/errors.js";

/**
 * Refuses a GetObject answer that is not an S3 server's: every one sends an
 * ETag with an object, and none labels one of taquba's objects as HTML. Its
 * body is dropped unread. Returns the ETag.
 */
export function checkObjectAnswer(out: {
  ETag?: string | undefined;
  ContentType?: string | undefined;
  Body?: unknown;
}): string {
  try {
    checkNotHtml("get", out.ContentType);
    if (out.ETag === undefined)
      throw new UnexpectedAnswerError(
        "the answer to a get request lacks the ETag every S3 server sends with an object " +
          "(a proxy's page in the way, or a client or mock that drops it)",
      );
    return out.ETag;
  } catch (err) {
    (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
    throw err;
  }
}

/**
 * Refuses a HeadObject answer that is not an S3 server's, as
 * {@link checkObjectAnswer} does a GetObject one: a proxy's 200 would
 * otherwise say that a missing object exists. Returns the ETag.
 */
export function checkHeadAnswer(out: {
  ETag?: string | undefined;
  ContentType?: string | undefined;
}): string {
  checkNotHtml("head", out.ContentType);
  if (out.ETag === undefined)
    throw new UnexpectedAnswerError(
      "the answer to a head request lacks the ETag every S3 server sends for an object " +
        "(a proxy's page in the way, or a client or mock that drops it)",
    );
  return out.ETag;
}

/** Refuses a PutObject answer without an ETag: it does not say the object was stored. */
export function checkPutAnswer(out: { ETag?: string | undefined }): void {
  if (out.ETag === undefined)
    throw new UnexpectedAnswerError(
      "the answer to a put request lacks the ETag every S3 server sends for a stored object " +
        "(a proxy's page in the way, or a client or mock that drops it): " +
        "the write may or may not have taken effect",
    );
}

/** A missing object (a missing bucket is a configuration error, not "no such key"). */
export function isNotFound(err: unknown): boolean {
  const code = errorCodeOf(err);
  if (code === "NoSuchBucket") return false;
  return code === "NoSuchKey" || code === "NotFound" || httpStatusOf(err) === 404;
}

/** The error a missing bucket gives on an operation whose answer has no body (HEAD). */
export function noSuchBucket(err: unknown): Error {
  const status = httpStatusOf(err);
  return Object.assign(new Error("The specified bucket does not exist"), {
    name: "NoSuchBucket",
    ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }),
  });
}

/**
 * The end of the no-credentials advice that only code can follow (the CLI
 * drops it: its user gives credentials through the environment).
 */
export const S3_CREDENTIALS_OPTION = ", or pass `credentials` to S3Store";

/** Which S3 failures are permanent, and what to tell the operator about them. */
export function s3Verdict(err: unknown, bucket: string, endpoint: string | undefined): Verdict {
  const code = errorCodeOf(err);
  switch (code) {
    case "NoSuchBucket":
      return {
        permanent: true,
        hint: `The bucket "${bucket}" does not exist: create it, or fix the bucket name, endpoint or region`,
      };
    case "InvalidAccessKeyId":
      return {
        permanent: true,
        hint: "The server does not know this access key id: check the credentials",
      };
    case "SignatureDoesNotMatch":
      return {
        permanent: true,
        hint: "The request signature does not match: check the secret access key (and the region)",
      };
    case "AccessDenied":
    case "AllAccessDisabled":
      return {
        permanent: true,
        hint: `Access denied: allow these credentials to get, put, delete and list objects in bucket "${bucket}"`,
      };
    case "CredentialsProviderError":
      return {
        permanent: true,
        hint:
          "No AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY " +
          `(or AWS_PROFILE), or run with an instance role${S3_CREDENTIALS_OPTION}`,
      };
    case "ExpiredToken":
    case "InvalidToken":
    case "TokenRefreshRequired":
      return {
        permanent: true,
        hint: "The session token is invalid or expired: renew the credentials",
      };
    case "RequestTimeTooSkewed":
      return {
        permanent: true,
        hint: "This machine's clock is too far off the server's: fix the clock",
      };
    case "PermanentRedirect":
    case "AuthorizationHeaderMalformed":
    case "IllegalLocationConstraintException":
      return { permanent: true, hint: `Bucket "${bucket}" is in another region: set \`region\`` };
    case "InvalidBucketName":
      return { permanent: true, hint: `"${bucket}" is not a valid bucket name` };
  }
  const verdict = baseVerdict(err);
  const status = httpStatusOf(err);
  if (verdict.permanent && verdict.hint === undefined && status === 403)
    return {
      permanent: true,
      hint: "Access denied: check the credentials and that they may use this bucket",
    };
  if (verdict.permanent && verdict.hint === undefined && hasNoServiceCode(err)) {
    // An answer without an S3 error code: whatever answered is not speaking S3.
    const server = serverHeaderOf(err);
    return {
      permanent: true,
      hint:
        `The server${endpoint === undefined ? "" : ` at ${endpoint}`} answered HTTP ${status} ` +
        `without an S3 error code${server === undefined ? "" : ` (its Server header: "${server}")`}: ` +
        "check that the endpoint is an S3-compatible service (not an Azure or GCS one, say) and the bucket name",
    };
  }
  return verdict;
}

/** A create that found the key taken. */
export function isPreconditionFailed(err: unknown): boolean {
  return errorCodeOf(err) === "PreconditionFailed" || httpStatusOf(err) === 412;
}

/** S3's answer while a conflicting conditional write is in flight: retried. */
export function isConditionalConflict(err: unknown): boolean {
  return errorCodeOf(err) === "ConditionalRequestConflict" || httpStatusOf(err) === 409;
}

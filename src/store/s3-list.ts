/**
 * How `S3Store` lists keys: ListObjectsV2 pages followed to the first that
 * holds a key, each answer checked to be a listing. Separate from `s3.ts`,
 * which makes the other calls and maps failures.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { UnexpectedAnswerError } from "./cloud/errors.js";
import type { ListPage, ObjectInfo } from "./types.js";

type S3Sdk = typeof import("@aws-sdk/client-s3");

/** One list call of `S3Store`: where to list, and from where. */
export interface S3ListRequest {
  bucket: string;
  /** The store's own prefix, taken off every key returned. */
  storePrefix: string;
  /** The caller's prefix (without the store's). */
  prefix: string;
  startAfter: string | undefined;
  limit: number;
}

/**
 * One page of keys under `request.prefix`, after `request.startAfter`. A
 * page may hold no keys and still say more follow (nothing in the protocol
 * forbids it): its continuation token is followed, or the listing would end
 * before those keys. The call's time limit covers the whole run of pages
 * (the abort signal ends it), and nothing is kept between retries of the call.
 */
export async function listS3Page(
  { sdk, client }: { sdk: S3Sdk; client: S3Client },
  request: S3ListRequest,
  abortSignal: AbortSignal,
): Promise<ListPage> {
  const { bucket, storePrefix, prefix, startAfter, limit } = request;
  let token: string | undefined;
  for (;;) {
    const from =
      token !== undefined
        ? { ContinuationToken: token }
        : startAfter === undefined
          ? {}
          : { StartAfter: storePrefix + startAfter };
    const out = await client.send(
      new sdk.ListObjectsV2Command({
        Bucket: bucket,
        Prefix: storePrefix + prefix,
        MaxKeys: limit,
        ...from,
      }),
      { abortSignal },
    );
    checkListAnswer(out);
    const objects: ObjectInfo[] = [];
    for (const entry of out.Contents ?? []) {
      if (entry.Key === undefined) continue;
      const info: ObjectInfo = {
        key: entry.Key.slice(storePrefix.length),
        size: entry.Size ?? 0,
      };
      if (entry.ETag !== undefined) info.etag = entry.ETag;
      objects.push(info);
    }
    const last = objects.at(-1);
    if (out.IsTruncated !== true) return { objects };
    if (last !== undefined) return { objects, nextStartAfter: last.key };
    token = nextToken(out, token);
  }
}

/**
 * Refuses a ListObjectsV2 answer without `IsTruncated`, which every S3
 * listing has. The SDK reads an HTML page, an empty body or another XML
 * document as a listing with no fields: that is not an empty page.
 */
function checkListAnswer(out: { IsTruncated?: boolean | undefined }): void {
  if (typeof out.IsTruncated !== "boolean")
    throw new UnexpectedAnswerError(
      "the answer to a list request lacks the IsTruncated every S3 listing has " +
        "(a proxy's page in the way, an empty or cut answer, or a client or mock that drops it)",
    );
}

/**
 * The continuation token of a truncated ListObjectsV2 page that held no
 * keys; refuses such a page without one: there is no way on from it, and
 * ending the listing there would drop the keys it says follow. Refuses one
 * that repeats the token `sent` for this page too: following it would ask
 * for the same page again and again until the call's time limit.
 */
function nextToken(
  out: { NextContinuationToken?: string | undefined },
  sent: string | undefined,
): string {
  const token = out.NextContinuationToken;
  if (typeof token !== "string" || token === "")
    throw new UnexpectedAnswerError(
      "the answer to a list request says it is truncated (IsTruncated) but holds no key and " +
        "no NextContinuationToken to go on from: a proxy's page in the way, or a server that " +
        "does not speak ListObjectsV2 as S3 does",
    );
  if (token === sent)
    throw new UnexpectedAnswerError(
      "the answer to a list request holds no key and repeats the continuation token it was " +
        "asked with (NextContinuationToken), so the listing would never end: a proxy that " +
        "caches answers whatever the query, or a server that ignores ContinuationToken?",
    );
  return token;
}

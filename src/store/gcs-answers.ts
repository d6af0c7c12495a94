/**
 * How `GcsStore` reads the client library's answers: a listing and an
 * object's bytes, each checked to be the service's (not a proxy's page or an
 * empty body the library took for a success), and a failed download kept
 * inside the call. Separate from `gcs.ts`, which makes the calls and maps
 * their failures.
 */
import { messageOf } from "../util/message.js";
import { redactSecrets } from "../util/redact.js";
import { checkNotHtml, httpStatusOf, UnexpectedAnswerError } from "./cloud/errors.js";
import type { GcsBucket, GcsFile, GcsObjectMetadata } from "./gcs-client.js";

/** One listed object: its name and the metadata the listing carried. */
interface ListedFile {
  name: string;
  metadata: GcsObjectMetadata;
}

/**
 * One page of `objects.list`. Through the client library's `request` when
 * the bucket has it: `getFiles` reads any success answer that is not JSON (a
 * proxy's HTML page) as a page with no objects, and throws on an empty body
 * inside a callback of the library's own promise chain (an unhandled
 * rejection, which ends the process). Here the answer must be a listing.
 */
export async function listPage(
  bucket: GcsBucket,
  query: { prefix: string; maxResults: number; startOffset?: string; pageToken?: string },
): Promise<{ files: ListedFile[]; nextPageToken: string | undefined }> {
  if (typeof bucket.request !== "function") {
    const [files, nextQuery] = await bucket.getFiles({ ...query, autoPaginate: false });
    return { files, nextPageToken: nextQuery?.pageToken };
  }
  const request = bucket.request.bind(bucket);
  const body = await new Promise<unknown>((resolve, reject) => {
    request({ uri: "/o", qs: { ...query } }, (err, answer) => {
      if (err) reject(err);
      else resolve(answer);
    });
  });
  return readListing(body);
}

/**
 * The page token to send next, after a page without objects that gave
 * `next`; refuses one that repeats the token just `sent`: following it would
 * ask for the same page again and again (a proxy that caches the answer
 * whatever the query, or a server that ignores `pageToken`).
 */
export function nextPageToken(next: string, sent: string | undefined): string {
  if (next === sent)
    throw new UnexpectedAnswerError(
      `the answer to a list request repeats the page token it was asked with (nextPageToken ${JSON.stringify(redactSecrets(next))}), ` +
        "so the listing would never end: a proxy that caches answers whatever the query, or a server that ignores pageToken?",
    );
  return next;
}

/**
 * The objects and next page token of an `objects.list` answer; throws on
 * anything else. A listing has an `items` array (GCS leaves it out when
 * there are none, and then says `kind: "storage#objects"`; an emulator that
 * says `storage#object` always sends `items`). A proxy's page, an empty body,
 * `{}`, an XML document or one object's metadata has neither.
 */
function readListing(body: unknown): { files: ListedFile[]; nextPageToken: string | undefined } {
  const page =
    typeof body === "object" && body !== null && !Array.isArray(body)
      ? (body as { kind?: unknown; items?: unknown; nextPageToken?: unknown })
      : undefined;
  const items = page?.items ?? [];
  const listing =
    page !== undefined &&
    (Array.isArray(page.items) || isListKind(page.kind)) &&
    Array.isArray(items) &&
    items.every((item) => typeof (item as { name?: unknown } | null)?.name === "string") &&
    (page.nextPageToken === undefined || typeof page.nextPageToken === "string");
  if (!listing)
    throw new UnexpectedAnswerError(
      `the answer to a list request is not a GCS listing (${describeBody(body)}): ` +
        "a proxy or captive portal in the way, or an empty or cut answer?",
    );
  const files = (items as Array<{ name: string } & GcsObjectMetadata>).map((item) => ({
    name: item.name,
    metadata: item,
  }));
  return { files, nextPageToken: page.nextPageToken as string | undefined };
}

/** The `kind` of a listing without `items`: not one object's (`storage#object`) or a bucket's. */
function isListKind(kind: unknown): boolean {
  return typeof kind === "string" && /objects$/i.test(kind);
}

function describeBody(body: unknown): string {
  if (body === undefined || body === "") return "an empty body";
  if (typeof body === "string") return "a body that is not JSON";
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return "JSON that is not an object";
  return "a JSON object without its fields";
}

/**
 * An object's metadata (`objects.get`), checked to be the service's: every
 * GCS server sends an object's `size`. A proxy's HTML page, an XML document
 * or `{}`, which the client library hands over as metadata, has none; read
 * as metadata, it would say that a missing object exists.
 */
export function checkObjectMetadata(metadata: unknown): GcsObjectMetadata {
  const size =
    typeof metadata === "object" && metadata !== null && !Array.isArray(metadata)
      ? (metadata as { size?: unknown }).size
      : undefined;
  const sized =
    (typeof size === "string" && /^\d+$/.test(size)) ||
    (typeof size === "number" && Number.isSafeInteger(size) && size >= 0);
  if (!sized)
    throw new UnexpectedAnswerError(
      `the answer to a head request is not an object's metadata (${describeBody(metadata)}): ` +
        "a proxy or captive portal in the way, or an empty or cut answer?",
    );
  return metadata as GcsObjectMetadata;
}

/**
 * Headers every GCS server sends with an object's bytes, one at least: real
 * GCS and most emulators send all three, some emulators only
 * `x-goog-hash`. A proxy's page has none of them.
 */
const OBJECT_HEADERS = ["x-goog-generation", "x-goog-hash", "x-goog-stored-content-length"];

/**
 * The object's bytes. Through `createReadStream` when the file has it, so the
 * answer's headers can be checked (see {@link OBJECT_HEADERS}): `download()`
 * hands any success answer's body over as the object's (a proxy's HTML page
 * included).
 */
export async function readObject(file: GcsFile): Promise<Uint8Array> {
  if (typeof file.createReadStream !== "function") return (await file.download())[0];
  const lost = containErrorBodyReads(file);
  const stream = file.createReadStream();
  let headers: Record<string, unknown> = {};
  stream.on("response", (res: { headers?: Record<string, unknown> } | undefined) => {
    headers = res?.headers ?? {};
  });
  const chunks: Uint8Array[] = [];
  try {
    for await (const chunk of stream)
      chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Uint8Array));
  } catch (err) {
    if (lost.reason === undefined) throw err;
    // The error's status stands on a body that never came: it may not be the service's.
    throw new UnexpectedAnswerError(
      `the answer to a get request failed (HTTP ${httpStatusOf(err) ?? "?"}) and its body could not be read: ${lost.reason}`,
    );
  }
  // A read that failed must never come back as an object's (empty) bytes, whatever
  // the library reads through the wrapped method.
  if (lost.reason !== undefined)
    throw new UnexpectedAnswerError(
      `the answer to a get request could not be read whole: ${lost.reason}`,
    );
  checkNotHtml("get", headers["content-type"]);
  if (!OBJECT_HEADERS.some((name) => headers[name] !== undefined))
    throw new UnexpectedAnswerError(
      `the answer to a get request has none of the headers every GCS server sends with an object (${OBJECT_HEADERS.join(", ")}): ` +
        "a proxy or captive portal in the way?",
    );
  return Buffer.concat(chunks);
}

/**
 * `@google-cloud/storage` 7 reads the body of a failed download into the
 * error's message with `getBufferFromReadable(…).then(…)` and no rejection
 * handler (`createReadStream` in file.js). When that body does not arrive
 * whole (cut short, or followed by bytes after `Connection: close`), the
 * rejection is unhandled and Node ends the process. On this one `File`, read
 * only through `createReadStream` (which calls that method for nothing else;
 * `download()` does, for the object's bytes, so it is not used), such a
 * failure becomes an empty message, and `reason` says what happened: the
 * download then fails as it should.
 */
function containErrorBodyReads(file: GcsFile): { reason?: string } {
  const lost: { reason?: string } = {};
  const target = file as unknown as {
    getBufferFromReadable?: (readable: unknown) => Promise<Buffer>;
  };
  const read = target.getBufferFromReadable;
  if (typeof read !== "function") return lost;
  try {
    target.getBufferFromReadable = (readable) =>
      read.call(file, readable).catch((err: unknown) => {
        lost.reason = redactSecrets(messageOf(err));
        return Buffer.alloc(0);
      });
  } catch {
    // A frozen or Proxy-based file refuses the assignment: read it unwrapped.
  }
  return lost;
}

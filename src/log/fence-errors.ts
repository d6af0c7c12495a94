/**
 * The errors of writer fencing (`fencing.ts`): the one {@link FencedError}
 * message, worded from the evidence that this writer was fenced, and a
 * listing that leaves out a manifest that exists: waited out a few times,
 * then refused as the store's fault.
 */
import { FencedError, UnsupportedStoreError } from "../errors.js";
import type { LogKeys } from "./keys.js";
import { backoffDelay } from "./retry.js";
import type { LogStorage } from "./storage.js";

/** How this writer learnt that it was fenced. */
export type FencedBy =
  | { epoch: number }
  | { walKey: string }
  | { manifestKey: string; epoch: number };

/** What the messages name: the log, and where its manifests are. */
export interface FenceNames {
  keys: LogKeys;
  describeLog: string;
}

/** The error of a writer with epoch `epoch` that was fenced, as `by` shows. */
export function fencedError(names: FenceNames, epoch: number, by: FencedBy): FencedError {
  const evidence =
    "manifestKey" in by
      ? `another writer's manifest "${by.manifestKey}" (epoch ${by.epoch}) is newer than this writer's`
      : "epoch" in by
        ? `a writer with epoch ${by.epoch} took over`
        : `another writer took WAL slot "${by.walKey}"`;
  return new FencedError(
    `${names.describeLog} is fenced (${evidence}); this writer (epoch ${epoch}) ` +
      "has stopped for good and rejects every call. Open the log again if this process should be its writer.",
  );
}

/**
 * The error of an opener whose store keeps listing manifests without one that
 * exists: one whose create found the key `taken`, or the opener's `own`.
 */
export function unlistedManifest(
  names: FenceNames,
  id: number,
  retries: number,
  how: "taken" | "own",
): UnsupportedStoreError {
  const key = names.keys.manifest(id);
  const known =
    how === "taken" ? "creating it failed because the key is taken" : "this opener created it";
  return new UnsupportedStoreError(
    `Cannot open ${names.describeLog}: manifest "${key}" exists (${known}), ` +
      `but listing "${names.keys.manifestDir}" does not show it, after ${retries + 1} listings. ` +
      "The store's listing is not consistent with its writes, or another key aliases this one " +
      "(for example a case-insensitive file system or a prefix that maps onto another). " +
      "Use a store whose listings show every completed write, and a prefix no other key maps onto.",
  );
}

/** The line of a listing that leaves out a manifest that exists, and the problem it is. */
const LISTING_LAGS_LINE = "the store's listing does not show a manifest yet; retrying";
const LISTING_LAGS = "the listing does not show a manifest that exists";

/** How often opening re-lists manifests that do not show one it found taken (or created). */
const UNLISTED_RETRIES = 5;

/**
 * Waits with backoff before listing the manifests again, when a listing did
 * not show manifest `id`, which exists; after the last retry, throws the
 * refusal of a store whose listing does not show its writes.
 */
export async function awaitListing(
  ctx: FenceNames & { storage: LogStorage },
  id: number,
  unlisted: number,
  how: "taken" | "own",
): Promise<void> {
  const { logger, sleeper, policy, random, warnings } = ctx.storage.retry;
  if (unlisted === UNLISTED_RETRIES) throw unlistedManifest(ctx, id, unlisted, how);
  // One problem of the manifests' listing (see `retry-warnings.ts`): an open that waits
  // for it twice (the claim, then its last check) warns once.
  const what = `LIST ${ctx.keys.manifestDir}`;
  if (unlisted > 0) warnings?.failedAgain(what, LISTING_LAGS);
  else {
    const fields = { log: ctx.describeLog, manifest: ctx.keys.manifest(id) };
    if (warnings === undefined) logger.warn(LISTING_LAGS_LINE, fields);
    else warnings.failed(what, LISTING_LAGS, fields, LISTING_LAGS_LINE);
  }
  await sleeper.sleep(backoffDelay(policy, unlisted, random));
}

/**
 * The errors of writer fencing (`fencing.ts`): the one {@link FencedError}
 * message, worded from the evidence that this writer was fenced, and the
 * refusal of a store whose listing keeps leaving out a manifest that exists.
 */
import { FencedError, UnsupportedStoreError } from "../errors.js";
import type { LogKeys } from "./keys.js";

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

/** The error of an opener whose store keeps listing manifests without one that exists. */
export function unlistedManifest(
  names: FenceNames,
  id: number,
  retries: number,
): UnsupportedStoreError {
  const key = names.keys.manifest(id);
  return new UnsupportedStoreError(
    `Cannot open ${names.describeLog}: manifest "${key}" exists (creating it failed because the key is taken), ` +
      `but listing "${names.keys.manifestDir}" does not show it, after ${retries + 1} listings. ` +
      "The store's listing is not consistent with its writes, or another key aliases this one " +
      "(for example a case-insensitive file system or a prefix that maps onto another). " +
      "Use a store whose listings show every completed write, and a prefix no other key maps onto.",
  );
}

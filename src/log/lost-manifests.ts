/**
 * A log whose manifests are gone while its other objects remain: the check
 * that tells it from a new log, shared by the writer's open and the
 * read-only tools.
 */
import { CorruptionError } from "../errors.js";
import { checkpointCreatedAt, type LogKeys } from "./keys.js";
import type { ManifestReader } from "./manifest.js";
import type { LogStorage } from "./storage.js";

/** A folder the layer above writes under the log's prefix. */
export interface OwnedDir {
  /** Relative to the log's prefix, ending in "/". */
  dir: string;
  /** Whether a name in `dir` (the key after it) is one of the objects written there. */
  isObject: (name: string) => boolean;
}

/**
 * A log without manifests is new, or was opened by a process that died
 * before its first manifest (the store probe writes only under `probe/`).
 * Any of its WAL batches, checkpoints or `ownedDirs` objects means its
 * manifests were lost: starting an empty log there would drop that data,
 * and its garbage collection would delete it. Only keys named as this log
 * names its objects count: a log nested at `<prefix>wal/…` is not damage.
 * Throws {@link CorruptionError} naming the manifest folder and an object
 * that remains.
 */
export async function refuseLostManifests(
  storage: LogStorage,
  keys: LogKeys,
  manifests: ManifestReader,
  ownedDirs: readonly OwnedDir[],
): Promise<void> {
  const dirs: OwnedDir[] = [
    { dir: keys.checkpointDir, isObject: (name) => checkpointCreatedAt(name) !== null },
    { dir: keys.walDir, isObject: (name) => keys.idOf(keys.walDir, keys.walDir + name) !== null },
    ...ownedDirs.map(({ dir, isObject }) => ({ dir: keys.prefix + dir, isObject })),
  ];
  const found = (await Promise.all(dirs.map((owned) => firstObject(storage, owned)))).find(
    (key) => key !== null,
  );
  if (found === undefined) return;
  // A writer that created the log since the manifests were listed wrote them first.
  if ((await manifests.listIds()).length > 0) return;
  // A listing that does not show a manifest that is there (it lags, or keys alias): the
  // claim rides a lag out or names the store's fault.
  if ((await storage.get(keys.manifest(1))) !== null) return;
  throw new CorruptionError(
    keys.manifestDir,
    `no manifest under "${keys.manifestDir}", but "${found}" exists: the log's manifests ` +
      "were deleted or lost, and opening it as a new log would drop (and later collect) its data. " +
      "Restore the manifests from a backup, or move the log's objects aside to start an empty log",
  );
}

/** The first key in `owned.dir` named as one of its objects (a direct child), or null. */
async function firstObject(storage: LogStorage, owned: OwnedDir): Promise<string | null> {
  let startAfter: string | undefined;
  for (;;) {
    const page = await storage.page(owned.dir, startAfter);
    for (const { key } of page.objects) {
      const name = key.slice(owned.dir.length);
      if (!name.includes("/") && owned.isObject(name)) return key;
    }
    if (page.nextStartAfter === undefined) return null;
    startAfter = page.nextStartAfter;
  }
}

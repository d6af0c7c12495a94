/**
 * The store reads behind `QueueReader`: a full read (the newest checkpoint,
 * the WAL after it and the writer's heartbeat) and a reopen's read of what
 * came after a position, which goes on from the snapshot it had or falls
 * back to a full read. Both report a store's refusal of a key under the path
 * as a refusal of `path` (see `pathRefusal`).
 */
import type { LogInspection, LogPosition, ReadLogOptions } from "../log/index.js";
import { readLog, readLogAfter } from "../log/index.js";
import { pathRefusal } from "../log/keys.js";
import { resolveReadOptions } from "../log/options.js";
import { silentLogger } from "../logger.js";
import type { ObjectStore } from "../store/types.js";
import { MeteredStore } from "../store/wrappers/metered.js";
import { readHeartbeat, type WriterHeartbeat } from "./heartbeat.js";
import { QUEUE_OWNED_DIRS } from "./payloads.js";
import { advance, readSnapshot, type Snapshot } from "./reader-snapshot.js";

/** How a reader was opened: what a reopen reads again, with these options unless overridden. */
export interface OpenedWith {
  readonly store: ObjectStore;
  readonly path: string;
  readonly options: ReadLogOptions;
}

/** What one read of the log gave a reader: its snapshot, and what it saw of the store meanwhile. */
export interface ReaderRead {
  readonly snapshot: Snapshot;
  /** Where in the log the read ended (`null` for a store with no manifest). */
  readonly position: LogPosition | null;
  /** The log's objects as seen while reading (manifest, WAL, checkpoint). */
  readonly inspection: LogInspection;
  /** The store as read, counting the read's requests. */
  readonly store: MeteredStore;
  readonly heartbeat: WriterHeartbeat | null;
  readonly openedWith: OpenedWith;
}

/** A full read of the log at `path` in `store`, and its heartbeat, counted by `metered`. */
export async function readFull(
  store: ObjectStore,
  path: string,
  options: ReadLogOptions,
  metered: MeteredStore,
): Promise<ReaderRead> {
  const [contents, heartbeat] = await Promise.all([
    readLog(metered, path, options, { ownedDirs: QUEUE_OWNED_DIRS }),
    readHeartbeat(metered, path),
  ]).catch((error: unknown) => {
    throw pathRefusal(error, store, path, "path");
  });
  const snapshot = await readSnapshot(contents);
  const openedWith = { store, path, options };
  return {
    snapshot,
    position: contents.position,
    inspection: contents.info,
    heartbeat,
    store: metered,
    openedWith,
  };
}

/**
 * A reopen's read of what came after `from`, with `options`: the records
 * written since, applied to `from`'s state in slices of `sliceMs()` (read
 * once the update is in, as a test may change the slice meanwhile; the slice
 * is then handed on: `handingOn` is called just before), or a full read when
 * going on from `from` does not fit (why is logged at `info`).
 */
export async function readNext(
  from: ReaderRead,
  options: ReadLogOptions,
  sliceMs: () => number,
  handingOn: () => void,
): Promise<ReaderRead> {
  const { store, path } = from.openedWith;
  const metered = new MeteredStore(store);
  // What it counted so far stays counted: the new reader's requests are the whole reopen's.
  const fullRead = (reason?: string): Promise<ReaderRead> => {
    logFullRead(path, options, reason);
    return readFull(store, path, options, metered);
  };
  const position = from.position;
  if (position === null) return fullRead();
  const [update, heartbeat] = await readSince(store, path, position, options, metered);
  if ("fullRead" in update) return fullRead(update.fullRead);
  handingOn();
  const snapshot = await advance(from.snapshot, update, metered, path, options, sliceMs());
  if (typeof snapshot === "string") return fullRead(snapshot);
  const openedWith = { store, path, options };
  return {
    snapshot,
    position: update.position,
    inspection: update.info,
    heartbeat,
    store: metered,
    openedWith,
  };
}

/** What the log at `path` holds after `position` (or that it needs a full read), and its heartbeat. */
function readSince(
  store: ObjectStore,
  path: string,
  position: LogPosition,
  options: ReadLogOptions,
  metered: MeteredStore,
) {
  return Promise.all([
    readLogAfter(metered, path, position, options, { ownedDirs: QUEUE_OWNED_DIRS }),
    readHeartbeat(metered, path),
  ]).catch((error: unknown) => {
    throw pathRefusal(error, store, path, "path");
  });
}

/** Says why a reopen reads the log in full, at `info` (once per such reopen: a log that keeps needing them shows why). */
function logFullRead(path: string, options: ReadLogOptions, reason: string | undefined): void {
  if (reason !== undefined)
    resolveReadOptions({ logger: silentLogger, ...options }).logger.info?.(
      `reader: reopen reads the log in full: ${reason}`,
      { path, reason },
    );
}

/**
 * The store reads behind `QueueReader`: a full read (the newest checkpoint,
 * the WAL after it and the writer's heartbeat) and a reopen's read of what
 * came after a position. Both report a store's refusal of a key under the
 * path as a refusal of `path` (see `pathRefusal`).
 */
import type { LogPosition, ReadLogOptions } from "../log/index.js";
import { readLog, readLogAfter } from "../log/index.js";
import { pathRefusal } from "../log/keys.js";
import { resolveReadOptions } from "../log/options.js";
import { silentLogger } from "../logger.js";
import type { ObjectStore } from "../store/types.js";
import type { MeteredStore } from "../store/wrappers/metered.js";
import { readHeartbeat } from "./heartbeat.js";
import { QUEUE_OWNED_DIRS } from "./payloads.js";
import { readSnapshot } from "./reader-snapshot.js";

/** A full read of the log at `path` in `store`, and its heartbeat, counted by `metered`. */
export async function readFull(
  store: ObjectStore,
  path: string,
  options: ReadLogOptions,
  metered: MeteredStore,
) {
  const [contents, heartbeat] = await Promise.all([
    readLog(metered, path, options, { ownedDirs: QUEUE_OWNED_DIRS }),
    readHeartbeat(metered, path),
  ]).catch((error: unknown) => {
    throw pathRefusal(error, store, path, "path");
  });
  return { contents, heartbeat, snapshot: await readSnapshot(contents) };
}

/** What the log at `path` holds after `position` (or that it needs a full read), and its heartbeat. */
export function readSince(
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
export function logFullRead(
  path: string,
  options: ReadLogOptions,
  reason: string | undefined,
): void {
  if (reason !== undefined)
    resolveReadOptions({ logger: silentLogger, ...options }).logger.info?.(
      `reader: reopen reads the log in full: ${reason}`,
      { path, reason },
    );
}

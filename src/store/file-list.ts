/**
 * How a {@link FileStore} lists its objects: walks the directories under a
 * prefix in byte-wise key order and stats a page of the files found.
 * Separate from `file.ts` because a listing reads the directory tree, where
 * every other call goes straight to one key's file.
 */
import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { mapLimited } from "../util/limited.js";
import { errorCode, fileStoreError, MISSING } from "./file-errors.js";
import { decodeEntryName, encodeDirectory } from "./file-keys.js";
import { compareKeys } from "./key-order.js";
import { isValidSegment } from "./key-rules.js";
import type { ListPage, ObjectInfo } from "./types.js";

/** `stat` calls a listing keeps in flight (the thread pool runs 4 at a time by default). */
const LIST_STATS_IN_FLIGHT = 32;

interface Candidate {
  key: string;
  file: string;
}

/** An object file's etag, from its `stat` (bigint). */
export function etagOf(info: { ino: bigint; mtimeNs: bigint; size: bigint }): string {
  // Every put writes a fresh file (new inode), so the triple changes on every write.
  return `"${info.ino.toString(36)}-${info.mtimeNs.toString(36)}-${info.size.toString(36)}"`;
}

/**
 * One page of the objects under the store's `root` whose keys start with
 * `prefix` and come after `startAfter`, at most `limit` (checked by the
 * caller); failures are `StorageError`s naming the store as `describe`.
 */
export async function listFiles(
  root: string,
  describe: string,
  prefix: string,
  startAfter: string | undefined,
  limit: number,
): Promise<ListPage> {
  const candidates: Candidate[] = [];
  try {
    const start = listStart(prefix);
    if (start !== undefined)
      await walk(root, start.dir, start.keyPrefix, prefix, startAfter, limit + 1, candidates);
  } catch (err) {
    throw fileStoreError(describe, "list", prefix, err);
  }
  const more = candidates.length > limit;
  const page = candidates.slice(0, limit);
  // A bounded number of stats in flight: a page of 1,000 stats started at once complete
  // together, and their callbacks then made one long turn of the event loop (~16 ms).
  const infos = await mapLimited(page, LIST_STATS_IN_FLIGHT, (candidate) =>
    statCandidate(describe, candidate),
  );
  const objects = infos.filter((found): found is ObjectInfo => found !== null);
  const last = page.at(-1);
  return more && last !== undefined ? { objects, nextStartAfter: last.key } : { objects };
}

/** The deepest directory that can hold every key starting with `prefix`; undefined when none can. */
function listStart(prefix: string): { dir: string; keyPrefix: string } | undefined {
  const complete = prefix.split("/").slice(0, -1);
  if (!complete.every(isValidSegment)) return undefined;
  return {
    dir: complete.map(encodeDirectory).join("/"),
    keyPrefix: complete.map((segment) => `${segment}/`).join(""),
  };
}

/**
 * Append to `out`, in byte-wise key order, the object files under `dir`
 * (whose keys start with `keyPrefix`) that match `prefix` and come after
 * `startAfter`, stopping at `want` entries.
 */
async function walk(
  root: string,
  dir: string,
  keyPrefix: string,
  prefix: string,
  startAfter: string | undefined,
  want: number,
  out: Candidate[],
): Promise<void> {
  const absolute = join(root, dir);
  let entries: Dirent[];
  try {
    entries = await readdir(absolute, { withFileTypes: true });
  } catch (err) {
    if (MISSING.has(errorCode(err) ?? "")) return;
    throw err;
  }
  const children: Array<{ key: string; name: string; isDirectory: boolean }> = [];
  for (const entry of entries) {
    const piece = decodeEntryName(entry.name);
    if (piece === undefined) continue;
    const isDirectory = piece.endsWith("/");
    if (isDirectory ? !entry.isDirectory() : !entry.isFile()) continue;
    const key = keyPrefix + piece;
    // A directory's keys all start with `key`; it is relevant if it overlaps the prefix range.
    if (!(key.startsWith(prefix) || (isDirectory && prefix.startsWith(key)))) continue;
    if (startAfter !== undefined && compareKeys(key, startAfter) <= 0) {
      // Skip a file at or before the cursor, and a directory wholly before it.
      if (!isDirectory || !startAfter.startsWith(key)) continue;
    }
    children.push({ key, name: entry.name, isDirectory });
  }
  // A directory sorts as `seg/`, which places it exactly where its keys belong.
  children.sort((a, b) => compareKeys(a.key, b.key));
  for (const child of children) {
    if (out.length >= want) return;
    const path = dir === "" ? child.name : `${dir}/${child.name}`;
    if (child.isDirectory) await walk(root, path, child.key, prefix, startAfter, want, out);
    else out.push({ key: child.key, file: join(root, path) });
  }
}

/** What a listing reports of `candidate`; null when it was deleted since the walk. */
async function statCandidate(describe: string, candidate: Candidate): Promise<ObjectInfo | null> {
  try {
    const info = await stat(candidate.file, { bigint: true });
    return { key: candidate.key, size: Number(info.size), etag: etagOf(info) };
  } catch (err) {
    // Deleted between readdir and stat: no longer part of the listing.
    if (MISSING.has(errorCode(err) ?? "")) return null;
    throw fileStoreError(describe, "list", candidate.key, err);
  }
}

/**
 * How a {@link FileStore} lists its objects: walks the directories under a
 * prefix in byte-wise key order and stats a page of the files found.
 * Separate from `file.ts` because a listing reads the directory tree, where
 * every other call goes straight to one key's file.
 */
import type { Dir } from "node:fs";
import { opendir, stat } from "node:fs/promises";
import { join } from "node:path";
import { mapLimited } from "../util/limited.js";
import { nextSlice, SliceBudget, spentAt } from "../util/slices.js";
import { errorCode, fileStoreError, MISSING } from "./file-errors.js";
import { decodeEntryName, encodeDirectory } from "./file-keys.js";
import { compareKeys } from "./key-order.js";
import { isValidSegment } from "./key-rules.js";
import type { ListPage, ObjectInfo } from "./types.js";

/**
 * Directory entries read per call into the thread pool: a directory of any
 * size is read a batch at a time, each handled in a short turn of the event
 * loop (one `readdir` of 100,000 entries made them all at once: a 20–60 ms turn).
 */
const DIRECTORY_BATCH = 1024;

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
      await walk(
        root,
        start.dir,
        start.keyPrefix,
        { prefix, startAfter },
        limit + 1,
        candidates,
        new SliceBudget(),
      );
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
 * `startAfter`, stopping at `want` entries. A directory holds any number of
 * entries (a WAL between checkpoints, offloaded payloads) and a page needs
 * only its first few, so only those are ordered ({@link firstChildren}); the
 * rest are looked at again only if they turn out to be needed (directories
 * among the first that hold fewer keys than it takes to fill the page).
 */
async function walk(
  root: string,
  dir: string,
  keyPrefix: string,
  range: KeyRange,
  want: number,
  out: Candidate[],
  budget: SliceBudget,
): Promise<void> {
  /** The last child handled, on a later look at this directory. */
  let after: string | undefined;
  for (;;) {
    const found = await firstChildren(
      root,
      dir,
      keyPrefix,
      range,
      after,
      want - out.length,
      budget,
    );
    for (const child of found.first) {
      if (out.length >= want) return;
      const path = dir === "" ? child.name : `${dir}/${child.name}`;
      if (child.isDirectory) await walk(root, path, child.key, range, want, out, budget);
      else out.push({ key: child.key, file: join(root, path) });
    }
    if (!found.more || out.length >= want) return;
    after = found.first.at(-1)!.key;
  }
}

/** The keys a listing wants: starting with `prefix`, after `startAfter`. */
interface KeyRange {
  prefix: string;
  startAfter: string | undefined;
}

/** An entry of a directory that a listing may go into: an object file, or a directory of keys. */
interface Child {
  key: string;
  name: string;
  isDirectory: boolean;
}

/**
 * The first `count` entries of `dir` (in key order) that belong to `range`
 * and come after `after`, and whether more follow. Keeps only those `count`
 * while it reads the directory (a heap whose top is the last of them), so a
 * page of a directory of N entries orders about N of them once instead of
 * sorting all N; it reads the directory in batches, and gives the event loop
 * a turn whenever `budget` is spent.
 */
async function firstChildren(
  root: string,
  dir: string,
  keyPrefix: string,
  { prefix, startAfter }: KeyRange,
  after: string | undefined,
  count: number,
  budget: SliceBudget,
): Promise<{ first: Child[]; more: boolean }> {
  let folder: Dir;
  try {
    folder = await opendir(join(root, dir), { bufferSize: DIRECTORY_BATCH });
  } catch (err) {
    if (MISSING.has(errorCode(err) ?? "")) return { first: [], more: false };
    throw err;
  }
  const heap: Child[] = [];
  let more = false;
  try {
    budget.start();
    for (let i = 0; ; i++) {
      if (spentAt(budget, i)) await nextSlice(budget);
      const entry = await folder.read();
      if (entry === null) break;
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
      if (after !== undefined && compareKeys(key, after) <= 0) continue;
      // A directory sorts as `seg/`, which places it exactly where its keys belong.
      if (heap.length < count) heapPush(heap, { key, name: entry.name, isDirectory });
      else {
        more = true;
        if (compareKeys(key, heap[0]!.key) < 0)
          heapReplaceTop(heap, { key, name: entry.name, isDirectory });
      }
    }
  } finally {
    await folder.close().catch(() => {});
  }
  return { first: heap.sort((a, b) => compareKeys(a.key, b.key)), more };
}

/** Adds `child` to `heap`, a max-heap by key (its top is its last key). */
function heapPush(heap: Child[], child: Child): void {
  let at = heap.push(child) - 1;
  while (at > 0) {
    const parent = (at - 1) >> 1;
    if (compareKeys(heap[parent]!.key, child.key) >= 0) break;
    heap[at] = heap[parent]!;
    at = parent;
  }
  heap[at] = child;
}

/** Puts `child` in the place of `heap`'s top (its last key), keeping it a max-heap. */
function heapReplaceTop(heap: Child[], child: Child): void {
  let at = 0;
  for (;;) {
    let larger = 2 * at + 1;
    if (larger >= heap.length) break;
    const right = larger + 1;
    if (right < heap.length && compareKeys(heap[right]!.key, heap[larger]!.key) > 0) larger = right;
    if (compareKeys(heap[larger]!.key, child.key) <= 0) break;
    heap[at] = heap[larger]!;
    at = larger;
  }
  heap[at] = child;
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

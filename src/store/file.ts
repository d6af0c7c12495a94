/**
 * `FileStore`: the object store in a local directory — atomic creates and
 * overwrites, listing in key order, durable directories. Temp files live in
 * `file-temp.ts`, key encoding in `file-keys.ts`, error reading in `file-errors.ts`,
 * creating the root directory in `file-root.ts`, creating and fsyncing
 * directories in `file-dirs.ts`, the writer thread that makes a small put's
 * or a delete's system calls in `file-writer.ts` (see docs/file-store.md).
 */
import type { Dirent } from "node:fs";
import { type FileHandle, link, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { InvalidArgumentError } from "../errors.js";
import { mapLimited } from "../util/limited.js";
import { describeValue } from "../validate.js";
import { DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS, withDeadline } from "./deadline.js";
import { FileDirs } from "./file-dirs.js";
import { errorCode, fileStoreError, MISSING } from "./file-errors.js";
import { decodeEntryName, encodeDirectory, encodeSegment } from "./file-keys.js";
import { TEMP_FOLDER, TempFiles } from "./file-temp.js";
import { FileWriter, type WriteResult } from "./file-writer.js";
import { compareKeys } from "./key-order.js";
import { checkSegment, isValidSegment, keySegments } from "./key-rules.js";
import {
  type ListOptions,
  type ListPage,
  ObjectExistsError,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type StoredObject,
} from "./types.js";

/** Options of {@link FileStore}. */
export interface FileStoreOptions {
  /**
   * fsync files and directories before a write or delete resolves, so an
   * acknowledged write survives power loss. Default `true`; turn off only
   * for throwaway data (tests, benchmarks of the upper layers).
   */
  fsync?: boolean;
  /**
   * Every store call (get, put, delete, list, head) ends within this long: a
   * filesystem that stalls (an unreachable network share) makes the call
   * reject with a transient `StorageError`, which the queue retries with
   * backoff. The stalled system call itself cannot be cancelled; it is
   * abandoned. Small puts and deletes run one after another on the store's
   * writer thread, so while one of their system calls stalls, the (at most
   * three) writes queued behind it on the thread time out too.
   * @default 30_000
   */
  timeoutMs?: number;
}

const DEFAULT_LIST_LIMIT = 1000;
/** `stat` calls a listing keeps in flight (the thread pool runs 4 at a time by default). */
const LIST_STATS_IN_FLIGHT = 32;
/** The common file-name limit (ext4, XFS, APFS, NTFS); encoded names are ASCII, so bytes = length. */
const MAX_NAME_BYTES = 255;
interface ObjectPath {
  /** Directory holding the object file, relative to the root ("" for the root). */
  dir: string;
  /** Absolute path of that directory. */
  absoluteDir: string;
  /** Absolute path of the object file. */
  file: string;
}

/** Where the keys under one directory part of a key (`a/b` of `a/b/c`) go, once checked. */
interface KeyDirectory {
  dir: string;
  absoluteDir: string;
}

/** Directory parts of keys kept mapped (the log writes under a handful); forgotten when full. */
const KEY_DIRECTORIES_KEPT = 256;
/**
 * The longest directory part of a key that is kept (the log's are a few dozen
 * characters): with the count above, this bounds the memory of the mapping,
 * which a caller's keys could otherwise make as large as they are.
 */
const KEY_DIRECTORY_MAX_LENGTH = 512;

interface Candidate {
  key: string;
  file: string;
}

/** A put counted in `#inFlight`: the reads waiting for it to be answered. */
interface PutInFlight {
  waiters: Array<() => void> | undefined;
}

/**
 * A body whose buffer was transferred (or otherwise detached) reads as empty
 * and cannot be copied: a caller's mistake, which no retry mends. (Checked by
 * slicing the buffer, which throws when detached: Node 20 has no
 * `ArrayBuffer.prototype.detached`.)
 */
function isDetached(body: Uint8Array): boolean {
  if (body.byteLength !== 0) return false;
  try {
    body.buffer.slice(0, 0);
    return false;
  } catch {
    return true;
  }
}

function etagOf(info: { ino: bigint; mtimeNs: bigint; size: bigint }): string {
  // Every put writes a fresh file (new inode), so the triple changes on every write.
  return `"${info.ino.toString(36)}-${info.mtimeNs.toString(36)}-${info.size.toString(36)}"`;
}

/**
 * An object store in a local directory. Writes go to a temp file that is
 * fsynced and then renamed (overwrite) or hard-linked (create-if-absent, which
 * fails atomically when the name exists) into place, and the directory is
 * fsynced, so an object is either absent or complete, even after a crash.
 * Once the store has made a few writes, a put of up to 64 KiB or a delete
 * makes all of its system calls on a thread of the store's own, in one
 * hand-off (see `file-writer.ts`); larger puts, writes beyond four at once,
 * and every write if the thread cannot start, go through the thread pool. The thread holds about
 * 8 MB of memory and ends after 2 s without writes, or at {@link FileStore.close}.
 *
 * Key segments become nested directories; see `file-keys.ts` for the name
 * encoding. Empty directories are left in place when their objects are deleted,
 * and directories are assumed to stay once created (they are cached).
 *
 * The first write of a store sweeps the temp folder of files left by writers
 * that died mid-write (see `file-temp.ts` for which). Failures are
 * `StorageError`s: `permanent: true` for a directory that cannot be used
 * (`ENOTDIR`, `EACCES`, `EPERM`, `EROFS`, a file where the directory should
 * be), with what to fix in the message; transient otherwise (timeouts, a full
 * disk, I/O errors).
 */
export class FileStore implements ObjectStore {
  readonly #root: string;
  /** {@link describe}'s answer, made once: every call names its store. */
  readonly #described: string;
  readonly #fsync: boolean;
  /** Its directories: created with their parents synced, fsyncs shared. */
  readonly #dirs: FileDirs;
  readonly #timeoutMs: number;
  readonly #temp: TempFiles;
  /** The thread that makes a small put's or a delete's system calls in one hand-off. */
  readonly #writer: FileWriter;
  /**
   * Object files linked or renamed into place whose directory fsync has not
   * succeeded yet (it is running, or it failed or timed out), each with its
   * directory. Reading one back (a get, a head, a create that finds it) first
   * fsyncs its directory: an object this store reports is durable.
   */
  readonly #unsynced = new Map<string, { dir: string }>();
  /**
   * Puts not answered yet (on either path), by file, counted from the moment
   * they are called. Such a put may place its file after a read's directory
   * fsync and before the read opens it (the thread at a moment this side does
   * not see, the pool beside the read), so {@link #settle} waits for them
   * first, and then finds the file in {@link #unsynced} if it is not durable.
   */
  readonly #inFlight = new Map<string, Set<PutInFlight>>();
  /**
   * The newest name offered to the writer thread for the temp file it makes
   * ahead of a later put: {@link close} removes it (the thread does after a
   * second without puts, but not when it is ended sooner).
   */
  #spare: string | undefined;
  /** Checked and encoded directory parts of keys: a key under one needs only its last segment done. */
  readonly #keyDirectories = new Map<string, KeyDirectory>();

  /**
   * @param writer - internal, for tests: the writer thread's handle (how it is
   *   started, fault injection).
   */
  constructor(
    directory: string,
    options: FileStoreOptions = {},
    /** @internal */ writer: FileWriter = new FileWriter(),
  ) {
    if (typeof directory !== "string" || directory === "")
      throw new InvalidArgumentError(
        `Expected \`directory\` of FileStore to be a non-empty path, got ${describeValue(directory)}`,
      );
    if (options === null || typeof options !== "object")
      throw new InvalidArgumentError(
        `Expected \`options\` of FileStore to be an options object, got ${describeValue(options)}`,
      );
    if (options.fsync !== undefined && typeof options.fsync !== "boolean")
      throw new InvalidArgumentError(
        `Expected \`options.fsync\` of FileStore to be a boolean, got ${describeValue(options.fsync)}`,
      );
    this.#root = resolve(directory);
    this.#described = pathToFileURL(this.#root).href;
    // Checked here: a too-long name in the path would otherwise be blamed on an object key.
    for (const name of this.#root.split(sep))
      if (Buffer.byteLength(name) > MAX_NAME_BYTES)
        throw new InvalidArgumentError(
          `Expected \`directory\` of FileStore to have names of at most ${MAX_NAME_BYTES} bytes, got a name of ${Buffer.byteLength(name)} bytes: "${name.slice(0, 32)}…"`,
        );
    this.#fsync = options.fsync ?? true;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(Number.isSafeInteger(timeoutMs) && timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS))
      throw new InvalidArgumentError(
        `Expected \`options.timeoutMs\` of FileStore to be a positive integer number of milliseconds up to ${MAX_TIMEOUT_MS} (about 24.8 days, the longest a timer can wait), got ${timeoutMs}`,
      );
    this.#timeoutMs = timeoutMs;
    this.#dirs = new FileDirs(this.#root, this.#fsync);
    this.#temp = new TempFiles(this.#root, this.#fsync, () => this.#dirs.ensureDir(TEMP_FOLDER));
    this.#writer = writer;
  }

  /**
   * Releases what the store holds: its writer thread (which small puts and
   * deletes use under a steady stream of writes) ends now, once the writes
   * on it are answered, instead of two seconds after its last write, and the
   * temp file it made ahead for a next put is removed. The store stays
   * usable: later calls work as before, through Node's thread pool only (no
   * thread is started again). A `Queue` never closes the store it was given
   * (the caller owns it, and may share it): close the queues on it first,
   * then the store. Idempotent.
   * @example
   * ```ts
   * const store = new FileStore("./taquba-data");
   * const queue = await Queue.open(store, "jobs");
   * // …
   * await queue.close();
   * await store.close();
   * ```
   */
  async close(): Promise<void> {
    await this.#writer.stop();
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare !== undefined) await unlink(spare).catch(() => {});
  }

  async get(key: string): Promise<StoredObject | null> {
    const { file } = this.#pathOf(key);
    return this.#call("get", key, () => this.#get(key, file));
  }

  async #get(key: string, file: string): Promise<StoredObject | null> {
    let handle: FileHandle;
    try {
      // Settled before and after the open: see {@link #settle}.
      await this.#settle(file);
      handle = await open(file, "r");
      await this.#settle(file).catch(async (err: unknown) => {
        await handle.close().catch(() => {});
        throw err;
      });
    } catch (err) {
      if (MISSING.has(errorCode(err) ?? "")) return null;
      throw fileStoreError(this.describe(), "get", key, err);
    }
    try {
      // Stat and read through one handle, so the etag describes exactly these bytes.
      const info = await handle.stat({ bigint: true });
      const data = await handle.readFile();
      const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      return { body, etag: etagOf(info) };
    } catch (err) {
      throw fileStoreError(this.describe(), "get", key, err);
    } finally {
      await handle.close();
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const { file } = this.#pathOf(key);
    return this.#call("head", key, async () => {
      try {
        await this.#settle(file);
        const info = await stat(file, { bigint: true });
        await this.#settle(file);
        return { key, size: Number(info.size), etag: etagOf(info) };
      } catch (err) {
        if (MISSING.has(errorCode(err) ?? "")) return null;
        throw fileStoreError(this.describe(), "head", key, err);
      }
    });
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    const target = this.#pathOf(key);
    if (!(body instanceof Uint8Array))
      throw new InvalidArgumentError(`put "${key}": body must be a Uint8Array`);
    if (isDetached(body))
      throw new InvalidArgumentError(
        `Expected \`body\` of put "${key}" to be a Uint8Array with an attached buffer, got one whose buffer was transferred or detached`,
      );
    const create = options?.ifNoneMatch === "*";
    await this.#call("put", key, (signal) => this.#put(key, target, body, create, signal));
    this.#keepDirectory(key, target);
  }

  async #put(
    key: string,
    target: ObjectPath,
    body: Uint8Array,
    create: boolean,
    signal: AbortSignal,
  ): Promise<void> {
    // Before any await: a read called after this put waits for it.
    const answered = this.#track(target.file);
    try {
      // Once both are known to be there (every put but a store's first few) the put goes on
      // without waiting a turn for them.
      if (!(this.#temp.isReady && this.#dirs.exists(target.dir)))
        try {
          await Promise.all([this.#temp.ready(), this.#dirs.ensureDir(target.dir)]);
        } catch (err) {
          throw fileStoreError(this.describe(), "put", key, err);
        }
      if (this.#writer.accepts(body.byteLength))
        await this.#putOnThread(key, target, body, create, signal, answered);
      else await this.#putOnPool(key, target, body, create, answered);
    } finally {
      answered();
    }
  }

  /**
   * A put through the writer thread: one hand-off for all of its system calls.
   * `answered` ends its count in {@link #inFlight} (before it settles a file
   * it found taken, which would otherwise wait for itself).
   */
  async #putOnThread(
    key: string,
    target: ObjectPath,
    body: Uint8Array,
    create: boolean,
    signal: AbortSignal,
    answered: () => void,
  ): Promise<void> {
    const placed = { dir: target.dir };
    let previous: { dir: string } | undefined;
    let marked = false;
    /** This put left the file as it was: the entry it replaced applies again. */
    const unchanged = () => {
      if (!marked || this.#unsynced.get(target.file) !== placed) return;
      if (previous === undefined) this.#unsynced.delete(target.file);
      else this.#unsynced.set(target.file, previous);
    };
    let result: WriteResult;
    const spare = this.#temp.newPath();
    this.#spare = spare;
    try {
      result = await this.#writer.write(
        {
          op: "put",
          temp: this.#temp.newPath(),
          file: target.file,
          dir: target.absoluteDir,
          create,
          fsync: this.#fsync,
          body,
          // A name for the temp file the thread makes ahead for a later put.
          spare,
        },
        signal,
        () => {
          // Counted as placed but not yet synced once posted: the thread links or renames it
          // at a moment this side does not see, and if the thread dies it may have.
          if (!this.#fsync) return;
          previous = this.#unsynced.get(target.file);
          this.#unsynced.set(target.file, placed);
          marked = true;
        },
      );
    } catch (err) {
      // The thread died with the write in flight: whether it took effect is unknown, so
      // the file is counted as unsynced (again: a put on the pool meanwhile may have
      // dropped the entry when its own fsync succeeded, before this one's rename).
      if (marked) this.#unsynced.set(target.file, placed);
      answered();
      throw fileStoreError(this.describe(), "put", key, err);
    }
    answered();
    if (result.outcome === "exists") {
      unchanged();
      try {
        // Maybe our own earlier create whose directory fsync failed or timed out: the
        // caller may take "exists" (with its write token) as written, so make it durable.
        await this.#settle(target.file);
      } catch (err) {
        throw fileStoreError(this.describe(), "put", key, err);
      }
      throw new ObjectExistsError(key);
    }
    if (result.error !== undefined) {
      // Failed before the link or rename: nothing changed. After it, only the directory
      // fsync failed: the file is counted as unsynced (again, as above).
      if (!result.changed) unchanged();
      else if (this.#fsync) this.#unsynced.set(target.file, placed);
      throw fileStoreError(this.describe(), "put", key, result.error);
    }
    if (this.#unsynced.get(target.file) === placed) this.#unsynced.delete(target.file);
  }

  /**
   * A put through the thread pool (large bodies, and every put while the
   * thread is not up): the same system calls and outcomes as on the thread,
   * written from the caller's buffer without a copy.
   */
  async #putOnPool(
    key: string,
    target: ObjectPath,
    body: Uint8Array,
    create: boolean,
    answered: () => void,
  ): Promise<void> {
    let temp: string | undefined;
    let closed: Promise<void> = Promise.resolve();
    const placed = { dir: target.dir };
    try {
      const written = await this.#temp.write(body);
      temp = written.path;
      closed = written.closed;
      // The temp file's bytes are durable; closing it overlaps with the link.
      if (create) {
        let exists = false;
        await link(written.path, target.file).catch((err: unknown) => {
          if (errorCode(err) !== "EEXIST") throw err;
          exists = true;
        });
        if (exists) {
          // Maybe our own earlier create whose directory fsync failed or timed out: the
          // caller may take "exists" (with its write token) as written, so make it durable.
          answered();
          await this.#settle(target.file);
          throw new ObjectExistsError(key);
        }
      } else {
        await rename(written.path, target.file);
      }
      temp = undefined;
      if (this.#fsync) this.#unsynced.set(target.file, placed);
      // After a link the temp name remains; drop it while the directory syncs.
      await Promise.all([
        this.#dirs.syncDir(target.dir),
        create ? unlink(written.path).catch(() => {}) : undefined,
      ]);
      if (this.#unsynced.get(target.file) === placed) this.#unsynced.delete(target.file);
    } catch (err) {
      if (err instanceof ObjectExistsError) throw err;
      throw fileStoreError(this.describe(), "put", key, err);
    } finally {
      await closed;
      // Best effort: a leftover temp file is harmless (never listed).
      if (temp !== undefined) await unlink(temp).catch(() => {});
    }
  }

  async delete(key: string): Promise<void> {
    const target = this.#pathOf(key);
    await this.#call("delete", key, (signal) =>
      this.#writer.accepts(0)
        ? this.#deleteOnThread(key, target, signal)
        : this.#deleteOnPool(key, target),
    );
    this.#keepDirectory(key, target);
  }

  async #deleteOnThread(key: string, target: ObjectPath, signal: AbortSignal): Promise<void> {
    /** The file's unsynced entry when the delete was posted: the one its unlink removes. */
    let seen: { dir: string } | undefined;
    let result: WriteResult;
    try {
      result = await this.#writer.write(
        { op: "delete", file: target.file, dir: target.absoluteDir, fsync: this.#fsync },
        signal,
        () => {
          seen = this.#unsynced.get(target.file);
        },
      );
    } catch (err) {
      throw fileStoreError(this.describe(), "delete", key, err);
    }
    if (result.outcome === "missing") return;
    // Only the entry it unlinked: a put posted after it has placed a new file meanwhile.
    if (result.changed && seen !== undefined && this.#unsynced.get(target.file) === seen)
      this.#unsynced.delete(target.file);
    if (result.error !== undefined)
      throw fileStoreError(this.describe(), "delete", key, result.error);
  }

  async #deleteOnPool(key: string, target: ObjectPath): Promise<void> {
    const seen = this.#unsynced.get(target.file);
    try {
      await unlink(target.file);
      if (seen !== undefined && this.#unsynced.get(target.file) === seen)
        this.#unsynced.delete(target.file);
    } catch (err) {
      if (MISSING.has(errorCode(err) ?? "")) return;
      throw fileStoreError(this.describe(), "delete", key, err);
    }
    try {
      await this.#dirs.syncDir(target.dir);
    } catch (err) {
      throw fileStoreError(this.describe(), "delete", key, err);
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    if (typeof prefix !== "string")
      throw new InvalidArgumentError(`list: prefix must be a string, got ${String(prefix)}`);
    const requested = options.limit ?? DEFAULT_LIST_LIMIT;
    if (!(requested >= 1))
      throw new InvalidArgumentError(`list: limit must be a number >= 1, got ${requested}`);
    const limit = Math.floor(requested);
    return this.#call("list", prefix, () => this.#list(prefix, options.startAfter, limit));
  }

  async #list(prefix: string, startAfter: string | undefined, limit: number): Promise<ListPage> {
    const candidates: Candidate[] = [];
    try {
      const start = this.#listStart(prefix);
      if (start !== undefined)
        await this.#walk(start.dir, start.keyPrefix, prefix, startAfter, limit + 1, candidates);
    } catch (err) {
      throw fileStoreError(this.describe(), "list", prefix, err);
    }
    const more = candidates.length > limit;
    const page = candidates.slice(0, limit);
    // A bounded number of stats in flight: a page of 1,000 stats started at once complete
    // together, and their callbacks then made one long turn of the event loop (~16 ms).
    const infos = await mapLimited(page, LIST_STATS_IN_FLIGHT, (candidate) =>
      this.#info(candidate),
    );
    const objects = infos.filter((info): info is ObjectInfo => info !== null);
    const last = page.at(-1);
    return more && last !== undefined ? { objects, nextStartAfter: last.key } : { objects };
  }

  describe(): string {
    return this.#described;
  }

  /** @internal For tests: how many directory parts of keys the store keeps mapped. */
  get keyDirectoriesKept(): number {
    return this.#keyDirectories.size;
  }

  /** Map a key to its file, validating it. */
  #pathOf(key: string): ObjectPath {
    // A key under a directory part kept (see {@link #keepDirectory}): only its last segment
    // is checked and encoded.
    const slash = typeof key === "string" ? key.lastIndexOf("/") : -1;
    const known =
      slash > 0 && slash <= KEY_DIRECTORY_MAX_LENGTH
        ? this.#keyDirectories.get(key.slice(0, slash))
        : undefined;
    if (known !== undefined) {
      const segment = key.slice(slash + 1);
      checkSegment(key, segment);
      const name = this.#fileName(key, encodeSegment(segment));
      return {
        dir: known.dir,
        absoluteDir: known.absoluteDir,
        file: known.absoluteDir + sep + name,
      };
    }
    const segments = keySegments(key);
    const name = encodeSegment(segments.pop()!);
    const dirNames = segments.map(encodeDirectory);
    // Checked up front so that a rejected key creates no directories.
    for (const encoded of dirNames) this.#fileName(key, encoded);
    this.#fileName(key, name);
    const dir = dirNames.join("/");
    const absoluteDir = join(this.#root, dir);
    return { dir, absoluteDir, file: join(absoluteDir, name) };
  }

  /**
   * Keeps the directory part of `key` (a put or delete of it has succeeded)
   * mapped to `target`'s directory, unless it is long. Only keys written or
   * deleted are kept, not the keys of reads, which may never be stored.
   */
  #keepDirectory(key: string, target: ObjectPath): void {
    const slash = key.lastIndexOf("/");
    if (slash <= 0 || slash > KEY_DIRECTORY_MAX_LENGTH) return;
    const part = key.slice(0, slash);
    if (this.#keyDirectories.has(part)) return;
    if (this.#keyDirectories.size >= KEY_DIRECTORIES_KEPT) this.#keyDirectories.clear();
    this.#keyDirectories.set(part, { dir: target.dir, absoluteDir: target.absoluteDir });
  }

  /** `encoded`, one name of `key`'s path, if it is not too long for a file name. */
  #fileName(key: string, encoded: string): string {
    if (encoded.length > MAX_NAME_BYTES)
      throw new InvalidArgumentError(
        `object key ${JSON.stringify(key)} has a segment that encodes to ${encoded.length} bytes; file names allow at most ${MAX_NAME_BYTES}`,
      );
    return encoded;
  }

  /** The deepest directory that can hold every key starting with `prefix`; undefined when none can. */
  #listStart(prefix: string): { dir: string; keyPrefix: string } | undefined {
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
  async #walk(
    dir: string,
    keyPrefix: string,
    prefix: string,
    startAfter: string | undefined,
    want: number,
    out: Candidate[],
  ): Promise<void> {
    const absolute = join(this.#root, dir);
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
      if (child.isDirectory) await this.#walk(path, child.key, prefix, startAfter, want, out);
      else out.push({ key: child.key, file: join(this.#root, path) });
    }
  }

  async #info(candidate: Candidate): Promise<ObjectInfo | null> {
    try {
      const info = await stat(candidate.file, { bigint: true });
      return { key: candidate.key, size: Number(info.size), etag: etagOf(info) };
    } catch (err) {
      // Deleted between readdir and stat: no longer part of the listing.
      if (MISSING.has(errorCode(err) ?? "")) return null;
      throw fileStoreError(this.describe(), "list", candidate.key, err);
    }
  }

  /** One store call, within the time limit. */
  #call<T>(op: string, key: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(this.#timeoutMs, { store: this.describe(), op, key }, run);
  }

  /**
   * Counts a put of `file` in {@link #inFlight} until the returned function is
   * called (again later: no effect). No promise is made unless a read waits.
   */
  #track(file: string): () => void {
    const put: PutInFlight = { waiters: undefined };
    let puts = this.#inFlight.get(file);
    if (puts === undefined) {
      puts = new Set();
      this.#inFlight.set(file, puts);
    }
    puts.add(put);
    const tracked = puts;
    return () => {
      if (!tracked.delete(put)) return;
      if (tracked.size === 0 && this.#inFlight.get(file) === tracked) this.#inFlight.delete(file);
      if (put.waiters !== undefined) for (const wake of put.waiters) wake();
    };
  }

  /**
   * Makes `file` durable if a put placed it and its directory fsync has not
   * succeeded since: fsyncs its directory now (rejects if that fails). First
   * waits for the puts of it in flight now: one may place it after an fsync
   * started now.
   *
   * A read calls it before and after its open (or stat). Before: it waits for
   * the puts called before it. After: the put that placed the file it opened
   * had either answered by then (a failed directory fsync left its mark in
   * {@link #unsynced}) or was in flight, so waited for here; a put called
   * after that cannot have placed it. Only the puts in flight at the call are
   * waited for, not later ones, or a key overwritten without pause would keep
   * its reads waiting until they time out.
   */
  async #settle(file: string): Promise<void> {
    const puts = this.#inFlight.get(file);
    if (puts !== undefined)
      await Promise.all(
        Array.from(
          puts,
          (put) =>
            new Promise<void>((wake) => {
              put.waiters ??= [];
              put.waiters.push(wake);
            }),
        ),
      );
    const placed = this.#unsynced.get(file);
    if (placed === undefined) return;
    await this.#dirs.syncDir(placed.dir);
    if (this.#unsynced.get(file) === placed) this.#unsynced.delete(file);
  }
}

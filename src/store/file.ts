/**
 * `FileStore`: the object store in a local directory — checking each call,
 * mapping its key to a path, reading objects back. Writes (and the
 * bookkeeping that makes what they placed durable before it is read) live in
 * `file-writes.ts` (what a put that finds a directory removed fails with in
 * `file-removed-dirs.ts`), listing in `file-list.ts`, temp files in
 * `file-temp.ts`, key encoding in `file-keys.ts`, error reading in
 * `file-errors.ts`, creating the root directory in `file-root.ts`, creating
 * and fsyncing directories in `file-dirs.ts`, the writer thread that makes a
 * small put's or a delete's system calls in `file-writer.ts` (see
 * docs/file-store.md).
 */
import { type FileHandle, open, stat } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { invalidArgument, invalidArgumentGot } from "../validate.js";
import { checkListLimit, checkListPrefix, checkPutBody } from "./call-arguments.js";
import {
  type CallDeadline,
  DEFAULT_TIMEOUT_MS,
  MAX_TIMEOUT_MS,
  withCallDeadline,
} from "./deadline.js";
import { FileDirs } from "./file-dirs.js";
import { errorCode, fileStoreError, MISSING } from "./file-errors.js";
import { encodeDirectory, encodeSegment, type ObjectPath } from "./file-keys.js";
import { etagOf, listFiles } from "./file-list.js";
import { TEMP_FOLDER, TempFiles } from "./file-temp.js";
import { FileWriter } from "./file-writer.js";
import { FileWrites } from "./file-writes.js";
import { checkSegment, keySegments } from "./key-rules.js";
import type {
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  StoredObject,
} from "./types.js";
import { setWritesComing } from "./write-hint.js";

/** Options of {@link FileStore}. */
export interface FileStoreOptions {
  /**
   * fsync files and directories before a write or delete resolves, so an
   * acknowledged write survives power loss. Turn off only for throwaway data
   * (tests, benchmarks of the upper layers).
   * @default true
   * @example { fsync: false }
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
   * @example { timeoutMs: 5_000 }
   */
  timeoutMs?: number;
}

const DEFAULT_LIST_LIMIT = 1000;
/** The common file-name limit (ext4, XFS, APFS, NTFS); encoded names are ASCII, so bytes = length. */
const MAX_NAME_BYTES = 255;

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

/**
 * An object store in a local directory. Writes go to a temp file that is
 * fsynced and then renamed (overwrite) or hard-linked (create-if-absent, which
 * fails atomically when the name exists) into place, and the directory is
 * fsynced, so an object is either absent or complete, even after a crash.
 * Once the store has made a few writes in a row, or a queue's log on it
 * has twice within 2 s gathered appends from several callers into one batch,
 * a put of up to 64 KiB or a delete
 * makes all of its system calls on a thread of the store's own, in one
 * hand-off (see `file-writer.ts`); larger puts, writes beyond four at once,
 * and every write if the thread cannot start, go through the thread pool. The thread holds about
 * 8 MB of memory and ends after 2 s without writes, or at {@link FileStore.close}.
 *
 * Key segments become nested directories; see `file-keys.ts` for the name
 * encoding. Empty directories are left in place when their objects are deleted,
 * and directories are assumed to stay once created (they are cached). The
 * temp folder removed under the store (a temp cleaner ages out empty
 * directories) fails the put that finds it gone, transiently, and the next put
 * makes it again. Any other directory removed while in use (the root, a key's
 * directory) may have held objects: every put into it fails, permanently,
 * naming it, and it is not made again.
 *
 * The first write of a store sweeps the temp folder of files left by writers
 * that died mid-write (see `file-temp.ts` for which). Failures are
 * `StorageError`s: `permanent: true` for a directory that cannot be used
 * (`ENOTDIR`, `EACCES`, `EPERM`, `EROFS`, a file where the directory should
 * be, a filesystem without hard links or that cannot fsync), with what to fix
 * in the message; transient otherwise (timeouts, a full disk, I/O errors).
 */
export class FileStore implements ObjectStore {
  readonly #root: string;
  /** {@link describe}'s answer, made once: every call names its store. */
  readonly #described: string;
  readonly #timeoutMs: number;
  /** Its puts and deletes, and what makes an object they placed durable before it is read. */
  readonly #writes: FileWrites;
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
      throw invalidArgument("directory", "a non-empty path", directory, "FileStore");
    if (options === null || typeof options !== "object")
      throw invalidArgument("options", "an options object", options, "FileStore");
    if (options.fsync !== undefined && typeof options.fsync !== "boolean")
      throw invalidArgument("options.fsync", "a boolean", options.fsync, "FileStore");
    this.#root = resolve(directory);
    this.#described = pathToFileURL(this.#root).href;
    // Checked here: a too-long name in the path would otherwise be blamed on an object key.
    for (const name of this.#root.split(sep))
      if (Buffer.byteLength(name) > MAX_NAME_BYTES)
        throw invalidArgumentGot(
          "directory",
          `a path whose names are at most ${MAX_NAME_BYTES} bytes each`,
          `a name of ${Buffer.byteLength(name)} bytes: "${name.slice(0, 32)}…"`,
          "FileStore",
        );
    const fsync = options.fsync ?? true;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(Number.isSafeInteger(timeoutMs) && timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS))
      throw invalidArgument(
        "options.timeoutMs",
        `a positive integer number of milliseconds up to ${MAX_TIMEOUT_MS} (about 24.8 days, the longest a timer can wait)`,
        timeoutMs,
        "FileStore",
      );
    this.#timeoutMs = timeoutMs;
    // Its directories: created with their parents synced, fsyncs shared.
    const dirs = new FileDirs(this.#root, fsync);
    const temp = new TempFiles(this.#root, fsync, () => dirs.ensureDir(TEMP_FOLDER));
    this.#writes = new FileWrites({ describe: this.#described, fsync, dirs, temp, writer });
    // A log that starts taking a steady stream of writes (its second batch from several
    // callers within the idle time of the first) starts the writer thread at once.
    setWritesComing(this, () => writer.expectWrites());
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
    await this.#writes.close();
  }

  async get(key: string): Promise<StoredObject | null> {
    const { file } = this.#pathOf(key);
    return this.#call("get", key, () => this.#get(key, file));
  }

  async #get(key: string, file: string): Promise<StoredObject | null> {
    let handle: FileHandle;
    try {
      // Settled before and after the open: see {@link FileWrites.settle}.
      await this.#writes.settle(file);
      handle = await open(file, "r");
      await this.#writes.settle(file).catch(async (err: unknown) => {
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
        await this.#writes.settle(file);
        const info = await stat(file, { bigint: true });
        await this.#writes.settle(file);
        return { key, size: Number(info.size), etag: etagOf(info) };
      } catch (err) {
        if (MISSING.has(errorCode(err) ?? "")) return null;
        throw fileStoreError(this.describe(), "head", key, err);
      }
    });
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    const target = this.#pathOf(key);
    checkPutBody(key, body);
    const create = options?.ifNoneMatch === "*";
    await this.#call("put", key, (deadline) =>
      this.#writes.put(key, target, body, create, deadline),
    );
    this.#keepDirectory(key, target);
  }

  async delete(key: string): Promise<void> {
    const target = this.#pathOf(key);
    await this.#call("delete", key, (deadline) => this.#writes.delete(key, target, deadline));
    this.#keepDirectory(key, target);
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    checkListPrefix(prefix, options.startAfter);
    const limit = checkListLimit(options.limit, DEFAULT_LIST_LIMIT);
    return this.#call("list", prefix, () =>
      listFiles(this.#root, this.#described, prefix, options.startAfter, limit),
    );
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
      throw invalidArgumentGot(
        "key",
        `a key whose segments each encode to a file name of at most ${MAX_NAME_BYTES} bytes`,
        `${JSON.stringify(key)}, with a segment that encodes to ${encoded.length} bytes`,
      );
    return encoded;
  }

  /** One store call, within the time limit. */
  #call<T>(op: string, key: string, run: (deadline: CallDeadline) => Promise<T>): Promise<T> {
    return withCallDeadline(this.#timeoutMs, { store: this.describe(), op, key }, run);
  }
}

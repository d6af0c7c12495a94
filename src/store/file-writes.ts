/**
 * A {@link FileStore}'s writes: a put or a delete on the writer thread or
 * the thread pool, and the bookkeeping that makes a read of a file they
 * placed wait until it is durable. Separate from `file.ts`, which checks a
 * call's arguments, maps its key to a path and reads; the thread's handle
 * is in `file-writer.ts` (see docs/file-store.md).
 */
import { link, rename, unlink } from "node:fs/promises";
import { StorageError } from "../errors.js";
import type { CallDeadline } from "./deadline.js";
import type { FileDirs } from "./file-dirs.js";
import { errorCode, fileStoreError, MISSING } from "./file-errors.js";
import type { ObjectPath } from "./file-keys.js";
import { removedDirError } from "./file-removed-dirs.js";
import type { TempFiles } from "./file-temp.js";
import type { FileWriter, WriteResult } from "./file-writer.js";
import { ObjectExistsError } from "./types.js";

/** A put counted in `#inFlight`: the reads waiting for it to be answered. */
interface PutInFlight {
  waiters: Array<() => void> | undefined;
}

/** What {@link FileWrites} writes with: the store's own parts. */
export interface FileWritesInit {
  /** The store, as errors name it. */
  describe: string;
  fsync: boolean;
  dirs: FileDirs;
  temp: TempFiles;
  writer: FileWriter;
}

/**
 * Puts and deletes of a {@link FileStore}, already checked and mapped to
 * their paths. A put of up to 64 KiB or a delete goes to the writer thread
 * when it {@link FileWriter.accepts} it, everything else through the thread
 * pool, with the same system calls and outcomes; {@link settle} is what a
 * read calls so that an object the store reports is durable.
 */
export class FileWrites {
  readonly #describe: string;
  readonly #fsync: boolean;
  /** Its directories: created with their parents synced, fsyncs shared. */
  readonly #dirs: FileDirs;
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
   * not see, the pool beside the read), so {@link settle} waits for them
   * first, and then finds the file in {@link #unsynced} if it is not durable.
   */
  readonly #inFlight = new Map<string, Set<PutInFlight>>();
  /**
   * The newest name offered to the writer thread for the temp file it makes
   * ahead of a later put: {@link close} removes it (the thread does after a
   * second without puts, but not when it is ended sooner).
   */
  #spare: string | undefined;

  constructor(init: FileWritesInit) {
    this.#describe = init.describe;
    this.#fsync = init.fsync;
    this.#dirs = init.dirs;
    this.#temp = init.temp;
    this.#writer = init.writer;
  }

  /**
   * Ends the writer thread once the writes on it are answered, and removes
   * the temp file it made ahead for a next put (see `FileStore.close`).
   */
  async close(): Promise<void> {
    await this.#writer.stop();
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare !== undefined) await unlink(spare).catch(() => {});
  }

  /**
   * Writes `body` as `key`'s object at `target` (only if absent when
   * `create`); rejects with `ObjectExistsError` when a create finds it taken.
   */
  async put(
    key: string,
    target: ObjectPath,
    body: Uint8Array,
    create: boolean,
    deadline: CallDeadline,
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
          throw fileStoreError(this.#describe, "put", key, err);
        }
      if (this.#writer.accepts(body.byteLength))
        await this.#putOnThread(key, target, body, create, deadline, answered);
      else await this.#putOnPool(key, target, body, create, answered);
      // A put that began before another found the temp folder gone may have written its
      // temp file in the one made again: answered once that folder is durable too.
      if (!this.#temp.isReady)
        try {
          await this.#temp.ready();
        } catch (err) {
          throw fileStoreError(this.#describe, "put", key, err);
        }
    } catch (err) {
      if (errorCode(err instanceof StorageError ? err.cause : err) === "ENOENT")
        throw await removedDirError(this.#describe, this.#dirs, this.#temp, key, target, err);
      throw err;
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
    deadline: CallDeadline,
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
        deadline,
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
      throw fileStoreError(this.#describe, "put", key, err);
    }
    answered();
    if (result.outcome === "exists") {
      unchanged();
      try {
        // Maybe our own earlier create whose directory fsync failed or timed out: the
        // caller may take "exists" (with its write token) as written, so make it durable.
        await this.settle(target.file);
      } catch (err) {
        throw fileStoreError(this.#describe, "put", key, err);
      }
      throw new ObjectExistsError(key);
    }
    if (result.error !== undefined) {
      // Failed before the link or rename: nothing changed. After it, only the directory
      // fsync failed: the file is counted as unsynced (again, as above).
      if (!result.changed) unchanged();
      else if (this.#fsync) this.#unsynced.set(target.file, placed);
      throw fileStoreError(this.#describe, "put", key, result.error);
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
          await this.settle(target.file);
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
      throw fileStoreError(this.#describe, "put", key, err);
    } finally {
      await closed;
      // Best effort: a leftover temp file is harmless (never listed).
      if (temp !== undefined) await unlink(temp).catch(() => {});
    }
  }

  /** Deletes `key`'s object at `target`; a missing one is no error. */
  delete(key: string, target: ObjectPath, deadline: CallDeadline): Promise<void> {
    return this.#writer.accepts(0)
      ? this.#deleteOnThread(key, target, deadline)
      : this.#deleteOnPool(key, target);
  }

  async #deleteOnThread(key: string, target: ObjectPath, deadline: CallDeadline): Promise<void> {
    /** The file's unsynced entry when the delete was posted: the one its unlink removes. */
    let seen: { dir: string } | undefined;
    let result: WriteResult;
    try {
      result = await this.#writer.write(
        { op: "delete", file: target.file, dir: target.absoluteDir, fsync: this.#fsync },
        deadline,
        () => {
          seen = this.#unsynced.get(target.file);
        },
      );
    } catch (err) {
      throw fileStoreError(this.#describe, "delete", key, err);
    }
    if (result.outcome === "missing") return;
    // Only the entry it unlinked: a put posted after it has placed a new file meanwhile.
    if (result.changed && seen !== undefined && this.#unsynced.get(target.file) === seen)
      this.#unsynced.delete(target.file);
    if (result.error !== undefined)
      throw fileStoreError(this.#describe, "delete", key, result.error);
  }

  async #deleteOnPool(key: string, target: ObjectPath): Promise<void> {
    const seen = this.#unsynced.get(target.file);
    try {
      await unlink(target.file);
      if (seen !== undefined && this.#unsynced.get(target.file) === seen)
        this.#unsynced.delete(target.file);
    } catch (err) {
      if (MISSING.has(errorCode(err) ?? "")) return;
      throw fileStoreError(this.#describe, "delete", key, err);
    }
    try {
      await this.#dirs.syncDir(target.dir);
    } catch (err) {
      throw fileStoreError(this.#describe, "delete", key, err);
    }
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
  async settle(file: string): Promise<void> {
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

/** The directories of a `FileStore`: each created once with its new levels' parents fsynced, and directory fsyncs shared between concurrent writers. */
import { type FileHandle, mkdir, open, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { errorCode, MISSING } from "./file-errors.js";
import { createRoot, expectDirectory } from "./file-root.js";

/** The directories under one `FileStore` root. */
export class FileDirs {
  readonly #root: string;
  readonly #fsync: boolean;
  /** Directories (relative to the root) known to exist, or being created. */
  readonly #dirs = new Map<string, Promise<void>>();
  /** Directories whose creation (or check) has succeeded: a write there need not wait. */
  readonly #made = new Set<string>();
  /** Directory fsyncs in flight, so concurrent writers to one directory share them. */
  readonly #dirSyncs = new Map<string, { running: Promise<void>; next?: Promise<void> }>();
  /** Open handles of directories with fsyncs queued back to back (closed when the run ends). */
  readonly #dirHandles = new Map<string, Promise<FileHandle>>();

  constructor(root: string, fsync: boolean) {
    this.#root = root;
    this.#fsync = fsync;
  }

  /**
   * Make sure `dir` (relative; "" is the root) exists, creating missing
   * levels one at a time and fsyncing the parent of each level, new or found
   * (once per store), so a write acknowledged inside it cannot lose its
   * directory in a crash. Concurrent callers share one creation per directory.
   * The root's own parents are fsynced only for the levels this store created.
   */
  ensureDir(dir: string): Promise<void> {
    const known = this.#dirs.get(dir);
    if (known !== undefined) return known;
    const creation = (async () => {
      if (dir === "") {
        // `created` is the topmost new level; each new level's parent must be synced.
        const created = await createRoot(this.#root);
        if (created === undefined || !this.#fsync) return;
        const parents: string[] = [];
        for (let level = this.#root; ; level = dirname(level)) {
          parents.push(dirname(level));
          if (level === created || level === dirname(level)) break;
        }
        await Promise.all(parents.map((parent) => this.#fsyncPath(parent)));
        return;
      }
      const slash = dir.lastIndexOf("/");
      const parent = slash < 0 ? "" : dir.slice(0, slash);
      await this.ensureDir(parent);
      const path = join(this.#root, dir);
      try {
        await mkdir(path);
      } catch (err) {
        if (errorCode(err) !== "EEXIST") throw err;
        // Something is there: a file or a link to nothing must not be remembered as a made
        // directory (every put there would fail as "removed while the store was in use").
        await expectDirectory(path, err);
        // Made by an earlier store or process, which may have died before it fsynced the
        // parent: fsynced here too (once per store), or a write acknowledged inside it
        // could lose its directory, and itself, in a power cut.
      }
      await this.syncDir(parent);
    })();
    this.#dirs.set(dir, creation);
    // Forget failures so a later call retries.
    creation.then(
      () => this.#made.add(dir),
      () => this.#dirs.delete(dir),
    );
    return creation;
  }

  /**
   * Forgets that `dir` exists, so the next {@link ensureDir} makes it again
   * (parent fsynced), and drops a handle kept open for a run of its fsyncs
   * (that of the directory removed). Only for the temp folder: it never holds
   * objects, so a temp cleaner that removed it took nothing with it. A
   * directory that may have held objects is never made again (see
   * {@link removed}).
   */
  forget(dir: string): void {
    this.#dirs.delete(dir);
    this.#made.delete(dir);
    const handle = this.#dirHandles.get(dir);
    if (handle !== undefined) {
      this.#dirHandles.delete(dir);
      // Closing waits for an fsync running on it.
      handle.then((open) => open.close()).catch(() => {});
    }
  }

  /**
   * The topmost of `dir` and the levels above it (the root included) that
   * this store made or found and that is no longer a directory: removed while
   * the store was in use. Undefined when all of them are still there. Only
   * "no such file or directory" (or a file in its place) says a level is
   * gone: any other failure to look (permission denied, too many open files,
   * an I/O error) says nothing about it, and rejects with that error.
   */
  async removed(dir: string): Promise<string | undefined> {
    const levels = [""];
    for (let slash = dir.indexOf("/"); slash >= 0; slash = dir.indexOf("/", slash + 1))
      levels.push(dir.slice(0, slash));
    if (dir !== "") levels.push(dir);
    for (const level of levels) {
      if (!this.#made.has(level)) continue;
      const path = level === "" ? this.#root : join(this.#root, level);
      const found = await stat(path).then(
        (stats) => stats.isDirectory(),
        (err: unknown) => {
          if (MISSING.has(errorCode(err) ?? "")) return false;
          throw err;
        },
      );
      if (!found) return path;
    }
    return undefined;
  }

  /**
   * Whether `dir` is known to exist, durably below the root: {@link ensureDir}
   * has succeeded for it.
   */
  exists(dir: string): boolean {
    return this.#made.has(dir);
  }

  /**
   * fsync a directory (relative to the root). A caller needs an fsync that
   * starts after its change: if one is already running it may have started
   * too early, so callers arriving meanwhile share a single follow-up fsync.
   */
  syncDir(dir: string): Promise<void> {
    if (!this.#fsync) return Promise.resolve();
    const inFlight = this.#dirSyncs.get(dir);
    if (inFlight === undefined) return this.#startDirSync(dir);
    inFlight.next ??= inFlight.running.then(
      () => this.#startDirSync(dir),
      () => this.#startDirSync(dir),
    );
    return inFlight.next;
  }

  #startDirSync(dir: string): Promise<void> {
    const entry: { running: Promise<void>; next?: Promise<void> } = {
      running: Promise.resolve(),
    };
    entry.running = this.#fsyncDir(dir, entry).finally(() => {
      if (this.#dirSyncs.get(dir) === entry) this.#dirSyncs.delete(dir);
    });
    this.#dirSyncs.set(dir, entry);
    return entry.running;
  }

  /**
   * One fsync of directory `dir`. While writers keep the directory busy
   * (another fsync is queued behind this one) its handle stays open for the
   * next; the last fsync of a run closes it, so an idle store holds no
   * descriptors.
   */
  async #fsyncDir(dir: string, entry: { next?: Promise<void> }): Promise<void> {
    let opening = this.#dirHandles.get(dir);
    if (opening === undefined) {
      opening = open(join(this.#root, dir), "r");
      this.#dirHandles.set(dir, opening);
      opening.catch(() => {
        if (this.#dirHandles.get(dir) === opening) this.#dirHandles.delete(dir);
      });
    }
    const handle = await opening;
    let failed = true;
    try {
      await handle.sync();
      failed = false;
    } finally {
      if ((failed || entry.next === undefined) && this.#dirHandles.get(dir) === opening) {
        this.#dirHandles.delete(dir);
        await handle.close();
      }
    }
  }

  async #fsyncPath(path: string): Promise<void> {
    const handle = await open(path, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

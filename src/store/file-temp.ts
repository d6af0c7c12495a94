/**
 * The temp files of a {@link FileStore}: every write first goes to a fresh
 * temp file in the store's `.tmp/` folder, named
 * `<pid>.<host tag>.<uuid>-<n>.tmp` (a uuid per store, a counter per file) so
 * a sweep can tell whose it is, and fsynced when the store fsyncs (here for
 * writes through the thread pool, by the writer thread for the others, see
 * `file-writer-thread.ts`). The first write sweeps the files left by writers
 * that died mid-write.
 */
import { createHash, randomUUID } from "node:crypto";
import { open, readdir, rm, stat, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";

/** The temp folder, relative to the store's root (never listed: not a valid key segment). */
export const TEMP_FOLDER = ".tmp";
/**
 * Temp files of other processes are left alone unless their owner is gone:
 * one on this host whose process has exited, or any untouched this long (a
 * writer's put abandons its temp file long before).
 */
const STALE_TEMP_MS = 60 * 60 * 1000;
/**
 * How much older than this process's start a temp file named with its pid
 * must be to count as an earlier process's: covers the file system's
 * timestamp granularity and small clock adjustments.
 */
const START_MARGIN_MS = 2_000;
/** Names temp files `<pid>.<host tag>.<uuid>-<n>.tmp`, so a sweep can tell whose they are. */
const HOST_TAG = createHash("sha256").update(hostname()).digest("hex").slice(0, 12);

export class TempFiles {
  readonly #folder: string;
  readonly #fsync: boolean;
  /** Creates the temp folder (durably) if it is missing. */
  readonly #ensureFolder: () => Promise<void>;
  /** The sweep of stale temp files, run once before the first write. */
  #swept: Promise<void> | undefined;
  /** {@link ready} has resolved once: the folder exists and was swept. */
  #ready = false;
  /**
   * The start of this store's temp file names: `<folder>/<pid>.<host tag>.<uuid>-`, a
   * random uuid per store, followed by a counter: as unique as a uuid per file, and a
   * put does not pay for one (nor for joining paths).
   */
  readonly #prefix: string;
  #count = 0;

  constructor(root: string, fsync: boolean, ensureFolder: () => Promise<void>) {
    this.#folder = join(root, TEMP_FOLDER);
    this.#fsync = fsync;
    this.#ensureFolder = ensureFolder;
    this.#prefix = join(this.#folder, `${process.pid}.${HOST_TAG}.${randomUUID()}-`);
  }

  /**
   * Resolves once the temp folder exists and has been swept of files left by
   * writers that died (once per store); a write may then use {@link newPath}.
   */
  async ready(): Promise<void> {
    await this.#ensureFolder();
    this.#swept ??= this.#sweep();
    await this.#swept;
    this.#ready = true;
  }

  /**
   * The temp folder was found gone (a temp cleaner removed it): the next write
   * waits for {@link ready}, which makes it again. (The sweep is not run again.)
   */
  forget(): void {
    this.#ready = false;
  }

  /** Whether {@link ready} has resolved before: a write may skip waiting for it. */
  get isReady(): boolean {
    return this.#ready;
  }

  /** A fresh temp file name, which a write creates exclusively. */
  newPath(): string {
    return `${this.#prefix}${(++this.#count).toString(16)}.tmp`;
  }

  /**
   * Write `body` to a fresh temp file through the thread pool (fsynced when
   * enabled), after {@link ready}. Resolves with its path once its bytes are
   * durable; `closed` settles once its handle is closed, which the caller
   * awaits alongside its next steps (a close after a successful fsync cannot
   * lose data, so it need not delay the link).
   */
  async write(body: Uint8Array): Promise<{ path: string; closed: Promise<void> }> {
    await this.ready();
    const temp = this.newPath();
    if (!this.#fsync) {
      // One call instead of open/write/close round trips: measurably faster for small objects.
      await writeFile(temp, body, { flag: "wx" });
      return { path: temp, closed: Promise.resolve() };
    }
    const handle = await open(temp, "wx");
    try {
      await handle.writeFile(body);
      await handle.sync();
    } catch (err) {
      await handle.close().catch(() => {});
      await unlink(temp).catch(() => {});
      throw err;
    }
    // The descriptor is released whatever close reports; the bytes are durable already.
    return { path: temp, closed: handle.close().catch(() => {}) };
  }

  /**
   * Delete temp files whose writer is gone: one of a process on this host
   * that has exited, one named with this process's pid but last modified
   * before it started (an earlier process's, with the same pid), or any not
   * modified for {@link STALE_TEMP_MS}. Never one of this process, nor a fresh
   * one of a live process (it may be mid-write).
   * Best effort: a file that cannot be removed now is left for the next sweep.
   */
  async #sweep(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.#folder);
    } catch {
      return;
    }
    await Promise.all(
      names.map(async (name) => {
        const owner = tempOwner(name);
        const path = join(this.#folder, name);
        try {
          if (owner?.pid === process.pid && owner.host === HOST_TAG) {
            // Our pid: a file of this process (another store's, or the writer thread's spare)
            // unless it predates this process's start, when it was left by an earlier process
            // with the same pid (a container's pid 1 restarted on the same volume).
            if ((await stat(path)).mtimeMs >= startedAt() - START_MARGIN_MS) return;
            await rm(path, { force: true, recursive: true });
            return;
          }
          const ownerGone = owner !== undefined && owner.host === HOST_TAG && !isAlive(owner.pid);
          if (!ownerGone && Date.now() - (await stat(path)).mtimeMs < STALE_TEMP_MS) return;
          await rm(path, { force: true, recursive: true });
        } catch {
          // gone already, or not ours to remove: leave it
        }
      }),
    );
  }
}

/** When this process started, in wall-clock milliseconds (as file times are). */
function startedAt(): number {
  return Date.now() - process.uptime() * 1000;
}

/** The owner encoded in a temp file's name, if it has one. */
function tempOwner(name: string): { pid: number; host: string } | undefined {
  const match = /^(\d+)\.([0-9a-f]+)\.[0-9a-f-]+\.tmp$/.exec(name);
  return match === null ? undefined : { pid: Number(match[1]), host: match[2]! };
}

/** Whether a process with this pid exists on this host (a pid reused since only keeps files longer). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: unknown } | null)?.code === "EPERM";
  }
}

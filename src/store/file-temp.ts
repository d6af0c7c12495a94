/**
 * The temp files of a {@link FileStore}: every write first goes to a fresh
 * temp file in the store's `.tmp/` folder, named `<pid>.<host tag>.<uuid>.tmp`
 * so a sweep can tell whose it is (the writer thread writes it, see
 * `file-writer-thread.ts`). The first write sweeps the files left by writers that died mid-write.
 */
import { createHash, randomUUID } from "node:crypto";
import { readdir, rm, stat } from "node:fs/promises";
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
/** Names temp files `<pid>.<host tag>.<uuid>.tmp`, so a sweep can tell whose they are. */
const HOST_TAG = createHash("sha256").update(hostname()).digest("hex").slice(0, 12);

export class TempFiles {
  readonly #folder: string;
  /** Creates the temp folder (durably) if it is missing. */
  readonly #ensureFolder: () => Promise<void>;
  /** The sweep of stale temp files, run once before the first write. */
  #swept: Promise<void> | undefined;

  constructor(root: string, ensureFolder: () => Promise<void>) {
    this.#folder = join(root, TEMP_FOLDER);
    this.#ensureFolder = ensureFolder;
  }

  /**
   * Resolves once the temp folder exists and has been swept of files left by
   * writers that died (once per store); a write may then use {@link newPath}.
   */
  async ready(): Promise<void> {
    await this.#ensureFolder();
    this.#swept ??= this.#sweep();
    await this.#swept;
  }

  /** A fresh temp file name, which a write creates exclusively. */
  newPath(): string {
    return join(this.#folder, `${process.pid}.${HOST_TAG}.${randomUUID()}.tmp`);
  }

  /**
   * Delete temp files whose writer is gone: one of a process on this host
   * that has exited, or any not modified for {@link STALE_TEMP_MS}. Never one
   * of this process, nor a fresh one of a live process (it may be mid-write).
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
        if (owner?.pid === process.pid && owner.host === HOST_TAG) return;
        const path = join(this.#folder, name);
        try {
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

/**
 * Test helper: watches the fsyncs of one directory that the main thread makes
 * through `fs/promises` file handles, counting them and failing chosen ones.
 */
import { type FileHandle, open, stat } from "node:fs/promises";
import { tmpdir } from "node:os";

/**
 * Watches fsyncs of one directory (by inode) through every file handle of the
 * process's main thread: counts the ones that succeed and fails the next
 * `failures` with EIO. Those are the fsyncs that reads and creates finding a
 * key taken make; a write's own directory fsync runs on the store's writer
 * thread (see `failWriterDirSync` in `writer-thread.ts`).
 */
export class DirectorySyncs {
  readonly #proto: { sync: (this: FileHandle) => Promise<void> };
  readonly #sync: (this: FileHandle) => Promise<void>;
  #ino: bigint | null = null;
  failures = 0;
  succeeded = 0;
  failed = 0;

  constructor(proto: { sync: (this: FileHandle) => Promise<void> }) {
    this.#proto = proto;
    this.#sync = proto.sync;
    const watcher = this;
    const real = this.#sync;
    proto.sync = async function (this: FileHandle): Promise<void> {
      const info = await this.stat({ bigint: true });
      if (watcher.#ino === null || !info.isDirectory() || info.ino !== watcher.#ino)
        return real.call(this);
      if (watcher.failures > 0) {
        watcher.failures--;
        watcher.failed++;
        throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO", syscall: "fsync" });
      }
      await real.call(this);
      watcher.succeeded++;
    };
  }

  static async install(): Promise<DirectorySyncs> {
    const handle = await open(tmpdir(), "r");
    const proto = Object.getPrototypeOf(handle) as { sync: (this: FileHandle) => Promise<void> };
    await handle.close();
    return new DirectorySyncs(proto);
  }

  async watch(path: string): Promise<void> {
    this.#ino = (await stat(path, { bigint: true })).ino;
  }

  uninstall(): void {
    this.#proto.sync = this.#sync;
  }
}

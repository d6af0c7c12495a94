/**
 * A directory of a {@link FileStore} removed while the store is in use: what
 * a put that finds one gone fails with, and why it may have gone (a temp
 * cleaner). `file-writes.ts` asks it when a put fails with ENOENT.
 */
import { tmpdir } from "node:os";
import { resolve, sep } from "node:path";
import { StorageError } from "../errors.js";
import { messageOf } from "../util/message.js";
import type { FileDirs } from "./file-dirs.js";
import { fileStoreError } from "./file-errors.js";
import type { ObjectPath } from "./file-keys.js";
import { TEMP_FOLDER, type TempFiles } from "./file-temp.js";

/**
 * The error a put of `key` to `target` that failed with ENOENT (`err`)
 * rejects with, once it is known which directory the store made is gone
 * (`describe` names the store). The temp folder alone (a
 * temp cleaner ages out empty directories under /tmp and /var/tmp) never
 * holds objects: it is forgotten, so the next put makes it again, and this
 * put fails transiently. Any other directory (the root, a key's directory)
 * may have held objects: making it again would let a queue go on
 * acknowledging work on top of what was lost (which a restart then finds
 * corrupt), so every put there fails, permanently, naming it. When the
 * check itself fails (other than by finding a directory missing), the put
 * fails with that error, transient or permanent as any other.
 */
export async function removedDirError(
  describe: string,
  dirs: FileDirs,
  temp: TempFiles,
  key: string,
  target: ObjectPath,
  err: unknown,
): Promise<unknown> {
  try {
    const removed = await dirs.removed(target.dir);
    if (removed !== undefined)
      return new StorageError(
        `${describe}: put "${key}" failed: directory ${JSON.stringify(removed)} was removed while the store was in use, and objects in it may be lost${cleanerNote(removed)}. Restore it, or open the store again`,
        { cause: err, permanent: true },
      );
    if ((await dirs.removed(TEMP_FOLDER)) !== undefined) {
      dirs.forget(TEMP_FOLDER);
      temp.forget();
    }
  } catch (checkErr) {
    // Classified by the check's failure; the put's own failure stays in the message and cause.
    const checked = fileStoreError(describe, "put", key, checkErr);
    if (!(checked instanceof StorageError)) return checked;
    const own = err instanceof StorageError && err.cause !== undefined ? err.cause : err;
    const prefix = `${describe}: put "${key}" failed: `;
    const said = checked.message.startsWith(prefix)
      ? checked.message.slice(prefix.length)
      : checked.message;
    return new StorageError(
      `${prefix}${messageOf(own)}, and checking whether its directory is still there failed: ${said}`,
      {
        cause: new AggregateError([own, checkErr], "the put failed, then the check after it"),
        permanent: checked.permanent,
      },
    );
  }
  return err;
}

/**
 * Directories a temp cleaner (systemd-tmpfiles, Windows' Storage Sense,
 * macOS's daily clean of /tmp and its cleaner of per-user temp folders)
 * ages files out of, `temp` being the process's temp directory
 * (`os.tmpdir()`). On macOS /tmp and /var lead into /private, so a path may
 * name either form.
 */
function tempDirs(temp: string): string[] {
  return [
    temp,
    "/tmp",
    "/var/tmp",
    "/private/tmp",
    "/private/var/tmp",
    "/var/folders",
    "/private/var/folders",
  ];
}

/**
 * Why directory `path` may have gone when it is under a temp directory, as a
 * possibility only (it may as well have been removed by hand): a temp
 * cleaner removes files unused for days there, then the directories left
 * empty (such as one the store emptied by deleting its objects); otherwise "".
 * `temp`: the process's temp directory.
 */
export function cleanerNote(path: string, temp: string = tmpdir()): string {
  const full = resolve(path);
  const under = tempDirs(temp).find((dir) => {
    const base = resolve(dir);
    return full.startsWith(base.endsWith(sep) ? base : base + sep);
  });
  return under === undefined
    ? ""
    : ` (it is under ${under}: a temp cleaner may have removed it, as one removes files unused for days there and then the directories left empty, such as one the store emptied; if so, keep the store's directory out of ${under})`;
}

/**
 * Creating a {@link FileStore}'s root directory (`mkdir -p`), level by level,
 * with an error that says what to fix when the path cannot hold a directory.
 * Node's own `mkdir(path, { recursive: true })` is not used: where `mkdir`
 * answers ENOENT below a directory that exists (a pseudo-filesystem such as
 * `/proc`) it retries forever, and for a symbolic link to a missing target it
 * answers a bare ENOENT, which reads as transient.
 */
import { mkdir, readlink, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { errorCode, notADirectory, UnusableDirectoryError } from "./file-errors.js";

/**
 * Make sure the directory `path` (absolute) exists, creating missing levels.
 * Resolves to the topmost level it created, or `undefined` when `path`
 * existed already (so the caller knows which parents to fsync).
 */
export async function createRoot(path: string): Promise<string | undefined> {
  try {
    await mkdir(path);
    return path;
  } catch (err) {
    const code = errorCode(err);
    if (code === "EEXIST") {
      await expectDirectory(path, err);
      return undefined;
    }
    const parent = dirname(path);
    if (code !== "ENOENT" || parent === path) throw err;
    // A level above is missing: create it, then this one.
    const created = await createRoot(parent);
    try {
      await mkdir(path);
    } catch (again) {
      if (errorCode(again) === "EEXIST") {
        // Created meanwhile by someone else.
        await expectDirectory(path, again);
        return created;
      }
      if (errorCode(again) === "ENOENT" && (await isDirectory(parent)))
        throw new UnusableDirectoryError(
          `ENOENT: cannot create '${path}' although '${parent}' exists`,
          "the filesystem does not allow creating it: choose a directory on a writable filesystem",
          { cause: again },
        );
      throw again;
    }
    return created ?? path;
  }
}

/** Check that an existing `path` is a directory, or a symbolic link to one. */
async function expectDirectory(path: string, cause: unknown): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (err) {
    if (errorCode(err) !== "ENOENT") throw err;
    // `path` exists, yet following it finds nothing: a symbolic link to a missing target.
    const target = await readlink(path).catch(() => "a missing target");
    throw new UnusableDirectoryError(
      `ENOENT: '${path}' is a symbolic link to '${target}', which does not exist`,
      "create the link's target (or mount its volume), or choose another directory",
      { cause: err },
    );
  }
  if (!isDir) throw notADirectory(path, cause);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Creating a {@link FileStore}'s root directory (`mkdir -p`), level by level,
 * with an error that says what to fix when the path cannot hold a directory.
 * Node's own `mkdir(path, { recursive: true })` is not used: where `mkdir`
 * answers ENOENT below a directory that exists (a pseudo-filesystem such as
 * `/proc`) it retries forever, and for a symbolic link to a missing target it
 * answers a bare ENOENT, which reads as transient.
 */
import { lstat, mkdir, readlink, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { errorCode, MISSING, notADirectory, UnusableDirectoryError } from "./file-errors.js";

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
    if (code === "EEXIST") return (await expectDirectory(path, err)) ? path : undefined;
    const parent = dirname(path);
    if (code !== "ENOENT" || parent === path) throw err;
    // A level above is missing: create it, then this one.
    const created = await createRoot(parent);
    try {
      await mkdir(path);
    } catch (again) {
      if (errorCode(again) === "EEXIST") {
        // Created meanwhile by someone else.
        return (await expectDirectory(path, again)) ? (created ?? path) : created;
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

/**
 * After `mkdir` found `path` taken (`taken`, its EEXIST): resolves once a
 * directory, or a symbolic link to one, is there, to whether this call made
 * it (the name was freed meanwhile, so it was made again: its parent needs an
 * fsync); rejects saying what to fix when a file is there, or a symbolic link
 * to nothing (reads through it find nothing, so moving it away would start an
 * empty store where the real one is meant to be).
 */
export async function expectDirectory(path: string, taken: unknown): Promise<boolean> {
  let cause = taken;
  // A name freed and taken again between the calls is looked at again, a few times.
  for (let look = 0; look < 4; look++) {
    const found = await lookAt(path);
    if (found === "directory") return false;
    if (found === "file") throw notADirectory(path, cause);
    if (found === "dangling link") {
      const target = await readlink(path).catch(() => "a missing target");
      throw new UnusableDirectoryError(
        `ENOENT: '${path}' is a symbolic link to '${target}', which does not exist`,
        "create the link's target (or mount its volume), or choose another directory",
        { cause },
      );
    }
    try {
      await mkdir(path);
      return true;
    } catch (err) {
      if (errorCode(err) !== "EEXIST") throw err;
      cause = err;
    }
  }
  throw cause;
}

/** What is at `path`, following a symbolic link; "gone" when nothing is. */
async function lookAt(path: string): Promise<"directory" | "file" | "dangling link" | "gone"> {
  try {
    return (await stat(path)).isDirectory() ? "directory" : "file";
  } catch (err) {
    if (!MISSING.has(errorCode(err) ?? "")) throw err;
  }
  try {
    return (await lstat(path)).isSymbolicLink() ? "dangling link" : "gone";
  } catch (err) {
    if (MISSING.has(errorCode(err) ?? "")) return "gone";
    throw err;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

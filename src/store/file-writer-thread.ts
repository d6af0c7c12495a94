/**
 * The body of a {@link FileStore}'s writer thread, and the messages it
 * exchanges with the store. The thread makes each write's system calls
 * synchronously, one after the other, so a put costs the store one hand-off
 * to the thread and one back instead of a thread-pool round trip per call
 * (open, write, fsync, close, link, directory open, fsync, close, unlink).
 * It also creates the next put's temp file ahead of time, after answering a
 * batch (see {@link writerThread}), so a put does not wait for the file
 * system to allocate one.
 *
 * {@link writerThread} is started from its own source text
 * (`new Worker(source, { eval: true })`, see `file-writer-lifecycle.ts`), not from a
 * script file: the ESM and the CommonJS builds of the package then start the
 * same code without having to find a file next to themselves, which differs
 * between the two (`import.meta.url` exists in one, `__dirname` in the other).
 * So the function must not use anything from outside its own body: no
 * imports (it gets Node's modules through `load`, see `file-writer-lifecycle.ts`), no
 * module-level values, no helpers the compiler might emit.
 */

/** A write handed to the thread. Paths are absolute. */
export type WriteRequest =
  | {
      id: number;
      op: "put";
      /** The fresh temp file to write (created exclusively), then link or rename. */
      temp: string;
      /** Where the object goes. */
      file: string;
      /** The directory holding `file`, fsynced after the link or rename when `fsync`. */
      dir: string;
      /** Link (fails with EEXIST when `file` exists) instead of rename (replaces it). */
      create: boolean;
      fsync: boolean;
      /** A copy of the caller's body, transferred to the thread. */
      body: Uint8Array;
      /**
       * A fresh temp file name (like `temp`) that the thread may create ahead of
       * time, once this request's batch is answered, and write a later put into
       * instead of that put's own `temp`.
       */
      spare?: string;
    }
  | { id: number; op: "delete"; file: string; dir: string; fsync: boolean }
  /**
   * Fail the next `count` directory fsyncs of `dir` with EIO. Fault injection
   * for tests: honoured only by a thread started with `faultInjection` (which
   * the store never does), ignored otherwise.
   */
  | { id: number; op: "failDirSyncs"; dir: string; count: number }
  /**
   * Block the thread until `until[0]` is no longer 0, setting `until[1]` to 1
   * once blocked (fault injection for tests, as above: a system call that
   * takes long).
   */
  | { id: number; op: "hold"; until: Int32Array }
  /**
   * Crash the thread with an uncaught exception, where it is in its batch
   * (fault injection for tests, as above: a bug or a fatal error in the
   * thread), an `Error` or, as `as` says, a `RangeError` (an allocation that
   * failed) or a `TypeError`.
   */
  | { id: number; op: "crash"; as?: "RangeError" | "TypeError" };

/** A system call's error as the thread saw it, rebuilt on the store's side. */
export interface ThreadError {
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
  dest?: string;
}

/** What became of one {@link WriteRequest}. */
export interface WriteReply {
  id: number;
  /**
   * `done`: written (or deleted) and, with fsync, its directory fsynced.
   * `exists`: a create found the name taken. `missing`: a delete found no file.
   * `failed`: see `error`.
   */
  outcome: "done" | "exists" | "missing" | "failed";
  /**
   * Whether the directory entry changed: the file was linked or renamed into
   * place (put) or unlinked (delete). True with `failed` means only the
   * directory fsync failed.
   */
  changed: boolean;
  error?: ThreadError;
}

/**
 * The thread's whole program. It first posts an empty batch of replies: the
 * store learns that the thread is up and has run none of its requests yet.
 * Requests that arrive together (while it was busy) are run as one batch:
 * each one's file is written, fsynced and placed, then every directory the
 * batch changed is fsynced once for all of its requests, and all replies go
 * back in one message. What the batch's puts no longer need once their bytes
 * are durable (closing their temp files, removing the temp names of creates,
 * whose objects are linked under their own names) waits until the replies
 * are posted, so the put's caller does not wait for it. Under load this cut a
 * put's mean wait by about a third (a new file's fsync also writes back its
 * temp folder on ext4 without a journal, which the removal in that folder
 * may then wait for).
 * `faultInjection` (tests only) makes it honour `failDirSyncs`, `hold` and
 * `crash` requests.
 *
 * Once a batch is answered, the thread creates a spare temp file (under the
 * newest `spare` name a put offered) while the store handles the replies;
 * the next put writes into it instead of creating its own: creating the
 * file was 0.4–0.9 ms of a 1.3–1.7 ms create on ext4 under a steady stream
 * of creates, and a put now waits only for its write, fsyncs and link. The
 * spare's descriptor stays open until the put has written it, and its name is
 * linked or renamed into place only if it is still that file (see
 * `isOpenAs`), and only by a put of the store whose temp folder it is in
 * (a put of another store sharing the thread drops it); otherwise the put
 * writes its own temp file. The spare is
 * removed after `spareIdleMs` without puts, so an idle
 * store holds no temp file; one left by a process that exited (or by a
 * thread that died) is empty and swept like any temp file of a writer that
 * is gone.
 */
export function writerThread(
  load: (id: string) => unknown,
  faultInjection: boolean,
  spareIdleMs: number,
): void {
  const fs = load("node:fs") as typeof import("node:fs");
  const { dirname } = load("node:path") as typeof import("node:path");
  const { parentPort, receiveMessageOnPort } = load(
    "node:worker_threads",
  ) as typeof import("node:worker_threads");
  const port = parentPort!;
  const queued: WriteRequest[] = [];
  /** Directory fsyncs to fail (fault injection), by directory. */
  const faults = new Map<string, number>();
  /** The temp file created ahead for the next put, open for writing. */
  let spare: { path: string; fd: number } | null = null;
  /** The newest spare name a put offered, not yet used. */
  let offered: string | undefined;
  /**
   * Temp names whose file a put of the running batch linked into place (or
   * found its key taken): no longer needed, removed once the batch is answered
   * (nothing waits on their removal). One left by a process that exits first
   * is swept like any temp file of a writer that is gone; a linked one is only
   * a second name of its object.
   */
  const linkedTemps: string[] = [];
  /** Descriptors of the running batch's fsynced temp files, closed once the batch is answered. */
  const syncedFds: number[] = [];
  /** Removes the spare once no put came for `spareIdleMs`. */
  let spareTimer: ReturnType<typeof setTimeout> | undefined;

  function describe(err: unknown): ThreadError {
    if (!(err instanceof Error)) return { message: String(err) };
    const { code, errno, syscall, path, dest } = err as NodeJS.ErrnoException & { dest?: string };
    return { message: err.message, code, errno, syscall, path, dest };
  }

  function quietly(call: () => void): void {
    try {
      call();
    } catch {
      // best effort: a leftover temp file is harmless (never listed, swept later)
    }
  }

  function fsyncDir(dir: string): void {
    const failures = faults.get(dir) ?? 0;
    if (failures > 0) {
      faults.set(dir, failures - 1);
      throw Object.assign(new Error(`EIO: i/o error, fsync '${dir}'`), {
        code: "EIO",
        syscall: "fsync",
        path: dir,
      });
    }
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      quietly(() => fs.closeSync(fd));
    }
  }

  /** Creates the spare temp file under the newest offered name (no spare if that fails). */
  function makeSpare(): void {
    const path = offered;
    offered = undefined;
    if (spare !== null || path === undefined) return;
    try {
      spare = { path, fd: fs.openSync(path, "wx") };
    } catch {
      return; // the next put creates its own temp file, and reports what fails then
    }
    if (spareTimer === undefined) spareTimer = setTimeout(dropSpare, spareIdleMs);
    else spareTimer.refresh();
  }

  /** Removes the spare temp file, if any. */
  function dropSpare(): void {
    const held = spare;
    spare = null;
    if (held === null) return;
    quietly(() => fs.closeSync(held.fd));
    quietly(() => fs.unlinkSync(held.path));
  }

  /**
   * Whether `path` is still the file open as `fd`: a regular file (not a
   * symlink) with the same device and inode. The spare is made ahead and used
   * by its name later, so whoever can write in the temp folder could have
   * replaced it meanwhile; its name is only linked or renamed into place once
   * this holds.
   */
  function isOpenAs(fd: number, path: string): boolean {
    try {
      const open = fs.fstatSync(fd, { bigint: true });
      const named = fs.lstatSync(path, { bigint: true });
      return named.isFile() && named.dev === open.dev && named.ino === open.ino;
    } catch {
      return false; // removed (ENOENT), or cannot be checked: not trusted
    }
  }

  /** Writes all of `body` to `fd`, and fsyncs it when asked. */
  function writeAll(fd: number, body: Uint8Array, fsync: boolean): void {
    for (let offset = 0; offset < body.byteLength; )
      offset += fs.writeSync(fd, body, offset, body.byteLength - offset);
    if (fsync) fs.fsyncSync(fd);
  }

  /** Write and place one object; undefined when it waits for its directory's fsync. */
  function put(request: Extract<WriteRequest, { op: "put" }>): WriteReply | undefined {
    const { id, body } = request;
    if (request.spare !== undefined) offered = request.spare;
    // A spare made in another store's temp folder (stores sharing a thread) is not this put's
    // to use: the link would cross stores, or fail across mounts.
    if (spare !== null && dirname(spare.path) !== dirname(request.temp)) dropSpare();
    // The spare, when there is one, takes the place of this put's own temp file.
    let temp = request.temp;
    let fd = -1;
    /** `temp` is the spare's name, not yet checked to still be the spare's file. */
    let unchecked = false;
    try {
      if (spare !== null) {
        ({ path: temp, fd } = spare);
        spare = null;
        unchecked = true;
      } else {
        fd = fs.openSync(temp, "wx");
      }
      writeAll(fd, body, request.fsync);
      if (unchecked) {
        if (!isOpenAs(fd, temp)) {
          // Replaced or removed since it was made: whatever is at its name now is not this
          // put's, so it is neither linked nor removed. The put goes to its own temp file.
          const orphan = fd;
          fd = -1;
          quietly(() => fs.closeSync(orphan));
          temp = request.temp;
          fd = fs.openSync(temp, "wx");
          writeAll(fd, body, request.fsync);
        }
        unchecked = false;
      }
      const closing = fd;
      fd = -1;
      // After a successful fsync a failed close cannot lose the bytes, so it waits until the
      // batch is answered; without fsync it may, and it is checked here.
      if (request.fsync) syncedFds.push(closing);
      else fs.closeSync(closing);
      if (request.create) {
        try {
          fs.linkSync(temp, request.file);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
          linkedTemps.push(temp);
          return { id, outcome: "exists", changed: false };
        }
        // The object is in place under its own name; the temp name is no longer needed, and is
        // removed once the batch is answered.
        linkedTemps.push(temp);
      } else {
        fs.renameSync(temp, request.file);
      }
    } catch (err) {
      // An unchecked spare's name is removed only if it is still the spare.
      const ours = !unchecked || (fd >= 0 && isOpenAs(fd, temp));
      if (fd >= 0) quietly(() => fs.closeSync(fd));
      if (ours) quietly(() => fs.unlinkSync(temp));
      return { id, outcome: "failed", changed: false, error: describe(err) };
    }
    return request.fsync ? undefined : { id, outcome: "done", changed: true };
  }

  function remove(request: Extract<WriteRequest, { op: "delete" }>): WriteReply | undefined {
    const { id } = request;
    try {
      fs.unlinkSync(request.file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR")
        return { id, outcome: "missing", changed: false };
      return { id, outcome: "failed", changed: false, error: describe(err) };
    }
    return request.fsync ? undefined : { id, outcome: "done", changed: true };
  }

  /** Takes the requests that have reached the thread and are not delivered yet. */
  function drain(): void {
    for (
      let next = receiveMessageOnPort(port);
      next !== undefined;
      next = receiveMessageOnPort(port)
    )
      queued.push(next.message as WriteRequest);
  }

  /** Runs the queued requests as one batch and posts their replies. */
  function answer(): void {
    const batch = queued.splice(0);
    const replies: WriteReply[] = [];
    /** Requests waiting for the fsync of their directory, by directory. */
    const syncs = new Map<string, number[]>();
    for (const request of batch) {
      if (request.op === "failDirSyncs") {
        if (faultInjection) faults.set(request.dir, request.count);
        continue;
      }
      if (request.op === "hold") {
        if (faultInjection) {
          Atomics.store(request.until, 1, 1);
          Atomics.wait(request.until, 0, 0);
        }
        continue;
      }
      if (request.op === "crash") {
        if (faultInjection) {
          const message = "the writer thread crashed (injected)";
          if (request.as === "RangeError") throw new RangeError(message);
          if (request.as === "TypeError") throw new TypeError(message);
          throw new Error(message);
        }
        continue;
      }
      const reply = request.op === "put" ? put(request) : remove(request);
      if (reply !== undefined) replies.push(reply);
      else {
        const waiting = syncs.get(request.dir);
        if (waiting === undefined) syncs.set(request.dir, [request.id]);
        else waiting.push(request.id);
      }
    }
    // One fsync per directory covers every change the batch made in it.
    for (const [dir, ids] of syncs) {
      let error: ThreadError | undefined;
      try {
        fsyncDir(dir);
      } catch (err) {
        error = describe(err);
      }
      for (const id of ids)
        replies.push(
          error === undefined
            ? { id, outcome: "done", changed: true }
            : { id, outcome: "failed", changed: true, error },
        );
    }
    if (replies.length > 0) port.postMessage(replies);
  }

  function run(): void {
    try {
      answer();
    } finally {
      // While the store handles the replies (or as the thread dies): what the batch's puts no
      // longer need, their fsynced files' descriptors and the temp names of their creates.
      for (const fd of syncedFds.splice(0)) quietly(() => fs.closeSync(fd));
      for (const temp of linkedTemps.splice(0)) quietly(() => fs.unlinkSync(temp));
    }
    // Then the next put's temp file.
    makeSpare();
  }

  port.postMessage([]);
  port.on("message", (request: WriteRequest) => {
    queued.push(request);
    // The requests that queued up while the thread was busy run as one batch, sharing their
    // directory fsyncs. They are taken from the port at once, not after another turn of the
    // event loop, and so are those that come while a batch runs.
    for (drain(); queued.length > 0; drain()) run();
  });
}

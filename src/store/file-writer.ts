/**
 * A {@link FileStore}'s writer thread, seen from the store: hands each small
 * put or delete to the thread in one message and resolves with its reply. The
 * thread's program is in `file-writer-thread.ts`.
 *
 * The store uses the thread only for writes it {@link FileWriter.accepts}:
 * bodies up to {@link THREAD_MAX_BODY}, once the thread is up, while fewer
 * than {@link THREAD_MAX_PENDING} writes are on it. Everything else (large
 * bodies, the writes of a burst beyond those, the writes before the thread
 * is up, every write of a store whose thread cannot start) takes the thread
 * pool through `fs/promises`, with the same system calls and outcomes.
 *
 * The thread is started in the background once the store has made
 * {@link START_AFTER} writes in a row, each within {@link IDLE_MS} of the
 * one before, or at once when a log on the store has twice hinted that
 * writes are coming (two WAL batches each gathering appends from several
 * callers), the second within {@link IDLE_MS} of the first
 * ({@link FileWriter.expectWrites}). So a store that writes (or bursts)
 * less often than that never holds one, and no write waits for a thread to
 * start. It never holds the process open
 * by itself: it is unref'd whenever no write is pending (a pending write keeps
 * the process alive, as a pending thread-pool call would), and it is ended
 * after {@link IDLE_MS} without writes. If the store's first thread cannot be
 * started, or fails before it is up (a runtime that forbids threads, a
 * bundler that rewrote its source: causes that do not pass), the store warns
 * once and uses the thread pool for the rest of its life.
 *
 * If it dies once up, the writes it had pending reject and a new thread is
 * started later, but not in a loop: the timings and the restart rule are in
 * `file-writer-lifecycle.ts`.
 */
import type { Worker } from "node:worker_threads";
import { refreshTimer, unrefTimer } from "../util/timers.js";
import type { CallDeadline, DeadlineSignal } from "./deadline.js";
import { systemError, threadDied } from "./file-errors.js";
import {
  IDLE_MS,
  SPARE_IDLE_MS,
  START_AFTER,
  startWriterThread,
  WriterRestarts,
} from "./file-writer-lifecycle.js";
import type { WriteReply, WriteRequest } from "./file-writer-thread.js";

/**
 * Largest body handed to the thread. The thread saves a put's thread-pool
 * round trips, about 0.3 ms, which matters for the small creates of the log
 * and is noise beside the write and fsync of a larger body. A larger body
 * would cost a copy on the event loop (the caller's buffer cannot be taken)
 * and hold up the log's small creates queued behind its write and fsync on
 * the one thread; on the pool it is written from the caller's buffer, beside
 * the thread. Below the queue's payload offload threshold (256 KiB), so
 * offloaded payloads and checkpoints take the pool.
 */
export const THREAD_MAX_BODY = 64 << 10;
/**
 * Most writes on the thread at once; a write beyond them takes the pool. The
 * thread makes its writes' fsyncs one after another, where the pool makes
 * four at once (which the filesystem folds into fewer journal commits), so a
 * burst of writes (payload deletes, many producers) is faster on the pool;
 * the log's sequential creates keep the thread. It also bounds a batch, so
 * the thread's answers are resolved a few per turn of the event loop.
 */
export const THREAD_MAX_PENDING = 4;

/** What a write needs to say; the id is added here. */
type Request = WriteRequest extends infer R
  ? R extends { id: number }
    ? Omit<R, "id">
    : never
  : never;

interface Pending {
  resolve: (result: WriteResult) => void;
  reject: (err: unknown) => void;
  /** Its caller's deadline passed: it no longer keeps the process alive. */
  abandoned: boolean;
}

/** A write's outcome with its error rebuilt as a Node.js system error. */
export interface WriteResult {
  outcome: WriteReply["outcome"];
  changed: boolean;
  error?: Error;
}

/** Options of {@link FileWriter}, for tests. */
export interface FileWriterOptions {
  /** Starts the thread (default {@link startWriterThread}). */
  start?: () => Worker;
  /** Writes through the pool before the thread is started (default {@link START_AFTER}). */
  startAfter?: number;
  /** How long the thread stays up without writes (default {@link IDLE_MS}). */
  idleMs?: number;
  /** Monotonic time in milliseconds (default `performance.now`). */
  now?: () => number;
}

export class FileWriter {
  readonly #start: () => Worker;
  readonly #startAfter: number;
  readonly #idleMs: number;
  readonly #now: () => number;
  #worker: Worker | undefined;
  /** The thread has posted its first message: it runs requests. */
  #up = false;
  /** Why the thread cannot be used; set once, for the store's life. */
  #unavailable: string | undefined;
  /** Writes seen in a row, each within {@link IDLE_MS} of the one before, while no thread runs. */
  #seen = 0;
  /** When the last write was seen while no thread runs ({@link #now}). */
  #lastSeenAt = Number.NEGATIVE_INFINITY;
  /** When the last hint that writes are coming was given ({@link #now}); see {@link expectWrites}. */
  #lastHintAt = Number.NEGATIVE_INFINITY;
  /** The thread has answered at least one write: see {@link #idleOut}. */
  #served = false;
  /** How many threads died in a row, and when the next may start. */
  readonly #restarts = new WriterRestarts();
  /** Resolve when the thread is up or unavailable. */
  #upWaiters: Array<() => void> = [];
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  /** Pending writes not abandoned: while there are any, the thread keeps the process alive. */
  #awaited = 0;
  #idle: NodeJS.Timeout | undefined;
  /** Callers of {@link stop} waiting for the writes on the thread to be answered. */
  #drainWaiters: Array<() => void> = [];

  constructor(options: FileWriterOptions = {}) {
    // The spare temp file goes before the thread is ended for being idle.
    this.#start =
      options.start ?? (() => startWriterThread(false, Math.min(SPARE_IDLE_MS, this.#idleMs / 2)));
    this.#startAfter = options.startAfter ?? START_AFTER;
    this.#idleMs = options.idleMs ?? IDLE_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Whether a write of `bodyBytes` (0 for a delete) should go to the thread
   * now. Counts the write, and starts the thread in the background once
   * enough writes were seen. A yes holds only until the caller's next await:
   * it must call {@link write} at once.
   */
  accepts(bodyBytes: number): boolean {
    if (this.#unavailable !== undefined) return false;
    if (this.#up) return bodyBytes <= THREAD_MAX_BODY && this.#pending.size < THREAD_MAX_PENDING;
    if (this.#worker === undefined) {
      // A gap as long as a thread would stay idle: the writes before it do not count.
      const now = this.#now();
      if (now - this.#lastSeenAt > this.#idleMs) this.#seen = 0;
      this.#lastSeenAt = now;
      // During the backoff after a death the writes still count: the thread starts at the
      // first write after it if they came in a row.
      if (++this.#seen >= this.#startAfter && this.#restarts.allows(now)) this.#launch();
    }
    return false;
  }

  /**
   * The log's hint that a steady stream of writes may be starting (one WAL
   * batch gathered appends from several callers, see `write-hint.ts`).
   * The second hint within {@link IDLE_MS} of the one before starts the
   * thread now, in the background, rather than at the {@link START_AFTER}th
   * write in a row, so that it is up before most of the stream's first
   * writes. One hint alone, or hints further apart than that, start none: a
   * store that writes a burst now and then would start a thread that serves
   * none of its writes (the burst's batch has gone to the pool) and is ended
   * before the next. Nothing while a thread runs or is starting, after the
   * store gave up on threads or was closed, or during the backoff after a
   * death (the hint comes with every batch of a busy log: it must not
   * restart a dying thread in a loop).
   */
  expectWrites(): void {
    const now = this.#now();
    const before = this.#lastHintAt;
    this.#lastHintAt = now;
    if (this.#unavailable !== undefined || this.#worker !== undefined) return;
    if (now - before <= this.#idleMs && this.#restarts.allows(now)) this.#launch();
  }

  /**
   * For tests only: starts the thread now if needed, skipping the backoff
   * after a death (not after the store gave up); resolves with whether it is
   * up (false: unavailable, failed before it was up, or did not come up
   * within the idle time). The store never calls it: a caller that did on
   * each write would restart a dying thread in a loop.
   */
  async started(): Promise<boolean> {
    if (this.#unavailable === undefined && !this.#up) {
      if (this.#worker === undefined) this.#launch();
      const worker = this.#worker;
      if (worker !== undefined) {
        // Waiting for it keeps the process alive, as a pending write does.
        worker.ref();
        await new Promise<void>((resolve) => this.#upWaiters.push(resolve));
        if (this.#awaited === 0) worker.unref();
      }
    }
    return this.#up;
  }

  /** The thread, for tests (fault injection); undefined when none runs. */
  get thread(): Worker | undefined {
    return this.#worker;
  }

  /**
   * Hand one write to the thread (only after {@link accepts} said yes).
   * Resolves with what became of it, whenever that is: `signal` aborting (the
   * caller's deadline, a {@link CallDeadline} or an `AbortSignal`) only stops
   * it keeping the process alive. Rejects if the thread dies first (the write
   * may or may not have taken effect).
   * `posted` runs when the request is actually sent to the thread.
   */
  write(request: Request, signal?: DeadlineSignal, posted?: () => void): Promise<WriteResult> {
    const worker = this.#worker;
    if (worker === undefined || !this.#up)
      return Promise.reject(new Error("the FileStore writer thread is not running"));
    // Its caller already gave up (its deadline passed before it got here): nothing is posted.
    if (signal?.aborted) return Promise.reject(signal.reason);
    const id = this.#nextId++;
    let body: ReturnType<typeof copyOf> | undefined;
    try {
      // The thread gets its own copy: the caller's buffer is never detached or shared. Made
      // before the write counts as pending: a body the caller detached throws here, and only
      // this write fails.
      if (request.op === "put") body = copyOf(request.body);
    } catch (err) {
      return Promise.reject(err);
    }
    const message = (
      body === undefined ? { ...request, id } : { ...request, id, body }
    ) as WriteRequest;
    return new Promise<WriteResult>((resolve, reject) => {
      const entry: Pending = {
        abandoned: false,
        resolve: (result) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(result);
        },
        reject: (err) => {
          signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      const onAbort = () => {
        if (entry.abandoned || !this.#pending.has(id)) return;
        entry.abandoned = true;
        this.#release();
      };
      this.#pending.set(id, entry);
      if (this.#awaited++ === 0) worker.ref();
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        if (body !== undefined) worker.postMessage(message, [body.buffer]);
        else worker.postMessage(message);
      } catch (err) {
        // Not posted (a value that cannot be sent): only this write fails.
        this.#pending.delete(id);
        this.#release();
        entry.reject(err);
        this.#checkDrained();
        return;
      }
      posted?.();
    });
  }

  /**
   * Ends the thread once the writes on it are answered (at once when there
   * are none) and starts no other: every later write takes the pool. For
   * `FileStore.close`. Idempotent.
   */
  async stop(): Promise<void> {
    this.#unavailable ??= "the store was closed";
    while (this.#pending.size > 0)
      await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
    clearTimeout(this.#idle);
    this.#idle = undefined;
    const worker = this.#worker;
    if (worker === undefined) return;
    this.#ended();
    this.#wakeUpWaiters();
    await worker.terminate().catch(() => {});
  }

  /** Wakes {@link stop} once no write is on the thread. */
  #checkDrained(): void {
    if (this.#pending.size > 0 || this.#drainWaiters.length === 0) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Starts the thread in the background; writes use the pool until it says it is up. */
  #launch(): void {
    let worker: Worker;
    try {
      worker = this.#start();
    } catch (err) {
      // As a thread that failed before it was up: the next needs more writes in a row.
      this.#seen = 0;
      this.#failed(err, this.#now());
      return;
    }
    worker.on("message", (replies: WriteReply[]) => {
      if (this.#worker !== worker) return;
      if (!this.#up) {
        this.#up = true;
        this.#restarts.up(this.#now());
        this.#wakeUpWaiters();
      }
      for (const reply of replies) {
        const pending = this.#pending.get(reply.id);
        if (pending === undefined) continue;
        this.#pending.delete(reply.id);
        this.#served = true;
        if (!pending.abandoned) this.#release();
        pending.resolve(
          reply.error === undefined
            ? { outcome: reply.outcome, changed: reply.changed }
            : { outcome: reply.outcome, changed: reply.changed, error: systemError(reply.error) },
        );
      }
      this.#refreshIdle();
      this.#checkDrained();
    });
    worker.on("error", (err) => this.#lost(worker, err, threadDied(err)));
    worker.on("messageerror", (err) => this.#lost(worker, err, threadDied(err)));
    worker.on("exit", (code) => {
      const exited = new Error(`the FileStore writer thread exited with code ${code}`);
      this.#lost(worker, exited, exited);
    });
    // After the listeners, which would ref it again.
    worker.unref();
    this.#worker = worker;
    if (this.#idle === undefined) this.#idle = this.#armIdle();
    else this.#refreshIdle();
  }

  /** A new unref'd idle timer, for a full idle spell. */
  readonly #armIdle = (): NodeJS.Timeout => {
    const idle = setTimeout(() => this.#idleOut(), this.#idleMs);
    unrefTimer(idle);
    return idle;
  };

  /** Restarts the idle timer, if armed, for a full idle spell. */
  #refreshIdle(): void {
    if (this.#idle !== undefined) this.#idle = refreshTimer(this.#idle, this.#armIdle);
  }

  /** A pending write was answered or abandoned. */
  #release(): void {
    if (--this.#awaited === 0) {
      this.#worker?.unref();
      this.#refreshIdle();
    }
  }

  #idleOut(): void {
    const worker = this.#worker;
    if (worker === undefined) return;
    // Still busy (or a stalled write never returned): check again after another idle spell.
    if (this.#pending.size > 0) {
      this.#refreshIdle();
      return;
    }
    // It answered writes, then had none: it served its store, the deaths before it no longer
    // count. One that came up and was never given a write proves nothing (it may be one that
    // dies at its first): clearing the count for it would let a store whose bursts alternate
    // such threads with ones that die restart a dying thread forever.
    this.#restarts.idledOut(this.#served);
    this.#ended();
    void worker.terminate();
    // Never came up (a preload that hangs, say): whoever waits for it learns it is not up; a
    // new thread is tried after more writes.
    this.#wakeUpWaiters();
  }

  /** The thread is gone (idle, or died): the next {@link START_AFTER} writes (in a row) use the pool. */
  #ended(): void {
    this.#worker = undefined;
    this.#up = false;
    this.#served = false;
    this.#seen = 0;
    this.#awaited = 0;
  }

  /**
   * The thread died or failed (of `err`), before it was up or after: its
   * pending writes fail, with `failure` (a plain `Error`: see `threadDied`).
   */
  #lost(worker: Worker, err: unknown, failure: Error): void {
    if (this.#worker !== worker) return;
    const wasUp = this.#up;
    const now = this.#now();
    // Up long enough, and answered writes, so it served its store: this death starts a new
    // count. One that answered none (a write that stalled from the start kept it up) proves
    // nothing. Read before #ended clears it.
    this.#restarts.lost(wasUp && this.#served, now);
    this.#ended();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#checkDrained();
    this.#failed(err, now);
    // Answered once the thread has stopped: none of their system calls can land after that,
    // so the store may then fsync on its side whatever they may have placed.
    void worker
      .terminate()
      .catch(() => {})
      .then(() => {
        for (const { reject } of pending) reject(failure);
      });
  }

  /**
   * A thread died, or could not start or failed before it was up: the store
   * gives up on threads, or tries one again later (see {@link WriterRestarts.failed}).
   */
  #failed(err: unknown, now: number): void {
    const givenUp = this.#restarts.failed(err, now);
    if (givenUp !== undefined) this.#giveUp(givenUp);
    // One that failed before it was up: whoever waits for it learns it is not.
    else this.#wakeUpWaiters();
  }

  /** The thread cannot be used (`what` it did, for the warning): warn once, and leave every write to the pool. */
  #giveUp(what: string): void {
    this.#unavailable = what;
    process.emitWarning(
      `taquba FileStore: the writer thread ${what}; writes use the thread pool instead`,
      { code: "TAQUBA_FILESTORE_WRITER" },
    );
    this.#wakeUpWaiters();
  }

  #wakeUpWaiters(): void {
    const waiters = this.#upWaiters;
    this.#upWaiters = [];
    for (const wake of waiters) wake();
  }
}

/** A copy of `body` in a buffer of its own, which can be transferred to the thread. */
function copyOf(body: Uint8Array) {
  return new Uint8Array(body);
}

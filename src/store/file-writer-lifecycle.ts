/**
 * When a {@link FileStore}'s writer thread is started, ended and started
 * again: the thread's source text, the timings, and the rule that keeps a
 * thread that keeps dying from being restarted in a loop. Separate from
 * `file-writer.ts`, which hands writes to the thread and follows it, so the
 * numbers and the restart rule read in one place.
 *
 * If it dies once up (a crash, an out-of-memory, a resource limit), the
 * writes it had pending reject (their outcome is unknown, and each costs the
 * caller a retry: the log sees a failed create) and a new thread is started
 * later, but not in a loop. A later thread that fails at its start counts as
 * a death too: once one of the store's threads has come up, the causes that
 * do not pass are ruled out, and what is left (a memory squeeze, a resource
 * limit) is what kills a thread that is up. Deaths in a row back off: after
 * the first, no new thread starts for {@link RESTART_DELAY_MS}, after the
 * second for twice that (a condition that passes, such as a short memory
 * squeeze, has time to clear; the writes meanwhile take the pool), and the
 * {@link MAX_DEATHS}th gives up as a first thread that cannot start does: one
 * warning, and the pool for the store's life. So at most {@link MAX_DEATHS}
 * deaths in a row, each failing at most `THREAD_MAX_PENDING` writes. A
 * thread that answered writes and is then ended for being idle, or that
 * answered writes and dies after it has been up for {@link HEALTHY_MS}, has
 * served its store: the deaths before it no longer count (a new run starts),
 * so a thread that dies now and then (once a day, say) is always replaced.
 * The warning comes once, when the store gives up; a death that is retried
 * is not logged (each shows as the failed writes it had pending).
 */
import { Worker } from "node:worker_threads";
import { messageOf } from "../util/message.js";
import { writerThread } from "./file-writer-thread.js";

/**
 * Writes a store makes through the thread pool, each within {@link IDLE_MS}
 * of the one before, before it starts its thread. Few, so a store that starts
 * writing steadily (a queue taking traffic) has its thread within its first
 * few log writes instead of spending its first hundreds of milliseconds on
 * the pool; more than opening and closing a queue make (4 and 2), so a queue
 * opened, used for a job and closed starts none; and the gap rule keeps a
 * store that writes now and then (fewer writes than this in any
 * {@link IDLE_MS}) on the pool, never starting a thread it would end again
 * before its next write. The log's hint (`FileWriter.expectWrites`) starts
 * the thread sooner, but under the same gap rule: only at the second WAL
 * batch gathering appends from several callers within {@link IDLE_MS} of the
 * first, so a store that bursts now and then starts none either.
 */
export const START_AFTER = 8;
/**
 * How long the thread stays up without writes. An idle thread holds about
 * 8 MB of resident memory: a store dropped without `FileStore.close` (or
 * whose queue closed) gives its thread back this long after its last write. The
 * thread only pays off under a steady stream of writes; a store that writes
 * again after this long uses the pool until its thread is back up (a
 * restart is a few milliseconds of another core's time).
 */
export const IDLE_MS = 2_000;
/**
 * How long the thread keeps the temp file it made ahead for the next put
 * when no put comes (see `writerThread`): long enough to span the gaps of a
 * store that keeps writing, and well within {@link IDLE_MS}, so the thread
 * has removed it before it is ended for being idle.
 */
export const SPARE_IDLE_MS = IDLE_MS / 2;
/**
 * How long no new thread is started after a thread died once up, doubled
 * for each further death in a row. Long enough for a passing condition to
 * clear, short enough that a thread that died once (a fluke) is back within
 * a second of steady writes.
 */
export const RESTART_DELAY_MS = 1_000;
/**
 * Deaths in a row after which the store uses the pool for good: a thread
 * that keeps dying has a cause that will not go away by itself, and each of
 * its deaths fails the writes it had pending.
 */
export const MAX_DEATHS = 3;
/**
 * How long a thread that answered writes must have been up for its death not
 * to count with the ones before it: by then it has served many writes (it is
 * ended after {@link IDLE_MS} without any), and its death is a new problem,
 * not the same one again. One that answered none was kept up by a write that
 * stalled, not by serving: its death counts.
 */
export const HEALTHY_MS = 30_000;

/** The thread's source; `faultInjection` only for tests. See `file-writer-thread.ts` for why a function's text. */
function source(faultInjection: boolean, spareIdleMs: number): string {
  // A bundler that keeps function names (esbuild `--keep-names`) wraps functions in
  // `__name(fn, "name")`, a helper defined outside this text: an identity stands in for it.
  return `"use strict";
var __name = (target) => target;
(${writerThread.toString()})(
  typeof require === "function" ? require : (id) => process.getBuiltinModule(id),
  ${faultInjection},
  ${spareIdleMs},
);
`;
}

/**
 * Starts a writer thread. Only tests pass `faultInjection`, which makes the
 * thread honour its fault-injection requests (`failDirSyncs`, `hold`, `crash`),
 * and a shorter `spareIdleMs`.
 */
export function startWriterThread(faultInjection = false, spareIdleMs = SPARE_IDLE_MS): Worker {
  // Without the process's execArgv: `--input-type=module` would make the source a module
  // (no `require`). NODE_OPTIONS still applies to the thread, so `--import`/`--require`
  // preloads given there run in it too (their cost is paid once per thread start).
  return new Worker(source(faultInjection, spareIdleMs), {
    eval: true,
    execArgv: [],
    name: "taquba FileStore writer",
  });
}

/**
 * The restart rule of one store's writer threads: how many died in a row,
 * and when the next may start. The store asks {@link allows} before it
 * starts a thread, and tells it when a thread comes up, is ended for being
 * idle, is lost, or fails.
 */
export class WriterRestarts {
  /** A thread of this store has come up: see {@link failed}. */
  #everUp = false;
  /** When the thread came up (monotonic ms). */
  #upAt = 0;
  /**
   * Threads in a row that died, or that failed to start once one had been
   * up; see {@link MAX_DEATHS}.
   */
  #deaths = 0;
  /** No new thread is started before this time (monotonic ms): the backoff after a death. */
  #restartAt = Number.NEGATIVE_INFINITY;

  /** Whether a new thread may start at `now`: no backoff after a death is running. */
  allows(now: number): boolean {
    return now >= this.#restartAt;
  }

  /** A thread came up at `now`. */
  up(now: number): void {
    this.#everUp = true;
    this.#upAt = now;
  }

  /**
   * A thread was ended for being idle; `served`: it answered writes. Such a
   * thread served its store: the deaths before it no longer count.
   */
  idledOut(served: boolean): void {
    if (served) this.#deaths = 0;
  }

  /**
   * A thread was lost at `now`; `servedUp`: it was up and answered writes.
   * Up long enough as well ({@link HEALTHY_MS}), it served its store: this
   * death starts a new count.
   */
  lost(servedUp: boolean, now: number): void {
    if (servedUp && now - this.#upAt >= HEALTHY_MS) this.#deaths = 0;
  }

  /**
   * A thread died, or could not start or failed before it was up, at `now`.
   * While no thread of this store has come up, the cause is one that does
   * not pass (threads forbidden, a rewritten source): give up at once. Once
   * one has, those are ruled out, and a thread that fails at its start has
   * the passing kind of cause a death has (a memory squeeze, a resource
   * limit): it counts as a death, backed off, given up on after
   * {@link MAX_DEATHS} in a row. Returns what the thread did, for the
   * warning, when the store gives up; undefined when a thread is tried
   * again after the backoff.
   */
  failed(err: unknown, now: number): string | undefined {
    if (!this.#everUp) return `could not start (${messageOf(err)})`;
    if (++this.#deaths >= MAX_DEATHS)
      return `died ${this.#deaths} times in a row (${messageOf(err)})`;
    this.#restartAt = now + RESTART_DELAY_MS * 2 ** (this.#deaths - 1);
    return undefined;
  }
}

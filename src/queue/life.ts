/**
 * The life cycle of an open queue's core: open, then closing (timers and
 * waits stopped, the log flushed and closed, a closing heartbeat, every
 * queued event told) or failed (the log failed for good: everything stops at
 * once and every later call rejects with that error). Also reports a failing
 * timer pass once rather than at every tick. `core.ts` delegates its
 * `check`, `failure`, `closed` and `close` here.
 */
import { ClosedError } from "../errors.js";
import { messageOf } from "../util/message.js";
import { releaseUnhanded } from "./claiming.js";
import type { QueueCore } from "./core.js";
import type { Heartbeat } from "./heartbeat.js";

function noop(): void {}

/** Whether one queue core is open, closing or failed, and the steps between. */
export class QueueLife {
  readonly #core: QueueCore;
  /** What failed the log for good, or `null`. */
  #failure: Error | null = null;
  /** Whether the instrumentation's `close` ran (it reports until the log is closed). */
  #telemetryStopped = false;
  /** Message of the last failed timer pass, reported once until a pass succeeds. */
  #passFailure: string | null = null;
  #closing: Promise<void> | null = null;
  /**
   * In the close's steps before its log closes: a lease still live may be
   * settled (see {@link checkSettle}).
   */
  #settling = false;
  /** The writer's liveness beat, when configured. */
  #heartbeat: Heartbeat | null = null;
  /** Called once when the queue closes or fails (see {@link onStopped}); made on first use. */
  #onStopped: Set<() => void> | null = null;
  /** The queue closed or failed: {@link onStopped} callbacks were called. */
  #stopped = false;
  /** `close()` was called (see {@link closing}). */
  #closeBegun = false;

  constructor(core: QueueCore) {
    this.#core = core;
  }

  /** Throws unless the queue is open: its failure, or `ClosedError`. */
  check(): void {
    if (this.#failure !== null) throw this.#failure;
    if (this.#closing !== null) throw new ClosedError("queue is closed");
  }

  /**
   * {@link check} for a call that settles a lease still live (ack, nack,
   * deadLetter, release, a transaction that only settles or cancels) or
   * cancels a job: it also passes in the close's steps before the log
   * closes, so a claim signal's abort listener the close runs can still
   * settle its claim, and the closing flush makes that durable.
   */
  checkSettle(): void {
    if (this.#settling && this.#failure === null) return;
    this.check();
  }

  /** What failed the log for good (`FencedError`, `StorageError`), or `null`. */
  get failure(): Error | null {
    return this.#failure;
  }

  /** `true` once closed, or after the log failed. */
  get closed(): boolean {
    return this.#closing !== null || this.#failure !== null;
  }

  /**
   * `true` from the moment `close()` is called, while it still makes the
   * schedule fires already due (the queue not yet {@link closed}), and after:
   * a worker starts no handler from then on.
   */
  get closing(): boolean {
    return this.#closeBegun || this.closed;
  }

  /** `close()` was called: {@link closing} from now on. */
  beginClose(): void {
    this.#closeBegun = true;
  }

  /**
   * Calls `callback` once, as soon as the queue closes or fails (never, if it
   * already did: {@link closed} says so): how a worker whose handlers all
   * still run learns that the queue stopped under it. Returns the function
   * that removes it (the worker's end). A plain set, not an `AbortSignal`:
   * any number of workers may wait on one queue.
   */
  onStopped(callback: () => void): () => void {
    if (this.#stopped) return noop;
    this.#onStopped ??= new Set();
    const callbacks = this.#onStopped;
    callbacks.add(callback);
    return () => {
      callbacks.delete(callback);
    };
  }

  /** Beats from now on; stopped (with a closing beat on a clean close) when the queue closes. */
  attachHeartbeat(heartbeat: Heartbeat): void {
    this.#heartbeat = heartbeat;
  }

  /**
   * See `QueueCore.close`. The queue counts as closed from here on (the
   * public `close` first lets earlier schedule writes and due fires finish):
   * code of the caller that the close runs (a claim signal's abort listener,
   * a worker's {@link onStopped} callback) finds new work refused with
   * `ClosedError`, and a `close()` from there joins this one. Until the log
   * closes, settling a lease still live and cancelling a job pass (see
   * {@link checkSettle}).
   */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    let closing!: (outcome: Promise<void>) => void;
    this.#closing = new Promise<void>((resolve) => {
      closing = resolve;
    });
    this.#settling = true;
    try {
      closing(this.#closeSteps());
    } catch (error) {
      closing(Promise.reject(error));
    } finally {
      this.#settling = false;
    }
    return this.#closing;
  }

  /** The steps of {@link close}, once the queue counts as closed. */
  #closeSteps(): Promise<void> {
    // Written before the log closes: claims nobody was handed are given back.
    if (this.#failure === null) releaseUnhanded(this.#core);
    const closed = new ClosedError("queue closed");
    // Waits on jobs whose end is logged already hear of it once the closing
    // flush makes it durable; the rest end with `closed` after that flush.
    this.#stop(closed, false);
    // Settlements made so far are in the closing flush; none after it.
    this.#settling = false;
    const completions = this.#core.completions;
    const heartbeat = this.#heartbeat;
    // Telemetry stops once the log is closed: the observers still hear of
    // the transitions the closing flush makes durable (acknowledged enqueues).
    if (this.#failure !== null)
      return this.#core.log.close().then(() => this.#stopTelemetry(), noop);
    return this.#core.log.close().then(
      async () => {
        completions.rejectAll(closed);
        this.#stopTelemetry();
        await heartbeat?.stop(true);
        await this.#core.events.drained();
      },
      (error: unknown) => {
        completions.rejectAll(this.#failure ?? closed);
        this.#stopTelemetry();
        heartbeat?.stop(false);
        throw error;
      },
    );
  }

  /**
   * Runs a timer's pass. A pass that throws (a clock reading before 1970) is
   * reported once, not on every tick, and tried again at the next tick; its
   * writes' failures surface through the log's failure handler.
   */
  background(what: string, pass: () => Promise<void>): void {
    try {
      pass().catch(noop);
      this.#passFailure = null;
    } catch (error) {
      const message = messageOf(error);
      if (this.#passFailure === message) return;
      this.#passFailure = message;
      this.#core.logger.error(`${what} pass failed; retrying at its next tick: ${message}`);
    }
  }
  /**
   * Stop timers, release waiters and leases; end the waits for jobs to
   * complete with `reason` too, unless `completions` is false (a clean close
   * ends them after its last flush).
   */
  #stop(reason: Error, completions = true): void {
    this.#stopped = true;
    this.#core.timers.stop();
    this.#core.payloads.stop(reason);
    if (completions) this.#core.completions.rejectAll(reason);
    this.#core.schedules.stop();
    this.#core.rateLimits.stop();
    this.#core.waiters.releaseAll();
    this.#core.leases.clear(reason);
    // Last: the callbacks (workers) find the queue closed and its leases gone.
    const callbacks = this.#onStopped;
    this.#onStopped = null;
    if (callbacks !== null) for (const callback of callbacks) callback();
  }

  /** The log failed for good (fenced, storage): every later call rejects with `error`. */
  fail(error: Error): void {
    if (this.#failure !== null) return;
    this.#failure = error;
    this.#heartbeat?.stop(false);
    this.#core.logger.error(`queue closed after a log failure: ${error.message}`, { error });
    this.#stop(error);
    // Nothing becomes durable after a failure: telemetry stops now.
    this.#stopTelemetry();
    if (this.#closing === null) this.#closing = this.#core.log.close().catch(noop);
  }

  /** Stops the telemetry's reporting (its metrics observer and collection callback), once. */
  #stopTelemetry(): void {
    if (this.#telemetryStopped) return;
    this.#telemetryStopped = true;
    this.#core.instrumentation?.close();
  }
}

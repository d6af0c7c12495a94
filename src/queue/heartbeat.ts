/**
 * The writer's liveness beat (`OpenOptions.heartbeatMs`): a small object
 * `{path}/heartbeat/<epoch>` that the open writer rewrites every interval,
 * so a reader (dashboards, the CLI, another process deciding whether to take
 * over) can tell a live writer from a dead or stalled one. Owns the beat's
 * object, format and timer, and reading it back.
 *
 * The beat is liveness, not job state: it is not in the log, and a failed
 * beat only gets logged (once per run of failures) and retried at the next
 * tick; the counter advances even when a beat fails, so a reader sees the
 * gap. Each writer beats under its own epoch, so a fenced writer that has not
 * noticed yet cannot overwrite its successor's beat; readers take the
 * highest epoch. After each timed beat the writer also looks for a newer
 * writer (`Log.checkFence`), so an idle writer learns of a takeover within
 * about one interval, where without a beat it learns only at its next write.
 * The look runs on its own, one at a time: a slow or failing listing never
 * delays a beat (a writer that looks stale may be taken over without
 * `--take-over`), and at most one beat is written under the old epoch after a
 * takeover, which readers ignore as they take the highest epoch. The first
 * beat is written during open (the counter
 * continues from the newest stored beat), a closing beat (`closed: true`) on
 * a clean close, and beats of older epochs are deleted once the first beat
 * of a new writer is stored.
 */
import { type MonotonicClock, startTimer, type TimerHandle } from "../clock.js";
import { formatId, normalizePrefix } from "../log/keys.js";
import type { Logger } from "../logger.js";
import { listAll, type ObjectStore } from "../store/types.js";

/** What a writer's heartbeat says; read with `QueueReader.writerHeartbeat()`. */
export interface WriterHeartbeat {
  /** Beats so far across every writer of the store (continues after a takeover). */
  counter: number;
  /** Wall time of this beat (ms since the UNIX epoch). */
  at: number;
  /** The writer's beat interval: a beat older than a few of these means the writer is gone or stalled. */
  intervalMs: number;
  /** The writer epoch that wrote it (how many writers had opened the store). */
  epoch: number;
  /** `true` for the last beat of a writer that closed cleanly. */
  closed: boolean;
}

/** A beat older than this many of its writer's intervals means the writer is gone or stalled. */
export const STALE_INTERVALS = 3;

/** Whether `beat`, `ageMs` old, is stale: its writer stopped beating ({@link STALE_INTERVALS}). */
export function isStaleBeat(beat: WriterHeartbeat, ageMs: number): boolean {
  return ageMs > STALE_INTERVALS * beat.intervalMs;
}

const FORMAT = 1;

function heartbeatDir(path: string): string {
  return `${normalizePrefix(path)}heartbeat/`;
}

function encode(beat: WriterHeartbeat): Uint8Array {
  return Buffer.from(JSON.stringify({ v: FORMAT, ...beat }), "utf8");
}

function decode(body: Uint8Array): WriterHeartbeat | null {
  try {
    const v = JSON.parse(Buffer.from(body).toString("utf8")) as Record<string, unknown>;
    const numbers = ["counter", "at", "intervalMs", "epoch"] as const;
    if (v.v !== FORMAT || numbers.some((k) => !Number.isSafeInteger(v[k]))) return null;
    return {
      counter: v.counter as number,
      at: v.at as number,
      intervalMs: v.intervalMs as number,
      epoch: v.epoch as number,
      closed: v.closed === true,
    };
  } catch {
    return null;
  }
}

/** The newest writer's heartbeat under `path`, or `null` when no writer ever beat there. */
export function readHeartbeat(store: ObjectStore, path: string): Promise<WriterHeartbeat | null> {
  return newestBeat(store, heartbeatDir(path));
}

async function newestBeat(store: ObjectStore, dir: string): Promise<WriterHeartbeat | null> {
  const objects = await listAll(store, dir);
  // Epochs are zero-padded: the last key is the newest writer's.
  for (let i = objects.length - 1; i >= 0; i--) {
    const object = await store.get(objects[i]!.key);
    if (object === null) continue; // deleted by a newer writer meanwhile
    const beat = decode(object.body);
    if (beat !== null) return beat;
  }
  return null;
}

/** The open writer's beat: start() writes the first beat, then one per interval until stop(). */
export class Heartbeat {
  readonly #store: ObjectStore;
  readonly #dir: string;
  readonly #key: string;
  readonly #epoch: number;
  readonly #intervalMs: number;
  readonly #clock: MonotonicClock;
  readonly #now: () => number;
  readonly #logger: Logger;
  readonly #checkFence: () => Promise<void>;
  #counter = 0;
  #timer: TimerHandle | null = null;
  #stopped = false;
  #failing = false;
  /** The last beat written by the timer: beats never overlap, and close waits for it. */
  #writing: Promise<void> = Promise.resolve();
  /** A beat is due but waits for the one being written. */
  #waiting = false;
  /** A fence look is out: the next one starts only after it (looks never overlap). */
  #checking = false;
  /** The last fence look failed: logged once per run of failures. */
  #checkFailing = false;

  constructor(options: {
    store: ObjectStore;
    path: string;
    epoch: number;
    intervalMs: number;
    clock: MonotonicClock;
    now: () => number;
    logger: Logger;
    /**
     * Runs after each timed beat, on its own (one at a time): looks for a newer
     * writer (see `Log.checkFence`); a rejection is logged once per run of failures.
     */
    checkFence?: () => Promise<void>;
  }) {
    this.#store = options.store;
    this.#dir = heartbeatDir(options.path);
    this.#epoch = options.epoch;
    this.#key = this.#dir + formatId(options.epoch);
    this.#intervalMs = options.intervalMs;
    this.#clock = options.clock;
    this.#now = options.now;
    this.#logger = options.logger;
    this.#checkFence = options.checkFence ?? (() => Promise.resolve());
  }

  /** Writes the first beat (continuing the stored counter), clears older writers' beats, starts the timer. */
  async start(): Promise<void> {
    try {
      const previous = await newestBeat(this.#store, this.#dir);
      this.#counter = previous?.counter ?? 0;
      await this.#beat(false);
      const older = (await listAll(this.#store, this.#dir)).filter((o) => o.key < this.#key);
      await Promise.all(older.map((o) => this.#store.delete(o.key)));
    } finally {
      this.#arm();
    }
  }

  /** Stops beating; on a clean close writes a last beat with `closed: true` (best-effort). */
  async stop(clean: boolean): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = null;
    await this.#writing.catch(() => {});
    if (clean) await this.#beat(true).catch(() => {});
  }

  #arm(): void {
    if (this.#stopped) return;
    this.#timer = startTimer(this.#clock, this.#intervalMs, () => {
      this.#timer = null;
      if (this.#stopped) return;
      // A fixed cadence: the next beat is due one interval after this one, however long
      // this write takes. Beats never overlap: one due while a write is out follows it,
      // and while one already waits behind a slow write, the next is skipped.
      this.#arm();
      if (this.#waiting) return;
      this.#waiting = true;
      this.#writing = this.#writing
        .then(() => {
          this.#waiting = false;
          return this.#stopped ? undefined : this.#beat(false);
        })
        .then(
          () => {
            if (this.#failing) this.#logger.warn("writer heartbeat recovered");
            this.#failing = false;
          },
          (error: unknown) => {
            if (!this.#failing)
              this.#logger.warn(
                `writer heartbeat failed; retrying every ${this.#intervalMs} ms: ${String(error)}`,
                { error },
              );
            this.#failing = true;
          },
        )
        .then(() => this.#startCheck());
    });
  }

  /**
   * Starts a fence look unless one is still out. Not chained on the beats: a look
   * that waits on a slow or retrying listing must not stop them.
   */
  #startCheck(): void {
    if (this.#stopped || this.#checking) return;
    this.#checking = true;
    this.#checkFence()
      .then(
        () => {
          if (this.#checkFailing && !this.#stopped)
            this.#logger.info?.("writer heartbeat: looking for a newer writer works again");
          this.#checkFailing = false;
        },
        (error: unknown) => {
          if (!this.#checkFailing && !this.#stopped)
            this.#logger.warn(
              `writer heartbeat: looking for a newer writer failed; beats go on, retrying after each beat: ${String(error)}`,
              { error },
            );
          this.#checkFailing = true;
        },
      )
      .finally(() => {
        this.#checking = false;
      });
  }

  /** Writes the next beat; the counter advances whether or not the write succeeds. */
  #beat(closed: boolean): Promise<void> {
    this.#counter += 1;
    const beat: WriterHeartbeat = {
      counter: this.#counter,
      at: this.#now(),
      intervalMs: this.#intervalMs,
      epoch: this.#epoch,
      closed,
    };
    return this.#store.put(this.#key, encode(beat));
  }
}

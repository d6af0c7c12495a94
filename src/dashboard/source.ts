/**
 * What the dashboard reads and does, over either a live `Queue` (reads and
 * actions) or a read-only `QueueReader` snapshot (reads only, re-opened on
 * demand when the dashboard was given a way to). The store's health it
 * shows is `store-health.ts`'s.
 */
import type { Logger } from "../logger.js";
import type { JobPage as ListedJobs, ListJobsOptions } from "../queue/listing.js";
import { Queue } from "../queue/queue.js";
import type { QueueReader } from "../queue/reader.js";
import { LIST_SCHEDULES_IN_SLICES } from "../queue/reader-hooks.js";
import { jobAsListed, READ_JOB_AS_LISTED } from "../queue/reads.js";
import type { ScheduleInfo } from "../queue/schedules/types.js";
import type { JobAttempt, JobRecord, JobStatus, QueueStats } from "../queue/types.js";
import { type RequestPrices, S3_STANDARD_REQUEST_PRICES } from "../store/request-prices.js";
import type { RequestCounts } from "../store/wrappers/counting.js";
import { messageOf } from "../util/message.js";
import { nextTurn } from "../util/slices.js";
import { hasMethods } from "../validate.js";
import { readerJob } from "./reader-job.js";
import { addCounts, type Health, NO_REQUESTS, readerHealth, writerHealth } from "./store-health.js";

/** Queues whose stats {@link DashboardSource.allStats} reads in one turn of the event loop. */
export const STATS_PER_TURN = 500;

/**
 * Methods a live `Queue` has and a `QueueReader` lacks: a `Queue` of the
 * package's other build (ESM vs CommonJS), which `instanceof` does not
 * recognise, is told apart by them, so its dashboard offers actions too.
 */
const LIVE_QUEUE_METHODS = [
  "enqueue",
  "requeueDeadJob",
  "requeueDeadJobs",
  "removeJob",
  "removeJobs",
  "cancel",
  "pauseQueue",
  "resumeQueue",
  "logStats",
  "storeRequests",
] as const;

/** Whether `source` is a live `Queue`, of this build or the other. */
export function isLiveQueue(source: Queue | QueueReader): source is Queue {
  return source instanceof Queue || hasMethods(source, LIVE_QUEUE_METHODS);
}

/** A page of jobs in one state. */
export type JobPage = ListedJobs<JobRecord>;

/** The reads both sources offer (a `Queue` answers with promises, a `QueueReader` at once). */
interface Reads {
  listQueues(options: { includePaused: boolean }): string[] | Promise<string[]>;
  stats(queue: string): QueueStats | Promise<QueueStats>;
  getJob(id: string): JobRecord | null | Promise<JobRecord | null>;
  listJobs(
    queue: string,
    status: JobStatus,
    options?: ListJobsOptions,
  ): ListedJobs<JobRecord> | Promise<ListedJobs<JobRecord>>;
  attemptHistory(id: string): JobAttempt[] | Promise<JobAttempt[]>;
  listSchedules(): ScheduleInfo[] | Promise<ScheduleInfo[]>;
}

export interface SourceOptions {
  /**
   * Opens a fresh snapshot (reader sources) given the one shown now; without
   * it the first snapshot is shown forever.
   */
  reopen?:
    | ((options: { logger: Logger }, current: QueueReader) => Promise<QueueReader>)
    | undefined;
  /** Minimum time between re-opens, also between attempts after a failed one. */
  refreshMs: number;
  /** Where a failed refresh (once per run of failures) and its recovery are reported; passed to `reopen`. */
  logger: Logger;
  prices: RequestPrices | undefined;
  now: () => number;
  /** Number a read of the stats as it begins (passed on to {@link onSnapshot}). */
  beginRead?: () => number;
  /** A new snapshot was taken (reader sources) with these stats, by the read numbered `read`. */
  onSnapshot?: (stats: QueueStats[], read: number) => void;
}

/** Unreadable payload objects remembered so as to warn once each, at most (then it starts again). */
const MAX_WARNED_OBJECTS = 1_024;

export class DashboardSource {
  #current: Queue | QueueReader;
  readonly #options: SourceOptions;
  /** Payload objects whose damage was logged (see `getJob`). */
  readonly #warnedObjects = new Set<string>();
  /** When the snapshot shown was taken. */
  #refreshedAt: number;
  /** When a refresh was last tried: a failed one is retried at most every `refreshMs`. */
  #triedAt: number;
  /** The last refresh failed (one warning per run of failures). */
  #refreshFailing = false;
  #refreshing: Promise<void> | null = null;
  /**
   * The reopen of a refresh in flight (after the reads it waits for), until
   * the new reader is shown: reads wait for it, since reading the reader
   * being reopened would rebuild its state (its state is handed on to the
   * new reader).
   */
  #reopening: Promise<unknown> | null = null;
  /**
   * Reads of one snapshot in flight (see {@link allStats}), settled either
   * way: a refresh reopens only once they are done, so they never read a
   * reader whose state was handed on (which would rebuild it at once).
   */
  readonly #pinned = new Set<Promise<void>>();
  /** Requests of readers already replaced (reader sources count every snapshot taken). */
  #retired: RequestCounts = NO_REQUESTS;

  constructor(source: Queue | QueueReader, options: SourceOptions) {
    this.#current = source;
    this.#options = options;
    this.#refreshedAt = options.now();
    this.#triedAt = this.#refreshedAt;
  }

  /** Whether actions are possible (a live `Queue`). */
  get writable(): boolean {
    return isLiveQueue(this.#current);
  }

  /** Whether the live queue has closed or stopped after a failure (false for a reader). */
  get stopped(): boolean {
    return isLiveQueue(this.#current) && this.#current.closed;
  }

  /** The live queue, or null for a reader. */
  get queue(): Queue | null {
    return isLiveQueue(this.#current) ? this.#current : null;
  }

  /**
   * Re-open the reader snapshot when it is older than `refreshMs` (single
   * flight). Never rejects: when the reopen fails the old snapshot stays (its
   * time is in {@link health}), the failure is logged once per run of
   * failures, and the next attempt waits another `refreshMs`.
   */
  async refresh(force = false): Promise<void> {
    const { reopen, logger, now, refreshMs } = this.#options;
    if (reopen === undefined || this.writable) return;
    if (!force && now() - this.#triedAt < refreshMs) return;
    this.#refreshing ??= (async () => {
      this.#triedAt = now();
      try {
        // Through a promise: a reopen that throws at once still ends this flight after it is stored.
        // Reads begun before it finish on the snapshot they started on; later ones wait for the new one.
        const previous = this.#current as QueueReader;
        const reopening = Promise.all([...this.#pinned]).then(() => reopen({ logger }, previous));
        this.#reopening = reopening.catch(() => {});
        let next: QueueReader;
        try {
          next = await reopening;
        } finally {
          this.#reopening = null;
        }
        // A reopen that hands back the same reader must not count its requests twice.
        if (next !== previous) this.#retired = addCounts(this.#retired, previous.storeRequests());
        this.#current = next;
        this.#refreshedAt = now();
        this.#triedAt = this.#refreshedAt;
        if (this.#refreshFailing) logger.info?.("dashboard: snapshot refresh works again");
        this.#refreshFailing = false;
        const read = this.#options.beginRead?.() ?? 0;
        this.#options.onSnapshot?.(await this.allStats(), read);
      } catch (error) {
        if (!this.#refreshFailing)
          logger.warn(
            `dashboard: snapshot refresh failed; showing the snapshot of ${new Date(this.#refreshedAt).toISOString()}, retrying at most every ${refreshMs} ms: ${messageOf(error)}`,
            { error },
          );
        this.#refreshFailing = true;
      } finally {
        this.#refreshing = null;
      }
    })();
    await this.#refreshing;
  }

  /** The reader shown, once a reopen in flight has handed on to its successor (or failed). */
  async #shown(): Promise<Queue | QueueReader> {
    while (this.#reopening !== null) await this.#reopening;
    return this.#current;
  }

  async #reads(): Promise<Reads> {
    return await this.#shown();
  }

  /** Every queue that held a job, and every queue paused before its first one (it can be resumed here). */
  async listQueues(): Promise<string[]> {
    return await (await this.#reads()).listQueues({ includePaused: true });
  }

  async stats(queue: string): Promise<QueueStats> {
    return await (await this.#reads()).stats(queue);
  }

  /**
   * The stats of every queue, {@link STATS_PER_TURN} queues a turn of the
   * event loop: a store of thousands of queues is read without holding the
   * loop. Over a reader, the list and every queue's counts come from one
   * snapshot (a refresh asked for meanwhile waits for this read to end); over
   * a live queue, each queue's counts are of their own moment.
   */
  async allStats(): Promise<QueueStats[]> {
    const reads = await this.#reads();
    // Registered before any other turn: a refresh that starts from here on waits for it.
    const reading = DashboardSource.#statsOf(reads);
    const settled = reading.then(
      () => {},
      () => {},
    );
    this.#pinned.add(settled);
    try {
      return await reading;
    } finally {
      this.#pinned.delete(settled);
    }
  }

  static async #statsOf(reads: Reads): Promise<QueueStats[]> {
    const names = await reads.listQueues({ includePaused: true });
    const stats: QueueStats[] = [];
    for (let i = 0; i < names.length; i += STATS_PER_TURN) {
      if (i > 0) await nextTurn();
      const chunk = names.slice(i, i + STATS_PER_TURN);
      stats.push(...(await Promise.all(chunk.map((name) => reads.stats(name)))));
    }
    return stats;
  }

  /**
   * Job `id`, its payload read back from its object when offloaded (a
   * reader's records leave it empty). A payload object that is damaged or
   * gone does not hide the job: it comes with an empty `payload` and
   * `payloadError`, as in a listing, so its page still shows it and its
   * actions; the object is read once more before (a body garbled in
   * transit looks the same), and the dashboard's logger is told once per
   * object. A store that fails to answer still fails the page.
   */
  async getJob(id: string): Promise<JobRecord | null> {
    const source = await this.#shown();
    // By shape, not class: a Queue of the other build (ESM or CommonJS) is no `Queue` here.
    const job =
      READ_JOB_AS_LISTED in source ||
      typeof (source as { loadPayload?: unknown }).loadPayload !== "function"
        ? await jobAsListed(source as Queue, id)
        : await readerJob(source as QueueReader, id);
    if (job?.payloadError !== undefined) this.#warnUnreadable(job);
    return job;
  }

  /** One warning per unreadable payload object (a page left auto-refreshing would repeat it). */
  #warnUnreadable(job: JobRecord): void {
    const key = job.payloadRef ?? job.id;
    if (this.#warnedObjects.has(key)) return;
    if (this.#warnedObjects.size >= MAX_WARNED_OBJECTS) this.#warnedObjects.clear();
    this.#warnedObjects.add(key);
    this.#options.logger.warn(
      `dashboard: job ${job.id} shown without its payload: ${job.payloadError}`,
      { jobId: job.id, objectKey: job.payloadRef },
    );
  }

  /** A page of `queue`'s jobs in `status`. */
  async jobs(
    queue: string,
    status: JobStatus,
    cursor: string | undefined,
    limit: number,
  ): Promise<JobPage> {
    // Offloaded payloads stay in their objects: the list shows their size, the job page the payload.
    return await (await this.#reads()).listJobs(
      queue,
      status,
      cursor === undefined
        ? { limit, loadPayloads: false }
        : { cursor, limit, loadPayloads: false },
    );
  }

  /** How each attempt at job `id` ended, oldest first. */
  async attempts(id: string): Promise<JobAttempt[]> {
    return await (await this.#reads()).attemptHistory(id);
  }

  /**
   * Every schedule with its next run. Over a reader, listed in slices with
   * turns of the event loop between them (the reader works out what its
   * background planning has not yet), from the snapshot shown when asked: a
   * refresh meanwhile does not change what it lists.
   */
  async schedules(): Promise<ScheduleInfo[]> {
    const reads = await this.#reads();
    // A live queue lists in slices itself; a reader of a version without the hook lists at once.
    const inSlices = (reads as { [LIST_SCHEDULES_IN_SLICES]?: () => Promise<ScheduleInfo[]> })[
      LIST_SCHEDULES_IN_SLICES
    ];
    return await (inSlices === undefined ? reads.listSchedules() : inSlices.call(reads));
  }

  /** Store health as the dashboard shows it. */
  health(): Health {
    const prices = this.#options.prices ?? S3_STANDARD_REQUEST_PRICES;
    return isLiveQueue(this.#current)
      ? writerHealth(this.#current, prices)
      : readerHealth(this.#current, this.#retired, this.#refreshedAt, prices);
  }
}

/**
 * `QueueReader`: a read-only snapshot of a queue store for dashboards, the
 * CLI and audits, answering through the same views as the writer.
 */
import type { LogInspection, ReadLogOptions } from "../log/index.js";
import { readLog } from "../log/index.js";
import { checkedLogPrefix, pathRefusal } from "../log/keys.js";
import { resolveReadOptions } from "../log/options.js";
import { silentLogger } from "../logger.js";
import type { ObjectStore } from "../store/types.js";
import type { RequestCounts } from "../store/wrappers/counting.js";
import { MeteredStore } from "../store/wrappers/metered.js";
import { checkObjectStore, checkString, invalidArgument, invalidArgumentGot } from "../validate.js";
import { childResultsOf } from "./flows.js";
import { readHeartbeat, type WriterHeartbeat } from "./heartbeat.js";
import { type KvPage, type KvScanOptions, kvGetFrom, kvScanFrom } from "./kv.js";
import { checkListJobs, type JobPage, type ListJobsOptions, listJobsPage } from "./listing.js";
import type { DeadJobsOptions } from "./options.js";
import { PayloadObjects, QUEUE_OWNED_DIRS } from "./payloads.js";
import { restoreState } from "./restore.js";
import type { ScheduleInfo } from "./schedules/types.js";
import { listScheduleInfosNow } from "./schedules/views.js";
import type { State } from "./state.js";
import type { JobAttempt, JobRecord, JobStatus, QueueStats } from "./types.js";
import { checkDeadJobsOptions, checkQueueName } from "./validate.js";
import {
  attemptHistoryOf,
  type CancelledJobInfo,
  cancelledJobOf,
  deadJobsPage,
  jobToRecord,
  queueNames,
  queueStats,
} from "./views.js";

/**
 * A read-only snapshot of a queue store, for dashboards, the CLI and audits.
 * Opening it reads the newest checkpoint and the WAL after it, but never
 * writes: a running writer is not fenced and does not notice. The snapshot is
 * as of the moment it was opened; {@link reopen} (or a new `open`) sees later
 * changes. Its methods answer from memory, synchronously (values, not
 * Promises), except those that read payload objects: {@link loadJob},
 * {@link loadPayload}, {@link listJobsLoaded}, and {@link reopen}.
 * Claimed jobs carry no `leaseExpiresAt` (leases live in the writer's memory).
 */
export class QueueReader {
  readonly #state: State;
  readonly #store: MeteredStore;
  readonly #heartbeat: WriterHeartbeat | null;
  readonly #payloads: PayloadObjects;
  /** How this snapshot was opened, for {@link reopen}. */
  #openedWith: { store: ObjectStore; path: string; options: ReadLogOptions } | null = null;

  private constructor(
    state: State,
    /** The log's objects as seen while reading (manifest, WAL, checkpoint). */
    readonly inspection: LogInspection,
    store: MeteredStore,
    heartbeat: WriterHeartbeat | null,
    payloads: PayloadObjects,
  ) {
    this.#state = state;
    this.#store = store;
    this.#heartbeat = heartbeat;
    this.#payloads = payloads;
  }

  /**
   * Read the queue store at `path` in `store` without taking it over.
   *
   * @param path Where in `store` the queue store lives: its objects' keys
   *   start with `path` and "/" (a leading or trailing "/" is dropped; `""` is
   *   the store's root). Any string the store takes in its object keys:
   *   taquba refuses only a non-string itself. When the store refuses a key
   *   under `path` (FileStore and MemoryStore: empty, "." or ".." segments,
   *   NUL, backslash or a lone UTF-16 surrogate; AzureBlobStore: "." or ".."
   *   segments and backslash), this rejects with an `InvalidArgumentError`
   *   naming `path` and giving the store's reason. S3Store and GcsStore
   *   take any path; one without those pieces works on every store.
   *   A path under which the store holds nothing reads as an empty store.
   *   One with no manifest but other objects of a queue store (WAL batches,
   *   checkpoints, payload objects) rejects with a `CorruptionError` naming
   *   the manifest folder, as `Queue.open` does: its manifests were lost.
   */
  static async open(
    store: ObjectStore,
    path: string,
    options: ReadLogOptions = {},
  ): Promise<QueueReader> {
    checkObjectStore(store, "store");
    // Before any read: the heartbeat's and payloads' keys are built from it too.
    checkedLogPrefix(path, "path");
    const metered = new MeteredStore(store);
    const [contents, heartbeat] = await Promise.all([
      readLog(metered, path, options, { ownedDirs: QUEUE_OWNED_DIRS }),
      readHeartbeat(metered, path),
    ]).catch((error: unknown) => {
      throw pathRefusal(error, store, path, "path");
    });
    const reader = new QueueReader(
      await restoreState(path, contents.checkpoint, contents.tail),
      contents.info,
      metered,
      heartbeat,
      new PayloadObjects(
        metered,
        path,
        null,
        resolveReadOptions({ logger: silentLogger, ...options }),
      ),
    );
    reader.#openedWith = { store, path, options };
    return reader;
  }

  /**
   * A fresh snapshot of the same store and path, opened with the same
   * options, except those in `overrides` (a dashboard passes its `logger`):
   * what the writer has done since this one was opened. This reader stays as
   * it was. A dashboard over a reader calls it at most every `refreshMs`.
   * @param overrides Options that replace the ones this reader was opened with.
   * @default overrides `{}`
   * @example
   * ```ts
   * reader = await reader.reopen();
   * console.log(reader.stats("emails").pending);
   * ```
   */
  reopen(overrides: ReadLogOptions = {}): Promise<QueueReader> {
    const { store, path, options } = this.#openedWith!;
    return QueueReader.open(store, path, { ...options, ...overrides });
  }

  /** The requests reading the store took, by kind, and the bytes read. */
  storeRequests(): RequestCounts {
    return this.#store.snapshot();
  }

  /**
   * The payload of `job`: as is, or read from its object when it is stored
   * as one (`job.payloadRef`; the reader's records leave such payloads empty).
   * Rejects with a `StorageError` if the job was removed meanwhile and its
   * object with it, and with a `CorruptionError` naming the object if it is
   * damaged (its size or checksum is wrong).
   */
  async loadPayload(job: JobRecord): Promise<Uint8Array> {
    return job.payloadRef === undefined
      ? job.payload
      : this.#payloads.read(job.payloadRef, job.payloadSize);
  }

  /**
   * The newest writer's liveness beat as of opening the reader, or `null` when
   * no writer of this store beats (`OpenOptions.heartbeatMs` unset). A writer
   * is live if `closed` is false and `at` is within a few `intervalMs` of now.
   */
  writerHeartbeat(): WriterHeartbeat | null {
    return this.#heartbeat === null ? null : { ...this.#heartbeat };
  }

  /** The results of the children of flow job `parentId` (see `Queue.childResults`). */
  childResults(parentId: string): Record<string, Uint8Array | undefined> {
    return childResultsOf(this.#state, checkString(parentId, "parentId"));
  }

  /** The value of the KV entry `key` (a copy), or `null` (see `Queue.kvGet`). */
  kvGet(key: string): Uint8Array | null {
    return kvGetFrom(this.#state.kv, key);
  }

  /** A page of the KV entries whose key starts with `prefix` (see `Queue.kvScan`). */
  kvScan(prefix: string, options: KvScanOptions = {}): KvPage {
    return kvScanFrom(this.#state.kv, prefix, options);
  }

  /** Counters of one queue (zeros for a queue that never held a job). */
  stats(queue: string): QueueStats {
    return queueStats(this.#state, checkQueueName(queue));
  }

  /** Every queue that ever held a job, sorted. */
  listQueues(): string[] {
    return queueNames(this.#state);
  }

  /**
   * A job by id, or `null`. An offloaded payload (`payloadRef` set, its size
   * in `payloadSize`) is left out: `payload` is empty until
   * {@link loadPayload} reads it, or use {@link loadJob}.
   */
  getJob(id: string): JobRecord | null {
    const h = this.#state.findPublic(checkString(id, "id"));
    return h === -1 ? null : jobToRecord(this.#state, h);
  }

  /**
   * A job by id with its payload, as `Queue.getJob` answers: an offloaded
   * payload is read from its object. `null` for an unknown id. Rejects with
   * a `StorageError` if the object cannot be read (the job was removed
   * since the reader was opened, and its object with it).
   * @example
   * ```ts
   * const job = await reader.loadJob(id);
   * if (job) console.log(job.payload.byteLength);
   * ```
   */
  async loadJob(id: string): Promise<JobRecord | null> {
    const job = this.getJob(id);
    if (job === null || job.payloadRef === undefined) return job;
    return { ...job, payload: await this.loadPayload(job) };
  }

  /**
   * A page of the jobs of `queue` in `status`, in the order and with the
   * cursors of `Queue.listJobs` (a cursor from the writer works here too),
   * answered at once from the snapshot. Offloaded payloads are not read (a
   * listing would read one object per job): such jobs have an empty
   * `payload`, `payloadRef` and `payloadSize`; {@link listJobsLoaded} reads
   * them. `options.loadPayloads` may only be `false` or absent here: `true`
   * throws an `InvalidArgumentError` pointing to {@link listJobsLoaded}.
   * @example
   * ```ts
   * const { jobs, nextCursor } = reader.listJobs("videos", "pending", { limit: 50 });
   * for (const job of jobs) console.log(job.id, job.payloadSize ?? job.payload.byteLength);
   * ```
   */
  listJobs(queue: string, status: JobStatus, options: ListJobsOptions = {}): JobPage<JobRecord> {
    if ((options as ListJobsOptions | null)?.loadPayloads === true)
      throw invalidArgumentGot(
        "options.loadPayloads",
        "false or absent on a QueueReader (its listJobs answers at once and reads no payload object)",
        "true; use `reader.listJobsLoaded(...)` to read offloaded payloads",
      );
    return this.#listJobs(queue, status, options);
  }

  /**
   * {@link listJobs} with every offloaded payload read back from its object,
   * as `Queue.listJobs` answers by default (one read per offloaded job on the
   * page, bounded like the writer's reads). Takes the same options;
   * `loadPayloads` may be absent or `true` (`false` would make it
   * {@link listJobs}, and is refused). Rejects with an
   * `InvalidArgumentError` on a bad argument, and a `StorageError` if the
   * store fails to answer. A job whose object is damaged or gone does not
   * fail the page, as in `Queue.listJobs`: it is listed with an empty
   * `payload` and `payloadError` saying why and naming the object (one
   * warning to the reader's logger for the page). Gone can also mean the job
   * was removed since the reader was opened: the snapshot lists it as it was
   * then ({@link reopen} no longer does). {@link loadPayload} of such a job
   * rejects with the `CorruptionError` or `StorageError` itself.
   * @example
   * ```ts
   * const { jobs } = await reader.listJobsLoaded("videos", "pending", { limit: 10 });
   * for (const job of jobs) console.log(job.id, job.payload.byteLength);
   * ```
   */
  async listJobsLoaded(
    queue: string,
    status: JobStatus,
    options: ListJobsOptions = {},
  ): Promise<JobPage<JobRecord>> {
    if ((options as ListJobsOptions | null)?.loadPayloads === false)
      throw invalidArgument(
        "options.loadPayloads",
        "true or absent on listJobsLoaded (use `reader.listJobs(...)` to leave payloads unread)",
        false,
      );
    const page = this.#listJobs(queue, status, options);
    await this.#payloads.materialiseListing(page.jobs, this.#payloads.callLimit());
    return page;
  }

  #listJobs(queue: string, status: JobStatus, options: ListJobsOptions): JobPage<JobRecord> {
    const name = checkQueueName(queue);
    const checked = checkListJobs(status, options);
    const page = listJobsPage(this.#state, name, checked.status, checked.from, checked.limit);
    const jobs = page.jobs.map((h) => jobToRecord(this.#state, h));
    return page.nextCursor === undefined ? { jobs } : { jobs, nextCursor: page.nextCursor };
  }

  /**
   * How each attempt at job `id` ended, oldest first (see
   * `Queue.attemptHistory`; a cancelled job's from its tombstone); empty for
   * an unknown id.
   */
  attemptHistory(id: string): JobAttempt[] {
    return attemptHistoryOf(this.#state, checkString(id, "id"));
  }

  /**
   * What is left of job `id` after a cancel (its queue, cancel time and
   * attempt history ending with `cancelled`), kept for its queue's
   * `resultRetentionMs`; `null` when the id is unknown, not cancelled, or in
   * use again.
   * @example
   * ```ts
   * const gone = reader.getJob(id) === null ? reader.cancelledJob(id) : null;
   * if (gone) console.log(`cancelled at ${new Date(gone.cancelledAt).toISOString()}`);
   * ```
   */
  cancelledJob(id: string): CancelledJobInfo | null {
    return cancelledJobOf(this.#state, checkString(id, "id")) ?? null;
  }

  /** Every schedule, by name, with its next fire time (as of the snapshot). */
  listSchedules(): ScheduleInfo[] {
    return listScheduleInfosNow(this.#state);
  }

  /**
   * A page of dead jobs in id order, those whose ids sort after
   * `options.after` (a plain exclusive bound, see `DeadJobsOptions.after`),
   * as `Queue.deadJobs` lists them. Offloaded payloads are left out, as in
   * {@link listJobs} by default ({@link loadPayload} reads one).
   */
  deadJobs(queue: string, options: DeadJobsOptions = {}): JobRecord[] {
    const name = checkQueueName(queue);
    const { after, limit } = checkDeadJobsOptions(options);
    return deadJobsPage(this.#state, name, after, limit).map((h) => jobToRecord(this.#state, h));
  }
}
